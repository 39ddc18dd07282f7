"""Shared fixtures: stores on SQLite and PostgreSQL, settings pointing at temporary folders.

PostgreSQL tests use a throw-away database on the server at ``NEWS_TEST_PG_URL`` (default: the local
server at 127.0.0.1:5432); where it is unreachable they are skipped with the reason, and with ``CI=true``
they fail (``support.environment.unavailable``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from support.environment import (
    create_pg_database,
    drop_pg_database,
    pg_skip_reason,
    settings_env,
    unavailable,
)

from pipeline.settings import PROJECT_ROOT, Settings
from pipeline.store import Store, open_store
from pipeline.store.schema import metadata

__all__ = ["create_pg_database", "drop_pg_database", "settings_env"]

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
    # Airflow writes a random one into airflow.cfg on first use; a module that imports Airflow while the
    # tests are collected would read the configuration before that file exists.
    "AIRFLOW__API_AUTH__JWT_SECRET": "chip-news-test-jwt-secret-not-for-production-" + "x" * 24,
})  # fmt: skip
# The developer's own settings must not leak into tests (NEWS_TEST_* configure the test run itself).
for _name in [k for k in os.environ if k.startswith(("NEWS_", "SLACK_", "AIRFLOW_CONN_", "AIRFLOW_VAR_"))]:
    if not _name.startswith("NEWS_TEST_"):
        del os.environ[_name]
if str(PROJECT_ROOT / "plugins") not in sys.path:
    sys.path.append(str(PROJECT_ROOT / "plugins"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under ``pytest -n`` (pytest-xdist, ``--dist loadgroup``) the tests that start a live scheduler
    (``tests/live/``) run one after another on one worker: two schedulers at once on a 2-core machine
    would only starve each other. (The browser test starts an api-server alone and runs anywhere.)"""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    live = Path(__file__).parent / "live"
    for item in items:
        if item.path.is_relative_to(live):
            item.add_marker(pytest.mark.xdist_group("live-scheduler"))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(AIRFLOW_TEST_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """The test Airflow home with its SQLite metadata database migrated (once per session)."""
    marker = AIRFLOW_TEST_HOME / ".migrated"
    if not marker.exists():
        subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"],
            check=True,
            capture_output=True,
            env=os.environ.copy(),
        )
        marker.touch()
    return AIRFLOW_TEST_HOME


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A throw-away PostgreSQL database for this test session."""
    reason = pg_skip_reason()
    if reason:
        unavailable(reason)
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
    # TRUNCATE ... RESTART IDENTITY: the next test starts from empty tables *and* fresh sequences, as
    # on a new database (a deleted row would leave its serial number taken).
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with store.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    store.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_store(request: pytest.FixtureRequest) -> Store:
    """The store on each backend: every test using it runs on SQLite and on PostgreSQL."""
    name = "sqlite_store" if request.param == "sqlite" else "pg_store"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


@contextmanager
def _cache_lock(model_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on a test-cache entry: parallel test workers (``pytest -n``) train it once,
    the others wait and read it, and none deletes a folder another is writing."""
    import fcntl

    model_dir.parent.mkdir(parents=True, exist_ok=True)
    with (model_dir.parent / f"{model_dir.name}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def trained_model_file() -> Path:
    """The file of a model trained on data/train (not in any store: ``support.models.install_model`` puts
    it into one); cached under var/test-cache by the hash of the training data and the code that shapes
    the model, so a session trains at most once."""
    import hashlib

    from pipeline.model.dataset import resolve_train_paths
    from pipeline.model.training import train_and_save

    paths = resolve_train_paths(PROJECT_ROOT)
    digest = hashlib.sha256()
    for path in [
        *paths,
        *sorted((PROJECT_ROOT / "pipeline").rglob("*.py")),
        PROJECT_ROOT / "config" / "watchlist.yaml",
    ]:
        digest.update(path.name.encode() + path.read_bytes())
    model_dir = PROJECT_ROOT / "var" / "test-cache" / f"model-{digest.hexdigest()[:16]}"
    marker = model_dir / ".complete"
    with _cache_lock(model_dir):
        if not marker.exists():
            shutil.rmtree(model_dir, ignore_errors=True)
            result = train_and_save(train_paths=paths, model_dir=model_dir, store=None, promote=False)
            marker.write_text(str(result.path.relative_to(model_dir)), encoding="utf-8")
    return model_dir / marker.read_text(encoding="utf-8").strip()


@pytest.fixture(scope="session")
def sample_model_file() -> Path:
    """A fixed model for the tests of alerting on the bundled sample feeds: trained on exactly those items
    with their ground-truth labels (``samples/expected.json``), so those tests do not depend on how well
    the production classifier does on the samples. Cached like ``trained_model_file``."""
    import hashlib
    import json

    from support.models import sample_training_items

    from pipeline.model.training import train_and_save

    lines = "".join(json.dumps(i, ensure_ascii=False, sort_keys=True) + "\n" for i in sample_training_items())
    digest = hashlib.sha256(lines.encode("utf-8"))
    for path in [
        *sorted((PROJECT_ROOT / "pipeline" / "model").rglob("*.py")),
        PROJECT_ROOT / "config" / "watchlist.yaml",
    ]:
        digest.update(path.name.encode() + path.read_bytes())
    model_dir = PROJECT_ROOT / "var" / "test-cache" / f"sample-model-{digest.hexdigest()[:16]}"
    marker = model_dir / ".complete"
    with _cache_lock(model_dir):
        if not marker.exists():
            shutil.rmtree(model_dir, ignore_errors=True)
            model_dir.mkdir(parents=True)
            data = model_dir / "samples.jsonl"
            data.write_text(lines, encoding="utf-8")
            result = train_and_save(
                train_paths=[data], model_dir=model_dir, promote=False, feature_set="char", hold_out=False
            )
            marker.write_text(str(result.path.relative_to(model_dir)), encoding="utf-8")
    return model_dir / marker.read_text(encoding="utf-8").strip()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env(settings_env(tmp_path))
