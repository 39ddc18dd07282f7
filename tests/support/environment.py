"""Helpers shared by the test suite: missing services, throw-away PostgreSQL databases, settings environments."""

from __future__ import annotations

import functools
import os
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipeline.settings import PROJECT_ROOT

# CI runs with CI=true: there every service a test needs (PostgreSQL, Redis, Chromium, the shared corpus)
# must be present, and a missing one fails the test instead of skipping it.
IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def unavailable(reason: str) -> None:
    """Skip the current test because ``reason`` (something it needs is missing); under CI, fail instead."""
    if IN_CI:
        pytest.fail(
            f"{reason} (CI=true: a missing service or corpus is a failure, not a skip)", pytrace=False
        )
    pytest.skip(reason)


PG_ADMIN_URL = os.environ.get("NEWS_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


@functools.cache
def pg_skip_reason() -> str | None:
    """None when the PostgreSQL server answers, else the reason to skip (asked once per session)."""
    try:
        engine = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
    except Exception as e:
        first_line = " ".join(str(getattr(e, "orig", e)).split())[:160]
        return f"PostgreSQL not reachable at {PG_ADMIN_URL} ({type(e).__name__}: {first_line})"
    return None


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
