"""Slack alerts, exactly once: plan ledger rows for a run's relevant articles, then deliver what is due.

Planning turns each relevant, unmuted article into one ledger row per channel it routes to, with a
deterministic alert id: the first article of a story in a channel is its ``story`` alert (the thread
parent); later articles of the story are ``update`` replies in that thread, broadcast to the channel
when they bring a material change (a new company, event type or amount). When a run has more than
``settings.digest_threshold`` new stories for a channel, or is a backfill, its new stories go into the
thread of one ``digest`` / ``backfill`` parent message instead of flooding the channel.

Every story alert carries a novelty stamp when the story's novelty is known (first source, its time,
minutes to the alert, ``new`` / ``follow-up`` / ``rehash``): a follow-up is a new parent that links the
earlier story's thread; a rehash is not posted at all (counted in the report and the daily digest).
Stories with a brief get it in their thread as one ``brief`` row per channel, edited in place as later
versions (more sources) arrive.

Delivery walks every due row of the poster's namespace (this run's and older ones that Slack refused
earlier), parents before children: claim it, look it up in Slack first if an earlier attempt's outcome
is unknown, post it, record the ts. Rows move pending -> posting -> posted | failed in the store.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from pipeline.config.routing import Routing, normalize_name, routing_for
from pipeline.config.watchlist import Watchlist, watchlist_for
from pipeline.models import REHASH, Article, Brief, Novelty, RunInfo
from pipeline.settings import Settings
from pipeline.slack.blocks import (
    EVENT_LABELS,
    AlertContent,
    CompanyRef,
    NoveltyStamp,
    alert_message,
    brief_message,
    format_amount,
    group_message,
    safe_url,
    update_message,
)
from pipeline.slack.client import DryRunPoster, SlackPoster
from pipeline.slack.ledger import (
    BRIEF,
    DEFAULT_STALE_AFTER,
    LedgerSender,
    alert_id,
    in_namespace,
    ledger_channel,
    raise_collected,
)
from pipeline.store import (
    PENDING,
    POSTED,
    POSTING,
    AlertRecord,
    NewAlert,
    Store,
    StoredClassification,
    utcnow,
)

log = logging.getLogger(__name__)

# Ledger kinds this module sends; the daily digest (pipeline.slack.digest) owns "daily" and "daily_chart".
STORY, UPDATE, DIGEST, BACKFILL = "story", "update", "digest", "backfill"
ALERT_KINDS = (STORY, UPDATE, DIGEST, BACKFILL, BRIEF)
# Parents first; a story's brief is the first reply in its thread, before "also reported by" replies.
KIND_ORDER = {DIGEST: 0, BACKFILL: 0, STORY: 1, BRIEF: 2, UPDATE: 3}


@dataclass(frozen=True)
class AlertReport:
    """What one ``send_alerts`` call did.

    ``planned``: (article, channel) alerts this run's articles call for, new or not; ``new``: ledger rows
    created (digest/backfill parents included); ``posted``: messages sent now (any run's); ``recovered``:
    alerts found already in Slack by their metadata; ``pending``: every undelivered alert of the namespace;
    ``failed``: alerts that failed in this call; ``outage``: why Slack was given up on, if it was;
    ``rehashes``: alerts not planned because their story is a rehash; ``briefs``: brief rows created or
    given a newer version; ``briefs_edited``: briefs edited in place now.
    """

    planned: int
    posted: int
    already_posted: int
    pending: int
    failed: int
    muted: int
    previews: tuple[str, ...]
    channels: dict[str, int]
    new: int = 0
    recovered: int = 0
    broadcasts: int = 0
    groups: int = 0
    outage: str | None = None
    errors: tuple[str, ...] = ()
    rehashes: int = 0
    briefs: int = 0
    briefs_edited: int = 0


# --- content --------------------------------------------------------------------------------------------


class _Tickers:
    """Tickers from the watch-list when it loads; alerts show names only without it."""

    def __init__(self, watchlist: Watchlist | None) -> None:
        self.watchlist = watchlist

    def ref(self, name: str) -> CompanyRef:
        company = self.watchlist.company(name) if self.watchlist is not None else None
        if company is None:
            return CompanyRef(name=name)
        return CompanyRef(name=str(company.name), tickers=tuple(company.tickers))


def build_content(article: Article, cls: StoredClassification, tickers: _Tickers) -> AlertContent:
    """The alert content of an article and its classification (raw text; slack_blocks makes it safe)."""
    return AlertContent(
        article_id=article.article_id,
        story_id=article.story_id or article.article_id,
        headline=article.title,
        # A canonical URL comes from the page itself: only trusted when it is a plain http(s) URL.
        url=article.canonical_url if safe_url(article.canonical_url) else article.url,
        source=article.source_name or article.feed_id,
        published_at=article.published_at or article.event_at,
        language=article.language,
        score=cls.score,
        model_version=cls.model_version,
        event_type=cls.event_type,
        companies=tuple(tickers.ref(c) for c in cls.companies),
        chips=cls.chips,
        counterparties=cls.counterparties,
        amount=cls.amount,
        summary=cls.summary or article.summary,
    )


@dataclass
class _Facts:
    """What a story's alerts in one channel have said so far (for material-change detection)."""

    companies: set[str] = field(default_factory=set)
    event_types: set[str] = field(default_factory=set)
    amounts: set[str] = field(default_factory=set)

    @staticmethod
    def of(content: AlertContent) -> dict[str, Any]:
        amount = content.amount
        return {
            "companies": sorted(normalize_name(c.name) for c in content.companies),
            "event_type": content.event_type,
            "amount": f"{amount.value:g} {amount.currency}" if amount else None,
        }

    def add(self, facts: dict[str, Any]) -> None:
        self.companies.update(facts.get("companies") or [])
        if facts.get("event_type"):
            self.event_types.add(str(facts["event_type"]))
        if facts.get("amount"):
            self.amounts.add(str(facts["amount"]))

    def changes(self, content: AlertContent) -> list[str]:
        """The material news of ``content`` against what was said: new companies, event type, amount."""
        facts = self.of(content)
        out = [
            f"New company: {c.label}"
            for c in content.companies
            if normalize_name(c.name) not in self.companies
        ]
        if content.event_type and content.event_type not in self.event_types:
            out.append(f"New event type: {EVENT_LABELS.get(content.event_type, content.event_type)}")
        if facts["amount"] and facts["amount"] not in self.amounts:
            out.append(f"New amount: {format_amount(content.amount)}")
        return out


# --- planning -------------------------------------------------------------------------------------------


@dataclass
class _Plan:
    rows: list[NewAlert] = field(default_factory=list)
    planned: int = 0
    existing: list[str] = field(default_factory=list)
    muted: int = 0
    rehashes: int = 0


def _earlier_link(store: Store, story_id: str, channel: str) -> str | None:
    """The permalink of an earlier story's thread: in this ledger channel if it went there, else anywhere."""
    rows = [r for r in store.alerts(story_id=story_id, kinds=[STORY]) if r.permalink]
    same = [r for r in rows if r.channel == channel]
    return (same or rows)[0].permalink if (same or rows) else None


def _stamp(
    store: Store,
    novelty: Novelty | None,
    channel: str,
    now: datetime,
    links: dict[tuple[str, str], str | None],
) -> NoveltyStamp | None:
    if novelty is None:
        return None
    link = None
    if novelty.earlier_story_id:
        key = (novelty.earlier_story_id, channel)
        if key not in links:
            links[key] = _earlier_link(store, novelty.earlier_story_id, channel)
        link = links[key]
    return NoveltyStamp(
        first_source=novelty.first_source,
        first_published_at=novelty.first_published_at,
        alerted_at=now,
        tag=novelty.tag,
        earlier_headline=novelty.earlier_headline,
        earlier_link=link,
    )


def _relevant(store: Store, article_ids: Sequence[str]) -> list[tuple[Article, StoredClassification]]:
    articles = store.get_articles(list(dict.fromkeys(article_ids)))
    classes = store.get_classifications([a.article_id for a in articles])
    pairs = [
        (a, classes[a.article_id])
        for a in articles
        if a.article_id in classes and classes[a.article_id].relevant and not classes[a.article_id].error
    ]
    # Oldest first: the first article of a story becomes its parent alert.
    pairs.sort(key=lambda p: (p[0].published_at or p[0].event_at, p[0].article_id))
    return pairs


def _plan(
    store: Store,
    settings: Settings,
    pairs: Sequence[tuple[Article, StoredClassification]],
    *,
    routing: Routing,
    tickers: _Tickers,
    run: RunInfo,
    namespace: str,
    novelty: Mapping[str, Novelty],
    now: datetime,
) -> _Plan:
    plan = _Plan()
    links: dict[tuple[str, str], str | None] = {}
    known: dict[tuple[str, str], list[AlertRecord]] = {}
    facts: dict[tuple[str, str], _Facts] = {}
    story_rows: dict[tuple[str, str], int] = {}  # (story, channel) -> index of its new story row
    contents: dict[str, AlertContent] = {}
    base: dict[str, Any] = {
        "run_id": run.run_id,
        "interval_start": run.window_start,
        "interval_end": run.window_end,
    }
    for article, cls in pairs:
        reason = routing.mute_reason(
            companies=cls.companies,
            feed_id=article.feed_id,
            source_name=article.source_name,
            title=article.title,
        )
        if reason:
            plan.muted += 1
            log.info("alert for article %s muted: %s", article.article_id, reason)
            continue
        content = build_content(article, cls, tickers)
        for channel in routing.channels_for(
            companies=cls.companies, event_type=cls.event_type, language=article.language
        ):
            lc = ledger_channel(channel, namespace)
            key = (content.story_id, lc)
            if key not in known:
                known[key] = store.alerts(story_id=content.story_id, channel=lc)
                facts[key] = _Facts()
                for rec in known[key]:
                    if rec.payload and rec.payload.get("facts"):
                        facts[key].add(rec.payload["facts"])
            plan.planned += 1
            same = [r.alert_id for r in known[key] if r.article_id == article.article_id]
            if same:
                plan.existing.extend(same)
                continue
            story = next((r for r in known[key] if r.kind == STORY), None)
            story_novelty = novelty.get(content.story_id)
            if story is None and story_novelty is not None and story_novelty.tag == REHASH:
                plan.rehashes += 1
                log.info(
                    "article %s not alerted in %s: its story %s is a rehash of %s",
                    article.article_id,
                    lc,
                    content.story_id,
                    story_novelty.earlier_story_id,
                )
                continue
            stamp = _stamp(store, story_novelty, lc, now, links)
            row_facts = _Facts.of(content)
            parent_id: str | None = None
            if story is None and key not in story_rows:
                kind = STORY
                aid = alert_id(STORY, content.story_id, lc)
                message = alert_message(content, display_tz=settings.display_tz, alert_id=aid, stamp=stamp)
                payload: dict[str, Any] = {"message": message, "facts": row_facts, "broadcast": False}
                story_rows[key] = len(plan.rows)
                contents[aid] = content
            else:
                kind = UPDATE
                parent_id = story.alert_id if story is not None else plan.rows[story_rows[key]].alert_id
                aid = alert_id(UPDATE, content.article_id, lc)
                changes = facts[key].changes(content)
                message = update_message(
                    content, display_tz=settings.display_tz, alert_id=aid, changes=changes, stamp=stamp
                )
                payload = {
                    "message": message,
                    "facts": row_facts,
                    "broadcast": bool(changes),
                    "changes": changes,
                }
            facts[key].add(row_facts)
            plan.rows.append(
                NewAlert(
                    alert_id=aid,
                    channel=lc,
                    kind=kind,
                    story_id=content.story_id,
                    article_id=content.article_id,
                    parent_alert_id=parent_id,
                    payload=payload,
                    model_version=cls.model_version,
                    **base,
                )
            )

    # Many new stories for a channel in one run, or any in a backfill: one parent, the stories in its thread.
    by_channel: dict[str, list[int]] = defaultdict(list)
    for index in story_rows.values():
        by_channel[plan.rows[index].channel].append(index)
    groups: list[NewAlert] = []
    for lc, indexes in by_channel.items():
        rows = [plan.rows[i] for i in indexes]
        items = [contents[r.alert_id] for r in rows]
        if run.is_backfill:
            kind, group_key = BACKFILL, f"{run.window_start.isoformat()}/{run.window_end.isoformat()}"
            title = f"Backfill {run.interval_label}: {len(rows)} alert(s) not sent at the time"
            note = "Found by a backfill of a past interval; each alert is in this thread."
        elif len(rows) > settings.digest_threshold:
            kind, group_key = DIGEST, run.run_id
            title = f"{len(rows)} new chip alerts ({run.interval_label})"
            note = "Many alerts at once: each one is in this thread."
        else:
            continue
        group_id = alert_id(kind, group_key, lc)
        groups.append(
            NewAlert(
                alert_id=group_id,
                channel=lc,
                kind=kind,
                payload={"message": group_message(title, items, note=note), "broadcast": False},
                **base,
            )
        )
        for i in indexes:
            plan.rows[i] = replace(plan.rows[i], parent_alert_id=group_id)
    plan.rows[:0] = reversed(groups)
    return plan


def _plan_briefs(
    store: Store,
    settings: Settings,
    briefs: Sequence[Brief],
    *,
    parents: Sequence[NewAlert],
    run: RunInfo,
    namespace: str,
    now: datetime,
) -> int:
    """Create or advance the brief row of every story alerted (or about to be, ``parents``) in the
    namespace's channels; return how many rows were created or given a newer version."""
    changed = 0
    for brief in briefs:
        # parent alert id -> (its channel, the model version that alerted the story)
        stories = {
            r.alert_id: (r.channel, r.model_version)
            for r in store.alerts(story_id=brief.story_id, kinds=[STORY])
            if in_namespace(r.channel, namespace)
        }
        stories.update(
            (r.alert_id, (r.channel, r.model_version)) for r in parents if r.story_id == brief.story_id
        )
        for parent_id, (channel, model_version) in sorted(stories.items()):
            aid = alert_id(BRIEF, brief.story_id, channel)
            payload = {
                "message": brief_message(brief, display_tz=settings.display_tz, alert_id=aid),
                "version": brief.version,
                "version_at": now.isoformat(),
                "sources": [s.article_id for s in brief.sources],
                "core": brief.core.text if brief.core else None,
                "cited": len(brief.cited),
                "broadcast": False,
                "brief": brief.as_record(),  # what the console shows
            }
            row = NewAlert(
                alert_id=aid,
                channel=channel,
                kind=BRIEF,
                story_id=brief.story_id,
                parent_alert_id=parent_id,
                payload=payload,
                model_version=model_version,
                run_id=run.run_id,
                interval_start=run.window_start,
                interval_end=run.window_end,
            )
            outcome = store.upsert_brief(row, brief.version)
            if outcome != "unchanged":
                changed += 1
                log.info("brief %s of story %s: version %d %s", aid, brief.story_id, brief.version, outcome)
    return changed


def _max_age(settings: Settings) -> timedelta:
    return timedelta(hours=max(settings.late_window_hours, 1))


def send_alerts(
    store: Store,
    settings: Settings,
    *,
    article_ids: Sequence[str],
    run: RunInfo,
    poster: SlackPoster,
    stale_after: timedelta = DEFAULT_STALE_AFTER,
    now: datetime | None = None,
    novelty: Mapping[str, Novelty] | None = None,
    briefs: Sequence[Brief] = (),
) -> AlertReport:
    """Plan alerts for this run's relevant articles and deliver every due alert of the poster's namespace.

    ``novelty`` (by story id) stamps the alerts and holds back rehashes; ``briefs`` are the current
    briefs of stories this run touched, posted into (or edited in) their stories' threads.

    Re-runs and backfills never post an alert twice. Slack being down leaves alerts pending (``outage`` in
    the report). A non-retryable error raises ``DeliveryConfigError`` (a ``SlackConfigError``) after the
    other channels' alerts went out; a malformed message raises ``DeliveryRejectedError``; both carry the
    report.
    """
    if run.dry_run and not poster.namespace:
        # A dry run never reaches Slack, whatever poster it was handed.
        log.info("dry run %s: payloads go to %s instead of Slack", run.run_id, settings.dry_run_file)
        poster = DryRunPoster(settings.dry_run_file)
    watchlist = watchlist_for(settings)
    routing = routing_for(settings, watchlist=watchlist)
    tickers = _Tickers(watchlist)
    pairs = _relevant(store, article_ids)
    now = now or utcnow()
    plan = _plan(
        store,
        settings,
        pairs,
        routing=routing,
        tickers=tickers,
        run=run,
        namespace=poster.namespace,
        novelty=novelty or {},
        now=now,
    )
    # Briefs before the run's other rows, so that a brief posted in this run precedes its replies.
    parents = [r for r in plan.rows if r.kind == STORY]
    briefs_changed = _plan_briefs(
        store, settings, briefs, parents=parents, run=run, namespace=poster.namespace, now=now
    )
    new_ids = store.ensure_alerts(plan.rows)
    already = sum(
        1 for aid in plan.existing if (rec := store.get_alert(aid)) is not None and rec.state == POSTED
    )

    sender = LedgerSender(
        store,
        poster,
        stale_after=stale_after,
        max_age=_max_age(settings),
        now=now,
        order=lambda record: KIND_ORDER.get(record.kind, len(KIND_ORDER)),
    )
    result = sender.run(sender.due(ALERT_KINDS))
    undelivered = [
        r
        for r in store.alerts(states=[PENDING, POSTING], kinds=ALERT_KINDS)
        if in_namespace(r.channel, poster.namespace)
    ]
    errors = [str(e) for e in (*result.config_errors, *result.rejected)]
    report = AlertReport(
        planned=plan.planned,
        posted=result.posted,
        already_posted=already,
        pending=len(undelivered),
        failed=result.failed,
        muted=plan.muted,
        previews=tuple(result.previews),
        channels=dict(result.channels),
        new=len(new_ids),
        recovered=result.recovered,
        broadcasts=result.broadcasts,
        groups=result.kinds[DIGEST] + result.kinds[BACKFILL],
        outage=result.outage,
        errors=tuple(dict.fromkeys(errors)),
        rehashes=plan.rehashes,
        briefs=briefs_changed,
        briefs_edited=result.edited,
    )
    log.info(
        "alerts: %d planned (%d new), %d posted, %d already posted, %d recovered, %d pending, %d failed, "
        "%d muted, %d held back as rehashes; briefs: %d new or newer, %d edited",
        report.planned,
        report.new,
        report.posted,
        report.already_posted,
        report.recovered,
        report.pending,
        report.failed,
        report.muted,
        report.rehashes,
        report.briefs,
        report.briefs_edited,
    )
    raise_collected(result.config_errors, result.rejected, report=report)
    return report
