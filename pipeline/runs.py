"""Turning what Airflow knows about a run (type, data interval, params) into a ``RunInfo``.

Pure functions: the DAG passes plain values in, so the rules are tested without a scheduler.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline.errors import ConfigError
from pipeline.models import RunInfo

MAX_MANUAL_WINDOW = timedelta(days=31)
DEFAULT_MANUAL_WINDOW = timedelta(minutes=15)


def run_type_name(raw: Any) -> str:
    """Airflow's ``DagRunType`` (or its string) as ``scheduled``, ``manual``, ``backfill`` or ``other``."""
    value = str(getattr(raw, "value", raw) or "").lower()
    if "backfill" in value:
        return "backfill"
    if "scheduled" in value:
        return "scheduled"
    if "manual" in value:
        return "manual"
    return "other"


def as_utc(value: Any, name: str = "value") -> datetime | None:
    """A plain UTC-aware ``datetime`` from a datetime (naive = UTC), pendulum DateTime or ISO string."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        dt = value
    else:
        try:
            dt = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(f"param {name}={value!r} is not an ISO 8601 date/time") from None
    dt = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    # A plain datetime: pendulum's DateTime (Airflow's context) converted with astimezone(UTC) loses its
    # timezone on arithmetic (``dt - timedelta(...)`` comes back naive).
    return datetime(dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second, dt.microsecond, tzinfo=UTC)


def resolve_run(
    *,
    run_id: str,
    run_type: Any,
    data_interval_start: datetime | None,
    data_interval_end: datetime | None,
    run_after: datetime | None,
    params: Mapping[str, Any] | None = None,
    dry_run_setting: bool = False,
) -> RunInfo:
    """The window a run processes.

    Scheduled and backfill runs: their data interval. Manual runs: the ``since``/``until`` params when
    given, else their data interval when they have one, else the 15 minutes before ``run_after``.
    """
    params = params or {}
    kind = run_type_name(run_type)
    explicit = False
    start = as_utc(data_interval_start, "data_interval_start")
    end = as_utc(data_interval_end, "data_interval_end")
    if kind not in {"backfill", "scheduled"}:
        since = as_utc(params.get("since"), "since")
        until = as_utc(params.get("until"), "until")
        if since or until:
            anchor = until or as_utc(run_after, "run_after") or datetime.now(UTC)
            start, end = since or anchor - DEFAULT_MANUAL_WINDOW, anchor
            explicit = True
        kind = "manual"
    if start is None or end is None or start == end:
        anchor = end or as_utc(run_after, "run_after") or datetime.now(UTC)
        start, end = anchor - DEFAULT_MANUAL_WINDOW, anchor
    if start >= end:
        raise ConfigError(
            f"the window start {start:%Y-%m-%d %H:%M} is not before its end {end:%Y-%m-%d %H:%M}"
        )
    if kind == "manual" and end - start > MAX_MANUAL_WINDOW:
        raise ConfigError(f"a manual window may span at most {MAX_MANUAL_WINDOW.days} days; use a backfill")
    dry_run = bool(params.get("dry_run")) or dry_run_setting
    return RunInfo(
        run_id=run_id,
        run_type=kind,
        window_start=start,
        window_end=end,
        dry_run=dry_run,
        explicit_window=explicit,
    )
