"""Analysts' feedback from Slack: reactions on alerts become votes, each with its provenance.

``collect_feedback`` reads the reactions on the article alerts posted in the last
``settings.feedback_days`` (their channels' history, and the threads that hold alert replies), remembers
them in the store and turns each user's reactions on an alert into one vote: the latest reaction wins
(an event-type emoji also says "relevant"); reactions first seen together that contradict each other
make no vote. Reading the same reactions again changes nothing. When ``settings.feedback_ack`` is on, the
first vote on an alert gets one reply in its thread, through the ledger (exactly once);
``acknowledge_feedback`` delivers those replies.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pipeline.config.feedback import FeedbackEmoji, feedback_emoji_for
from pipeline.errors import SlackConfigError
from pipeline.models import (
    DISPUTED,
    EVENT_TYPES,
    NOT_RELEVANT,
    RELEVANT,
    FeedbackLabel,
    FeedbackVote,
)
from pipeline.settings import Settings
from pipeline.slack.alerts import STORY, UPDATE
from pipeline.slack.blocks import EVENT_LABELS, note_message
from pipeline.slack.client import ReactedMessage, SlackPoster, SlackUnavailableError, is_token_error
from pipeline.slack.ledger import LOOKUP_SKEW, LedgerSender, alert_id, in_namespace, raise_collected
from pipeline.store import POSTED, AlertReactions, AlertRecord, NewAlert, SeenReaction, Store

log = logging.getLogger(__name__)

# Ledger kind of the bot's acknowledgement in an alert's thread.
FEEDBACK_ACK = "feedback_ack"
# Alerts about one article: the messages whose reactions are labels (a digest or backfill parent lists
# many articles, so a reaction on it says nothing about any one of them).
ARTICLE_ALERT_KINDS = (STORY, UPDATE)


@dataclass(frozen=True)
class FeedbackReport:
    """What one ``collect_feedback`` call did: alerts read, reaction rows changed, votes new and changed,
    acknowledgements planned, and what could not be read (and why)."""

    alerts: int = 0
    read: int = 0
    reactions_changed: int = 0
    new_votes: int = 0
    changed_votes: int = 0
    acks_planned: int = 0
    errors: tuple[str, ...] = ()
    outage: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "alerts": self.alerts,
            "read": self.read,
            "reactions_changed": self.reactions_changed,
            "new_votes": self.new_votes,
            "changed_votes": self.changed_votes,
            "acks_planned": self.acks_planned,
            "errors": list(self.errors),
            "outage": self.outage,
        }


def vote_id(alert: str, user: str) -> str:
    """The id of one Slack user's vote on one alert (stable: their later reactions update it)."""
    return "slack-" + hashlib.sha256(f"{alert}\x1f{user}".encode()).hexdigest()[:24]


def _relevance(vote_class: str) -> str:
    return NOT_RELEVANT if vote_class == NOT_RELEVANT else RELEVANT


def user_vote(
    alert: AlertRecord, user: str, reactions: Sequence[SeenReaction], emoji: FeedbackEmoji, *, channel: str
) -> FeedbackVote:
    """One user's vote on one alert from their reactions on it (present ones; removed ones are history).

    The reaction seen last decides relevance; an event type comes from the last event-type emoji and counts
    only with "relevant". Reactions first seen in the same read that disagree make no vote (label None).
    """
    present = [
        (r.first_seen_at, vote_class, r.emoji)
        for r in reactions
        if r.present and (vote_class := emoji.vote_class(r.emoji)) is not None
    ]
    present.sort()
    label: str | None = None
    event_type: str | None = None
    if present:
        latest_at = present[-1][0]
        latest = {_relevance(c) for at, c, _ in present if at == latest_at}
        label = latest.pop() if len(latest) == 1 else None
    if label == RELEVANT:
        typed = [(at, c) for at, c, _ in present if c in EVENT_TYPES]
        if typed:
            last = {c for at, c in typed if at == typed[-1][0]}
            event_type = last.pop() if len(last) == 1 else None
    return FeedbackVote(
        vote_id=vote_id(alert.alert_id, user),
        article_id=str(alert.article_id),
        voter=f"slack:{user}",
        label=label,
        event_type=event_type,
        voted_at=max((at for at, _, _ in present), default=alert.created_at),
        emoji=",".join(name for _, _, name in present),
        alert_id=alert.alert_id,
        story_id=alert.story_id,
        model_version=alert.model_version,
        channel=channel,
        message_ts=alert.ts,
    )


def ack_text(label: FeedbackLabel | None) -> str:
    """What the bot says in the thread once an alert has votes."""
    if label is None:
        return "Feedback recorded; the next retrain will learn from it."
    if label.label == DISPUTED:
        return (
            f"Feedback recorded: analysts disagree ({label.relevant_votes} relevant, "
            f"{label.not_relevant_votes} not relevant). A disputed alert is left out of training until it "
            "is settled."
        )
    if label.label == NOT_RELEVANT:
        return "Recorded as not relevant; the next retrain will learn from it."
    kind = f" ({EVENT_LABELS[label.event_type].lower()})" if label.event_type in EVENT_LABELS else ""
    return f"Recorded as relevant{kind}; the next retrain will learn from it."


@dataclass
class _Reads:
    snapshots: list[AlertReactions] = field(default_factory=list)
    config_errors: list[SlackConfigError] = field(default_factory=list)
    outage: str | None = None


def _read_channel(
    poster: SlackPoster, channel: str, alerts: Sequence[AlertRecord], emoji: FeedbackEmoji, reads: _Reads
) -> None:
    """Read the reactions on ``alerts`` (one channel): the channel's history, and each thread with alerts."""
    groups: dict[str | None, list[AlertRecord]] = defaultdict(list)
    for a in alerts:
        groups[a.thread_ts].append(a)
    for thread_ts, group in sorted(groups.items(), key=lambda kv: kv[0] or ""):
        oldest = min(a.posted_at or a.created_at for a in group) - LOOKUP_SKEW
        messages: list[ReactedMessage] = poster.read_reactions(channel, oldest=oldest, thread_ts=thread_ts)
        by_ts = {m.ts: m for m in messages}
        for a in group:
            message = by_ts.get(str(a.ts))
            if message is None:
                # Not in this read (deleted, or beyond the pages read): its reactions are left as they were.
                log.info(
                    "alert %s (ts %s) not found in %s; its reactions are not updated",
                    a.alert_id,
                    a.ts,
                    channel,
                )
                continue
            reactions = frozenset(
                (user, r.name) for r in message.reactions if emoji.vote_class(r.name) for user in r.users
            )
            reads.snapshots.append(AlertReactions(a.alert_id, a.channel, str(a.ts), reactions))


def collect_feedback(
    store: Store, settings: Settings, poster: SlackPoster, *, now: datetime
) -> FeedbackReport:
    """Read the reactions on recent alerts and record the votes they make; plan the acknowledgements.

    A channel the bot cannot read is skipped (the others are read) and raises ``SlackConfigError`` at the
    end; when Slack is down, what was read is recorded and ``SlackUnavailableError`` is raised.
    """
    emoji = feedback_emoji_for(settings)
    since = now - timedelta(days=settings.feedback_days)
    alerts = [
        a
        for a in store.alerts(states=[POSTED], kinds=ARTICLE_ALERT_KINDS, posted_since=since)
        if a.ts and a.article_id and in_namespace(a.channel, poster.namespace)
    ]
    if poster.namespace:
        log.info("dry run: alerts went to a file, so there are no reactions to read")
        return FeedbackReport()
    by_channel: dict[str, list[AlertRecord]] = defaultdict(list)
    for a in alerts:
        by_channel[a.channel].append(a)
    reads = _Reads()
    for channel, group in sorted(by_channel.items()):
        try:
            _read_channel(poster, channel, group, emoji, reads)
        except SlackUnavailableError as e:
            reads.outage = str(e)
            log.warning("Slack unavailable while reading reactions in %s: %s", channel, e)
            break
        except SlackConfigError as e:
            reads.config_errors.append(e)
            log.error("cannot read reactions in %s: %s", channel, e)
            if is_token_error(e):
                break
    changed_rows = store.record_reactions(reads.snapshots, now=now)
    read_ids = [s.alert_id for s in reads.snapshots]
    by_alert = {a.alert_id: a for a in alerts}
    seen: dict[tuple[str, str], list[SeenReaction]] = defaultdict(list)
    for r in store.seen_reactions(read_ids):
        seen[(r.alert_id, r.user_id)].append(r)
    votes = [
        user_vote(by_alert[aid], user, rows, emoji, channel=by_alert[aid].channel)
        for (aid, user), rows in sorted(seen.items())
    ]
    changes = store.save_votes(votes, now=now)
    acks = _plan_acks(
        store,
        settings,
        [by_alert[aid] for aid in dict.fromkeys(v.alert_id for v in votes if v.label and v.alert_id)],
    )
    report = FeedbackReport(
        alerts=len(alerts),
        read=len(reads.snapshots),
        reactions_changed=changed_rows,
        new_votes=len(changes.new),
        changed_votes=len(changes.changed),
        acks_planned=acks,
        errors=tuple(str(e) for e in reads.config_errors),
        outage=reads.outage,
    )
    log.info(
        "feedback: %d alerts, %d read, %d reaction changes, %d new votes, %d changed votes, %d acks planned",
        report.alerts,
        report.read,
        report.reactions_changed,
        report.new_votes,
        report.changed_votes,
        report.acks_planned,
    )
    raise_collected(reads.config_errors, [], report=report)
    if reads.outage:
        raise SlackUnavailableError(f"reactions only partly read, Slack unavailable: {reads.outage}")
    return report


def _plan_acks(store: Store, settings: Settings, voted: Sequence[AlertRecord]) -> int:
    """One acknowledgement row per alert that has a vote (the ledger keeps it to one, ever)."""
    if not settings.feedback_ack or not voted:
        return 0
    labels: dict[str, FeedbackLabel | None] = {}
    votes_by_article: dict[str, list[FeedbackVote]] = defaultdict(list)
    for v in store.feedback_votes(article_ids=[str(a.article_id) for a in voted]):
        votes_by_article[v.article_id].append(v)
    rows: list[NewAlert] = []
    for a in voted:
        article = str(a.article_id)
        if article not in labels:
            labels[article] = FeedbackLabel.combine(article, votes_by_article[article])
        text = ack_text(labels[article])
        rows.append(
            NewAlert(
                alert_id=alert_id(FEEDBACK_ACK, a.alert_id, a.channel),
                channel=a.channel,
                kind=FEEDBACK_ACK,
                parent_alert_id=a.alert_id,
                payload={"message": note_message(text), "broadcast": False},
                model_version=a.model_version,
            )
        )
    return len(store.ensure_alerts(rows))


def acknowledge_feedback(
    store: Store, settings: Settings, poster: SlackPoster, *, now: datetime
) -> dict[str, int]:
    """Post the acknowledgements due (each in its alert's thread, once); Slack errors as ``send_alerts``."""
    sender = LedgerSender(store, poster, max_age=timedelta(days=settings.feedback_days), now=now)
    result = sender.run(sender.due([FEEDBACK_ACK]))
    log.info("feedback acknowledgements: %d posted, %d failed", result.posted, result.failed)
    raise_collected(result.config_errors, result.rejected, report=result)
    if result.outage:
        raise SlackUnavailableError(f"acknowledgements left pending, Slack unavailable: {result.outage}")
    return {"posted": result.posted, "failed": result.failed, "recovered": result.recovered}
