"""Schema migrations on SQLite and PostgreSQL: a store made by version 1 upgrades with every row kept,
migrating twice or from many processes at once is safe, and the head schema is what the code reads."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from support.environment import create_pg_database, drop_pg_database

from pipeline.errors import ModelError, StoreError
from pipeline.model.registry import load_promoted
from pipeline.store import Store, head_revision
from pipeline.store.schema import metadata

FIXTURES = Path(__file__).parents[1] / "data" / "store"
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/store.db"
        return
    request.getfixturevalue("pg_url")  # skips (or fails under CI) with the reason when there is no server
    url = create_pg_database("chipnews_migrate")
    try:
        yield url
    finally:
        drop_pg_database(url)


def _version_1_database(url: str, *, with_first_seen_run: bool) -> None:
    """The schema version 1 created (from the fixture), optionally without the column it added silently."""
    dialect = sa.engine.make_url(url).get_backend_name()
    sql = (FIXTURES / f"schema-2026-11-28.{dialect}.sql").read_text(encoding="utf-8")
    sql = "\n".join(line for line in sql.splitlines() if not line.startswith("--"))
    statements = [s.strip() for s in sql.split(";") if s.strip()]
    if not with_first_seen_run:
        statements = [s for s in statements if "ix_articles_first_seen_run" not in s]
        statements = [s.replace("\tfirst_seen_run TEXT, \n", "") for s in statements]
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(sa.text(statement))
    engine.dispose()


T = datetime(2025, 9, 15, 8, 0)
ROWS: dict[str, list[dict[str, object]]] = {
    "feed_state": [
        {"feed_id": "36kr", "url": "https://36kr.com/feed", "etag": '"e1"', "last_modified": None,
         "last_attempt_at": T, "last_success_at": T, "consecutive_failures": 0, "last_error": None,
         "last_status": 200, "encoding": "utf-8", "items_last": 30, "items_seen": 90, "new_items_total": 40,
         "backoff_until": None, "failure_notified": False},
    ],
    "articles": [
        {"article_id": f"a{i}", "feed_id": "36kr", "source_name": "36氪", "guid": f"g{i}",
         "url": f"https://36kr.com/p/{i}", "canonical_url": f"https://36kr.com/p/{i}", "title": f"标题 {i}",
         "summary": "摘要", "body": None, "language": "zh", "published_at": T, "first_seen_at": T,
         "last_seen_at": T, "event_at": T, "page_status": None, "story_id": f"s{i}", "minhash": b"\x01\x02"}
        for i in range(3)
    ],
    "classifications": [
        {"article_id": "a0", "model_version": "clf-old", "relevant": True, "score": 0.93,
         "event_type": "self_development", "companies": '["Alibaba"]', "chips": '["Zhenwu PPU"]',
         "counterparties": "[]", "amount": None, "summary": "阿里自研芯片。", "error": None, "classified_at": T},
    ],
    "alert_ledger": [
        {"alert_id": "story-1", "channel": "#chip-alerts", "kind": "story", "story_id": "s0",
         "article_id": "a0", "parent_alert_id": None, "state": "posted", "attempts": 1, "claim_token": None,
         "claimed_at": T, "ts": "1757923200.000100", "thread_ts": None, "permalink": "https://slack/p1",
         "payload": json.dumps({"message": {"text": "x"}}), "model_version": "clf-old", "run_id": "r1",
         "interval_start": T, "interval_end": T, "error": None, "created_at": T, "updated_at": T,
         "posted_at": T},
    ],
    "model_registry": [
        {"version": "clf-old", "path": "/old/var/models/clf-old/model.skops", "data_hash": "abc",
         "metrics": '{"f1": 0.96}', "created_at": T, "promoted_at": T, "is_current": True},
    ],
}  # fmt: skip


@pytest.mark.parametrize("with_first_seen_run", [True, False], ids=["as-shipped", "before-first-seen-run"])
def test_a_version_1_store_upgrades_and_keeps_every_row(
    empty_url: str, with_first_seen_run: bool, tmp_path: Path
) -> None:
    _version_1_database(empty_url, with_first_seen_run=with_first_seen_run)
    engine = sa.create_engine(empty_url)
    with engine.begin() as conn:
        for table, rows in ROWS.items():
            for row in rows:
                columns = ", ".join(row)
                values = ", ".join(f":{c}" for c in row)
                conn.execute(sa.text(f"INSERT INTO {table} ({columns}) VALUES ({values})"), row)
    engine.dispose()

    store = Store(empty_url)
    result = store.migrate()
    assert (result.before, result.after) == ("0001", head_revision())

    articles = store.get_articles(["a0", "a1", "a2"])
    assert [a.title for a in articles] == ["标题 0", "标题 1", "标题 2"]
    assert articles[0].event_at == T.replace(tzinfo=UTC) and articles[0].story_id == "s0"
    cls = store.get_classifications(["a0"])["a0"]
    assert cls.relevant and cls.companies == ("Alibaba",) and cls.chips == ("Zhenwu PPU",)
    health = store.feed_health()["36kr"]
    assert health.items_seen == 90 and health.etag == '"e1"'
    (alert,) = store.alerts()
    assert (
        alert.state == "posted"
        and alert.ts == "1757923200.000100"
        and alert.payload == {"message": {"text": "x"}}
    )
    (model,) = store.models()
    assert model.version == "clf-old" and model.is_current and model.metrics == {"f1": 0.96}
    assert model.sha256 is None  # version 1 kept models on one machine's disk: retrain
    with pytest.raises(ModelError, match="python -m pipeline train"):
        load_promoted(store, tmp_path / "models")
    # the column version 1 added later works whether or not the database had it
    at = T.replace(tzinfo=UTC)
    store.upsert_articles([replace(articles[0], article_id="a9")], seen_at=at, run_id="new-run")
    assert store.late_arrivals(
        "new-run", event_after=at - timedelta(days=1), event_before=at + timedelta(hours=1)
    ) == ["a9"]
    tables = set(sa.inspect(store.engine).get_table_names())
    assert "schema_info" not in tables and "model_artifacts" in tables
    store.dispose()


def test_the_head_schema_is_what_the_code_reads(empty_url: str) -> None:
    store = Store(empty_url)
    result = store.migrate()
    assert (result.before, result.after) == (None, head_revision())
    with store.engine.connect() as conn:
        differences = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), metadata
        )
    assert differences == []
    again = store.migrate()
    assert not again.changed and again.after == head_revision()
    store.dispose()


def test_many_processes_migrating_a_fresh_store_at_once_all_succeed(empty_url: str) -> None:
    """Mapped tasks starting together on a fresh store: every one ends at head, exactly one migrated."""
    stores = [Store(empty_url) for _ in range(6)]
    with ThreadPoolExecutor(len(stores)) as pool:
        futures = [pool.submit(s.migrate) for s in stores]
        results = [f.result() for f in futures]  # re-raises any worker's exception
    assert all(r.after == head_revision() for r in results)
    assert sum(r.changed for r in results) == 1
    for s in stores:
        s.dispose()


def test_a_store_migrated_by_newer_code_is_refused(empty_url: str) -> None:
    store = Store(empty_url)
    store.migrate()
    with store.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(StoreError, match="newer version"):
        store.migrate()
    store.dispose()


def test_unreachable_store_is_a_clear_error() -> None:
    store = Store("postgresql+psycopg2://nobody@127.0.0.1:1/none?connect_timeout=1")
    with pytest.raises(StoreError, match="cannot reach store"):
        store.migrate()
