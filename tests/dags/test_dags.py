"""DAG integrity: every DAG imports, and has tags, retries, a doc and a sane header."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.settings import PROJECT_ROOT

pytestmark = pytest.mark.airflow


@pytest.fixture(scope="module")
def dagbag():  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(PROJECT_ROOT / "dags"))


def test_no_import_errors(dagbag) -> None:  # type: ignore[no-untyped-def]
    assert dagbag.import_errors == {}


def test_expected_dags(dagbag) -> None:  # type: ignore[no-untyped-def]
    assert set(dagbag.dag_ids) == {"news_monitor", "retrain_classifier", "daily_digest", "collect_feedback"}


@pytest.mark.parametrize("dag_id", ["news_monitor", "retrain_classifier", "daily_digest", "collect_feedback"])
def test_dag_header(dagbag, dag_id: str) -> None:  # type: ignore[no-untyped-def]
    dag = dagbag.dags[dag_id]
    assert dag.tags, "every DAG has tags"
    assert dag.doc_md and len(dag.doc_md) > 100, "every DAG has a doc"
    assert dag.catchup is False
    assert dag.max_active_runs is not None
    for task in dag.tasks:
        assert task.retries >= 1, f"{dag_id}.{task.task_id} has no retries"
        assert task.on_failure_callback, f"{dag_id}.{task.task_id} does not report failures"


def test_news_monitor_graph_and_schedule(dagbag) -> None:  # type: ignore[no-untyped-def]
    from airflow.sdk import CronDataIntervalTimetable

    dag = dagbag.dags["news_monitor"]
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    assert dag.timetable.expression == "*/15 * * * *"
    assert {t.task_id for t in dag.tasks} == {"plan", "fetch", "store", "classify", "alert"}
    assert dag.get_task("fetch").pool == "feed_fetch"
    assert dag.get_task("alert").pool == "slack_api"
    assert dag.get_task("store").upstream_task_ids == {"fetch"}
    assert dag.get_task("alert").upstream_task_ids == {"classify"}
    assert set(dag.params.keys()) == {"feeds", "since", "until", "fetch", "dry_run"}


def test_collect_feedback_graph_and_schedule(dagbag) -> None:  # type: ignore[no-untyped-def]
    from airflow.sdk import CronTriggerTimetable

    dag = dagbag.dags["collect_feedback"]
    assert isinstance(dag.timetable, CronTriggerTimetable)
    assert dag.timetable.expression == "*/15 * * * *"
    assert dag.get_task("acknowledge").upstream_task_ids == {"collect"}
    assert {t.pool for t in dag.tasks} == {"slack_api"}


def test_retrain_classifier_graph(dagbag) -> None:  # type: ignore[no-untyped-def]
    from airflow.providers.standard.operators.hitl import ApprovalOperator

    dag = dagbag.dags["retrain_classifier"]
    assert dag.get_task("decide").downstream_task_ids == {"approve", "promote_now", "keep"}
    assert isinstance(dag.get_task("approve"), ApprovalOperator)
    assert dag.get_task("approve").defaults == ["Reject"]  # an unanswered approval never promotes
    # only the two ways to say yes: a kept or rejected candidate leaves promote skipped
    assert dag.get_task("promote").upstream_task_ids == {"approve", "promote_now"}
    assert dag.get_task("promote").trigger_rule == "none_failed_min_one_success"
    assert dag.get_task("finish").trigger_rule == "all_done"


def test_dag_files_import_nothing_heavy_at_top_level() -> None:
    heavy = ("sklearn", "feedparser", "slack_sdk", "sqlalchemy", "httpx", "trafilatura", "matplotlib", "bs4")
    for path in (PROJECT_ROOT / "dags").glob("*.py"):
        top = [line for line in Path(path).read_text().splitlines() if line.startswith(("import ", "from "))]
        for line in top:
            assert not any(h in line for h in heavy), f"{path.name}: {line}"
