"""The morning digest: per channel, the day's stories grouped by company, each with its core viewpoint
and the number of sources its brief cites; what changed since the day before; counts by event type; the
rehashes that were held back; and a chart of the week (a PNG uploaded into the digest's thread).

Exactly once per channel and day: the digest and its chart are ledger rows (kinds ``daily`` and
``daily_chart``) keyed on the date in ``settings.display_tz``, delivered like alerts.
"""

from __future__ import annotations

import io
import logging
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pipeline.config.routing import Routing, routing_for
from pipeline.config.watchlist import watchlist_for
from pipeline.errors import SlackConfigError, SlackError
from pipeline.models import EVENT_TYPES, FOLLOW_UP, REHASH, Article, Novelty
from pipeline.settings import Settings
from pipeline.slack.blocks import (
    EVENT_LABELS,
    CompanyDigest,
    DigestStory,
    DigestSummary,
    daily_digest_message,
    safe_url,
)
from pipeline.slack.client import SlackPoster, SlackUnavailableError
from pipeline.slack.ledger import LedgerSender, alert_id, ledger_channel, raise_collected
from pipeline.store import POSTED, NewAlert, Store, StoredClassification

log = logging.getLogger(__name__)

DAILY, DAILY_CHART = "daily", "daily_chart"

Item = tuple[Article, StoredClassification]


def channel_items(items: Sequence[Item], routing: Routing, channel: str) -> list[Item]:
    """The relevant, unmuted articles that route to ``channel``."""
    out: list[Item] = []
    for article, cls in items:
        if routing.mute_reason(
            companies=cls.companies,
            feed_id=article.feed_id,
            source_name=article.source_name,
            title=article.title,
        ):
            continue
        if channel in routing.channels_for(
            companies=cls.companies, event_type=cls.event_type, language=article.language
        ):
            out.append((article, cls))
    return out


def _story_rows(rows: Sequence[Item]) -> dict[str, list[Item]]:
    """Items by story, each story's items in the order they were published."""
    grouped: dict[str, list[Item]] = defaultdict(list)
    for a, c in rows:
        grouped[a.story_id or a.article_id].append((a, c))
    for story_rows in grouped.values():
        story_rows.sort(key=lambda p: (p[0].published_at or p[0].event_at, p[0].article_id))
    return grouped


def _primary_company(rows: Sequence[Item]) -> str:
    return next((c.companies[0] for _, c in rows if c.companies), "Other")


def summarize(
    items: Sequence[Item],
    *,
    now: datetime,
    date_label: str,
    viewpoints: Mapping[str, tuple[str, int]] | None = None,
    novelty: Mapping[str, Novelty] | None = None,
) -> DigestSummary:
    """The digest of ``items`` (a week of relevant articles): the last 24 hours' stories by company, with
    their core viewpoints (``viewpoints``: story id -> (viewpoint, sources cited); the first summary when
    missing: its first headline), compared with the 24 hours before; rehashes (``novelty``) are listed apart, not as stories."""
    viewpoints = viewpoints or {}
    novelty = novelty or {}
    day_start, previous_start = now - timedelta(days=1), now - timedelta(days=2)
    day = [(a, c) for a, c in items if a.event_at >= day_start]
    previous = [(a, c) for a, c in items if previous_start <= a.event_at < day_start]

    def is_rehash(story_id: str) -> bool:
        return story_id in novelty and novelty[story_id].tag == REHASH

    def stories(rows: Sequence[Item]) -> dict[str, list[Item]]:
        return {k: v for k, v in _story_rows(rows).items() if not is_rehash(k)}

    company_day: Counter[str] = Counter(name for _, c in day for name in dict.fromkeys(c.companies))
    company_week: Counter[str] = Counter(name for _, c in items for name in dict.fromkeys(c.companies))
    event_day: Counter[str] = Counter(c.event_type or "unknown" for _, c in day)
    event_week: Counter[str] = Counter(c.event_type or "unknown" for _, c in items)

    today = stories(day)
    by_company: dict[str, list[tuple[tuple[Any, ...], DigestStory]]] = defaultdict(list)
    for story_id, rows in today.items():
        first = rows[0][0]
        viewpoint, cited = viewpoints.get(story_id, (first.title, 0))
        sources = len({a.source_name or a.feed_id for a, _ in rows})
        url = first.canonical_url if safe_url(first.canonical_url) else first.url
        rank = (-sources, -len(rows), -max(c.score for _, c in rows), first.event_at, story_id)
        tag = novelty[story_id].tag if story_id in novelty else None
        by_company[_primary_company(rows)].append(
            (rank, DigestStory(first.title, viewpoint, cited, sources, url, tag))
        )
    companies = sorted(
        (
            CompanyDigest(
                name=name,
                day_articles=company_day[name],
                week_articles=company_week[name],
                stories=tuple(story for _, story in sorted(ranked, key=lambda r: r[0])),
            )
            for name, ranked in by_company.items()
        ),
        key=lambda c: (-len(c.stories), -c.day_articles, c.name),
    )
    quiet = [name for name in sorted(company_week) if name not in by_company]
    companies += [CompanyDigest(name, company_day[name], company_week[name]) for name in quiet]

    rehash_notes = []
    for story_id, rows in _story_rows(day).items():
        if is_rehash(story_id):
            decision = novelty[story_id]
            rehash_notes.append(
                f"{rows[0][0].title} ({decision.first_source}) — rehash of “{decision.earlier_headline}”"
            )
    return DigestSummary(
        date_label=date_label,
        day_articles=len(day),
        day_stories=len(today),
        week_articles=len(items),
        week_stories=len(stories(items)),
        by_event=tuple(
            (name, event_day[name], week)
            for name, week in sorted(event_week.items(), key=lambda kv: (-kv[1], kv[0]))
        ),
        companies=tuple(companies),
        changes=_changes(today, stories(previous), novelty, len(rehash_notes)),
        rehashes=tuple(rehash_notes),
        rehash_count=len(rehash_notes),
    )


def _changes(
    today: Mapping[str, list[Item]],
    yesterday: Mapping[str, list[Item]],
    novelty: Mapping[str, Novelty],
    rehashes: int,
) -> str:
    """One line: stories against the day before, companies that appeared or went quiet, follow-ups, rehashes."""
    now_names = {_primary_company(rows) for rows in today.values()}
    then_names = {_primary_company(rows) for rows in yesterday.values()}
    parts = [f"{len(today)} stories (the day before: {len(yesterday)}, {len(today) - len(yesterday):+d})"]
    if new := sorted(now_names - then_names):
        parts.append("new in the news: " + ", ".join(new))
    if gone := sorted(then_names - now_names):
        parts.append("quiet since: " + ", ".join(gone))
    follow_ups = sum(1 for s in today if s in novelty and novelty[s].tag == FOLLOW_UP)
    if follow_ups:
        parts.append(f"{follow_ups} follow-up(s) of earlier stories")
    if rehashes:
        parts.append(f"{rehashes} rehash(es) held back")
    return "; ".join(parts)


def render_chart(items: Sequence[Item], *, now: datetime, tz: str) -> bytes:
    """A PNG bar chart: relevant articles per day over the last 7 days (display timezone), by event type."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    zone = ZoneInfo(tz)
    today = now.astimezone(zone).date()
    days: list[date] = [today - timedelta(days=n) for n in range(6, -1, -1)]
    counts: dict[str, Counter[date]] = defaultdict(Counter)
    for article, cls in items:
        counts[cls.event_type or "unknown"][article.event_at.astimezone(zone).date()] += 1

    # Figure + the Agg canvas directly: no pyplot global state, safe in a worker process.
    fig = Figure(figsize=(8, 3.2), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    bottoms = [0] * len(days)
    x = list(range(len(days)))
    for event in [*EVENT_TYPES, *sorted(set(counts) - set(EVENT_TYPES))]:
        values = [counts[event][d] for d in days]
        if not any(values):
            continue
        ax.bar(x, values, bottom=bottoms, label=EVENT_LABELS.get(event, event))
        bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
    ax.set_xticks(x, labels=[d.strftime("%a %m-%d") for d in days])
    ax.set_ylabel("articles")
    ax.set_title(f"Relevant articles per day ({tz})")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if any(bottoms):
        ax.legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def send_daily_digest(
    store: Store,
    settings: Settings,
    poster: SlackPoster,
    *,
    now: datetime,
    viewpoints: Mapping[str, tuple[str, int]] | None = None,
) -> dict[str, Any]:
    """Post the day's digest (and its chart) to every routed channel, once per channel and day.

    ``viewpoints`` (story id -> core viewpoint, sources cited) come from the stories' briefs
    (``pipeline.cycle.post_daily_digest`` assembles them); without them a story shows its first headline.

    Raises ``SlackConfigError`` (after the other channels) for a non-retryable error, and
    ``SlackUnavailableError`` when Slack is down, so the task's retries deliver the rest later.
    """
    routing = routing_for(settings, watchlist=watchlist_for(settings))
    date_label = now.astimezone(ZoneInfo(settings.display_tz)).date().isoformat()
    week = [
        (a, c)
        for a, c in store.list_articles(since=now - timedelta(days=7), relevant_only=True)
        if c is not None and c.relevant and not c.error and a.event_at <= now
    ]
    novelty = store.get_novelty(sorted({a.story_id for a, _ in week if a.story_id}))
    namespace = poster.namespace
    plans: dict[str, dict[str, Any]] = {}
    rows: list[NewAlert] = []
    for channel in routing.channels:
        items = channel_items(week, routing, channel)
        summary = summarize(items, now=now, date_label=date_label, viewpoints=viewpoints, novelty=novelty)
        lc = ledger_channel(channel, namespace)
        digest_id = alert_id(DAILY, date_label, lc)
        chart_id = alert_id(DAILY_CHART, date_label, lc)
        plans[channel] = {"summary": summary, "items": items, "digest_id": digest_id, "chart_id": chart_id}
        common: dict[str, Any] = {
            "channel": lc,
            "run_id": f"daily_digest:{date_label}",
            "interval_start": now - timedelta(days=1),
            "interval_end": now,
        }
        rows.append(
            NewAlert(
                alert_id=digest_id,
                kind=DAILY,
                payload={"message": daily_digest_message(summary, channel=channel), "broadcast": False},
                **common,
            )
        )
        if items:
            rows.append(NewAlert(alert_id=chart_id, kind=DAILY_CHART, parent_alert_id=digest_id, **common))
    store.ensure_alerts(rows)

    sender = LedgerSender(store, poster, max_age=timedelta(days=1), now=now)
    due = [r for r in (store.get_alert(p["digest_id"]) for p in plans.values()) if r and r.state != POSTED]
    result = sender.run(due)

    report: dict[str, Any] = {"date": date_label, "channels": {}, "previews": list(result.previews)}
    config_errors: list[SlackConfigError] = list(result.config_errors)
    rejected: list[SlackError] = list(result.rejected)
    outage = result.outage
    for channel, plan in plans.items():
        summary = plan["summary"]
        digest = store.get_alert(plan["digest_id"])
        posted_now = result.channels.get(channel, 0) > 0
        chart = "none"
        chart_record = store.get_alert(plan["chart_id"])
        if plan["items"] and digest is not None and digest.state == POSTED and digest.ts and not outage:
            try:
                chart = (
                    sender.upload(
                        chart_record,
                        thread_ts=digest.ts,
                        content=render_chart(plan["items"], now=now, tz=settings.display_tz),
                        filename=f"chip-news-{date_label}.png",
                        title=f"Chip news, last 7 days ({date_label})",
                    )
                    if chart_record is not None
                    else "already"
                )
            except SlackUnavailableError as e:
                outage, chart = str(e), "pending"
            except SlackConfigError as e:
                config_errors.append(e)
                chart = "failed"
            except SlackError as e:
                rejected.append(e)
                chart = "failed"
        elif plan["items"]:
            chart = "pending"
        report["channels"][channel] = {
            "posted": posted_now,
            "already_posted": bool(digest and digest.state == POSTED and not posted_now),
            "state": digest.state if digest else None,
            "articles_day": summary.day_articles,
            "articles_week": summary.week_articles,
            "stories_day": summary.day_stories,
            "rehashes_day": summary.rehash_count,
            "chart": chart,
        }
    report["posted"] = sum(1 for c in report["channels"].values() if c["posted"])
    report["outage"] = outage
    log.info("daily digest %s: %s", date_label, {c: v["state"] for c, v in report["channels"].items()})
    raise_collected(config_errors, rejected, report=report)
    if outage:
        raise SlackUnavailableError(f"daily digest incomplete, Slack unavailable: {outage}")
    return report
