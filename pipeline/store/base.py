"""The store's engine and the one UPSERT helper every part of the store writes through."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from pipeline.errors import StoreError

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


def dumps(value: Any) -> str:
    """JSON as the store keeps it: UTF-8 text, sorted keys (so equal values compare equal)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def chunks(items: Sequence[Any], size: int = 500) -> Iterator[Sequence[Any]]:
    """``items`` in slices of ``size``: bound IN lists and multi-row INSERTs stay inside driver limits."""
    for i in range(0, len(items), size):
        yield items[i : i + size]


def redact(url: str) -> str:
    """A database URL with its password hidden, for messages and logs."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<invalid URL>"


def sqlite_path(url: str) -> Path | None:
    """The file of an SQLite URL (None for other databases and in-memory SQLite)."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets the mapped fetch tasks read while one of them writes; busy_timeout waits for the lock.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=60000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _psycopg2(url: str) -> bool:
    parsed = sa.engine.make_url(url)
    return parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() == "psycopg2"


class StoreBase:
    """The engine of one store URL; the per-domain parts (archive, feed health, ledger, registry) add
    their reads and writes on top of it."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        try:
            if sa.engine.make_url(url).get_backend_name() == "sqlite":
                self.engine: Engine = sa.create_engine(
                    url, echo=echo, connect_args={"timeout": 60}, poolclass=sa.pool.NullPool
                )
                sa.event.listen(self.engine, "connect", _sqlite_pragmas)
            else:
                # psycopg2 sends an executemany UPDATE one statement per round trip unless asked to
                # batch it (setting 30,000 articles' stories took 18 s instead of 4).
                batch = {"executemany_mode": "values_plus_batch"} if _psycopg2(url) else {}
                self.engine = sa.create_engine(url, echo=echo, pool_pre_ping=True, pool_size=5, **batch)
        except (sa.exc.ArgumentError, ImportError) as e:
            raise StoreError(f"cannot use store URL {redact(url)}: {e}") from e
        self.dialect = self.engine.dialect.name

    def dispose(self) -> None:
        self.engine.dispose()

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def _upsert(
        self,
        conn: Connection,
        table: sa.Table,
        rows: Sequence[dict[str, Any]],
        keys: Sequence[str],
        update: Sequence[str] | None,
    ) -> None:
        """INSERT ... ON CONFLICT (keys) DO UPDATE (update columns) / DO NOTHING (update=None).

        The rows go as one executemany of a statement SQLAlchemy compiles once and caches (it batches
        them into multi-row INSERTs where the driver allows): compiling a fresh multi-row VALUES statement
        for every call cost more CPU than the database's own work.
        """
        if not rows:
            return
        dialect_insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        stmt = dialect_insert(table)
        if update:
            stmt = stmt.on_conflict_do_update(
                index_elements=list(keys), set_={c: stmt.excluded[c] for c in update}
            )
        else:
            stmt = stmt.on_conflict_do_nothing(index_elements=list(keys))
        for chunk in chunks(rows):
            conn.execute(stmt, list(chunk))
