"""The other DAGs run through Airflow (dag.test): retrain_classifier's promotion gate, daily_digest, and
the task-failure notice to the ops channel."""

from __future__ import annotations

import json
import random
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


def _training_files(home: Path, *, corrupt: float = 0.0) -> None:
    """data/train under ``home``: the repo's training files, with a share of the labels of the items
    the model trains on (never of the held-out ones the gate scores with) flipped."""
    from pipeline.model.dataset import load_labelled
    from pipeline.model.training import split_holdout

    paths = sorted((PROJECT_ROOT / "data" / "train").glob("*.jsonl"))
    _train, held = split_holdout(load_labelled(paths))
    held_ids = {item.id for item in held}
    rng = random.Random(7)
    (home / "data" / "train").mkdir(parents=True, exist_ok=True)
    for path in paths:
        out = []
        for line in path.read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            if item["id"] not in held_ids and rng.random() < corrupt:
                item["label"] = 1 - item["label"]
                item["event_type"] = None if item["label"] == 0 else "self_development"
                item["hard_negative_kind"] = None
                item["companies"] = item["companies"] or ["Google"]
            out.append(json.dumps(item, ensure_ascii=False))
        (home / "data" / "train" / path.name).write_text("\n".join(out) + "\n", encoding="utf-8")


def _current_version(home: Path) -> str:
    current = get_store(Settings.from_env().db_url).current_model()
    assert current is not None
    return current.version


def test_retrain_gate_keeps_the_current_model_when_the_candidate_is_worse(home: Path) -> None:
    before = _current_version(home)
    _training_files(home, corrupt=0.4)  # 40% of the training labels flipped: clearly worse
    run = _dag("retrain_classifier").test()
    states = _states(run)
    assert states["train"].endswith("success") and states["gate"].endswith("success")
    assert states["promote"].endswith("skipped"), states
    assert _current_version(home) == before


def test_retrain_promotes_a_candidate_that_is_not_worse(home: Path) -> None:
    before = _current_version(home)
    _training_files(home)
    extra = {
        "id": "test-extra-1", "lang": "en", "label": 0, "event_type": None, "companies": [], "chips": [],
        "counterparties": [], "title": "City council approves a new bike lane downtown",
        "summary": "The council voted to add a protected bike lane on Main Street next spring.",
    }  # fmt: skip
    with (home / "data" / "train" / "extra.jsonl").open("w", encoding="utf-8") as f:
        f.write(json.dumps(extra) + "\n")  # new data: a new model version, as good as the current one
    run = _dag("retrain_classifier").test()
    states = _states(run)
    assert states["promote"].endswith("success"), states
    store = get_store(Settings.from_env().db_url)
    candidate = store.models()[-1]
    assert candidate.version != before and candidate.is_current
    assert _current_version(home) == candidate.version


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
