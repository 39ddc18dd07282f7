"""The one place that reads configuration: environment variables, each declared once with its default,
its meaning and its check.

``SETTINGS`` is the table (rendered into the README's settings table); ``Settings.from_env`` reads every
entry, refuses nonsense at start (cron expressions, database URLs, time zones, positive integers,
channel names) and names the variable at fault. Secrets never appear in a repr.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parents[1]

# Slack channels as the configuration names them: "#name" or an id (C..., G... private, D... direct).
CHANNEL_ID_RE = re.compile(r"^[CGD][A-Z0-9]{6,}$")
CHANNEL_NAME_RE = re.compile(r"^#[a-z0-9\u00c0-\uffff_-][a-z0-9\u00c0-\uffff_.-]{0,79}$")

# Cron presets Airflow's timetables accept besides five-field expressions.
CRON_PRESETS = frozenset({"@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually"})


def is_channel(value: str) -> bool:
    """Whether ``value`` is a Slack channel as configuration may name it (``#name`` or an id)."""
    return bool(CHANNEL_ID_RE.match(value) or CHANNEL_NAME_RE.match(value))


# --- checks: each takes the raw value (already stripped) and returns the typed value or raises ValueError ---


def _text(raw: str) -> str:
    return raw


def _integer(minimum: int) -> Callable[[str], int]:
    def check(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError("is not an integer") from None
        if value < minimum:
            raise ValueError(f"must be at least {minimum}")
        return value

    return check


_positive, _non_negative = _integer(1), _integer(0)


def _cron(raw: str) -> str:
    from croniter import croniter

    if raw in CRON_PRESETS:
        return raw
    if raw.startswith("@") or len(raw.split()) != 5 or not croniter.is_valid(raw):
        raise ValueError(f"is not a 5-field cron expression or one of {sorted(CRON_PRESETS)}")
    return raw


def _optional_cron(raw: str) -> str:
    return _cron(raw) if raw else ""


def _timezone(raw: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("is not a known time zone (e.g. UTC, Asia/Shanghai)") from None
    return raw


def _database_url(raw: str) -> str:
    import sqlalchemy as sa
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        url = sa.engine.make_url(raw)
        url.get_dialect()
    except (ArgumentError, NoSuchModuleError, ValueError) as e:
        raise ValueError(f"is not a database URL SQLAlchemy can use ({type(e).__name__})") from None
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise ValueError("must be an SQLite (sqlite:///...) or PostgreSQL (postgresql+psycopg2://...) URL")
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        if not Path(url.database).is_absolute():
            raise ValueError("must name the SQLite file by an absolute path (sqlite:////abs/path.db)")
    return raw


def _share(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError("is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError("must be between 0 and 1")
    return value


def _bool(raw: str) -> bool:
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError("is not true or false")


def _http_url(raw: str) -> str:
    if raw and not re.match(r"^https?://[^\s/]+", raw):
        raise ValueError("must be an http(s) URL")
    return raw


def _channel(raw: str) -> str:
    if raw and not is_channel(raw):
        raise ValueError("is not a Slack channel (#name, or an id like C0123456789)")
    return raw


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


def _hosts(raw: str) -> frozenset[str]:
    return parse_allow_hosts(raw)


@dataclass(frozen=True)
class Setting:
    """One environment variable: the ``Settings`` field it fills, its default as the environment would
    spell it (``{home}`` is ``NEWS_HOME``; a path default is relative to it), its meaning and its check."""

    env: str
    attr: str
    default: str
    help: str
    check: Callable[[str], Any] = _text
    path: bool = False
    secret: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting("NEWS_DB_URL", "db_url", "sqlite:///{home}/var/news.db",
            "SQLAlchemy URL of the store: SQLite, or `postgresql+psycopg2://user:pw@host/db`.", _database_url,
            secret=True),
    Setting("NEWS_FEEDS_FILE", "feeds_file", "config/feeds.yaml", "YAML list of feeds to crawl.", path=True),
    Setting("NEWS_WATCHLIST_FILE", "watchlist_file", "config/watchlist.yaml",
            "Companies (aliases, subsidiaries, tickers), chip companies and chip products.", path=True),
    Setting("NEWS_ROUTING_FILE", "routing_file", "config/routing.yaml",
            "Slack channel per company / event type / language, default channel, mute list.", path=True),
    Setting("NEWS_SLACK_CHANNEL", "slack_channel", "",
            "Default alert channel; overrides the routing file's `default_channel`.", _channel),
    Setting("NEWS_OPS_CHANNEL", "ops_channel", "", "Channel for task failures and feed-health notices (empty: off).",
            _channel),
    Setting("NEWS_DRY_RUN_FILE", "dry_run_file", "var/slack-dry-run.jsonl",
            "Where the exact Slack payloads go when no token is configured.", path=True),
    Setting("NEWS_ALLOW_HOSTS", "allow_hosts", "",
            "Comma-separated `host:port` pairs exempt from the private-address (SSRF) block.", _hosts),
    Setting("NEWS_MODEL_DIR", "model_dir", "var/models",
            "Local cache of model files by version (the models themselves are in the store).", path=True),
    Setting("NEWS_SCHEDULE", "schedule", "*/15 * * * *",
            "Cron schedule of `news_monitor`; each run covers one interval.", _cron),
    Setting("NEWS_TIMEZONE", "timezone", "UTC", "Time zone of the schedule's cron expression.", _timezone),
    Setting("NEWS_RETRAIN_SCHEDULE", "retrain_schedule", "",
            "Cron schedule of `retrain_classifier` (empty: manual only; e.g. `0 3 * * 1`).", _optional_cron),
    Setting("NEWS_DIGEST_SCHEDULE", "digest_schedule", "0 8 * * *",
            "Cron schedule of `daily_digest`, in `NEWS_DISPLAY_TZ`.", _cron),
    Setting("NEWS_DISPLAY_TZ", "display_tz", "Asia/Shanghai", "Time zone of the times shown in Slack.", _timezone),
    Setting("NEWS_FEED_SHARD_SIZE", "feed_shard_size", "250",
            "About this many feeds per mapped fetch task; all feeds of one host go to the same task (docs/scale.md).",
            _positive),
    Setting("NEWS_FETCH_CONCURRENCY", "fetch_concurrency", "8", "Concurrent HTTP fetches within one fetch task.",
            _positive),
    Setting("NEWS_LATE_WINDOW_HOURS", "late_window_hours", "48",
            "How old a newly seen item may be and still be processed (and how long an undelivered alert stays "
            "deliverable).", _non_negative),
    Setting("NEWS_DIGEST_THRESHOLD", "digest_threshold", "8",
            "More new stories than this for one channel in one run go out as one digest message with a thread.",
            _positive),
    Setting("NEWS_FEED_FAILURE_THRESHOLD", "feed_failure_threshold", "3",
            "Consecutive failures before a feed is reported to the ops channel.", _positive),
    Setting("NEWS_FOLLOWUP_DAYS", "followup_days", "14",
            "How far back a new story looks for the earlier story it follows up (same company and event type, "
            "a shared chip or counterparty) or rehashes.", _positive),
    Setting("NEWS_USER_AGENT", "user_agent", "chip-news-monitor/0.1 (+https://github.com/chip-news/monitor)",
            "User-Agent sent with every request."),
    Setting("NEWS_FEEDBACK_FILE", "feedback_file", "config/feedback.yaml",
            "Which Slack reactions on an alert are labels (emoji -> relevant / not relevant / event type).",
            path=True),
    Setting("NEWS_FEEDBACK_SCHEDULE", "feedback_schedule", "*/15 * * * *",
            "Cron schedule of `collect_feedback` (reads the reactions on alerts).", _cron),
    Setting("NEWS_FEEDBACK_DAYS", "feedback_days", "14",
            "Reactions are read on the alerts posted in the last this many days.", _positive),
    Setting("NEWS_FEEDBACK_ACK", "feedback_ack", "true",
            "Acknowledge the first vote on an alert in its thread (`false`: silent).", _bool),
    Setting("NEWS_REPLAY_DAYS", "replay_days", "30",
            "Days of archived articles a candidate model is replayed over before promotion.", _positive),
    Setting("NEWS_PROMOTION_MAX_CHANGED_ALERTS", "promotion_max_changed_alerts", "10",
            "A candidate changing more decisions than this over the replay window needs an operator's approval.",
            _non_negative),
    Setting("NEWS_PROMOTION_MAX_CHANGED_SHARE", "promotion_max_changed_share", "0.1",
            "A candidate changing more than this share of the current model's alerts needs approval.", _share),
    Setting("NEWS_APPROVAL_TIMEOUT_HOURS", "approval_timeout_hours", "72",
            "An unanswered promotion approval is rejected after this long.", _positive),
    Setting("SLACK_BOT_TOKEN", "slack_token", "",
            "Bot token for the command line. In Airflow: the connection `slack_api_default` (token in the "
            "password, `base_url` in the extra).", secret=True),
    Setting("SLACK_BASE_URL", "slack_base_url", "",
            "Slack API base URL for the command line (tests point it at a fake server).", _http_url),
)  # fmt: skip
SETTINGS_BY_ENV = {s.env: s for s in SETTINGS}
NEWS_HOME_HELP = "Folder holding `config/` and `var/` (runtime state); paths are relative to it."


@dataclass(frozen=True)
class Settings:
    home: Path
    db_url: str = field(repr=False)
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
    followup_days: int
    user_agent: str
    feedback_file: Path
    feedback_schedule: str
    feedback_days: int
    feedback_ack: bool
    replay_days: int
    promotion_max_changed_alerts: int
    promotion_max_changed_share: float
    approval_timeout_hours: int
    slack_token: str = field(repr=False)
    slack_base_url: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Every setting from ``env`` (default ``os.environ``); ``ConfigError`` names a bad variable."""
        env = os.environ if env is None else env
        home = Path(env.get("NEWS_HOME") or PROJECT_ROOT).resolve()
        values: dict[str, Any] = {"home": home}
        for setting in SETTINGS:
            raw = env.get(setting.env, "").strip() or setting.default.replace("{home}", str(home))
            if setting.path:
                path = Path(raw).expanduser()
                values[setting.attr] = path if path.is_absolute() else (home / path)
                continue
            try:
                values[setting.attr] = setting.check(raw)
            except ValueError as e:
                shown = "<hidden>" if setting.secret else repr(raw)
                raise ConfigError(f"{setting.env}={shown} {e}") from None
        missing = {f.name for f in fields(cls)} - set(values)
        if missing:  # a field without a table entry: a programming error, caught by the tests
            raise RuntimeError(f"settings without an environment variable: {sorted(missing)}")
        return cls(**values)

    def with_slack(self, token: str | None, base_url: str | None) -> Settings:
        """A copy with Slack credentials from elsewhere (or none: a dry run)."""
        return replace(self, slack_token=token or "", slack_base_url=base_url or "")

    @property
    def dry_run(self) -> bool:
        return not self.slack_token

    def secrets(self) -> list[str]:
        """The secret values these settings hold (token, database password), for log masking."""
        out = [self.slack_token] if self.slack_token else []
        try:
            import sqlalchemy as sa

            password = sa.engine.make_url(self.db_url).password
        except Exception:  # an unparsable URL was refused at start; nothing to mask
            password = None
        if password:
            out.append(str(password))
        return out
