"""Slack alerts, exactly once: plan ledger rows for a run's relevant articles, then deliver what is due.

Planning turns each relevant, unmuted article into one ledger row per channel it routes to, with a
deterministic alert id: the first article of a story in a channel is its ``story`` alert (the thread
parent); later articles of the story are ``update`` replies in that thread, broadcast to the channel
when they bring a material change (a new company, event type or amount). When a run has more than
``settings.digest_threshold`` new stories for a channel, or is a backfill, its new stories go into the
thread of one ``digest`` / ``backfill`` parent message instead of flooding the channel.

Delivery walks every due row of the poster's namespace (this run's and older ones that Slack refused
earlier), parents before children: claim it, look it up in Slack first if an earlier attempt's outcome
is unknown, post it, record the ts. Rows move pending -> posting -> posted | failed in the store.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pipeline.errors import ConfigError, SlackConfigError, SlackError
from pipeline.models import Article, RunInfo
from pipeline.routing import Routing, normalize_name, routing_for
from pipeline.settings import Settings
from pipeline.slack_blocks import (
    EVENT_LABELS,
    AlertContent,
    CompanyRef,
    alert_message,
    feed_health_message,
    finalize,
    format_amount,
    group_message,
    render_preview,
    safe_url,
    task_failure_message,
    update_message,
)
from pipeline.slack_client import (
    DryRunPoster,
    SlackPoster,
    SlackRejectedError,
    SlackUnavailableError,
    is_token_error,
)
from pipeline.store import FAILED, PENDING, POSTED, POSTING, AlertRecord, Store, StoredClassification, utcnow

log = logging.getLogger(__name__)

# Ledger kinds this module sends; the daily digest (pipeline.daily_digest) owns "daily" and "daily_chart".
STORY, UPDATE, DIGEST, BACKFILL = "story", "update", "digest", "backfill"
ALERT_KINDS = (STORY, UPDATE, DIGEST, BACKFILL)
_KIND_ORDER = {DIGEST: 0, BACKFILL: 0, STORY: 1, UPDATE: 2}
# A claim older than this is presumed dead (the worker was killed mid-post); its message is looked up.
DEFAULT_STALE_AFTER = timedelta(minutes=10)
# Messages are searched from a little before the alert was created (clock skew between hosts).
LOOKUP_SKEW = timedelta(minutes=5)
REJECTED_PREFIX = "rejected:"
EXPIRED_PREFIX = "expired:"


def alert_id(kind: str, key: str, ledger_channel: str) -> str:
    """Deterministic id of an alert: the same (kind, story or article or run, channel) gives the same id."""
    digest = hashlib.sha256(f"{kind}\x1f{key}\x1f{ledger_channel}".encode()).hexdigest()
    return f"{kind}-{digest[:24]}"


def ledger_channel(channel: str, namespace: str) -> str:
    """The ledger's name for ``channel``: dry-run rows live in their own namespace (``dry-run:#chan``)."""
    return f"{namespace}{channel}"


def _in_namespace(channel: str, namespace: str) -> bool:
    if namespace:
        return channel.startswith(namespace)
    return not channel.startswith("dry-run:")


@dataclass(frozen=True)
class AlertReport:
    """What one ``send_alerts`` call did.

    ``planned``: (article, channel) alerts this run's articles call for, new or not; ``new``: ledger rows
    created (digest/backfill parents included); ``posted``: messages sent now (any run's); ``recovered``:
    alerts found already in Slack by their metadata; ``pending``: every undelivered alert of the namespace;
    ``failed``: alerts that failed in this call; ``outage``: why Slack was given up on, if it was.
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


class AlertConfigError(SlackConfigError):
    """A non-retryable Slack error stopped some alerts; ``report`` tells what went out anyway."""

    def __init__(self, message: str, *, error_code: str | None, report: AlertReport) -> None:
        super().__init__(message, error_code=error_code)
        self.report = report


class AlertRejectedError(SlackRejectedError):
    """Slack refused some alerts as malformed (a bug); ``report`` tells what went out anyway."""

    def __init__(self, message: str, *, error_code: str | None, report: AlertReport) -> None:
        super().__init__(message, error_code=error_code)
        self.report = report


# --- content --------------------------------------------------------------------------------------------


_WATCHLIST_CACHE: dict[tuple[str, int, int], Any] = {}


def load_watchlist(settings: Settings) -> Any:
    """The watch-list (cached until the file changes), or None when it cannot be loaded."""
    path = settings.watchlist_file
    try:
        stat = path.stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size)
        if key not in _WATCHLIST_CACHE:
            from pipeline.watchlist import Watchlist

            _WATCHLIST_CACHE.clear()
            _WATCHLIST_CACHE[key] = Watchlist.load(path)
        return _WATCHLIST_CACHE[key]
    except (OSError, ConfigError, ImportError) as e:
        log.warning("watch-list unavailable, alerts show company names without tickers: %s", e)
        return None


class _Tickers:
    """Tickers from the watch-list when it loads; alerts show names only without it."""

    def __init__(self, watchlist: Any) -> None:
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
    rows: list[dict[str, Any]] = field(default_factory=list)
    planned: int = 0
    existing: list[str] = field(default_factory=list)
    muted: int = 0


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
) -> _Plan:
    plan = _Plan()
    known: dict[tuple[str, str], list[AlertRecord]] = {}
    facts: dict[tuple[str, str], _Facts] = {}
    story_rows: dict[tuple[str, str], dict[str, Any]] = {}
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
            row_facts = _Facts.of(content)
            if story is None and key not in story_rows:
                aid = alert_id(STORY, content.story_id, lc)
                message = alert_message(content, display_tz=settings.display_tz, alert_id=aid)
                row: dict[str, Any] = {"alert_id": aid, "kind": STORY, "parent_alert_id": None}
                payload: dict[str, Any] = {"message": message, "facts": row_facts, "broadcast": False}
                story_rows[key] = row
                contents[aid] = content
            else:
                parent_id = story.alert_id if story is not None else story_rows[key]["alert_id"]
                aid = alert_id(UPDATE, content.article_id, lc)
                changes = facts[key].changes(content)
                message = update_message(
                    content, display_tz=settings.display_tz, alert_id=aid, changes=changes
                )
                row = {"alert_id": aid, "kind": UPDATE, "parent_alert_id": parent_id}
                payload = {
                    "message": message,
                    "facts": row_facts,
                    "broadcast": bool(changes),
                    "changes": changes,
                }
            facts[key].add(row_facts)
            row.update(
                base,
                channel=lc,
                story_id=content.story_id,
                article_id=content.article_id,
                model_version=cls.model_version,
                payload=payload,
            )
            plan.rows.append(row)

    # Many new stories for a channel in one run, or any in a backfill: one parent, the stories in its thread.
    by_channel: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in story_rows.values():
        by_channel[row["channel"]].append(row)
    for lc, rows in by_channel.items():
        items = [contents[r["alert_id"]] for r in rows]
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
        parent_id = alert_id(kind, group_key, lc)
        plan.rows.insert(
            0,
            {
                **base,
                "alert_id": parent_id,
                "channel": lc,
                "kind": kind,
                "payload": {"message": group_message(title, items, note=note), "broadcast": False},
            },
        )
        for row in rows:
            row["parent_alert_id"] = parent_id
    return plan


# --- delivery -------------------------------------------------------------------------------------------


@dataclass
class _Delivery:
    posted: int = 0
    recovered: int = 0
    broadcasts: int = 0
    groups: int = 0
    failed: int = 0
    channels: dict[str, int] = field(default_factory=dict)
    previews: list[str] = field(default_factory=list)
    config_errors: list[SlackConfigError] = field(default_factory=list)
    rejected: list[SlackError] = field(default_factory=list)
    outage: str | None = None


class LedgerSender:
    """Delivers due ledger rows through a poster, parents first, stopping where Slack says stop."""

    def __init__(
        self, store: Store, poster: SlackPoster, *, stale_after: timedelta, max_age: timedelta, now: datetime
    ) -> None:
        self.store = store
        self.poster = poster
        self.namespace = poster.namespace
        self.stale_after = stale_after
        self.max_age = max_age
        self.now = now
        self.result = _Delivery()
        self.blocked_channels: set[str] = set()
        self.stopped = False
        self.drops_in_a_row = 0

    def due(self, kinds: Iterable[str]) -> list[AlertRecord]:
        kinds = tuple(kinds)
        rows = [
            r
            for r in self.store.alerts(states=[PENDING, FAILED, POSTING], kinds=kinds)
            if _in_namespace(r.channel, self.namespace)
            and not (r.error or "").startswith((REJECTED_PREFIX, EXPIRED_PREFIX))
        ]
        fresh: list[AlertRecord] = []
        for r in rows:
            if r.created_at < self.now - self.max_age and r.state != POSTING:
                self._expire(r)
            else:
                fresh.append(r)
        fresh.sort(key=lambda r: (r.created_at, _KIND_ORDER.get(r.kind, 3), r.alert_id))
        return fresh

    def _expire(self, record: AlertRecord) -> None:
        token = uuid.uuid4().hex
        if self.store.claim_alert(record.alert_id, token, stale_after=self.stale_after):
            hours = self.max_age.total_seconds() / 3600
            self.store.mark_alert_failed(
                record.alert_id, token, error=f"{EXPIRED_PREFIX} not delivered within {hours:g} h; not sent"
            )
            log.warning("alert %s (%s) expired undelivered", record.alert_id, record.channel)

    def run(self, records: list[AlertRecord]) -> _Delivery:
        remaining = list(records)
        progress = True
        while remaining and progress and not self.stopped:
            progress = False
            for record in list(remaining):
                if self.stopped:
                    break
                if record.channel in self.blocked_channels:
                    continue
                parent = self.store.get_alert(record.parent_alert_id) if record.parent_alert_id else None
                if record.parent_alert_id and (parent is None or parent.state != POSTED):
                    continue  # its thread does not exist yet; maybe later in this loop, or on a later run
                remaining.remove(record)
                progress = True
                self.send(record, parent)
        return self.result

    def send(self, record: AlertRecord, parent: AlertRecord | None) -> None:
        token = uuid.uuid4().hex
        claim = self.store.claim_alert(record.alert_id, token, stale_after=self.stale_after)
        if claim is None:
            log.info("alert %s is being sent by another run", record.alert_id)
            return
        channel = record.channel[len(self.namespace) :]
        thread_ts = (parent.thread_ts or parent.ts) if parent else None
        try:
            if claim.attempts > 1 and self._recover(record, channel, thread_ts, token):
                return
            payload = self._payload(record, channel, thread_ts)
            posted = self.poster.post_message(payload)
        except SlackUnavailableError as e:
            self.store.release_alert(record.alert_id, token, error=str(e))
            self._outage(e, record)
            return
        except SlackConfigError as e:
            self.store.mark_alert_failed(record.alert_id, token, error=str(e))
            self._config_error(e, record)
            return
        except SlackError as e:
            self.store.mark_alert_failed(record.alert_id, token, error=f"{REJECTED_PREFIX} {e}")
            self.result.failed += 1
            self.result.rejected.append(e)
            log.error("Slack rejected alert %s: %s", record.alert_id, e)
            return
        except Exception:
            self.store.release_alert(
                record.alert_id, token, error="unexpected error while posting; see task log"
            )
            raise
        self.drops_in_a_row = 0
        permalink = self.poster.permalink(channel, posted.ts) if thread_ts is None else None
        if not self.store.mark_alert_posted(
            record.alert_id, token, ts=posted.ts, thread_ts=thread_ts, permalink=permalink
        ):
            log.error("alert %s was posted (ts %s) but its claim was lost", record.alert_id, posted.ts)
        self.result.posted += 1
        self.result.channels[channel] = self.result.channels.get(channel, 0) + 1
        if payload.get("reply_broadcast"):
            self.result.broadcasts += 1
        if record.kind in (DIGEST, BACKFILL):
            self.result.groups += 1
        if self.namespace:
            self.result.previews.append(render_preview(payload))
        log.info("alert %s posted to %s (ts %s)", record.alert_id, channel, posted.ts)

    def _payload(self, record: AlertRecord, channel: str, thread_ts: str | None) -> dict[str, Any]:
        stored = record.payload or {}
        message = stored.get("message")
        if not message:
            raise SlackRejectedError(
                f"alert {record.alert_id} has no message payload", alert_id=record.alert_id
            )
        return finalize(
            message,
            channel=channel,
            alert_id=record.alert_id,
            thread_ts=thread_ts,
            reply_broadcast=bool(stored.get("broadcast")),
        )

    def _recover(self, record: AlertRecord, channel: str, thread_ts: str | None, token: str) -> bool:
        """An earlier attempt may have been posted: find it by its alert id before posting again."""
        found = self.poster.find_by_alert_id(
            channel, record.alert_id, oldest=record.created_at - LOOKUP_SKEW, thread_ts=thread_ts
        )
        if found is None:
            return False
        permalink = self.poster.permalink(channel, found.ts) if thread_ts is None else None
        self.store.mark_alert_posted(
            record.alert_id, token, ts=found.ts, thread_ts=thread_ts, permalink=permalink
        )
        self.result.recovered += 1
        log.info("alert %s was already in %s (ts %s): not posted again", record.alert_id, channel, found.ts)
        return True

    def _outage(self, error: SlackUnavailableError, record: AlertRecord) -> None:
        log.warning("alert %s stays pending: %s", record.alert_id, error)
        self.result.outage = str(error)
        if error.maybe_sent and error.error_code == "connection_error":
            # One lost connection can be a blip; two in a row means Slack is unreachable.
            self.drops_in_a_row += 1
            if self.drops_in_a_row < 2:
                return
        self.stopped = True

    def _config_error(self, error: SlackConfigError, record: AlertRecord) -> None:
        self.result.failed += 1
        self.result.config_errors.append(error)
        log.error("alert %s failed: %s", record.alert_id, error)
        if is_token_error(error):
            self.stopped = True
        else:
            self.blocked_channels.add(record.channel)


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
) -> AlertReport:
    """Plan alerts for this run's relevant articles and deliver every due alert of the poster's namespace.

    Re-runs and backfills never post an alert twice. Slack being down leaves alerts pending (``outage`` in
    the report). A non-retryable error raises ``AlertConfigError`` (a ``SlackConfigError``) after the
    other channels' alerts went out; a malformed message raises ``AlertRejectedError``.
    """
    if run.dry_run and not poster.namespace:
        # A dry run never reaches Slack, whatever poster it was handed.
        log.info("dry run %s: payloads go to %s instead of Slack", run.run_id, settings.dry_run_file)
        poster = DryRunPoster(settings.dry_run_file)
    watchlist = load_watchlist(settings)
    routing = routing_for(settings, watchlist=watchlist)
    tickers = _Tickers(watchlist)
    pairs = _relevant(store, article_ids)
    plan = _plan(
        store, settings, pairs, routing=routing, tickers=tickers, run=run, namespace=poster.namespace
    )
    new_ids = store.ensure_alerts(plan.rows)
    already = sum(
        1 for aid in plan.existing if (rec := store.get_alert(aid)) is not None and rec.state == POSTED
    )

    sender = LedgerSender(
        store, poster, stale_after=stale_after, max_age=_max_age(settings), now=now or utcnow()
    )
    result = sender.run(sender.due(ALERT_KINDS))
    undelivered = [
        r
        for r in store.alerts(states=[PENDING, POSTING], kinds=ALERT_KINDS)
        if _in_namespace(r.channel, poster.namespace)
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
        groups=result.groups,
        outage=result.outage,
        errors=tuple(dict.fromkeys(errors)),
    )
    log.info(
        "alerts: %d planned (%d new), %d posted, %d already posted, %d recovered, %d pending, %d failed, %d muted",
        report.planned,
        report.new,
        report.posted,
        report.already_posted,
        report.recovered,
        report.pending,
        report.failed,
        report.muted,
    )
    if result.config_errors:
        first = result.config_errors[0]
        raise AlertConfigError(
            "; ".join(dict.fromkeys(str(e) for e in result.config_errors)),
            error_code=first.error_code,
            report=report,
        ) from first
    if result.rejected:
        first_rejected = result.rejected[0]
        raise AlertRejectedError(
            "; ".join(dict.fromkeys(str(e) for e in result.rejected)),
            error_code=first_rejected.error_code,
            report=report,
        ) from first_rejected
    return report


# --- operations channel ---------------------------------------------------------------------------------


def report_task_failure(
    settings: Settings,
    poster: SlackPoster,
    *,
    dag_id: str,
    task_id: str,
    run_id: str,
    try_number: int | None,
    error: str,
    log_url: str | None,
) -> None:
    """Tell the operations channel that a task failed; off without ``settings.ops_channel``. Never raises."""
    if not settings.ops_channel:
        return
    try:
        message = task_failure_message(
            dag_id=dag_id, task_id=task_id, run_id=run_id, try_number=try_number, error=error, log_url=log_url
        )
        poster.post_message(finalize(message, channel=settings.ops_channel))
    except SlackError as e:
        # A failure callback that raises only hides the original failure.
        log.error("could not report the failure of %s.%s to %s: %s", dag_id, task_id, settings.ops_channel, e)


def report_feed_health(store: Store, settings: Settings, poster: SlackPoster) -> int:
    """Tell the operations channel about feeds that failed ``feed_failure_threshold`` runs in a row (once)
    and about their recovery (once); return the notices sent. Off without ``settings.ops_channel``.
    """
    if not settings.ops_channel:
        return 0
    sent = 0
    for health in sorted(store.feed_health().values(), key=lambda h: h.feed_id):
        failing = health.consecutive_failures >= settings.feed_failure_threshold
        recovered = health.failure_notified and health.consecutive_failures == 0
        if not ((failing and not health.failure_notified) or recovered):
            continue
        message = feed_health_message(
            feed_id=health.feed_id,
            url=health.url,
            failing=failing,
            failures=health.consecutive_failures,
            last_error=health.last_error,
            since=health.last_success_at,
            display_tz=settings.display_tz,
        )
        try:
            poster.post_message(finalize(message, channel=settings.ops_channel))
        except SlackError as e:
            # The flag stays as it was, so the notice is tried again on the next run.
            log.warning("feed-health notice for %s not sent: %s", health.feed_id, e)
            break
        store.set_feed_failure_notified(health.feed_id, failing)
        sent += 1
    return sent
