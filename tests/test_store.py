"""The store on SQLite and PostgreSQL: schema, idempotent archive writes, windows, ledger claims."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.errors import StoreError
from pipeline.models import Amount, Article, Classification, Extraction
from pipeline.store import FAILED, PENDING, POSTED, POSTING, SCHEMA_VERSION, Store, open_store

T0 = datetime(2025, 9, 15, 8, 0, tzinfo=UTC)


def make_article(
    article_id: str, *, event_at: datetime = T0, feed_id: str = "feed-a", **kw: object
) -> Article:
    fields: dict[str, object] = {
        "article_id": article_id,
        "feed_id": feed_id,
        "url": f"https://news.example.com/{article_id}",
        "canonical_url": f"https://news.example.com/{article_id}",
        "guid": article_id,
        "title": f"Title {article_id}",
        "summary": "Summary",
        "language": "en",
        "first_seen_at": event_at,
        "event_at": event_at,
    }
    fields.update(kw)
    return Article(**fields)  # type: ignore[arg-type]


def test_migrate_is_idempotent_and_versioned(any_store: Store) -> None:
    assert any_store.migrate() == SCHEMA_VERSION
    assert any_store.migrate() == SCHEMA_VERSION


def test_unreachable_store_is_a_clear_error() -> None:
    store = Store("postgresql+psycopg2://nobody@127.0.0.1:1/none?connect_timeout=1")
    with pytest.raises(StoreError, match="cannot reach store"):
        store.migrate()


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
    window = any_store.articles_in_window(T0, T0 + timedelta(minutes=15))
    assert window == ["in"]
    late = any_store.late_arrivals("r1", event_after=T0 - timedelta(hours=48), event_before=T0)
    assert late == ["late"]
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


def test_alert_claim_is_exclusive_and_states_move_forward(any_store: Store) -> None:
    assert any_store.ensure_alerts(
        [{"alert_id": "x", "channel": "#c", "kind": "story", "payload": {"k": 1}}]
    ) == ["x"]
    assert any_store.ensure_alerts([{"alert_id": "x", "channel": "#c", "kind": "story"}]) == []
    claimed = any_store.claim_alert("x", "t1", stale_after=timedelta(minutes=5))
    assert claimed is not None and claimed.state == POSTING and claimed.attempts == 1
    assert any_store.claim_alert("x", "t2", stale_after=timedelta(minutes=5)) is None
    assert not any_store.mark_alert_posted("x", "t2", ts="1.0")  # not the claimant
    assert any_store.release_alert("x", "t1", error="slack down")
    assert any_store.get_alert("x").state == PENDING  # type: ignore[union-attr]
    assert any_store.claim_alert("x", "t3", stale_after=timedelta(minutes=5)) is not None
    assert any_store.mark_alert_posted("x", "t3", ts="1.5", permalink="https://slack/x")
    record = any_store.get_alert("x")
    assert record is not None and record.state == POSTED and record.ts == "1.5"
    assert any_store.claim_alert("x", "t4", stale_after=timedelta(0)) is None  # posted is final


def test_stale_posting_claim_can_be_taken_over(any_store: Store) -> None:
    any_store.ensure_alerts([{"alert_id": "y", "channel": "#c", "kind": "story"}])
    assert any_store.claim_alert("y", "t1", stale_after=timedelta(minutes=5)) is not None
    assert any_store.claim_alert("y", "t2", stale_after=timedelta(minutes=5)) is None
    taken = any_store.claim_alert("y", "t2", stale_after=timedelta(seconds=-1))
    assert taken is not None and taken.attempts == 2
    assert any_store.mark_alert_failed("y", "t2", error="channel_not_found")
    assert any_store.get_alert("y").state == FAILED  # type: ignore[union-attr]


def test_concurrent_claims_have_one_winner(any_store: Store) -> None:
    any_store.ensure_alerts([{"alert_id": "z", "channel": "#c", "kind": "story"}])
    winners: list[str] = []

    def claim(token: str) -> None:
        if any_store.claim_alert("z", token, stale_after=timedelta(minutes=5)):
            winners.append(token)

    threads = [threading.Thread(target=claim, args=(f"t{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1


def test_feed_health_counts_failures_and_resets(any_store: Store) -> None:
    any_store.record_feed_result("f", "https://f.example/rss", ok=False, at=T0, status=500, error="HTTP 500")
    h = any_store.record_feed_result(
        "f", "https://f.example/rss", ok=False, at=T0, status=None, error="timeout"
    )
    assert h.consecutive_failures == 2 and h.last_error == "timeout"
    h = any_store.record_feed_result(
        "f",
        "https://f.example/rss",
        ok=True,
        at=T0,
        status=200,
        items=5,
        new_items=5,
        etag='"e1"',
        encoding="gb18030",
    )
    assert h.consecutive_failures == 0 and h.etag == '"e1"' and h.items_seen == 5
    health = any_store.feed_health()["f"]
    assert health.last_success_at == T0 and health.encoding == "gb18030"


def test_model_registry_promotion(any_store: Store) -> None:
    any_store.register_model("m1", "/m/m1.skops", "h1", {"f1": 0.9})
    any_store.register_model("m2", "/m/m2.skops", "h2", {"f1": 0.95})
    any_store.promote_model("m1")
    any_store.promote_model("m2")
    current = any_store.current_model()
    assert current is not None and current["version"] == "m2" and current["metrics"]["f1"] == 0.95
    with pytest.raises(StoreError):
        any_store.promote_model("nope")


def test_naive_datetimes_are_refused(sqlite_store: Store) -> None:
    with pytest.raises(Exception, match="naive datetime"):
        sqlite_store.upsert_articles([make_article("n", event_at=datetime(2025, 1, 1))], seen_at=T0)


def test_sqlite_folder_is_created(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "deep" / "er" / "news.db"
    store = open_store(f"sqlite:///{path}")
    assert path.exists()
    store.dispose()


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_concurrent_first_migrations_all_succeed(
    tmp_path: object, backend: str, request: pytest.FixtureRequest
) -> None:
    """Mapped tasks starting together on a fresh store: every one migrates, none fails."""
    from concurrent.futures import ThreadPoolExecutor

    import sqlalchemy as sa

    url = f"sqlite:///{tmp_path}/race.db" if backend == "sqlite" else request.getfixturevalue("pg_url")
    for _ in range(3):
        stores = [Store(url) for _ in range(6)]
        with stores[0].begin() as conn:  # start from an empty database
            for table in (
                "alert_ledger",
                "articles",
                "classifications",
                "feed_state",
                "model_registry",
                "schema_info",
            ):
                conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
        with ThreadPoolExecutor(6) as pool:
            assert list(pool.map(lambda s: s.migrate(), stores)) == [SCHEMA_VERSION] * 6
        for s in stores:
            s.dispose()
