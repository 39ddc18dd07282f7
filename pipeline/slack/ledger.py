"""Slack's exactly-once outbox on top of the store's alert ledger: alert ids, ledger channels, delivery.

Every message the project posts (alerts, digests, ops notices aside) is first a ledger row with a
deterministic id. ``LedgerSender`` delivers due rows through a poster, parents before their threads:
claim the row, look the message up in Slack first when an earlier attempt's outcome is unknown, post it,
record its ts. ``raise_collected`` turns what Slack refused into one exception after the rest went out.

A story brief (kind ``brief``) is one row edited in place: its first delivery posts it, every later
version (``store.upsert_brief``) is a ``chat.update`` of the same message, under the same claim, so two
runs never send versions of one brief at the same time.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from pipeline.errors import SlackConfigError, SlackError
from pipeline.slack.blocks import finalize, finalize_update, render_preview
from pipeline.slack.client import SlackPoster, SlackRejectedError, SlackUnavailableError, is_token_error
from pipeline.store import FAILED, PENDING, POSTED, POSTING, AlertRecord, Store

log = logging.getLogger(__name__)

# A claim older than this is presumed dead (the worker was killed mid-post); its message is looked up.
DEFAULT_STALE_AFTER = timedelta(minutes=10)
# Messages are searched from a little before the alert was created (clock skew between hosts).
LOOKUP_SKEW = timedelta(minutes=5)
# Error prefixes of rows that are never retried: Slack refused the message, or it expired undelivered.
REJECTED_PREFIX = "rejected:"
EXPIRED_PREFIX = "expired:"
DRY_RUN_PREFIX = "dry-run:"
# The ledger kind of story briefs: one message per story and channel, edited in place as sources arrive.
BRIEF = "brief"
# A brief sent while a newer version arrived is sent again at once, at most this many times per run.
MAX_BRIEF_ROUNDS = 3

_T = TypeVar("_T")


def _due_since(record: AlertRecord) -> datetime:
    """When a row became due: a brief when its current version was made, any other row when created."""
    stamp = (record.payload or {}).get("version_at") if record.kind == BRIEF else None
    if isinstance(stamp, str):
        try:
            return datetime.fromisoformat(stamp)
        except ValueError:
            pass
    return record.created_at


def alert_id(kind: str, key: str, ledger_channel: str) -> str:
    """Deterministic id of an alert: the same (kind, story or article or run, channel) gives the same id."""
    digest = hashlib.sha256(f"{kind}\x1f{key}\x1f{ledger_channel}".encode()).hexdigest()
    return f"{kind}-{digest[:24]}"


def ledger_channel(channel: str, namespace: str) -> str:
    """The ledger's name for ``channel``: dry-run rows live in their own namespace (``dry-run:#chan``)."""
    return f"{namespace}{channel}"


def in_namespace(channel: str, namespace: str) -> bool:
    """Whether a ledger channel belongs to a poster's namespace ("" is Slack itself)."""
    if namespace:
        return channel.startswith(namespace)
    return not channel.startswith(DRY_RUN_PREFIX)


@dataclass
class Delivery:
    """What one ``LedgerSender`` did: messages posted (by kind and channel), edited in place (briefs),
    found already posted, failed; the errors to raise after the rest went out; why Slack was given up
    on, if it was."""

    posted: int = 0
    edited: int = 0
    recovered: int = 0
    broadcasts: int = 0
    failed: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    channels: dict[str, int] = field(default_factory=dict)
    previews: list[str] = field(default_factory=list)
    config_errors: list[SlackConfigError] = field(default_factory=list)
    rejected: list[SlackError] = field(default_factory=list)
    outage: str | None = None


class DeliveryConfigError(SlackConfigError):
    """A non-retryable Slack error stopped some messages; ``report`` tells what went out anyway."""

    def __init__(self, message: str, *, error_code: str | None, report: Any) -> None:
        super().__init__(message, error_code=error_code)
        self.report = report


class DeliveryRejectedError(SlackRejectedError):
    """Slack refused some messages as malformed (a bug); ``report`` tells what went out anyway."""

    def __init__(self, message: str, *, error_code: str | None, report: Any) -> None:
        super().__init__(message, error_code=error_code)
        self.report = report


def raise_collected(
    config_errors: Sequence[SlackConfigError], rejected: Sequence[SlackError], *, report: Any = None
) -> None:
    """Raise what Slack refused, once everything else was sent: an operator's fix first (token, channel),
    then malformed messages. Does nothing when both lists are empty."""
    if config_errors:
        first = config_errors[0]
        raise DeliveryConfigError(
            "; ".join(dict.fromkeys(str(e) for e in config_errors)),
            error_code=first.error_code,
            report=report,
        ) from first
    if rejected:
        first_rejected = rejected[0]
        raise DeliveryRejectedError(
            "; ".join(dict.fromkeys(str(e) for e in rejected)),
            error_code=first_rejected.error_code,
            report=report,
        ) from first_rejected


class LedgerSender:
    """Delivers due ledger rows through a poster, parents first, stopping where Slack says stop."""

    def __init__(
        self,
        store: Store,
        poster: SlackPoster,
        *,
        stale_after: timedelta = DEFAULT_STALE_AFTER,
        max_age: timedelta,
        now: datetime,
        order: Callable[[AlertRecord], int] = lambda record: 0,
    ) -> None:
        self.store = store
        self.order = order
        self.poster = poster
        self.namespace = poster.namespace
        self.stale_after = stale_after
        self.max_age = max_age
        self.now = now
        self.result = Delivery()
        self.blocked_channels: set[str] = set()
        self.stopped = False
        self.drops_in_a_row = 0

    def due(self, kinds: Iterable[str]) -> list[AlertRecord]:
        """Undelivered rows of these kinds in the poster's namespace, oldest first (expired ones are
        marked failed, not returned)."""
        kinds = tuple(kinds)
        rows = [
            r
            for r in self.store.alerts(states=[PENDING, FAILED, POSTING], kinds=kinds)
            if in_namespace(r.channel, self.namespace)
            and not (r.error or "").startswith((REJECTED_PREFIX, EXPIRED_PREFIX))
        ]
        fresh: list[AlertRecord] = []
        for r in rows:
            if _due_since(r) < self.now - self.max_age and r.state != POSTING:
                self._expire(r)
            else:
                fresh.append(r)
        fresh.sort(key=lambda r: (r.created_at, self.order(r), r.alert_id))
        return fresh

    def _expire(self, record: AlertRecord) -> None:
        token = uuid.uuid4().hex
        if self.store.claim_alert(record.alert_id, token, stale_after=self.stale_after):
            hours = self.max_age.total_seconds() / 3600
            self.store.mark_alert_failed(
                record.alert_id, token, error=f"{EXPIRED_PREFIX} not delivered within {hours:g} h; not sent"
            )
            log.warning("alert %s (%s) expired undelivered", record.alert_id, record.channel)

    def run(self, records: list[AlertRecord]) -> Delivery:
        """Send ``records`` in order, each parent before its thread; what cannot go now stays due."""
        remaining = list(records)
        progress = True
        while remaining and progress and not self.stopped:
            progress = False
            for record in list(remaining):
                if self.stopped:
                    break
                if record not in remaining:
                    continue  # a brief already sent right after its parent
                if record.channel in self.blocked_channels:
                    continue
                parent = self.store.get_alert(record.parent_alert_id) if record.parent_alert_id else None
                if record.parent_alert_id and (parent is None or parent.state != POSTED):
                    continue  # its thread does not exist yet; maybe later in this loop, or on a later run
                remaining.remove(record)
                progress = True
                self.send(record, parent)
                # A story's brief is the first reply in its thread: send it right after its parent.
                briefs = [r for r in remaining if r.parent_alert_id == record.alert_id and r.kind == BRIEF]
                if briefs and not self.stopped:
                    posted = self.store.get_alert(record.alert_id)
                    if posted is not None and posted.state == POSTED:
                        for brief in briefs:
                            remaining.remove(brief)
                            self.send(brief, posted)
        return self.result

    def send(self, record: AlertRecord, parent: AlertRecord | None) -> None:
        if record.kind == BRIEF:
            self.send_brief(record, parent)
            return
        token = uuid.uuid4().hex
        claim = self.store.claim_alert(record.alert_id, token, stale_after=self.stale_after)
        if claim is None:
            log.info("alert %s is being sent by another run", record.alert_id)
            return
        channel = record.channel[len(self.namespace) :]
        thread_ts = (parent.thread_ts or parent.ts) if parent else None

        def post() -> tuple[bool, dict[str, Any] | None, str | None]:
            if claim.attempts > 1 and self._recover(record, channel, thread_ts, token):
                return True, None, None
            payload = self._payload(record, channel, thread_ts)
            return False, payload, self.poster.post_message(payload).ts

        outcome = self._guarded(record, token, post)
        if outcome is None or outcome[0]:
            return
        _, payload, ts = outcome
        assert payload is not None and ts is not None
        self.drops_in_a_row = 0
        permalink = self.poster.permalink(channel, ts) if thread_ts is None else None
        if not self.store.mark_alert_posted(
            record.alert_id, token, ts=ts, thread_ts=thread_ts, permalink=permalink
        ):
            log.error("alert %s was posted (ts %s) but its claim was lost", record.alert_id, ts)
        self._count(record, channel, payload)
        log.info("alert %s posted to %s (ts %s)", record.alert_id, channel, ts)

    def send_brief(self, record: AlertRecord, parent: AlertRecord | None) -> None:
        """Post a brief's first version into its thread, or edit the message with its newest version;
        again at once if a newer version arrived meanwhile (at most ``MAX_BRIEF_ROUNDS`` times)."""
        channel = record.channel[len(self.namespace) :]
        thread_ts = (parent.thread_ts or parent.ts) if parent else None
        for _ in range(MAX_BRIEF_ROUNDS):
            token = uuid.uuid4().hex
            claim = self.store.claim_alert(record.alert_id, token, stale_after=self.stale_after)
            if claim is None:
                log.info("brief %s is being sent by another run", record.alert_id)
                return
            version = int((claim.payload or {}).get("version") or 0)

            def deliver(claim: AlertRecord = claim) -> tuple[str, dict[str, Any], bool]:
                ts = claim.ts
                if ts is None and claim.attempts > 1:
                    # An earlier attempt may have posted it: edit that message rather than post another.
                    found = self.poster.find_by_alert_id(
                        channel,
                        claim.alert_id,
                        oldest=claim.created_at - LOOKUP_SKEW,
                        thread_ts=thread_ts,
                    )
                    if found is not None:
                        self.result.recovered += 1
                        ts = found.ts
                if ts is None:
                    payload = self._payload(claim, channel, thread_ts)
                    return self.poster.post_message(payload).ts, payload, False
                message = (claim.payload or {}).get("message") or {}
                if not message:
                    raise SlackRejectedError(f"brief {claim.alert_id} has no message payload")
                payload = finalize_update(message, channel=channel, ts=ts, alert_id=claim.alert_id)
                self.poster.update_message(payload)
                return ts, payload, True

            outcome = self._guarded(claim, token, deliver)
            if outcome is None:
                return
            ts, payload, edited = outcome
            self.drops_in_a_row = 0
            state = self.store.mark_brief_sent(
                record.alert_id, token, ts=ts, thread_ts=thread_ts, version=version
            )
            if edited:
                self.result.edited += 1
                if self.namespace:
                    self.result.previews.append(render_preview(payload))
            else:
                self._count(record, channel, payload)
            log.info(
                "brief %s version %d %s in %s (ts %s)",
                record.alert_id,
                version,
                "edited" if edited else "posted",
                channel,
                ts,
            )
            if state != PENDING:
                return

    def _guarded(self, record: AlertRecord, token: str, action: Callable[[], _T]) -> _T | None:
        """Run one Slack call for a claimed row; on failure, record it on the row and return None."""
        try:
            return action()
        except SlackUnavailableError as e:
            self.store.release_alert(record.alert_id, token, error=str(e))
            self._outage(e, record)
        except SlackConfigError as e:
            self.store.mark_alert_failed(record.alert_id, token, error=str(e))
            self._config_error(e, record)
        except SlackError as e:
            self.store.mark_alert_failed(record.alert_id, token, error=f"{REJECTED_PREFIX} {e}")
            self.result.failed += 1
            self.result.rejected.append(e)
            log.error("Slack rejected alert %s: %s", record.alert_id, e)
        except Exception:
            self.store.release_alert(
                record.alert_id, token, error="unexpected error while posting; see task log"
            )
            raise
        return None

    def _count(self, record: AlertRecord, channel: str, payload: dict[str, Any]) -> None:
        self.result.posted += 1
        self.result.channels[channel] = self.result.channels.get(channel, 0) + 1
        if payload.get("reply_broadcast"):
            self.result.broadcasts += 1
        self.result.kinds[record.kind] += 1
        if self.namespace:
            self.result.previews.append(render_preview(payload))

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

    def upload(
        self, record: AlertRecord, *, thread_ts: str, content: bytes, filename: str, title: str
    ) -> str:
        """Upload a file for a ledger row into a thread, once; return ``uploaded``, ``already`` or ``busy``.

        Raises ``SlackUnavailableError`` (the row stays pending) or another ``SlackError`` (it fails).
        """
        if record.state == POSTED:
            return "already"
        token = uuid.uuid4().hex
        if self.store.claim_alert(record.alert_id, token, stale_after=self.stale_after) is None:
            return "busy"
        channel = record.channel[len(self.namespace) :]
        try:
            file_id = self.poster.upload_file(
                channel, content=content, filename=filename, title=title, thread_ts=thread_ts
            )
        except SlackUnavailableError as e:
            self.store.release_alert(record.alert_id, token, error=str(e))
            raise
        except SlackError as e:
            self.store.mark_alert_failed(record.alert_id, token, error=str(e))
            raise
        self.store.mark_alert_posted(record.alert_id, token, ts=file_id or "uploaded", thread_ts=thread_ts)
        return "uploaded"
