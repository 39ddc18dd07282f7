"""Schema migrations: the numbered Alembic revisions in ``migrations/versions``, applied under a lock.

``upgrade`` is what ``python -m pipeline migrate`` and the first task of a run call. Concurrent callers
(mapped tasks starting together, several workers) are serialised: a PostgreSQL advisory lock held for
the migration's transaction, or a lock file beside an SQLite database. A database that version 1 of the
project created (``create_all`` plus ``schema_info``) is recognised and upgraded from revision 0001.
"""

from __future__ import annotations

import fcntl
import functools
import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from pipeline.errors import StoreError
from pipeline.store.base import redact, sqlite_path

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# The revision that stands for a database created by version 1 of the project (before Alembic).
VERSION_1_REVISION = "0001"
# Any fixed 64-bit number: the advisory lock every migrating process of this project takes.
_PG_LOCK_KEY = 0x43_48_49_50_4E_45_57_53  # "CHIPNEWS"


@dataclass(frozen=True)
class MigrationResult:
    """What ``upgrade`` found and left: revisions before and after (None: an empty database)."""

    before: str | None
    after: str
    head: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@functools.cache
def head_revision() -> str:
    """The newest revision this code knows."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:
        raise StoreError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


@functools.cache
def known_revisions() -> frozenset[str]:
    return frozenset(s.revision for s in ScriptDirectory.from_config(_config()).walk_revisions())


def current_revision(conn: Connection) -> str | None:
    """The database's revision; ``VERSION_1_REVISION`` for a version-1 database, None when empty."""
    revision = MigrationContext.configure(conn).get_current_revision()
    if revision is None and sa.inspect(conn).has_table("schema_info"):
        return VERSION_1_REVISION
    return revision


def _check_known(revision: str | None, url: str) -> None:
    if revision is not None and revision not in known_revisions():
        raise StoreError(
            f"store {redact(url)} is at schema revision {revision!r}, which this code does not know "
            f"(its newest is {head_revision()!r}): it was migrated by a newer version; upgrade the code"
        )


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".migrate.lock"), "a+b") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def is_current(engine: Engine) -> bool:
    """Whether the database is at this code's head revision (no lock; one cheap query)."""
    with engine.connect() as conn:
        return current_revision(conn) == head_revision()


def upgrade(engine: Engine, url: str | None = None) -> MigrationResult:
    """Bring the database to the head revision; safe to call from many processes at once."""
    url = url or engine.url.render_as_string(hide_password=True)
    head = head_revision()
    db_file = sqlite_path(url) if engine.dialect.name == "sqlite" else None
    lock: AbstractContextManager[None] = _file_lock(db_file) if db_file is not None else nullcontext()
    try:
        with lock, engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_LOCK_KEY)))
            before = current_revision(conn)
            _check_known(before, url)
            if before == head:
                return MigrationResult(before, head, head)
            config = _config(conn)
            if (
                before == VERSION_1_REVISION
                and MigrationContext.configure(conn).get_current_revision() is None
            ):
                log.info("store %s was created by version 1: upgrading it from revision 0001", redact(url))
                command.stamp(config, VERSION_1_REVISION)
            log.info("migrating store %s from revision %s to %s", redact(url), before or "(empty)", head)
            command.upgrade(config, "head")
            after = current_revision(conn)
    except sa.exc.OperationalError as e:
        raise StoreError(f"cannot reach store {redact(url)}: {e.orig}") from e
    if after != head:
        raise StoreError(f"store {redact(url)} ended at revision {after!r}, not {head!r}")
    return MigrationResult(before, after, head)
