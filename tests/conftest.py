"""Shared fixtures: stores on SQLite and PostgreSQL, settings pointing at temporary folders.

PostgreSQL tests use a throw-away database on the server at ``NEWS_TEST_PG_URL`` (default: the local
server at 127.0.0.1:5432); where it is unreachable they are skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipeline.settings import PROJECT_ROOT, Settings
from pipeline.store import Store, metadata, open_store

# Airflow reads its configuration when first imported: point it at a private, throw-away home before
# any test imports it, so a developer's own AIRFLOW_HOME is never touched.
AIRFLOW_TEST_HOME = Path(tempfile.mkdtemp(prefix="chipnews-airflow-test-"))
os.environ.update({
    "AIRFLOW_HOME": str(AIRFLOW_TEST_HOME),
    "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
    "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{AIRFLOW_TEST_HOME}/airflow.db",
    "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(AIRFLOW_TEST_HOME / "logs"),
})  # fmt: skip
for _name in [k for k in os.environ if k.startswith(("NEWS_", "SLACK_", "AIRFLOW_CONN_", "AIRFLOW_VAR_"))]:
    del os.environ[_name]
if str(PROJECT_ROOT / "plugins") not in sys.path:
    sys.path.append(str(PROJECT_ROOT / "plugins"))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(AIRFLOW_TEST_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """The test Airflow home with its SQLite metadata database migrated (once per session)."""
    marker = AIRFLOW_TEST_HOME / ".migrated"
    if not marker.exists():
        subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True, env=os.environ.copy()
        )
        marker.touch()
    return AIRFLOW_TEST_HOME


PG_ADMIN_URL = os.environ.get("NEWS_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")

_pg_skip_reason: str | None = None


def _pg_reachable() -> str | None:
    """None when the PostgreSQL server answers, else the reason to skip."""
    global _pg_skip_reason
    if _pg_skip_reason is None:
        try:
            engine = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
            with engine.connect() as conn:
                conn.execute(sa.text("select 1"))
            engine.dispose()
            _pg_skip_reason = ""
        except Exception as e:
            _pg_skip_reason = f"PostgreSQL not reachable at {PG_ADMIN_URL} ({type(e).__name__}: {str(e)[:120]})"
    return _pg_skip_reason or None


def create_pg_database(prefix: str = "chipnews_test") -> str:
    """Create a fresh database on the test server; return its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return sa.engine.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def drop_pg_database(url: str) -> None:
    name = sa.engine.make_url(url).database
    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A throw-away PostgreSQL database for this test session."""
    reason = _pg_reachable()
    if reason:
        pytest.skip(reason)
    url = create_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(url)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(f"sqlite:///{tmp_path}/news.db")
    yield store
    store.dispose()


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[Store]:
    store = open_store(pg_url)
    yield store
    with store.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
    store.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_store(request: pytest.FixtureRequest) -> Store:
    """The store on each backend: every test using it runs on SQLite and on PostgreSQL."""
    name = "sqlite_store" if request.param == "sqlite" else "pg_store"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


def settings_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """Environment for Settings.from_env with every path under tmp_path (config from the repo)."""
    env = {
        "NEWS_HOME": str(tmp_path),
        "NEWS_DB_URL": f"sqlite:///{tmp_path}/news.db",
        "NEWS_FEEDS_FILE": str(PROJECT_ROOT / "config" / "feeds.sample.yaml"),
        "NEWS_WATCHLIST_FILE": str(PROJECT_ROOT / "config" / "watchlist.yaml"),
        "NEWS_ROUTING_FILE": str(PROJECT_ROOT / "config" / "routing.yaml"),
        "NEWS_DRY_RUN_FILE": str(tmp_path / "dry-run.jsonl"),
        "NEWS_MODEL_DIR": str(tmp_path / "models"),
        "NEWS_SLACK_CHANNEL": "#chip-alerts",
    }
    env.update(overrides)
    return env


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env(settings_env(tmp_path))
