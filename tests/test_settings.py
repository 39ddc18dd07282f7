"""Settings: defaults, overrides, and errors that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from pipeline.settings import SETTINGS, Settings, parse_allow_hosts


def test_defaults_live_under_news_home(tmp_path: Path) -> None:
    s = Settings.from_env({"NEWS_HOME": str(tmp_path)})
    assert s.db_url == f"sqlite:///{tmp_path}/var/news.db"
    assert s.feeds_file == tmp_path / "config" / "feeds.yaml"
    assert s.dry_run_file == tmp_path / "var" / "slack-dry-run.jsonl"
    assert s.dry_run and s.schedule == "*/15 * * * *" and s.feed_shard_size == 250


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
        ({"NEWS_SCHEDULE": "99 99 99 99 99"}, "NEWS_SCHEDULE='99 99 99 99 99' is not a 5-field cron"),
        ({"NEWS_SCHEDULE": "@bogus"}, "NEWS_SCHEDULE='@bogus'"),
        ({"NEWS_RETRAIN_SCHEDULE": "0 3 * *"}, "NEWS_RETRAIN_SCHEDULE"),
        ({"NEWS_DIGEST_SCHEDULE": "61 8 * * *"}, "NEWS_DIGEST_SCHEDULE"),
        ({"NEWS_DB_URL": "news.db"}, "NEWS_DB_URL"),
        ({"NEWS_DB_URL": "nonsense://"}, "NEWS_DB_URL=<hidden> is not a database URL"),
        ({"NEWS_DB_URL": "mysql+pymysql://u@h/db"}, "SQLite .* or PostgreSQL"),
        ({"NEWS_DB_URL": "sqlite:///relative/news.db"}, "absolute path"),
        ({"NEWS_DISPLAY_TZ": "Asia/Nowhere"}, "NEWS_DISPLAY_TZ='Asia/Nowhere' is not a known time zone"),
        ({"NEWS_LATE_WINDOW_HOURS": "-1"}, "NEWS_LATE_WINDOW_HOURS='-1' must be at least 0"),
        ({"NEWS_DIGEST_THRESHOLD": "1.5"}, "NEWS_DIGEST_THRESHOLD='1.5' is not an integer"),
        ({"NEWS_SLACK_CHANNEL": "chip alerts"}, "NEWS_SLACK_CHANNEL='chip alerts' is not a Slack channel"),
        ({"NEWS_OPS_CHANNEL": "#Ops Room"}, "NEWS_OPS_CHANNEL"),
        ({"SLACK_BASE_URL": "fake-slack:9000"}, "SLACK_BASE_URL"),
        ({"NEWS_ALLOW_HOSTS": "127.0.0.1"}, "host:port"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


def test_allow_hosts_normalises_ipv6() -> None:
    assert parse_allow_hosts("[::1]:8000") == frozenset({"::1:8000"})


def test_good_values_pass(tmp_path: Path) -> None:
    s = Settings.from_env({
        "NEWS_HOME": str(tmp_path),
        "NEWS_SCHEDULE": "@hourly",
        "NEWS_RETRAIN_SCHEDULE": "0 3 * * 1",
        "NEWS_DB_URL": "sqlite://",
        "NEWS_SLACK_CHANNEL": "C0123456789",
        "NEWS_OPS_CHANNEL": "#chip-ops",
        "NEWS_FEEDS_FILE": "config/other.yaml",
    })  # fmt: skip
    assert s.schedule == "@hourly" and s.retrain_schedule == "0 3 * * 1" and s.slack_channel == "C0123456789"
    assert s.feeds_file == tmp_path / "config" / "other.yaml"  # relative paths are under NEWS_HOME


def test_secrets_never_show_in_a_repr_or_an_error() -> None:
    s = Settings.from_env(
        {
            "SLACK_BOT_TOKEN": "fake-bot-token-settings-test",
            "NEWS_DB_URL": "postgresql+psycopg2://u:pw-2@db/x",
        }
    )
    assert "fake-bot-token-settings-test" not in repr(s) and "pw-2" not in repr(s)
    assert s.secrets() == ["fake-bot-token-settings-test", "pw-2"]
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"NEWS_DB_URL": "nonsense://user:pw-3@host/db"})
    assert "pw-3" not in str(info.value)


def test_every_setting_fills_one_field_and_is_documented_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    missing = [s.env for s in SETTINGS if f"`{s.env}`" not in readme] + (
        [] if "`NEWS_HOME`" in readme else ["NEWS_HOME"]
    )
    assert not missing, f"README does not document {missing}"
    attrs = [s.attr for s in SETTINGS]
    assert len(attrs) == len(set(attrs)) and set(attrs) | {"home"} == set(Settings.__dataclass_fields__)


def test_the_readme_settings_table_is_the_declaration() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    for setting in SETTINGS:
        default = setting.default.replace("{home}/", "")
        shown = f"`{default}`" if default and setting.env != "NEWS_ALLOW_HOSTS" else "empty"
        row = f"| `{setting.env}` | {shown} | {setting.help} |"
        assert row in readme, f"README's settings table does not have: {row}"
