"""The ops-channel failure notifier: a task that fails in a real Airflow run is reported once; without an
ops channel nothing is sent; a broken Slack never raises out of the callback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.environment import settings_env
from support.fake_slack import FakeSlack

from chip_news_airflow.notifiers import OpsFailureNotifier
from pipeline.settings import PROJECT_ROOT

DAGS = Path(__file__).parent / "dags"
LOCAL_BUNDLE = "airflow.dag_processing.bundles.local.LocalDagBundle"


@pytest.fixture
def slack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, airflow_db: Path) -> Iterator[FakeSlack]:
    for key, value in settings_env(tmp_path).items():
        monkeypatch.setenv(key, value)
    with FakeSlack() as fake:
        fake.add_channel("#chip-ops")
        conn = {"conn_type": "slack", "password": "xoxb-test", "extra": {"base_url": fake.base_url}}
        monkeypatch.setenv("AIRFLOW_CONN_SLACK_API_DEFAULT", json.dumps(conn))
        yield fake


def test_a_failed_task_in_an_airflow_run_is_reported_to_the_ops_channel(
    slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("NEWS_OPS_CHANNEL", "#chip-ops")
    # dag.test() serialises the DAG from its bundle: add this test's folder as a second bundle
    bundles = [
        {"name": "dags-folder", "classpath": LOCAL_BUNDLE, "kwargs": {"path": str(PROJECT_ROOT / "dags")}},
        {"name": "chip-news-test-dags", "classpath": LOCAL_BUNDLE, "kwargs": {"path": str(DAGS)}},
    ]
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps(bundles))
    bag = DagBag(dag_folder=str(DAGS / "failing_dag.py"))
    assert not bag.import_errors, bag.import_errors
    run = bag.dags["chip_news_failing_test"].test()
    assert {ti.task_id: str(ti.state) for ti in run.get_task_instances()}["fetch"].endswith("failed")
    (notice,) = slack.messages_for("#chip-ops")
    text = json.dumps(notice, ensure_ascii=False)
    assert "Task failed: chip_news_failing_test.fetch" in text
    assert "ValueError" in text and "missing required field" in text


class _TI:
    dag_id, task_id, run_id, try_number = ("news_monitor", "fetch", "scheduled__2025-09-15T08:00:00+00:00", 4)
    log_url = "http://localhost:8080/dags/news_monitor/runs/x/tasks/fetch"


def _context(error: Exception) -> dict[str, Any]:
    return {"ti": _TI(), "exception": error}


def test_off_without_an_ops_channel_and_never_raising(
    slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWS_OPS_CHANNEL", "")
    OpsFailureNotifier().notify(_context(ValueError("x")))
    assert slack.messages == []
    OpsFailureNotifier(channel="#chip-ops").notify(_context(ValueError("explicit channel")))
    assert len(slack.messages_for("#chip-ops")) == 1
    slack.fail_next("chat.postMessage", "invalid_auth")
    OpsFailureNotifier(channel="#chip-ops").notify(_context(ValueError("y")))  # logged, not raised
    assert len(slack.messages_for("#chip-ops")) == 1
    assert OpsFailureNotifier.template_fields == ("channel",)
