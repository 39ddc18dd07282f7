"""The console's reads (the chip-news pages in the Airflow UI): bounded pages of alerts, stories and the
feeds' recent history, the briefs of the stories on a page, and the latest promotion reports.

Every read returns at most ``limit`` rows, and the two that grow with the archive (alerts, stories) page
by keyset on an index, newest first, so a page costs about the same on a store of 100,000 articles as on
a small one. What a page adds to its rows (briefs, feedback, novelty) is read in one batched query keyed by
the ids on the page. Nothing here writes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from pipeline.store.base import StoreBase, chunks
from pipeline.store.schema import (
    alert_ledger,
    articles,
    classifications,
    feed_days,
    feedback_votes,
    promotion_reports,
)

# A keyset position: (time, id) of the last row of the previous page.
Keyset = tuple[datetime, str]

# Sources listed per story (the earliest ones, so the first source is always among them).
MAX_SOURCES_PER_STORY = 20
# The ledger kinds that carry one story's article (digests and backfill groups carry many).
STORY_ALERT_KINDS = ("story", "update")
# The ledger kind of a story brief (one row per story and channel, its payload replaced version by version).
BRIEF_KIND = "brief"


@dataclass(frozen=True)
class AlertQuery:
    """Filters of the alerts page, all optional. Times are UTC; ``created_before`` is exclusive."""

    states: tuple[str, ...] = ()
    company: str | None = None
    event_type: str | None = None
    created_from: datetime | None = None
    created_before: datetime | None = None
    # True: only alerts whose article has an analyst's vote (with a label); False: only those without.
    has_feedback: bool | None = None


@dataclass(frozen=True)
class ConsoleAlert:
    """One ledger row with what its article says (title, source) and how it was classified."""

    alert_id: str
    kind: str
    channel: str
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
    source_name: str | None
    language: str | None
    published_at: datetime | None
    companies: tuple[str, ...]
    event_type: str | None
    score: float | None

    @property
    def keyset(self) -> Keyset:
        return (self.created_at, self.alert_id)


@dataclass(frozen=True)
class StorySource:
    """One article of a story, with its classification (None when it was never classified)."""

    article_id: str
    feed_id: str
    source_name: str | None
    title: str
    url: str | None
    language: str
    published_at: datetime | None
    first_seen_at: datetime
    event_at: datetime
    relevant: bool | None
    score: float | None
    event_type: str | None
    companies: tuple[str, ...]


@dataclass(frozen=True)
class StoryAlert:
    """A Slack message that carried one of the story's articles."""

    alert_id: str
    kind: str
    channel: str
    state: str
    created_at: datetime
    posted_at: datetime | None
    permalink: str | None


@dataclass(frozen=True)
class ConsoleStory:
    """A story: its earliest sources (at most ``MAX_SOURCES_PER_STORY``), how many it has in all and in
    which languages, and the alerts that carried it. ``latest_at`` (its newest article) orders the page."""

    story_id: str
    latest_at: datetime
    latest_article_id: str
    source_count: int
    languages: dict[str, int] = field(compare=False)
    sources: tuple[StorySource, ...]
    alerts: tuple[StoryAlert, ...]

    @property
    def first_source(self) -> StorySource | None:
        return self.sources[0] if self.sources else None

    @property
    def keyset(self) -> Keyset:
        return (self.latest_at, self.latest_article_id)


@dataclass(frozen=True)
class ConsoleBrief:
    """The brief row of a story (the newest version across its channels) with its payload."""

    story_id: str
    alert_id: str
    channel: str
    state: str
    version: int | None
    sent_version: int | None
    posted_at: datetime | None
    permalink: str | None
    payload: dict[str, Any] = field(compare=False)


@dataclass(frozen=True)
class ConsolePromotion:
    """A promotion report without its Markdown and chart: the decision, its outcome, and the replay's
    summary (None when the evaluation made no replay)."""

    report_id: str
    candidate_version: str
    current_version: str | None
    decision: str
    reason: str
    run_id: str | None
    created_at: datetime
    outcome: str | None
    decided_by: str | None
    decided_at: datetime | None
    has_chart: bool
    replay: dict[str, Any] | None = field(compare=False)


@dataclass(frozen=True)
class FeedDay:
    """A feed's fetch attempts on one UTC day."""

    day: date
    attempts: int
    failures: int
    items: int
    new_items: int


def _older_than(time_col: Any, id_col: Any, after: Keyset | None) -> Any:
    """Rows strictly after ``after`` in (time desc, id desc) order; the ``<=`` lets the index bound the scan."""
    if after is None:
        return sa.true()
    at, key = after
    return sa.and_(time_col <= at, sa.or_(time_col < at, id_col < key))


def replay_summary(report: dict[str, Any]) -> dict[str, Any] | None:
    """The replay's summary in a promotion report's JSON (None when the evaluation made no replay)."""
    replay = report.get("replay")
    summary = replay.get("summary") if isinstance(replay, dict) else None
    return summary if isinstance(summary, dict) else None


def _json_list(value: str | None) -> tuple[str, ...]:
    return tuple(json.loads(value or "[]"))


class ConsoleStore(StoreBase):
    """Read-only, paged queries for the console."""

    def console_alerts(
        self, query: AlertQuery, *, after: Keyset | None = None, limit: int = 50
    ) -> list[ConsoleAlert]:
        """Ledger rows matching ``query``, newest first, after the keyset ``after``; at most ``limit``."""
        led, a, c = alert_ledger.c, articles.c, classifications.c
        q = (
            sa.select(
                led.alert_id,
                led.kind,
                led.channel,
                led.state,
                led.error,
                led.attempts,
                led.created_at,
                led.posted_at,
                led.permalink,
                led.model_version,
                led.story_id,
                led.article_id,
                led.parent_alert_id,
                a.title,
                a.url,
                a.source_name,
                a.language,
                a.published_at,
                c.companies,
                c.event_type,
                c.score,
            )
            .select_from(
                alert_ledger.outerjoin(articles, a.article_id == led.article_id).outerjoin(
                    classifications, c.article_id == led.article_id
                )
            )
            .where(_older_than(led.created_at, led.alert_id, after))
        )
        if query.states:
            q = q.where(led.state.in_(list(query.states)))
        if query.event_type:
            q = q.where(c.event_type == query.event_type)
        if query.company:
            # companies is a JSON list: match the quoted element, not a substring of another name
            element = json.dumps(query.company, ensure_ascii=False)
            q = q.where(c.companies.contains(element, autoescape=True))
        if query.has_feedback is not None:
            fv = feedback_votes.c
            voted = sa.select(sa.literal(1)).where(fv.article_id == led.article_id, fv.label.is_not(None))
            q = q.where(voted.exists() if query.has_feedback else ~voted.exists())
        if query.created_from is not None:
            q = q.where(led.created_at >= query.created_from)
        if query.created_before is not None:
            q = q.where(led.created_at < query.created_before)
        q = q.order_by(led.created_at.desc(), led.alert_id.desc()).limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return [
            ConsoleAlert(
                **{k: v for k, v in r._mapping.items() if k not in ("companies", "score")},
                companies=_json_list(r.companies),
                score=float(r.score) if r.score is not None else None,
            )
            for r in rows
        ]

    def console_stories(
        self, *, relevant_only: bool = True, after: Keyset | None = None, limit: int = 20
    ) -> list[ConsoleStory]:
        """Stories newest first (by their newest article, or newest relevant one with ``relevant_only``),
        after the keyset ``after``; at most ``limit``."""
        heads = self._story_heads(relevant_only=relevant_only, after=after, limit=limit)
        if not heads:
            return []
        story_ids = [story_id for story_id, _, _ in heads]
        sources, counts = self._story_sources(story_ids)
        alerts = self._story_alerts(story_ids)
        return [
            ConsoleStory(
                story_id=story_id,
                latest_at=latest_at,
                latest_article_id=latest_id,
                source_count=sum(counts.get(story_id, {}).values()),
                languages=counts.get(story_id, {}),
                sources=tuple(sources.get(story_id, ())),
                alerts=tuple(alerts.get(story_id, ())),
            )
            for story_id, latest_at, latest_id in heads
        ]

    def _story_heads(
        self, *, relevant_only: bool, after: Keyset | None, limit: int
    ) -> list[tuple[str, datetime, str]]:
        """(story_id, event time, article id) of each story's newest (relevant) article, newest first.

        Walks the articles newest first on the event-time index and keeps those with no newer article in
        their story (a probe on the story index), so it reads about one page of articles per page.
        """
        head, newer = articles.alias("head"), articles.alias("newer")
        h, n = head.c, newer.c
        newer_in_story = sa.select(sa.literal(1)).where(
            n.story_id == h.story_id,
            sa.or_(n.event_at > h.event_at, sa.and_(n.event_at == h.event_at, n.article_id > h.article_id)),
        )
        source: Any = head
        if relevant_only:
            hc, nc = classifications.alias("head_cls"), classifications.alias("newer_cls")
            source = head.join(hc, sa.and_(hc.c.article_id == h.article_id, hc.c.relevant.is_(True)))
            newer_in_story = newer_in_story.select_from(
                newer.join(nc, sa.and_(nc.c.article_id == n.article_id, nc.c.relevant.is_(True)))
            )
        q = (
            sa.select(h.story_id, h.event_at, h.article_id)
            .select_from(source)
            .where(
                h.story_id.is_not(None),
                _older_than(h.event_at, h.article_id, after),
                ~newer_in_story.exists(),
            )
            .order_by(h.event_at.desc(), h.article_id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [(r.story_id, r.event_at, r.article_id) for r in conn.execute(q)]

    def _story_sources(
        self, story_ids: Sequence[str]
    ) -> tuple[dict[str, list[StorySource]], dict[str, dict[str, int]]]:
        """The earliest sources of each story, and each story's article count per language."""
        a, c = articles.c, classifications.c
        position = (
            sa.func.row_number()
            .over(partition_by=a.story_id, order_by=(a.event_at, a.article_id))
            .label("position")
        )
        ranked = (
            sa.select(
                a.story_id,
                a.article_id,
                a.feed_id,
                a.source_name,
                a.title,
                a.url,
                a.language,
                a.published_at,
                a.first_seen_at,
                a.event_at,
                c.relevant,
                c.score,
                c.event_type,
                c.companies,
                position,
            )
            .select_from(articles.outerjoin(classifications, c.article_id == a.article_id))
            .where(a.story_id.in_(list(story_ids)))
            .subquery()
        )
        q = sa.select(ranked).where(ranked.c.position <= MAX_SOURCES_PER_STORY).order_by(ranked.c.position)
        languages = (
            sa.select(a.story_id, a.language, sa.func.count().label("n"))
            .where(a.story_id.in_(list(story_ids)))
            .group_by(a.story_id, a.language)
        )
        sources: dict[str, list[StorySource]] = {}
        counts: dict[str, dict[str, int]] = {}
        with self.engine.connect() as conn:
            for r in conn.execute(q):
                sources.setdefault(r.story_id, []).append(
                    StorySource(
                        article_id=r.article_id,
                        feed_id=r.feed_id,
                        source_name=r.source_name,
                        title=r.title,
                        url=r.url,
                        language=r.language,
                        published_at=r.published_at,
                        first_seen_at=r.first_seen_at,
                        event_at=r.event_at,
                        relevant=bool(r.relevant) if r.relevant is not None else None,
                        score=float(r.score) if r.score is not None else None,
                        event_type=r.event_type,
                        companies=_json_list(r.companies),
                    )
                )
            for r in conn.execute(languages):
                counts.setdefault(r.story_id, {})[r.language] = int(r.n)
        return sources, counts

    def _story_alerts(self, story_ids: Sequence[str]) -> dict[str, list[StoryAlert]]:
        led = alert_ledger.c
        out: dict[str, list[StoryAlert]] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(list(story_ids)):
                q = (
                    sa.select(
                        led.story_id,
                        led.alert_id,
                        led.kind,
                        led.channel,
                        led.state,
                        led.created_at,
                        led.posted_at,
                        led.permalink,
                    )
                    .where(led.story_id.in_(chunk), led.kind.in_(STORY_ALERT_KINDS))
                    .order_by(led.created_at, led.alert_id)
                )
                for r in conn.execute(q):
                    fields = {k: v for k, v in r._mapping.items() if k != "story_id"}
                    out.setdefault(r.story_id, []).append(StoryAlert(**fields))
        return out

    def console_briefs(self, story_ids: Sequence[str]) -> dict[str, ConsoleBrief]:
        """The brief of each of these stories that has one: of its rows (one per channel), the one with
        the newest version, a posted one first."""
        led = alert_ledger.c
        out: dict[str, ConsoleBrief] = {}
        rank: dict[str, tuple[int, bool, str]] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(sorted(set(story_ids))):
                q = sa.select(
                    led.story_id,
                    led.alert_id,
                    led.channel,
                    led.state,
                    led.version,
                    led.sent_version,
                    led.posted_at,
                    led.permalink,
                    led.payload,
                ).where(led.story_id.in_(chunk), led.kind == BRIEF_KIND)
                for r in conn.execute(q):
                    key = (r.version or 0, r.state == "posted", r.alert_id)
                    if r.story_id in rank and rank[r.story_id] >= key:
                        continue
                    rank[r.story_id] = key
                    fields = {k: v for k, v in r._mapping.items() if k != "payload"}
                    out[r.story_id] = ConsoleBrief(**fields, payload=json.loads(r.payload or "{}"))
        return out

    def console_promotions(self, *, limit: int = 20) -> tuple[list[ConsolePromotion], int]:
        """The newest ``limit`` promotion reports (newest first), and how many there are in all."""
        p = promotion_reports.c
        q = (
            sa.select(
                p.report_id,
                p.candidate_version,
                p.current_version,
                p.decision,
                p.reason,
                p.run_id,
                p.created_at,
                p.outcome,
                p.decided_by,
                p.decided_at,
                p.chart.is_not(None).label("has_chart"),
                p.report,
            )
            .order_by(p.created_at.desc(), p.report_id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
            total = int(conn.execute(sa.select(sa.func.count()).select_from(promotion_reports)).scalar_one())
        out = []
        for r in rows:
            fields = {k: v for k, v in r._mapping.items() if k not in ("report", "has_chart")}
            report = json.loads(r.report or "{}")
            out.append(
                ConsolePromotion(
                    **fields,
                    has_chart=bool(r.has_chart),
                    replay=replay_summary(report) if isinstance(report, dict) else None,
                )
            )
        return out, total

    def feed_run_days(self, feed_ids: Sequence[str], *, since: date) -> dict[str, list[FeedDay]]:
        """Per feed, its fetch attempts summed per UTC day from ``since`` on (days without any are absent)."""
        d = feed_days.c
        out: dict[str, list[FeedDay]] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(list(feed_ids)):
                q = (
                    sa.select(feed_days)
                    .where(d.feed_id.in_(chunk), d.day >= since)
                    .order_by(d.feed_id, d.day)
                )
                for row in conn.execute(q):
                    out.setdefault(row.feed_id, []).append(
                        FeedDay(**{k: v for k, v in row._mapping.items() if k != "feed_id"})
                    )
        return out
