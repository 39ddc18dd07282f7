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
from pipeline.models import (
    DISPUTED,
    EVENT_TYPES,
    FeedbackLabel,
    FeedbackVote,
    FeedSpec,
    Novelty,
)
from pipeline.settings import Settings
from pipeline.slack.blocks import BRIEF_LABELS
from pipeline.slack.client import DRY_RUN_NAMESPACE
from pipeline.store import (
    FAILED,
    PENDING,
    POSTED,
    POSTING,
    AlertQuery,
    ConsoleBrief,
    ConsolePromotion,
    ConsoleStory,
    FeedDay,
    FeedHealth,
    Keyset,
    ModelRecord,
    Store,
    feed_status,
)
from pipeline.store.console import replay_summary

ALERT_STATES = (POSTED, PENDING, POSTING, FAILED)
FEED_STATUSES = ("ok", "failing", "backoff", "never", "disabled")
FEEDBACK_FILTERS = ("yes", "no")  # alerts whose article has an analyst's vote, or has none
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


class VoteOut(BaseModel):
    voter: str
    label: str
    event_type: str | None
    voted_at: datetime
    alert_id: str | None
    note: str | None


class FeedbackOut(BaseModel):
    """Analysts' votes on an alert's article (each voter's latest vote counts, as in training) and the
    label they add up to: ``relevant``, ``not_relevant`` or ``disputed`` (an even split)."""

    label: str
    event_type: str | None
    relevant: int
    not_relevant: int
    disagreement: bool
    settled_by: str | None
    summary: str
    votes: list[VoteOut]


def feedback_summary(label: FeedbackLabel) -> str:
    """The votes at a glance: ``✅ 2 · ❌ 1 (disagree)``; a manual label that settles them says so."""
    parts = [f"✅ {label.relevant_votes}"] if label.relevant_votes else []
    parts += [f"❌ {label.not_relevant_votes}"] if label.not_relevant_votes else []
    text = " · ".join(parts)
    if label.settled_by:
        text += f" (settled by {label.settled_by})"
    elif label.label == DISPUTED:
        text += " (disputed)"
    elif label.disagreement:
        text += " (disagree)"
    return text


def feedback_out(votes: list[FeedbackVote]) -> dict[str, FeedbackOut]:
    """Per article, its feedback label from its current votes (articles whose votes say nothing: absent)."""
    by_article: dict[str, list[FeedbackVote]] = {}
    for vote in votes:
        by_article.setdefault(vote.article_id, []).append(vote)
    out = {}
    for article_id, article_votes in by_article.items():
        label = FeedbackLabel.combine(article_id, article_votes)
        if label is None:
            continue
        out[article_id] = FeedbackOut(
            label=label.label,
            event_type=label.event_type,
            relevant=label.relevant_votes,
            not_relevant=label.not_relevant_votes,
            disagreement=label.disagreement,
            settled_by=label.settled_by,
            summary=feedback_summary(label),
            votes=[
                VoteOut(
                    voter=v.voter,
                    label=str(v.label),
                    event_type=v.event_type,
                    voted_at=v.voted_at,
                    alert_id=v.alert_id,
                    note=v.note,
                )
                for v in label.votes
            ],
        )
    return out


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
    feedback: FeedbackOut | None = None


class AlertFilters(BaseModel):
    company: str | None = None
    event_type: str | None = None
    states: list[str] = []
    since: date | None = None
    until: date | None = None
    feedback: str | None = None  # "yes": with analysts' votes, "no": without


class AlertOptions(BaseModel):
    """The values the filters offer."""

    companies: list[str]
    event_types: list[str]
    states: list[str]
    feedback: list[str] = list(FEEDBACK_FILTERS)


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
    if filters.feedback and filters.feedback not in FEEDBACK_FILTERS:
        raise InvalidRequestError(
            f"feedback={filters.feedback[:40]!r} (one of {', '.join(FEEDBACK_FILTERS)})"
        )
    tz = ZoneInfo(ctx.settings.display_tz)

    def start_of(day: date | None) -> datetime | None:
        return datetime.combine(day, time(), tzinfo=tz).astimezone(UTC) if day else None

    query = AlertQuery(
        states=tuple(filters.states),
        company=filters.company or None,
        event_type=filters.event_type or None,
        created_from=start_of(filters.since),
        created_before=start_of(filters.until + timedelta(days=1) if filters.until else None),
        has_feedback=None if not filters.feedback else filters.feedback == "yes",
    )
    rows = ctx.store.console_alerts(query, after=decode_cursor(cursor), limit=limit + 1)
    shown = rows[:limit]
    article_ids = sorted({a.article_id for a in shown if a.article_id})
    feedback = feedback_out(ctx.store.feedback_votes(article_ids=article_ids)) if article_ids else {}
    watchlist = watchlist_for(ctx.settings)
    return AlertPage(
        alerts=[
            AlertOut(**_shown(a), feedback=feedback.get(a.article_id) if a.article_id else None)
            for a in shown
        ],
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


class NoveltyOut(BaseModel):
    """Whether the story was new when first alerted, or a follow-up (or rehash) of an earlier story."""

    tag: str
    first_source: str
    first_published_at: datetime
    earlier_story_id: str | None
    earlier_headline: str | None
    reason: str


class BriefPointOut(BaseModel):
    text: str
    citations: list[int]
    language: str


class BriefGroupOut(BaseModel):
    key: str
    label: str
    points: list[BriefPointOut]


class BriefSourceOut(BaseModel):
    number: int
    article_id: str
    outlet: str
    url: str | None
    published_at: datetime | None
    language: str


class BriefOut(BaseModel):
    """A story's brief as the ledger holds it (the newest version). ``core``, ``groups`` and ``sources``
    are empty for a brief written before the ledger kept its points: then only ``core_text`` is known."""

    alert_id: str
    channel: str
    dry_run: bool
    state: str
    version: int | None
    sent_version: int | None
    posted_at: datetime | None
    permalink: str | None
    headline: str | None
    core_text: str | None
    core: BriefPointOut | None
    groups: list[BriefGroupOut]
    sources: list[BriefSourceOut]


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
    novelty: NoveltyOut | None
    brief: BriefOut | None


class StoryPage(BaseModel):
    stories: list[StoryOut]
    relevant_only: bool
    limit: int
    next_cursor: str | None


def _point(value: Any) -> BriefPointOut | None:
    if not isinstance(value, dict) or not isinstance(value.get("text"), str):
        return None
    citations = [n for n in value.get("citations") or [] if isinstance(n, int) and not isinstance(n, bool)]
    return BriefPointOut(text=value["text"], citations=citations, language=str(value.get("language") or ""))


def _brief_out(row: ConsoleBrief) -> BriefOut:
    """The brief of a ledger row; the points only when its payload keeps them (``brief``), and only those
    that have the expected shape (the payload is data, not trusted to be well formed)."""
    record = row.payload.get("brief")
    record = record if isinstance(record, dict) else {}
    groups = []
    for group in record.get("groups") or []:
        if not isinstance(group, dict):
            continue
        points = [p for p in map(_point, group.get("points") or []) if p is not None]
        key = str(group.get("key") or "")
        if points:
            groups.append(BriefGroupOut(key=key, label=BRIEF_LABELS["en"].get(key, key), points=points))
    sources = []
    for src in record.get("sources") or []:
        try:
            source = BriefSourceOut.model_validate(src)
        except ValueError:
            continue
        sources.append(source.model_copy(update={"url": web_url(source.url)}))
    core = _point(record.get("core"))
    core_text = row.payload.get("core")
    shown = _shown(row)
    return BriefOut(
        alert_id=row.alert_id,
        channel=shown["channel"],
        dry_run=shown["dry_run"],
        state=row.state,
        version=row.version,
        sent_version=row.sent_version,
        posted_at=row.posted_at,
        permalink=shown["permalink"],
        headline=record.get("headline") if isinstance(record.get("headline"), str) else None,
        core_text=core.text if core else core_text if isinstance(core_text, str) else None,
        core=core,
        groups=groups,
        sources=sources,
    )


def _story_out(
    story: ConsoleStory, novelty: Novelty | None = None, brief: ConsoleBrief | None = None
) -> StoryOut:
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
        novelty=NoveltyOut.model_validate(novelty, from_attributes=True) if novelty else None,
        brief=_brief_out(brief) if brief else None,
    )


def stories_page(ctx: ConsoleContext, *, relevant_only: bool, cursor: str | None, limit: int) -> StoryPage:
    """One page of stories, newest first."""
    rows = ctx.store.console_stories(
        relevant_only=relevant_only, after=decode_cursor(cursor), limit=limit + 1
    )
    shown = rows[:limit]
    story_ids = [s.story_id for s in shown]
    novelty = ctx.store.get_novelty(story_ids) if story_ids else {}
    briefs = ctx.store.console_briefs(story_ids) if story_ids else {}
    return StoryPage(
        stories=[_story_out(s, novelty.get(s.story_id), briefs.get(s.story_id)) for s in shown],
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


class ReplayOut(BaseModel):
    """The replay's summary: what the candidate would have added and dropped over the window's archive,
    and how often both models agree."""

    since: datetime | None
    until: datetime | None
    articles: int | None
    added: int | None
    dropped: int | None
    changed: int | None
    agreement: float | None
    alerts_dropped: int | None
    feedback_labels: int | None


class PromotionOut(BaseModel):
    """An evaluation of a candidate against the promoted model: the verdict (``decision``: promote,
    approve, keep), what became of it (``outcome``: promoted, rejected, kept; None while undecided), who
    decided and when, and the replay's summary."""

    report_id: str
    candidate_version: str
    current_version: str | None
    decision: str
    reason: str
    outcome: str | None
    decided_by: str | None
    decided_at: datetime | None
    created_at: datetime
    run_id: str | None
    has_chart: bool
    replay: ReplayOut | None


class ModelPage(BaseModel):
    models: list[ModelOut]
    current: str | None
    total: int
    limit: int
    promotions: list[PromotionOut]
    promotions_total: int


def _card_value(card: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    """A value of the model card if it has the expected type (cards written by older code may lack it)."""
    value = card.get(key)
    return value if isinstance(value, kind) and not isinstance(value, bool) else None


def _replay_out(summary: dict[str, Any] | None) -> ReplayOut | None:
    if summary is None:
        return None

    def count(key: str) -> int | None:
        return _card_value(summary, key, int)

    def when(key: str) -> datetime | None:
        try:
            return datetime.fromisoformat(summary[key]) if isinstance(summary.get(key), str) else None
        except ValueError:
            return None

    feedback = summary.get("feedback")
    agreement = _card_value(summary, "agreement", (int, float))
    return ReplayOut(
        since=when("since"),
        until=when("until"),
        articles=count("articles"),
        added=count("added"),
        dropped=count("dropped"),
        changed=count("changed"),
        agreement=float(agreement) if agreement is not None else None,
        alerts_dropped=count("alerts_dropped"),
        feedback_labels=_card_value(feedback, "labels", int) if isinstance(feedback, dict) else None,
    )


def promotion_out(p: ConsolePromotion) -> PromotionOut:
    return PromotionOut(
        report_id=p.report_id,
        candidate_version=p.candidate_version,
        current_version=p.current_version,
        decision=p.decision,
        reason=p.reason,
        outcome=p.outcome,
        decided_by=p.decided_by,
        decided_at=p.decided_at,
        created_at=p.created_at,
        run_id=p.run_id,
        has_chart=p.has_chart,
        replay=_replay_out(p.replay),
    )


def models_page(ctx: ConsoleContext, *, limit: int, reports: int = 20) -> ModelPage:
    """The registered models, newest first, with their held-out metrics and which one is promoted, and
    the newest ``reports`` promotion reports."""
    records: list[ModelRecord] = ctx.store.models()
    newest = sorted(records, key=lambda m: (m.created_at, m.version), reverse=True)
    current = next((m.version for m in records if m.is_current), None)
    promotions, promotions_total = ctx.store.console_promotions(limit=reports)
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
        promotions=[promotion_out(p) for p in promotions],
        promotions_total=promotions_total,
    )


class PromotionReportOut(BaseModel):
    """One promotion report in full: the summary, the report as JSON, and its Markdown (shown as text)."""

    promotion: PromotionOut
    report: dict[str, Any]
    markdown: str


def promotion_report(ctx: ConsoleContext, report_id: str) -> PromotionReportOut | None:
    record = ctx.store.promotion_report(report_id)
    if record is None:
        return None
    promotion = ConsolePromotion(
        report_id=record.report_id,
        candidate_version=record.candidate_version,
        current_version=record.current_version,
        decision=record.decision,
        reason=record.reason,
        run_id=record.run_id,
        created_at=record.created_at,
        outcome=record.outcome,
        decided_by=record.decided_by,
        decided_at=record.decided_at,
        has_chart=record.chart is not None,
        replay=replay_summary(record.report),
    )
    return PromotionReportOut(
        promotion=promotion_out(promotion), report=record.report, markdown=record.markdown
    )
