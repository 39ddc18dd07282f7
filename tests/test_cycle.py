"""The cycle's steps without Airflow: which archived items a run processes, re-use of classifications,
grouping of one event's reports, and a whole `run_once` against the sample feeds."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.environment import settings_env
from support.models import install_model

from pipeline.cycle import classify_articles, run_once, store_window
from pipeline.models import Article, RunInfo
from pipeline.sample_server import serving, write_sample_feed_list
from pipeline.settings import PROJECT_ROOT, Settings
from pipeline.store import get_store

T0 = datetime(2025, 9, 15, 8, 0, tzinfo=UTC)
EXPECTED = json.loads((PROJECT_ROOT / "samples" / "expected.json").read_text(encoding="utf-8"))


@pytest.fixture
def cycle_settings(tmp_path: Path, trained_model_file: Path) -> Settings:
    get_store.cache_clear()
    settings = Settings.from_env(settings_env(tmp_path))
    install_model(settings.db_url, trained_model_file)
    return settings


def article(aid: str, event_at: datetime, title: str, summary: str = "", language: str = "en") -> Article:
    return Article(
        article_id=aid, feed_id="f", url=f"https://n.example/{aid}", canonical_url=f"https://n.example/{aid}",
        guid=aid, title=title, summary=summary, language=language, first_seen_at=T0, event_at=event_at,
    )  # fmt: skip


def run(kind: str, *, explicit: bool = False, run_id: str = "r1") -> RunInfo:
    return RunInfo(run_id=run_id, run_type=kind, window_start=T0, window_end=T0 + timedelta(minutes=15),
                   explicit_window=explicit)  # fmt: skip


def test_which_archived_items_a_run_processes(cycle_settings: Settings) -> None:
    store = get_store(cycle_settings.db_url)
    store.upsert_articles(
        [article("in", T0 + timedelta(minutes=3), "In the window")], seen_at=T0, run_id="r1"
    )
    store.upsert_articles([article("late", T0 - timedelta(hours=5), "Listed late")], seen_at=T0, run_id="r1")
    store.upsert_articles([article("stale", T0 - timedelta(days=5), "Far too old")], seen_at=T0, run_id="r1")
    store.upsert_articles(
        [article("other", T0 - timedelta(hours=5), "Seen by another run")], seen_at=T0, run_id="r0"
    )
    store.upsert_articles(
        [article("next", T0 + timedelta(minutes=20), "Next window")], seen_at=T0, run_id="r1"
    )

    assert set(store_window(cycle_settings, run("scheduled"))["article_ids"]) == {"in", "late"}
    assert store_window(cycle_settings, run("manual", explicit=True))["article_ids"] == ["in"]
    assert store_window(cycle_settings, run("backfill"))["article_ids"] == ["in"]
    grouped = {a.article_id: a.story_id for a in store.get_articles(["in", "late"])}
    assert all(grouped.values()), "processed articles are grouped into stories"


def test_classification_is_reused_for_the_same_model(cycle_settings: Settings) -> None:
    store = get_store(cycle_settings.db_url)
    items = [
        article("a", T0, "Alibaba's T-Head tests a new AI inference chip",
                "Alibaba's chip unit T-Head has built a new inference chip that is now in testing."),
        article("b", T0, "Xiaomi SU7 deliveries top 10,000 in a month", "The electric car sold well."),
    ]  # fmt: skip
    store.upsert_articles(items, seen_at=T0)
    first = classify_articles(cycle_settings, ["a", "b"])
    assert first["classified"] == 2 and first["relevant_ids"] == ["a"]
    again = classify_articles(cycle_settings, ["a", "b"])
    assert again["classified"] == 0 and again["reused"] == 2 and again["relevant_ids"] == ["a"]
    forced = classify_articles(cycle_settings, ["a", "b"], force=True)
    assert forced["classified"] == 2


def test_run_once_on_the_sample_day_alerts_only_relevant_stories(
    tmp_path: Path, sample_model_file: Path
) -> None:
    get_store.cache_clear()
    with serving() as base_url:
        port = base_url.rsplit(":", 1)[1]
        env = settings_env(
            tmp_path,
            NEWS_FEEDS_FILE=str(write_sample_feed_list(base_url, tmp_path / "feeds.yaml")),
            NEWS_ALLOW_HOSTS=f"127.0.0.1:{port}",
        )
        settings = Settings.from_env(env)
        install_model(settings.db_url, sample_model_file)
        demo = EXPECTED["windows"]["demo"]
        window = (datetime.fromisoformat(demo["start"]), datetime.fromisoformat(demo["end"]))
        result = run_once(settings, window=window)
        assert result["fetch"]["failed"] == 0 and result["fetch"]["new_items"] == 39
        # (one sample item repeats another's URL under tracking parameters: they are one article)
        relevant = {a.canonical_url for a, _ in get_store(settings.db_url).list_articles(relevant_only=True)}
        expected = {
            i["url"].split("?")[0] for i in EXPECTED["items"] if i["window"] == "demo" and i["relevant"]
        }
        assert relevant == expected
        # dry run: the payloads went to the dry-run file, and running again writes nothing new
        lines = settings.dry_run_file.read_text(encoding="utf-8").splitlines()
        assert lines and all(json.loads(line)["method"] == "chat.postMessage" for line in lines)
        again = run_once(settings, window=window)
        assert again["alert"]["posted"] == 0
        assert settings.dry_run_file.read_text(encoding="utf-8").splitlines() == lines
