"""Feed health: one row per feed with its last attempt, validators (ETag, Last-Modified) and failures,
and its recent history (one row per fetch attempt)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipeline.store.base import StoreBase
from pipeline.store.schema import feed_days, feed_runs, feed_state

# How long the history of a feed (attempts, days) is kept; its health row is kept for ever.
FEED_RUN_RETENTION = timedelta(days=30)


@dataclass(frozen=True)
class FeedHealth:
    feed_id: str
    url: str
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    consecutive_failures: int
    last_error: str | None
    last_status: int | None
    encoding: str | None
    items_last: int
    items_seen: int
    new_items_total: int
    backoff_until: datetime | None
    failure_notified: bool
    etag: str | None
    last_modified: str | None


def feed_status(enabled: bool, health: FeedHealth | None, now: datetime) -> str:
    """``disabled``, ``never`` (not fetched yet), ``ok``, ``failing`` (retried next run) or ``backoff``."""
    if not enabled:
        return "disabled"
    if health is None or health.last_attempt_at is None:
        return "never"
    if health.consecutive_failures == 0:
        return "ok"
    # One failure waits only for the next poll; from the second in a row the wait doubles (back-off).
    if health.consecutive_failures >= 2 and health.backoff_until and health.backoff_until > now:
        return "backoff"
    return "failing"


class FeedHealthStore(StoreBase):
    """Reads and writes of ``feed_state``."""

    def feed_health(self, feed_ids: Iterable[str] | None = None) -> dict[str, FeedHealth]:
        q = sa.select(feed_state)
        if feed_ids is not None:
            q = q.where(feed_state.c.feed_id.in_(list(feed_ids)))
        with self.engine.connect() as conn:
            return {r.feed_id: FeedHealth(**r._mapping) for r in conn.execute(q)}

    def record_feed_result(
        self,
        feed_id: str,
        url: str,
        *,
        ok: bool,
        at: datetime,
        status: int | None = None,
        error: str | None = None,
        encoding: str | None = None,
        items: int = 0,
        new_items: int = 0,
        etag: str | None = None,
        last_modified: str | None = None,
        backoff_until: datetime | None = None,
    ) -> FeedHealth:
        """Record one fetch attempt of a feed (its health row and its history) and return its new health."""
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(feed_state).where(feed_state.c.feed_id == feed_id)).first()
            prev = FeedHealth(**row._mapping) if row else None
            failures = 0 if ok else (prev.consecutive_failures if prev else 0) + 1
            values: dict[str, Any] = {
                "feed_id": feed_id,
                "url": url,
                "last_attempt_at": at,
                "last_status": status,
                "consecutive_failures": failures,
                "backoff_until": backoff_until,
                "last_success_at": at if ok else (prev.last_success_at if prev else None),
                "last_error": None if ok else (error or "unknown error")[:2000],
                "encoding": encoding if ok and encoding else (prev.encoding if prev else None),
                "items_last": items if ok else (prev.items_last if prev else 0),
                "items_seen": (prev.items_seen if prev else 0) + (items if ok else 0),
                "new_items_total": (prev.new_items_total if prev else 0) + new_items,
                "failure_notified": prev.failure_notified if prev else False,
                # A 304 keeps the validators we had; a failure keeps them too.
                "etag": etag if ok and etag else (prev.etag if prev else None),
                "last_modified": last_modified
                if ok and last_modified
                else (prev.last_modified if prev else None),
            }
            if ok and url != (prev.url if prev else url):
                values["etag"], values["last_modified"] = etag, last_modified
            self._upsert(conn, feed_state, [values], ["feed_id"], [k for k in values if k != "feed_id"])
            attempt = {
                "feed_id": feed_id,
                "attempted_at": at,
                "ok": ok,
                "http_status": status,
                "items": items if ok else 0,
                "new_items": new_items,
                "error": values["last_error"],
            }
            self._upsert(conn, feed_runs, [attempt], ["feed_id", "attempted_at"], list(attempt)[2:])
            self._sum_feed_day(conn, feed_id, at)
            oldest = at - FEED_RUN_RETENTION
            conn.execute(
                sa.delete(feed_runs).where(feed_runs.c.feed_id == feed_id, feed_runs.c.attempted_at < oldest)
            )
            conn.execute(
                sa.delete(feed_days).where(
                    feed_days.c.feed_id == feed_id, feed_days.c.day < oldest.astimezone(UTC).date()
                )
            )
        return FeedHealth(**values)

    def _sum_feed_day(self, conn: Connection, feed_id: str, at: datetime) -> None:
        """Recompute the feed's ``feed_days`` row for the UTC day of ``at`` from its attempts that day."""
        day = at.astimezone(UTC).date()
        start = datetime.combine(day, time(), tzinfo=UTC)
        r = feed_runs.c
        totals = conn.execute(
            sa.select(
                sa.func.count(),
                sa.func.coalesce(sa.func.sum(sa.case((r.ok.is_(False), 1), else_=0)), 0),
                sa.func.coalesce(sa.func.sum(r["items"]), 0),  # r.items is the collection's method
                sa.func.coalesce(sa.func.sum(r.new_items), 0),
            ).where(r.feed_id == feed_id, r.attempted_at >= start, r.attempted_at < start + timedelta(days=1))
        ).one()
        row = dict(zip(("attempts", "failures", "items", "new_items"), map(int, totals), strict=True))
        self._upsert(
            conn, feed_days, [{"feed_id": feed_id, "day": day, **row}], ["feed_id", "day"], list(row)
        )

    def set_feed_failure_notified(self, feed_id: str, notified: bool) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(feed_state).where(feed_state.c.feed_id == feed_id).values(failure_notified=notified)
            )
