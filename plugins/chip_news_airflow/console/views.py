"""What each console page shows, as JSON-ready models built from the store: the JSON API returns them and
the HTML pages render them, so both always agree.

Untrusted text (titles, sources, errors) passes through unchanged here and is escaped where it is shown;
links from feeds are kept only when they are http(s), so no ``javascript:`` URL ever becomes an href.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from pipeline.config.feeds import load_feeds
from pipeline.config.watchlist import watchlist_for
from pipeline.errors import ConfigError
from pipeline.models import EVENT_TYPES, FeedSpec
from pipeline.settings import Settings
from pipeline.slack.client import DRY_RUN_NAMESPACE
from pipeline.store import (
    FAILED,
    PENDING,
    POSTED,
    POSTING,
    AlertQuery,
    ConsoleStory,
    FeedDay,
    FeedHealth,
    Keyset,
    ModelRecord,
    Store,
    feed_status,
)

ALERT_STATES = (POSTED, PENDING, POSTING, FAILED)
FEED_STATUSES = ("ok", "failing", "backoff", "never", "disabled")
CHART_DAYS = 7


class InvalidRequestError(ValueError):
    """A query parameter the console cannot use (a bad date, a tampered cursor); answered with 400."""


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ConsoleContext:
    """What a request reads: the settings, the store they name, and the clock that says what "today" is."""

    settings: Settings
    store: Store
    now: Callable[[], datetime] = utc_now


def encode_cursor(keyset: Keyset) -> str:
    """An opaque page cursor for the keyset (time, id) of the last row shown."""
    raw = json.dumps([keyset[0].isoformat(), keyset[1]]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> Keyset | None:
    if not cursor:
        return None
    try:
        at, key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        when = datetime.fromisoformat(at)
    except (ValueError, TypeError, binascii.Error) as e:
        raise InvalidRequestError(f"invalid page cursor {cursor[:40]!r}") from e
    if when.tzinfo is None or not isinstance(key, str):
        raise InvalidRequestError(f"invalid page cursor {cursor[:40]!r}")
    return (when.astimezone(UTC), key)


def parse_day(value: str | None, name: str) -> date | None:
    """A ``YYYY-MM-DD`` query parameter (empty: not given)."""
    if not value or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError as e:
        raise InvalidRequestError(f"{name}={value[:40]!r} is not a date (YYYY-MM-DD)") from e


def web_url(url: str | None) -> str | None:
    """``url`` if it is an http(s) URL, else None: only those become links."""
    if url and url.split(":", 1)[0].strip().lower() in ("http", "https"):
        return url
    return None


def _shown(record: Any) -> dict[str, Any]:
    """A store record's fields as the console shows them: the Slack channel without the ledger's dry-run
    namespace (and ``dry_run`` saying which), links only when they are http(s), ``source_name`` as
    ``source``."""
    fields = asdict(record)
    if "channel" in fields and fields["channel"].startswith(DRY_RUN_NAMESPACE):
        fields["channel"], fields["dry_run"] = fields["channel"][len(DRY_RUN_NAMESPACE) :], True
    elif "channel" in fields:
        fields["dry_run"] = False
    for key in ("url", "permalink"):
        if key in fields:
            fields[key] = web_url(fields[key])
    if "source_name" in fields:
        fields["source"] = fields.pop("source_name")
    return fields


# --- alerts -----------------------------------------------------------------------------------------


class AlertOut(BaseModel):
    alert_id: str
    kind: str
    channel: str
    dry_run: bool
    state: str
    error: str | None
    attempts: int
    created_at: datetime
    posted_at: datetime | None
    permalink: str | None
    model_version: str | None
    story_id: str | None
    article_id: str | None
    parent_alert_id: str | None
    title: str | None
    url: str | None
    source: str | None
    language: str | None
    published_at: datetime | None
    companies: list[str]
    event_type: str | None
    score: float | None


class AlertFilters(BaseModel):
    company: str | None = None
    event_type: str | None = None
    states: list[str] = []
    since: date | None = None
    until: date | None = None


class AlertOptions(BaseModel):
    """The values the filters offer."""

    companies: list[str]
    event_types: list[str]
    states: list[str]


class AlertPage(BaseModel):
    alerts: list[AlertOut]
    filters: AlertFilters
    options: AlertOptions
    timezone: str
    limit: int
    next_cursor: str | None


def alerts_page(ctx: ConsoleContext, filters: AlertFilters, *, cursor: str | None, limit: int) -> AlertPage:
    """One page of alerts matching ``filters``; dates are whole days in the display timezone."""
    bad_states = [s for s in filters.states if s not in ALERT_STATES]
    if bad_states:
        raise InvalidRequestError(f"unknown state {bad_states[0][:40]!r} (one of {', '.join(ALERT_STATES)})")
    if filters.event_type and filters.event_type not in EVENT_TYPES:
        raise InvalidRequestError(f"unknown event type {filters.event_type[:40]!r}")
    tz = ZoneInfo(ctx.settings.display_tz)

    def start_of(day: date | None) -> datetime | None:
        return datetime.combine(day, time(), tzinfo=tz).astimezone(UTC) if day else None

    query = AlertQuery(
        states=tuple(filters.states),
        company=filters.company or None,
        event_type=filters.event_type or None,
        created_from=start_of(filters.since),
        created_before=start_of(filters.until + timedelta(days=1) if filters.until else None),
    )
    rows = ctx.store.console_alerts(query, after=decode_cursor(cursor), limit=limit + 1)
    watchlist = watchlist_for(ctx.settings)
    return AlertPage(
        alerts=[AlertOut(**_shown(a)) for a in rows[:limit]],
        filters=filters,
        options=AlertOptions(
            companies=sorted(c.name for c in watchlist.companies) if watchlist else [],
            event_types=list(EVENT_TYPES),
            states=list(ALERT_STATES),
        ),
        timezone=ctx.settings.display_tz,
        limit=limit,
        next_cursor=encode_cursor(rows[limit - 1].keyset) if len(rows) > limit else None,
    )


# --- stories ----------------------------------------------------------------------------------------


class SourceOut(BaseModel):
    article_id: str
    feed_id: str
    source: str | None
    title: str
    url: str | None
    language: str
    published_at: datetime | None
    first_seen_at: datetime
    relevant: bool | None
    score: float | None
    event_type: str | None
    companies: list[str]


class StoryAlertOut(BaseModel):
    alert_id: str
    kind: str
    channel: str
    dry_run: bool
    state: str
    posted_at: datetime | None
    permalink: str | None


class StoryOut(BaseModel):
    story_id: str
    latest_at: datetime
    source_count: int
    languages: dict[str, int]
    first_source: SourceOut | None
    first_published_at: datetime | None
    first_alert_at: datetime | None
    minutes_to_alert: int | None
    sources: list[SourceOut]
    more_sources: int
    alerts: list[StoryAlertOut]


class StoryPage(BaseModel):
    stories: list[StoryOut]
    relevant_only: bool
    limit: int
    next_cursor: str | None


def _story_out(story: ConsoleStory) -> StoryOut:
    first = story.first_source
    # the first source's publish time (its first-seen time when the feed gave none): the novelty clock
    first_at = (first.published_at or first.event_at) if first else None
    posted = [a.posted_at for a in story.alerts if a.posted_at is not None]
    first_alert_at = min(posted) if posted else None
    minutes = (
        int((first_alert_at - first_at).total_seconds() // 60)
        if first_alert_at is not None and first_at is not None
        else None
    )
    return StoryOut(
        story_id=story.story_id,
        latest_at=story.latest_at,
        source_count=story.source_count,
        languages=dict(sorted(story.languages.items())),
        first_source=SourceOut(**_shown(first)) if first else None,
        first_published_at=first_at,
        first_alert_at=first_alert_at,
        minutes_to_alert=minutes,
        sources=[SourceOut(**_shown(s)) for s in story.sources],
        more_sources=story.source_count - len(story.sources),
        alerts=[StoryAlertOut(**_shown(a)) for a in story.alerts],
    )


def stories_page(ctx: ConsoleContext, *, relevant_only: bool, cursor: str | None, limit: int) -> StoryPage:
    """One page of stories, newest first."""
    rows = ctx.store.console_stories(
        relevant_only=relevant_only, after=decode_cursor(cursor), limit=limit + 1
    )
    return StoryPage(
        stories=[_story_out(s) for s in rows[:limit]],
        relevant_only=relevant_only,
        limit=limit,
        next_cursor=encode_cursor(rows[limit - 1].keyset) if len(rows) > limit else None,
    )


# --- feeds ------------------------------------------------------------------------------------------


class FeedDayOut(BaseModel):
    day: date
    attempts: int
    failures: int
    items: int
    new_items: int


class FeedOut(BaseModel):
    feed_id: str
    name: str
    language: str | None
    category: str | None
    in_feed_list: bool
    status: str
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    consecutive_failures: int
    last_error: str | None
    http_status: int | None
    encoding: str | None
    items_last: int
    items_per_run: float | None
    backoff_until: datetime | None
    days: list[FeedDayOut]


class FeedPage(BaseModel):
    feeds: list[FeedOut]
    status_counts: dict[str, int]
    status: str | None
    total: int
    limit: int
    offset: int
    next_offset: int | None


@dataclass(frozen=True)
class _FeedLine:
    feed_id: str
    name: str
    language: str | None
    category: str | None
    enabled: bool
    in_feed_list: bool


@functools.lru_cache(maxsize=4)
def _load_feed_list(path: str, mtime_ns: int, size: int) -> tuple[FeedSpec, ...]:
    return tuple(load_feeds(Path(path), include_disabled=True))


def feed_list(settings: Settings) -> tuple[FeedSpec, ...]:
    """The configured feeds, disabled ones too, parsed again only when the file changes (a list of a
    thousand feeds takes a third of a second to read and validate)."""
    try:
        stat = settings.feeds_file.stat()
    except OSError as e:
        raise ConfigError(f"cannot read the feed list: {e.strerror}", path=str(settings.feeds_file)) from e
    return _load_feed_list(str(settings.feeds_file), stat.st_mtime_ns, stat.st_size)


def _feed_lines(settings: Settings, health: dict[str, FeedHealth]) -> list[_FeedLine]:
    """The feed list's feeds, then those the store knows that the list no longer has."""
    lines = [
        _FeedLine(f.id, f.display_name, f.language, f.category, f.enabled, True) for f in feed_list(settings)
    ]
    listed = {line.feed_id for line in lines}
    lines += [
        _FeedLine(feed_id, feed_id, None, None, False, False)
        for feed_id in sorted(health)
        if feed_id not in listed
    ]
    return lines


def chart_days(days: list[FeedDay], *, today: date) -> list[FeedDayOut]:
    """The last ``CHART_DAYS`` days up to ``today``, oldest first; days without attempts count zero."""
    by_day = {d.day: d for d in days}
    out = []
    for offset in range(CHART_DAYS - 1, -1, -1):
        day = today - timedelta(days=offset)
        d = by_day.get(day)
        out.append(
            FeedDayOut(day=day, attempts=0, failures=0, items=0, new_items=0)
            if d is None
            else FeedDayOut(
                day=day, attempts=d.attempts, failures=d.failures, items=d.items, new_items=d.new_items
            )
        )
    return out


def feeds_page(ctx: ConsoleContext, *, status: str | None, offset: int, limit: int) -> FeedPage:
    """One page of feeds (in feed-list order) with their health and a day-by-day week of attempts."""
    if status and status not in FEED_STATUSES:
        raise InvalidRequestError(f"unknown status {status[:40]!r} (one of {', '.join(FEED_STATUSES)})")
    now = ctx.now()
    health = ctx.store.feed_health()
    lines = _feed_lines(ctx.settings, health)
    statuses = {line.feed_id: feed_status(line.enabled, health.get(line.feed_id), now) for line in lines}
    counts = {s: sum(1 for v in statuses.values() if v == s) for s in FEED_STATUSES}
    selected = [line for line in lines if not status or statuses[line.feed_id] == status]
    page = selected[offset : offset + limit]
    today = now.astimezone(UTC).date()
    history = ctx.store.feed_run_days(
        [line.feed_id for line in page], since=today - timedelta(days=CHART_DAYS - 1)
    )
    feeds = []
    for line in page:
        h = health.get(line.feed_id)
        days = chart_days(history.get(line.feed_id, []), today=today)
        ok_runs = sum(d.attempts - d.failures for d in days)
        feeds.append(
            FeedOut(
                feed_id=line.feed_id,
                name=line.name,
                language=line.language,
                category=line.category,
                in_feed_list=line.in_feed_list,
                status=statuses[line.feed_id],
                last_attempt_at=h.last_attempt_at if h else None,
                last_success_at=h.last_success_at if h else None,
                consecutive_failures=h.consecutive_failures if h else 0,
                last_error=h.last_error if h else None,
                http_status=h.last_status if h else None,
                encoding=h.encoding if h else None,
                items_last=h.items_last if h else 0,
                items_per_run=round(sum(d.items for d in days) / ok_runs, 1) if ok_runs else None,
                backoff_until=h.backoff_until if h else None,
                days=days,
            )
        )
    end = offset + len(page)
    return FeedPage(
        feeds=feeds,
        status_counts=counts,
        status=status,
        total=len(selected),
        limit=limit,
        offset=offset,
        next_offset=end if end < len(selected) else None,
    )


# --- models -----------------------------------------------------------------------------------------


class ModelOut(BaseModel):
    version: str
    created_at: datetime
    promoted_at: datetime | None
    is_current: bool
    data_hash: str
    feature_set: str | None
    threshold: float | None
    n_train: int | None
    n_holdout: int | None
    metrics: dict[str, Any]
    card: dict[str, Any]
    stored_bytes: int | None


class ModelPage(BaseModel):
    models: list[ModelOut]
    current: str | None
    total: int
    limit: int


def _card_value(card: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    """A value of the model card if it has the expected type (cards written by older code may lack it)."""
    value = card.get(key)
    return value if isinstance(value, kind) and not isinstance(value, bool) else None


def models_page(ctx: ConsoleContext, *, limit: int) -> ModelPage:
    """The registered models, newest first, with their held-out metrics and which one is promoted."""
    records: list[ModelRecord] = ctx.store.models()
    newest = sorted(records, key=lambda m: (m.created_at, m.version), reverse=True)
    current = next((m.version for m in records if m.is_current), None)
    return ModelPage(
        models=[
            ModelOut(
                version=m.version,
                created_at=m.created_at,
                promoted_at=m.promoted_at,
                is_current=m.is_current,
                data_hash=m.data_hash,
                feature_set=_card_value(m.card, "feature_set", str),
                threshold=_card_value(m.card, "threshold", (int, float)),
                n_train=_card_value(m.card, "n_train", int),
                n_holdout=_card_value(m.card, "n_holdout", int),
                metrics=m.metrics,
                card=m.card,
                stored_bytes=m.size,
            )
            for m in newest[:limit]
        ],
        current=current,
        total=len(records),
        limit=limit,
    )
