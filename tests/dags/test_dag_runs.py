"""The other DAGs run through Airflow (dag.test): daily_digest, and the task-failure notice to the ops
channel. retrain_classifier (promotion, approval, rollback) and collect_feedback run in
test_feedback_loop.py, on a small training set."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support.environment import settings_env
from support.fake_slack import FakeSlack
from support.models import install_model

from pipeline.models import Article, Classification, Extraction
from pipeline.settings import PROJECT_ROOT, Settings
from pipeline.store import get_store

pytestmark = pytest.mark.airflow


def _dag(name: str) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags" / f"{name}.py"))
    assert bag.import_errors == {}
    return bag.dags[name]


def _states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


@pytest.fixture
def home(tmp_path: Path, trained_model_file: Path, monkeypatch: pytest.MonkeyPatch, airflow_db: Path) -> Path:
    """A NEWS_HOME whose store's promoted model is the suite's trained model (the local model folder
    starts empty: the tasks load it from the store)."""
    for key, value in settings_env(tmp_path, NEWS_MODEL_DIR=str(tmp_path / "models")).items():
        monkeypatch.setenv(key, value)
    get_store.cache_clear()
    install_model(Settings.from_env().db_url, trained_model_file)
    return tmp_path


@pytest.fixture
def slack(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        fake.add_channel("#chip-alerts")
        fake.add_channel("#chip-ops")
        conn = {"conn_type": "slack", "password": "xoxb-test", "extra": {"base_url": fake.base_url}}
        monkeypatch.setenv("AIRFLOW_CONN_SLACK_API_DEFAULT", json.dumps(conn))
        yield fake


def test_daily_digest_posts_counts_top_stories_and_a_chart(home: Path, slack: FakeSlack) -> None:
    settings = Settings.from_env()
    store = get_store(settings.db_url)
    now = datetime.now(UTC)
    rows = [
        ("d1", "Baidu trains model on Kunlun P800 cluster", "Baidu", "self_development", 3),
        ("d2", "Tencent joins Enflame funding round", "Tencent", "chip_investment", 20),
        ("d3", "Google unveils TPU v7 Ironwood", "Google", "self_development", 60),
    ]
    for aid, title, company, event, hours in rows:
        at = now - timedelta(hours=hours)
        store.upsert_articles(
            [Article(article_id=aid, feed_id="f", url=f"https://n.example/{aid}", canonical_url=f"https://n.example/{aid}",
                     guid=aid, title=title, summary=title, language="en", first_seen_at=at, event_at=at,
                     story_id=f"s-{aid}", source_name="Example Wire")],
            seen_at=at,
        )  # fmt: skip
        store.save_classifications([Classification(
            article_id=aid, relevant=True, score=0.97, event_type=event, model_version="m",
            extraction=Extraction(companies=(company,), summary=title),
        )])  # fmt: skip
    run = _dag("daily_digest").test()
    assert _states(run)["send_digest"].endswith("success")
    (digest,) = slack.top_level("#chip-alerts")
    text = json.dumps(digest, ensure_ascii=False)
    assert "Baidu" in text and "Tencent" in text and "Google" in text
    assert slack.uploads, "the chart is uploaded"
    # a second run the same day posts nothing new
    _dag("daily_digest").test()
    assert len(slack.top_level("#chip-alerts")) == 1
