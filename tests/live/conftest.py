"""Fixtures for the live-Airflow tests: a pipeline store on PostgreSQL with the sample feeds archived."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support.environment import create_pg_database, drop_pg_database, settings_env
from support.models import install_model

from pipeline.sample_server import serving, write_sample_feed_list
from pipeline.settings import Settings


@pytest.fixture
def archived_samples(tmp_path: Path, sample_model_file: Path, pg_url: str) -> Iterator[dict[str, str]]:
    """Environment of a pipeline whose PostgreSQL store holds the sample feeds' items (the archive).

    The sample server keeps running for the test, so scheduled runs can fetch too.
    """
    from pipeline.cycle import fetch_shard, plan_shards

    store_url = create_pg_database("chipnews_store")
    try:
        with serving() as base_url:
            port = base_url.rsplit(":", 1)[1]
            env = settings_env(
                tmp_path,
                NEWS_DB_URL=store_url,
                NEWS_FEEDS_FILE=str(write_sample_feed_list(base_url, tmp_path / "feeds.yaml")),
                NEWS_ALLOW_HOSTS=f"127.0.0.1:{port}",
                NEWS_SLACK_CHANNEL="#chip-alerts",
            )
            settings = Settings.from_env(env)
            install_model(settings.db_url, sample_model_file)
            now = datetime(2025, 9, 15, 12, 0, tzinfo=UTC)  # archived "back then": the first-seen times
            for shard in plan_shards(settings):
                result = fetch_shard(settings, shard, run_id="archive-for-test", now=now, force=True)
                assert result["failed"] == 0, result
            yield env
    finally:
        from pipeline.store import get_store

        get_store.cache_clear()
        drop_pg_database(store_url)
