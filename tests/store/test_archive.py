"""The archive on SQLite and PostgreSQL: idempotent writes, windows, late arrivals, classifications."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from support.articles import T0, make_article

from pipeline.models import Amount, Classification, Extraction
from pipeline.store import Store, open_store


def test_upsert_keeps_first_seen_and_reports_only_new(any_store: Store) -> None:
    first = make_article("a1")
    assert any_store.upsert_articles([first], seen_at=T0, run_id="run-1") == ["a1"]
    later = make_article("a1", event_at=T0 + timedelta(hours=1), title="Changed title")
    assert any_store.upsert_articles([later, make_article("a2")], seen_at=T0 + timedelta(hours=1)) == ["a2"]
    (stored,) = any_store.get_articles(["a1"])
    assert stored.first_seen_at == T0
    assert stored.title == "Title a1"
    assert stored.event_at.tzinfo is not None


def test_window_and_late_arrivals(any_store: Store) -> None:
    any_store.upsert_articles(
        [make_article("in", event_at=T0 + timedelta(minutes=5))], seen_at=T0, run_id="r1"
    )
    any_store.upsert_articles(
        [make_article("edge", event_at=T0 + timedelta(minutes=15))], seen_at=T0, run_id="r1"
    )
    any_store.upsert_articles(
        [make_article("late", event_at=T0 - timedelta(hours=3))], seen_at=T0, run_id="r1"
    )
    any_store.upsert_articles(
        [make_article("old", event_at=T0 - timedelta(hours=3))], seen_at=T0, run_id="r0"
    )
    assert any_store.articles_in_window(T0, T0 + timedelta(minutes=15)) == ["in"]
    assert any_store.late_arrivals("r1", event_after=T0 - timedelta(hours=48), event_before=T0) == ["late"]
    assert any_store.articles_in_window(T0, T0 + timedelta(minutes=15), feed_ids=["other"]) == []


def test_classifications_round_trip(any_store: Store) -> None:
    any_store.upsert_articles([make_article("a1")], seen_at=T0)
    result = Classification(
        article_id="a1",
        relevant=True,
        score=0.97,
        event_type="chip_investment",
        model_version="clf-1",
        extraction=Extraction(
            companies=("Tencent",), chips=(), counterparties=("Enflame",),
            amount=Amount(value=18e8, currency="CNY", text="18亿元"), summary="腾讯领投燧原。",
        ),
    )  # fmt: skip
    any_store.save_classifications([result])
    any_store.save_classifications([result])  # idempotent
    stored = any_store.get_classifications(["a1"])["a1"]
    assert stored.relevant and stored.companies == ("Tencent",) and stored.amount is not None
    assert stored.amount.text == "18亿元"
    rows = any_store.list_articles(relevant_only=True)
    assert [a.article_id for a, _ in rows] == ["a1"]


def test_relevant_events_carry_the_extracted_facts(any_store: Store) -> None:
    any_store.upsert_articles([make_article("a1"), make_article("a2")], seen_at=T0)
    any_store.set_stories([("a1", "s1", None), ("a2", "s2", None)])
    extraction = Extraction(companies=("Alibaba", "Nvidia"), chips=("Zhenwu PPU",), counterparties=("SMIC",))
    any_store.save_classifications(
        [
            Classification("a1", True, 0.9, "self_development", "m", extraction),
            Classification("a2", False, 0.1, None, "m", Extraction()),
        ]
    )
    (event,) = any_store.relevant_events(T0 - timedelta(hours=1))
    assert (event.article_id, event.story_id, event.event_type) == ("a1", "s1", "self_development")
    assert event.companies == ("Alibaba", "Nvidia") and event.chips == ("Zhenwu PPU",)
    assert event.counterparties == ("SMIC",) and event.event_at == T0
    assert any_store.relevant_events(T0 + timedelta(hours=1)) == []


def test_naive_datetimes_are_refused(sqlite_store: Store) -> None:
    with pytest.raises(Exception, match="naive datetime"):
        sqlite_store.upsert_articles([make_article("n", event_at=datetime(2025, 1, 1))], seen_at=T0)


def test_sqlite_folder_is_created(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "deep" / "er" / "news.db"
    store = open_store(f"sqlite:///{path}")
    assert path.exists()
    store.dispose()
