"""Settings: defaults, overrides, and errors that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from pipeline.settings import SETTINGS_DOC, Settings, parse_allow_hosts


def test_defaults_live_under_news_home(tmp_path: Path) -> None:
    s = Settings.from_env({"NEWS_HOME": str(tmp_path)})
    assert s.db_url == f"sqlite:///{tmp_path}/var/news.db"
    assert s.feeds_file == tmp_path / "config" / "feeds.yaml"
    assert s.dry_run_file == tmp_path / "var" / "slack-dry-run.jsonl"
    assert s.dry_run and s.schedule == "*/15 * * * *" and s.feed_shard_size == 10


def test_overrides(tmp_path: Path) -> None:
    s = Settings.from_env({
        "NEWS_HOME": str(tmp_path),
        "NEWS_DB_URL": "postgresql+psycopg2://u@db/chip_news",
        "NEWS_ALLOW_HOSTS": "127.0.0.1:8765, LOCALHOST:9000",
        "NEWS_FEED_SHARD_SIZE": "3",
        "SLACK_BOT_TOKEN": "xoxb-test",
        "NEWS_SCHEDULE": "*/5 * * * *",
    })  # fmt: skip
    assert s.allow_hosts == frozenset({"127.0.0.1:8765", "localhost:9000"})
    assert s.feed_shard_size == 3 and not s.dry_run and s.schedule == "*/5 * * * *"
    assert s.with_slack(None, None).dry_run


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"NEWS_FEED_SHARD_SIZE": "ten"}, "NEWS_FEED_SHARD_SIZE"),
        ({"NEWS_FEED_SHARD_SIZE": "0"}, "at least 1"),
        ({"NEWS_TIMEZONE": "Mars/Olympus"}, "NEWS_TIMEZONE"),
        ({"NEWS_SCHEDULE": "every minute"}, "NEWS_SCHEDULE"),
        ({"NEWS_DB_URL": "news.db"}, "NEWS_DB_URL"),
        ({"NEWS_ALLOW_HOSTS": "127.0.0.1"}, "host:port"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


def test_allow_hosts_normalises_ipv6() -> None:
    assert parse_allow_hosts("[::1]:8000") == frozenset({"::1:8000"})


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    missing = [name for name in SETTINGS_DOC if name not in readme]
    assert not missing, f"README does not document {missing}"
