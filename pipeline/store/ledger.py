"""The alert ledger (an outbox): one row per Slack message, claimed atomically before it is posted.

States, in the order an alert moves through them: ``pending`` -> ``posting`` -> ``posted`` | ``failed``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from pipeline.store.base import StoreBase, chunks, dumps, utcnow
from pipeline.store.schema import alert_ledger

PENDING, POSTING, POSTED, FAILED = "pending", "posting", "posted", "failed"


@dataclass(frozen=True)
class NewAlert:
    """A ledger row to create (``ensure_alerts``): its id, where it goes and what it carries."""

    alert_id: str
    channel: str
    kind: str
    story_id: str | None = None
    article_id: str | None = None
    parent_alert_id: str | None = None
    payload: dict[str, Any] | None = field(default=None, compare=False)
    model_version: str | None = None
    run_id: str | None = None
    interval_start: datetime | None = None
    interval_end: datetime | None = None


@dataclass(frozen=True)
class AlertRecord:
    alert_id: str
    channel: str
    kind: str
    story_id: str | None
    article_id: str | None
    parent_alert_id: str | None
    state: str
    attempts: int
    claim_token: str | None
    claimed_at: datetime | None
    ts: str | None
    thread_ts: str | None
    permalink: str | None
    payload: dict[str, Any] | None
    model_version: str | None
    run_id: str | None
    interval_start: datetime | None
    interval_end: datetime | None
    error: str | None
    created_at: datetime
    posted_at: datetime | None


def _alert_from_row(row: sa.Row[Any]) -> AlertRecord:
    m = row._mapping
    return AlertRecord(
        alert_id=m["alert_id"],
        channel=m["channel"],
        kind=m["kind"],
        story_id=m["story_id"],
        article_id=m["article_id"],
        parent_alert_id=m["parent_alert_id"],
        state=m["state"],
        attempts=m["attempts"],
        claim_token=m["claim_token"],
        claimed_at=m["claimed_at"],
        ts=m["ts"],
        thread_ts=m["thread_ts"],
        permalink=m["permalink"],
        payload=json.loads(m["payload"]) if m["payload"] else None,
        model_version=m["model_version"],
        run_id=m["run_id"],
        interval_start=m["interval_start"],
        interval_end=m["interval_end"],
        error=m["error"],
        created_at=m["created_at"],
        posted_at=m["posted_at"],
    )


class LedgerStore(StoreBase):
    """Reads and writes of ``alert_ledger``."""

    def ensure_alerts(self, rows: Sequence[NewAlert]) -> list[str]:
        """Insert ledger rows in state ``pending`` unless their ``alert_id`` exists; return the new ids."""
        if not rows:
            return []
        now = utcnow()
        with self.engine.begin() as conn:
            existing: set[str] = set()
            for chunk in chunks([r.alert_id for r in rows]):
                existing.update(
                    conn.execute(
                        sa.select(alert_ledger.c.alert_id).where(alert_ledger.c.alert_id.in_(chunk))
                    ).scalars()
                )
            values: list[dict[str, Any]] = []
            for r in rows:
                if r.alert_id in existing:
                    continue
                existing.add(r.alert_id)
                values.append(
                    {
                        "alert_id": r.alert_id,
                        "channel": r.channel,
                        "kind": r.kind,
                        "story_id": r.story_id,
                        "article_id": r.article_id,
                        "parent_alert_id": r.parent_alert_id,
                        "model_version": r.model_version,
                        "run_id": r.run_id,
                        "interval_start": r.interval_start,
                        "interval_end": r.interval_end,
                        "payload": dumps(r.payload) if r.payload is not None else None,
                        "state": PENDING,
                        "attempts": 0,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            self._upsert(conn, alert_ledger, values, ["alert_id"], None)
        return [str(v["alert_id"]) for v in values]

    def alerted_story_ids(self, story_ids: Sequence[str]) -> set[str]:
        """Those of ``story_ids`` that already have an alert posted (or being posted)."""
        out: set[str] = set()
        c = alert_ledger.c
        with self.engine.connect() as conn:
            for chunk in chunks(sorted(set(story_ids))):
                q = (
                    sa.select(c.story_id)
                    .where(c.story_id.in_(chunk), c.state.in_([POSTED, POSTING]))
                    .distinct()
                )
                out.update(s for s in conn.execute(q).scalars() if s)
        return out

    def alerted_articles(self, article_ids: Sequence[str]) -> dict[str, list[str]]:
        """Those of ``article_ids`` that were alerted (a posted message about the article): their alert ids."""
        c = alert_ledger.c
        out: dict[str, list[str]] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(sorted(set(article_ids))):
                q = (
                    sa.select(c.article_id, c.alert_id)
                    .where(c.article_id.in_(chunk), c.state == POSTED)
                    .order_by(c.created_at, c.alert_id)
                )
                for article_id, aid in conn.execute(q):
                    out.setdefault(str(article_id), []).append(str(aid))
        return out

    def get_alert(self, alert_id: str) -> AlertRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(alert_ledger).where(alert_ledger.c.alert_id == alert_id)).first()
        return _alert_from_row(row) if row else None

    def alerts(
        self,
        *,
        states: Sequence[str] | None = None,
        channel: str | None = None,
        story_id: str | None = None,
        kinds: Sequence[str] | None = None,
        posted_since: datetime | None = None,
    ) -> list[AlertRecord]:
        q = sa.select(alert_ledger)
        if states:
            q = q.where(alert_ledger.c.state.in_(list(states)))
        if channel:
            q = q.where(alert_ledger.c.channel == channel)
        if story_id:
            q = q.where(alert_ledger.c.story_id == story_id)
        if kinds:
            q = q.where(alert_ledger.c.kind.in_(list(kinds)))
        if posted_since:
            q = q.where(alert_ledger.c.posted_at >= posted_since)
        q = q.order_by(alert_ledger.c.created_at, alert_ledger.c.alert_id)
        with self.engine.connect() as conn:
            return [_alert_from_row(r) for r in conn.execute(q)]

    def claim_alert(self, alert_id: str, token: str, *, stale_after: timedelta) -> AlertRecord | None:
        """Atomically move an alert to ``posting`` for this claimant; None if someone else holds it.

        Claimable: ``pending``, ``failed``, or ``posting`` whose claim is older than ``stale_after`` (its
        outcome is unknown: the caller must look for it in Slack before posting again).
        """
        now = utcnow()
        c = alert_ledger.c
        with self.engine.begin() as conn:
            result = conn.execute(
                sa.update(alert_ledger)
                .where(
                    c.alert_id == alert_id,
                    sa.or_(
                        c.state.in_([PENDING, FAILED]),
                        sa.and_(c.state == POSTING, c.claimed_at < now - stale_after),
                    ),
                )
                .values(
                    state=POSTING, claim_token=token, claimed_at=now, attempts=c.attempts + 1, updated_at=now
                )
            )
            if result.rowcount != 1:
                return None
            row = conn.execute(sa.select(alert_ledger).where(c.alert_id == alert_id)).first()
        return _alert_from_row(row) if row else None

    def _finish_claim(self, alert_id: str, token: str, values: dict[str, Any]) -> bool:
        c = alert_ledger.c
        values["updated_at"] = utcnow()
        with self.engine.begin() as conn:
            result = conn.execute(
                sa.update(alert_ledger)
                .where(c.alert_id == alert_id, c.claim_token == token, c.state == POSTING)
                .values(**values)
            )
        return result.rowcount == 1

    def mark_alert_posted(
        self,
        alert_id: str,
        token: str,
        *,
        ts: str,
        thread_ts: str | None = None,
        permalink: str | None = None,
        payload: dict[str, Any] | None = None,
    ) -> bool:
        values: dict[str, Any] = {
            "state": POSTED,
            "ts": ts,
            "thread_ts": thread_ts,
            "permalink": permalink,
            "posted_at": utcnow(),
            "error": None,
        }
        if payload is not None:
            values["payload"] = dumps(payload)
        return self._finish_claim(alert_id, token, values)

    def release_alert(self, alert_id: str, token: str, *, error: str) -> bool:
        """Give a claimed alert back as ``pending`` (a retryable failure: it goes out on a later run)."""
        return self._finish_claim(
            alert_id, token, {"state": PENDING, "error": error[:2000], "claim_token": None}
        )

    def mark_alert_failed(self, alert_id: str, token: str, *, error: str) -> bool:
        """A non-retryable failure: the alert is ``failed`` until the cause is fixed (then retried)."""
        return self._finish_claim(
            alert_id, token, {"state": FAILED, "error": error[:2000], "claim_token": None}
        )

    def update_alert_payload(self, alert_id: str, payload: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(alert_ledger)
                .where(alert_ledger.c.alert_id == alert_id)
                .values(payload=dumps(payload), updated_at=utcnow())
            )
