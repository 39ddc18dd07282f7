"""Which window a run processes, for every kind of run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipeline.errors import ConfigError
from pipeline.runs import resolve_run, run_type_name

START = datetime(2025, 9, 15, 8, 0, tzinfo=UTC)
END = START + timedelta(minutes=15)


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("scheduled", "scheduled"),
        ("backfill", "backfill"),
        ("manual", "manual"),
        ("asset_triggered", "other"),
    ],
)
def test_run_type_names(raw: str, name: str) -> None:
    assert run_type_name(raw) == name


def test_scheduled_and_backfill_runs_use_their_interval() -> None:
    for kind in ("scheduled", "backfill"):
        run = resolve_run(
            run_id="r", run_type=kind, data_interval_start=START, data_interval_end=END, run_after=END,
            params={"since": "2020-01-01T00:00:00Z"},  # ignored: params only shape manual runs
        )  # fmt: skip
        assert (run.window_start, run.window_end, run.run_type) == (START, END, kind)
    assert resolve_run(run_id="r", run_type="backfill", data_interval_start=START, data_interval_end=END,
                       run_after=END).is_backfill  # fmt: skip


def test_manual_run_params_define_the_window() -> None:
    run = resolve_run(
        run_id="m", run_type="manual", data_interval_start=None, data_interval_end=None, run_after=END,
        params={"since": "2025-09-15T00:00:00Z", "until": "2025-09-16T00:00:00+00:00", "dry_run": True},
    )  # fmt: skip
    assert run.window_start == datetime(2025, 9, 15, tzinfo=UTC)
    assert run.window_end == datetime(2025, 9, 16, tzinfo=UTC)
    assert run.dry_run and run.run_type == "manual"


def test_manual_run_without_params_or_interval_takes_the_last_15_minutes() -> None:
    run = resolve_run(
        run_id="m", run_type="manual", data_interval_start=None, data_interval_end=None, run_after=END
    )
    assert (run.window_start, run.window_end) == (START, END)
    # a zero-length interval (CronTriggerTimetable-style) also falls back to 15 minutes
    run = resolve_run(
        run_id="m", run_type="manual", data_interval_start=END, data_interval_end=END, run_after=END
    )
    assert run.window_start == START


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"since": "yesterday"}, "not an ISO 8601"),
        ({"since": "2025-09-16T00:00:00Z", "until": "2025-09-15T00:00:00Z"}, "not before its end"),
        ({"since": "2025-01-01T00:00:00Z", "until": "2025-09-15T00:00:00Z"}, "at most 31 days"),
    ],
)
def test_bad_params_are_clear_errors(params: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve_run(run_id="m", run_type="manual", data_interval_start=None, data_interval_end=None,
                    run_after=END, params=params)  # fmt: skip


def test_explicit_manual_windows_are_marked_so_late_arrivals_stay_out() -> None:
    manual = resolve_run(run_id="m", run_type="manual", data_interval_start=None, data_interval_end=None,
                         run_after=END, params={"since": "2025-09-15T00:00:00Z"})  # fmt: skip
    assert manual.explicit_window
    scheduled = resolve_run(run_id="s", run_type="scheduled", data_interval_start=START, data_interval_end=END,
                            run_after=END, params={"since": "2025-09-15T00:00:00Z"})  # fmt: skip
    assert not scheduled.explicit_window


def test_airflow_pendulum_datetimes_become_plain_utc_datetimes() -> None:
    import pendulum

    start = pendulum.datetime(2025, 9, 14, 14, 15, tz="Asia/Shanghai")
    run = resolve_run(run_id="b", run_type="backfill", data_interval_start=start,
                      data_interval_end=start.add(minutes=15), run_after=None)  # fmt: skip
    assert type(run.window_start) is datetime
    assert run.window_start == datetime(2025, 9, 14, 6, 15, tzinfo=UTC)
    assert (run.window_start - timedelta(hours=48)).tzinfo is not None


def test_interval_labels_show_the_end_date_only_when_it_differs() -> None:
    from pipeline.models import RunInfo

    short = RunInfo(run_id="r", run_type="backfill", window_start=START, window_end=END)
    assert short.interval_label == "2025-09-15 08:00–08:15 UTC"
    day = RunInfo(run_id="r", run_type="manual", window_start=START, window_end=START + timedelta(days=1))
    assert day.interval_label == "2025-09-15 08:00–2025-09-16 08:00 UTC"
