"""The console's reads on SQLite and PostgreSQL: alerts and stories page newest first by keyset without
gaps or repeats, filters select what they name, feed history sums per day and is pruned."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from support.articles import T0, add_alert, add_classified, make_article

from pipeline.store import FEED_RUN_RETENTION, AlertQuery, FeedDay, FeedHealth, NewAlert, Store, feed_status
from pipeline.store.console import MAX_SOURCES_PER_STORY
from pipeline.store.schema import feed_runs


def _all_pages(fetch: Callable[..., list[Any]], limit: int) -> list[list[Any]]:
    """Every page ``fetch`` gives, following each page's last keyset."""
    pages, after = [], None
    while True:
        rows = fetch(after=after, limit=limit)
        if not rows:
            return pages
        pages.append(rows)
        after = rows[-1].keyset


def test_alerts_page_newest_first_through_ties_without_repeats(any_store: Store) -> None:
    # five alerts at the same instant (one run creates its rows together) and two later ones
    for i in range(5):
        add_alert(any_store, f"a{i}", at=T0)
    add_alert(any_store, "late1", at=T0 + timedelta(minutes=1))
    add_alert(any_store, "late2", at=T0 + timedelta(minutes=2))

    pages = _all_pages(lambda **kw: any_store.console_alerts(AlertQuery(), **kw), limit=3)

    ids = [a.alert_id for page in pages for a in page]
    assert ids == ["late2", "late1", "a4", "a3", "a2", "a1", "a0"]
    assert [len(p) for p in pages] == [3, 3, 1]


def test_alert_rows_carry_their_article_and_classification(any_store: Store) -> None:
    add_classified(any_store, "art1", at=T0, story="s1", companies=("Baidu", "Alibaba"), score=0.87)
    add_alert(any_store, "story-1", at=T0, article_id="art1", state="failed", error="channel_not_found")
    add_alert(any_store, "digest-1", at=T0 + timedelta(seconds=1))  # a digest carries no single article

    digest, story = any_store.console_alerts(AlertQuery())

    assert digest.alert_id == "digest-1" and digest.title is None and digest.companies == ()
    assert story.title == "Baidu chip news from Reuters (art1)" and story.source_name == "Reuters"
    assert story.companies == ("Baidu", "Alibaba") and story.score == pytest.approx(0.87)
    assert story.event_type == "self_development" and story.state == "failed"
    assert story.error == "channel_not_found"


def test_alert_filters_select_what_they_name(any_store: Store) -> None:
    add_classified(any_store, "ali", at=T0, story="s1", companies=("Alibaba",))
    add_classified(
        any_store, "bai", at=T0, story="s2", companies=("Baidu", "Alibaba"), event_type="chip_investment"
    )
    add_classified(any_store, "odd", at=T0, story="s3", companies=("Ali_ba%",))
    add_alert(any_store, "x-ali", at=T0, article_id="ali", state="posted")
    add_alert(any_store, "x-bai", at=T0 + timedelta(days=1), article_id="bai", state="pending")
    add_alert(any_store, "x-odd", at=T0 + timedelta(days=2), article_id="odd", state="failed")

    def ids(**kw: object) -> set[str]:
        return {a.alert_id for a in any_store.console_alerts(AlertQuery(**kw))}  # type: ignore[arg-type]

    assert ids(company="Alibaba") == {"x-ali", "x-bai"}
    assert ids(company="Ali") == set()  # an element of the list, not a substring of a name
    assert ids(company="Ali_ba%") == {"x-odd"}  # LIKE wildcards in a name are literal
    assert ids(event_type="chip_investment") == {"x-bai"}
    assert ids(states=("pending", "failed")) == {"x-bai", "x-odd"}
    assert ids(created_from=T0 + timedelta(days=1)) == {"x-bai", "x-odd"}
    assert ids(created_before=T0 + timedelta(days=1)) == {"x-ali"}
    assert ids(company="Alibaba", states=("posted",)) == {"x-ali"}


def test_stories_page_by_their_newest_article_each_story_once(any_store: Store) -> None:
    # story A: articles at 08:00 and 11:00; story B: 09:00; story C: 10:00 (newest first: A, C, B)
    add_classified(any_store, "a1", at=T0, story="A", source="Reuters")
    add_classified(any_store, "b1", at=T0 + timedelta(hours=1), story="B")
    add_classified(any_store, "c1", at=T0 + timedelta(hours=2), story="C")
    add_classified(any_store, "a2", at=T0 + timedelta(hours=3), story="A", source="Caixin")

    pages = _all_pages(any_store.console_stories, limit=2)

    assert [[s.story_id for s in page] for page in pages] == [["A", "C"], ["B"]]
    story_a = pages[0][0]
    assert story_a.source_count == 2 and story_a.languages == {"en": 2}
    assert [s.article_id for s in story_a.sources] == ["a1", "a2"]  # earliest first
    assert story_a.first_source is not None and story_a.first_source.source_name == "Reuters"


def test_relevant_only_stories_skip_stories_with_nothing_relevant(any_store: Store) -> None:
    add_classified(any_store, "r1", at=T0, story="R")
    add_classified(any_store, "n1", at=T0 + timedelta(hours=1), story="N", relevant=False)
    # story M: its newest article is not relevant; it is ordered by its newest relevant one
    add_classified(any_store, "m1", at=T0 + timedelta(hours=2), story="M")
    add_classified(any_store, "m2", at=T0 + timedelta(hours=5), story="M", relevant=False)
    any_store.upsert_articles(
        [make_article("u1", event_at=T0 + timedelta(hours=6), story_id="U")], seen_at=T0
    )

    relevant = any_store.console_stories(relevant_only=True)
    everything = any_store.console_stories(relevant_only=False)

    assert [s.story_id for s in relevant] == ["M", "R"]
    assert relevant[0].latest_at == T0 + timedelta(hours=2)
    assert [s.story_id for s in everything] == ["U", "M", "N", "R"]
    unclassified = everything[0].sources[0]
    assert unclassified.relevant is None and unclassified.companies == ()
    assert {s.article_id: s.relevant for s in relevant[0].sources} == {"m1": True, "m2": False}


def test_a_story_lists_its_earliest_sources_and_counts_all(any_store: Store) -> None:
    total = MAX_SOURCES_PER_STORY + 5
    for i in range(total):
        add_classified(any_store, f"s{i:02d}", at=T0 + timedelta(minutes=i), story="big")
    any_store.upsert_articles(
        [make_article("zh1", event_at=T0 + timedelta(hours=3), story_id="big", language="zh")], seen_at=T0
    )

    (story,) = any_store.console_stories(relevant_only=False)

    assert story.source_count == total + 1 and story.languages == {"en": total, "zh": 1}
    assert len(story.sources) == MAX_SOURCES_PER_STORY
    assert [s.article_id for s in story.sources] == [f"s{i:02d}" for i in range(MAX_SOURCES_PER_STORY)]
    assert story.latest_article_id == "zh1"


def test_a_story_carries_the_alerts_of_its_articles(any_store: Store) -> None:
    add_classified(any_store, "a1", at=T0, story="A")
    any_store.ensure_alerts(
        [
            NewAlert("story-A", "#chip-alerts", "story", story_id="A", article_id="a1"),
            NewAlert("digest-1", "#chip-alerts", "digest"),
        ]
    )

    (story,) = any_store.console_stories()

    assert [(a.alert_id, a.kind, a.state) for a in story.alerts] == [("story-A", "story", "pending")]


def test_feed_history_sums_attempts_per_utc_day(any_store: Store) -> None:
    day1, day2 = datetime(2025, 9, 14, 23, 0, tzinfo=UTC), datetime(2025, 9, 15, 1, 0, tzinfo=UTC)
    url = "https://f.example/rss"
    any_store.record_feed_result("f", url, ok=True, at=day1, status=200, items=10, new_items=4)
    any_store.record_feed_result("f", url, ok=False, at=day2, status=503, error="HTTP 503")
    any_store.record_feed_result("f", url, ok=True, at=day2 + timedelta(minutes=15), status=200, items=7)
    any_store.record_feed_result("g", url, ok=True, at=day2, status=304)

    days = any_store.feed_run_days(["f", "g", "missing"], since=date(2025, 9, 13))

    assert days["f"] == [
        FeedDay(day=date(2025, 9, 14), attempts=1, failures=0, items=10, new_items=4),
        FeedDay(day=date(2025, 9, 15), attempts=2, failures=1, items=7, new_items=0),
    ]
    assert [(x.day, x.attempts, x.failures) for x in days["g"]] == [(date(2025, 9, 15), 1, 0)]
    assert "missing" not in days
    assert any_store.feed_run_days(["f"], since=date(2025, 9, 15)) == {"f": days["f"][1:]}


def test_feed_history_keeps_one_row_per_attempt_and_prunes_old_ones(any_store: Store) -> None:
    url = "https://f.example/rss"
    any_store.record_feed_result("f", url, ok=False, at=T0, status=500, error="HTTP 500")
    # a retried task records the same attempt again: one row, the latest outcome, counted once
    any_store.record_feed_result("f", url, ok=True, at=T0, status=200, items=3)
    any_store.record_feed_result("other", url, ok=True, at=T0, status=200, items=1)
    assert any_store.feed_run_days(["f"], since=T0.date()) == {
        "f": [FeedDay(day=T0.date(), attempts=1, failures=0, items=3, new_items=0)]
    }
    later = T0 + FEED_RUN_RETENTION + timedelta(days=1)
    any_store.record_feed_result("f", url, ok=True, at=later, status=200, items=5)

    with any_store.begin() as conn:
        rows = conn.execute(sa.select(feed_runs.c.feed_id, feed_runs.c.ok, feed_runs.c["items"])).all()
    days = any_store.feed_run_days(["f", "other"], since=T0.date())

    assert sorted(tuple(r) for r in rows) == [("f", True, 5), ("other", True, 1)]
    assert [d.day for d in days["f"]] == [later.date()] and [d.day for d in days["other"]] == [T0.date()]


def test_feed_status_names_each_state() -> None:
    now = T0
    url = "https://f.example/rss"

    def health(failures: int, backoff: datetime | None = None, attempted: bool = True) -> FeedHealth:
        return FeedHealth(
            feed_id="f", url=url, last_attempt_at=now if attempted else None, last_success_at=None,
            consecutive_failures=failures, last_error=None, last_status=None, encoding=None, items_last=0,
            items_seen=0, new_items_total=0, backoff_until=backoff, failure_notified=False, etag=None,
            last_modified=None,
        )  # fmt: skip

    assert feed_status(False, health(0), now) == "disabled"
    assert feed_status(True, None, now) == "never"
    assert feed_status(True, health(0, attempted=False), now) == "never"
    assert feed_status(True, health(0), now) == "ok"
    assert feed_status(True, health(1, now + timedelta(hours=1)), now) == "failing"
    assert feed_status(True, health(2, now + timedelta(hours=1)), now) == "backoff"
    assert feed_status(True, health(2, now - timedelta(hours=1)), now) == "failing"
