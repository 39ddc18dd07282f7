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
        assert result["fetch"]["failed"] == 0 and result["fetch"]["new_items"] == 42
        # (one sample item repeats another's URL under tracking parameters: they are one article)
        relevant = {a.canonical_url for a, _ in get_store(settings.db_url).list_articles(relevant_only=True)}
        expected = {
            i["url"].split("?")[0] for i in EXPECTED["items"] if i["window"] == "demo" and i["relevant"]
        }
        assert relevant == expected
        # dry run: the payloads went to the dry-run file, and running again writes nothing new
        lines = settings.dry_run_file.read_text(encoding="utf-8").splitlines()
        assert lines and all(json.loads(line)["method"] == "chat.postMessage" for line in lines)
        # the five-source story has one brief citing all five; every story's novelty was decided
        store = get_store(settings.db_url)
        story = {a.story_id for a, _ in store.list_articles(relevant_only=True) if "t-head" in (a.url or "")}
        assert len(story) == 1, "the five reports are one story"
        briefs = [json.loads(x)["payload"] for x in lines if '"alert_id": "brief-' in x]
        [brief] = [b for b in briefs if "kx-702209" in json.dumps(b)]
        assert "[5]" in json.dumps(brief, ensure_ascii=False) and result["alert"]["briefs"] == len(briefs)
        decided = store.get_novelty(sorted({a.story_id for a, _ in store.list_articles(relevant_only=True)}))
        assert {n.tag for n in decided.values()} == {"new"}
        again = run_once(settings, window=window)
        assert again["alert"]["posted"] == 0
        assert settings.dry_run_file.read_text(encoding="utf-8").splitlines() == lines


def test_novelty_is_decided_once_against_alerted_stories(tmp_path: Path) -> None:
    from support.articles import add_classified

    from pipeline.cycle import assess_novelty
    from pipeline.store import NewAlert

    get_store.cache_clear()
    settings = Settings.from_env(settings_env(tmp_path))
    store = get_store(settings.db_url)
    week_ago = T0 - timedelta(days=6)
    add_classified(
        store, "o1", at=week_ago, story="s-old", summary="T-Head tests the Hanguang 800 successor."
    )
    store.ensure_alerts([NewAlert("story-old", "#chip-alerts", "story", story_id="s-old", article_id="o1")])
    assert store.claim_alert("story-old", "t", stale_after=timedelta(minutes=1))
    store.mark_alert_posted("story-old", "t", ts="1.0", permalink="https://slack.example/p1")
    add_classified(store, "r1", at=T0, story="s-re", summary="T-Head is testing the Hanguang 800 successor.")
    add_classified(store, "f1", at=T0, story="s-fu", summary="T-Head will make 100,000 chips in 2026.")
    add_classified(store, "n1", at=T0, story="s-new", companies=("Baidu",), summary="Baidu tests a chip.")

    decided = assess_novelty(settings, ["s-re", "s-fu", "s-new", "s-old"], now=T0)
    assert {k: v.tag for k, v in decided.items()} == {"s-re": "rehash", "s-fu": "follow-up", "s-new": "new"}
    assert decided["s-fu"].earlier_story_id == "s-old" and "figure 100000chips" in decided["s-fu"].reason
    assert decided["s-re"].first_source == "Reuters" and decided["s-re"].first_published_at == T0
    # a new or follow-up decision is final; a rehash is looked at again when a source brings news
    add_classified(store, "r2", at=T0 + timedelta(hours=1), story="s-re", source="Caixin",
                   summary="T-Head's successor chip will cost $2 billion to develop.")  # fmt: skip
    add_classified(store, "n2", at=T0 + timedelta(hours=1), story="s-new", companies=("Baidu",),
                   summary="Baidu tests a chip, 2027.")  # fmt: skip
    again = assess_novelty(settings, ["s-re", "s-fu", "s-new"], now=T0 + timedelta(hours=1))
    assert {k: v.tag for k, v in again.items()} == {"s-re": "follow-up", "s-fu": "follow-up", "s-new": "new"}
    assert store.get_novelty(["s-re"])["s-re"].tag == "follow-up"
