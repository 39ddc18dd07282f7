"""The one place that reads configuration: environment variables with documented defaults.

Every setting is listed in ``SETTINGS_DOC`` (rendered into the README); ``Settings.from_env`` validates
them and names the variable at fault.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from pipeline.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parents[1]

# name -> (default, description). Defaults containing {home} are relative to NEWS_HOME.
SETTINGS_DOC: dict[str, tuple[str, str]] = {
    "NEWS_HOME": ("<repo root>", "Folder holding config/ and var/ (runtime state)."),
    "NEWS_DB_URL": ("sqlite:///{home}/var/news.db", "SQLAlchemy URL of the store (SQLite or postgresql://)."),
    "NEWS_FEEDS_FILE": ("{home}/config/feeds.yaml", "YAML list of feeds to crawl."),
    "NEWS_WATCHLIST_FILE": ("{home}/config/watchlist.yaml", "Companies, aliases, tickers, chips."),
    "NEWS_ROUTING_FILE": ("{home}/config/routing.yaml", "Slack channel routing and mute list."),
    "NEWS_SLACK_CHANNEL": ("", "Default alert channel; overrides the routing file's default."),
    "NEWS_OPS_CHANNEL": ("", "Channel for task failures and feed-health notices (empty: off)."),
    "NEWS_DRY_RUN_FILE": ("{home}/var/slack-dry-run.jsonl", "Where payloads go when no token is set."),
    "NEWS_ALLOW_HOSTS": ("", "Comma-separated host:port pairs exempt from the private-address block."),
    "NEWS_MODEL_DIR": ("{home}/var/models", "Trained classifier models and the promoted-model pointer."),
    "NEWS_SCHEDULE": ("*/15 * * * *", "Cron schedule of news_monitor; each run covers one interval."),
    "NEWS_TIMEZONE": ("UTC", "Timezone of the schedule's cron expression."),
    "NEWS_RETRAIN_SCHEDULE": (
        "",
        "Cron schedule of retrain_classifier (empty: manual only; e.g. 0 3 * * 1).",
    ),
    "NEWS_DIGEST_SCHEDULE": ("0 8 * * *", "Cron schedule of daily_digest, in NEWS_DISPLAY_TZ."),
    "NEWS_DISPLAY_TZ": ("Asia/Shanghai", "Timezone of times shown in Slack alerts."),
    "NEWS_FEED_SHARD_SIZE": ("10", "Feeds per mapped fetch task."),
    "NEWS_FETCH_CONCURRENCY": ("8", "Concurrent HTTP fetches within one fetch task."),
    "NEWS_LATE_WINDOW_HOURS": ("48", "How old a newly seen item may be and still be processed."),
    "NEWS_DIGEST_THRESHOLD": ("8", "More alerts than this for one channel in a run go out as a digest."),
    "NEWS_FEED_FAILURE_THRESHOLD": ("3", "Consecutive failures before a feed is reported to ops."),
    "NEWS_FOLLOWUP_DAYS": (
        "14",
        "How far back a story finds the earlier story it follows up or rehashes (days).",
    ),
    "NEWS_USER_AGENT": (
        "chip-news-monitor/0.1 (+https://github.com/chip-news/monitor)",
        "User-Agent sent with every request.",
    ),
    "SLACK_BOT_TOKEN": ("", "Bot token outside Airflow (in Airflow: connection slack_api_default)."),
    "SLACK_BASE_URL": ("", "Slack API base URL outside Airflow (tests point it at a fake server)."),
}


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise ConfigError(f"{name}={value} must be at least {minimum}")
    return value


def parse_allow_hosts(raw: str) -> frozenset[str]:
    """``"127.0.0.1:8000, localhost:9000"`` -> normalised ``host:port`` pairs."""
    hosts: set[str] = set()
    for part in raw.split(","):
        item = part.strip().lower()
        if not item:
            continue
        host, sep, port = item.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ConfigError(f"NEWS_ALLOW_HOSTS entry {item!r} is not host:port")
        hosts.add(f"{host.strip('[]')}:{int(port)}")
    return frozenset(hosts)


@dataclass(frozen=True)
class Settings:
    home: Path
    db_url: str
    feeds_file: Path
    watchlist_file: Path
    routing_file: Path
    slack_channel: str
    ops_channel: str
    dry_run_file: Path
    allow_hosts: frozenset[str]
    model_dir: Path
    schedule: str
    timezone: str
    retrain_schedule: str
    digest_schedule: str
    display_tz: str
    feed_shard_size: int
    fetch_concurrency: int
    late_window_hours: int
    digest_threshold: int
    feed_failure_threshold: int
    user_agent: str
    slack_token: str
    slack_base_url: str
    followup_days: int = 14

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        home = Path(env.get("NEWS_HOME") or PROJECT_ROOT).resolve()

        def path(name: str, default: str) -> Path:
            raw = env.get(name, "").strip()
            p = Path(raw).expanduser() if raw else home / default
            return p if p.is_absolute() else (Path.cwd() / p)

        db_url = env.get("NEWS_DB_URL", "").strip() or f"sqlite:///{home}/var/news.db"
        settings = cls(
            home=home,
            db_url=db_url,
            feeds_file=path("NEWS_FEEDS_FILE", "config/feeds.yaml"),
            watchlist_file=path("NEWS_WATCHLIST_FILE", "config/watchlist.yaml"),
            routing_file=path("NEWS_ROUTING_FILE", "config/routing.yaml"),
            slack_channel=env.get("NEWS_SLACK_CHANNEL", "").strip(),
            ops_channel=env.get("NEWS_OPS_CHANNEL", "").strip(),
            dry_run_file=path("NEWS_DRY_RUN_FILE", "var/slack-dry-run.jsonl"),
            allow_hosts=parse_allow_hosts(env.get("NEWS_ALLOW_HOSTS", "")),
            model_dir=path("NEWS_MODEL_DIR", "var/models"),
            schedule=env.get("NEWS_SCHEDULE", "").strip() or "*/15 * * * *",
            timezone=env.get("NEWS_TIMEZONE", "").strip() or "UTC",
            retrain_schedule=env.get("NEWS_RETRAIN_SCHEDULE", "").strip(),
            digest_schedule=env.get("NEWS_DIGEST_SCHEDULE", "").strip() or "0 8 * * *",
            display_tz=env.get("NEWS_DISPLAY_TZ", "").strip() or "Asia/Shanghai",
            feed_shard_size=_int(env, "NEWS_FEED_SHARD_SIZE", 10, minimum=1),
            fetch_concurrency=_int(env, "NEWS_FETCH_CONCURRENCY", 8, minimum=1),
            late_window_hours=_int(env, "NEWS_LATE_WINDOW_HOURS", 48, minimum=0),
            digest_threshold=_int(env, "NEWS_DIGEST_THRESHOLD", 8, minimum=1),
            feed_failure_threshold=_int(env, "NEWS_FEED_FAILURE_THRESHOLD", 3, minimum=1),
            user_agent=env.get("NEWS_USER_AGENT", "").strip() or SETTINGS_DOC["NEWS_USER_AGENT"][0],
            slack_token=env.get("SLACK_BOT_TOKEN", "").strip(),
            slack_base_url=env.get("SLACK_BASE_URL", "").strip(),
            followup_days=_int(env, "NEWS_FOLLOWUP_DAYS", 14, minimum=1),
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        for name, tz in (("NEWS_TIMEZONE", self.timezone), ("NEWS_DISPLAY_TZ", self.display_tz)):
            try:
                ZoneInfo(tz)
            except (ZoneInfoNotFoundError, ValueError):
                raise ConfigError(f"{name}={tz!r} is not a known timezone") from None
        for name, cron in (
            ("NEWS_SCHEDULE", self.schedule),
            ("NEWS_RETRAIN_SCHEDULE", self.retrain_schedule),
            ("NEWS_DIGEST_SCHEDULE", self.digest_schedule),
        ):
            if cron and len(cron.split()) != 5 and not cron.startswith("@"):
                raise ConfigError(f"{name}={cron!r} is not a 5-field cron expression")
        if "://" not in self.db_url:
            raise ConfigError(f"NEWS_DB_URL={self.db_url!r} is not a database URL")

    def with_slack(self, token: str | None, base_url: str | None) -> Settings:
        """A copy with Slack credentials from elsewhere (the Airflow connection)."""
        return replace(self, slack_token=token or "", slack_base_url=base_url or "")

    @property
    def dry_run(self) -> bool:
        return not self.slack_token
