"""Story-level records: the articles of a story, novelty decisions (``story_novelty``), and story briefs
as versioned rows of the alert ledger.

A brief is ONE ledger row per story and channel whose payload is replaced, version by version
(``upsert_brief``: only ever by a higher version, atomically), and whose delivery is the ledger's claim:
one worker at a time posts it (first version) or edits it in place (later ones). ``mark_brief_sent``
records the version that reached Slack; when a newer version arrived meanwhile, the row is due again.
So a retry or a racing run never posts a brief twice, and no version is lost: the newest one always
ends up in Slack (an intermediate one may be skipped when a newer one replaced it before delivery).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from pipeline.models import Article, Novelty
from pipeline.store.archive import StoredClassification, _article_from_row, _classification_from_row
from pipeline.store.base import StoreBase, chunks, dumps, utcnow
from pipeline.store.ledger import FAILED, PENDING, POSTED, POSTING, NewAlert
from pipeline.store.schema import alert_ledger, articles, classifications, story_novelty

CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"


def _novelty_from_row(row: sa.Row[Any]) -> Novelty:
    m = row._mapping
    return Novelty(
        story_id=m["story_id"],
        tag=m["tag"],
        first_article_id=m["first_article_id"],
        first_source=m["first_source"],
        first_published_at=m["first_published_at"],
        earlier_story_id=m["earlier_story_id"],
        earlier_headline=m["earlier_headline"],
        reason=m["reason"] or "",
    )


class BriefStore(StoreBase):
    """Reads and writes of ``story_novelty``, story-wide article reads, and the brief rows of the ledger."""

    # --- stories ---------------------------------------------------------------------------------------

    def story_items(self, story_ids: Sequence[str]) -> dict[str, list[tuple[Article, StoredClassification]]]:
        """The relevant, error-free classified articles of each story, oldest first."""
        out: dict[str, list[tuple[Article, StoredClassification]]] = {}
        a, c = articles.c, classifications.c
        with self.engine.connect() as conn:
            for chunk in chunks(sorted(set(story_ids))):
                q = (
                    sa.select(articles, classifications)
                    .select_from(articles.join(classifications, a.article_id == c.article_id))
                    .where(a.story_id.in_(chunk), c.relevant.is_(True), c.error.is_(None))
                    .order_by(a.event_at, a.article_id)
                )
                for row in conn.execute(q):
                    article = _article_from_row(row)
                    out.setdefault(str(article.story_id), []).append((article, _classification_from_row(row)))
        return out

    # --- novelty ---------------------------------------------------------------------------------------

    def save_novelty(self, rows: Sequence[Novelty], *, at: datetime | None = None) -> None:
        """Record novelty decisions (UPSERT on the story id: a later decision replaces an earlier one)."""
        if not rows:
            return
        at = at or utcnow()
        values = [
            {
                "story_id": n.story_id,
                "tag": n.tag,
                "first_article_id": n.first_article_id,
                "first_source": n.first_source,
                "first_published_at": n.first_published_at,
                "earlier_story_id": n.earlier_story_id,
                "earlier_headline": n.earlier_headline,
                "reason": n.reason,
                "decided_at": at,
            }
            for n in rows
        ]
        with self.engine.begin() as conn:
            self._upsert(conn, story_novelty, values, ["story_id"], [k for k in values[0] if k != "story_id"])

    def get_novelty(self, story_ids: Sequence[str]) -> dict[str, Novelty]:
        out: dict[str, Novelty] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(sorted(set(story_ids))):
                q = sa.select(story_novelty).where(story_novelty.c.story_id.in_(chunk))
                out.update((r.story_id, _novelty_from_row(r)) for r in conn.execute(q))
        return out

    def novelty_since(self, since: datetime, *, tags: Sequence[str] | None = None) -> list[Novelty]:
        """Decisions made since ``since`` (optionally only these tags), oldest first."""
        q = sa.select(story_novelty).where(story_novelty.c.decided_at >= since)
        if tags:
            q = q.where(story_novelty.c.tag.in_(list(tags)))
        q = q.order_by(story_novelty.c.decided_at, story_novelty.c.story_id)
        with self.engine.connect() as conn:
            return [_novelty_from_row(r) for r in conn.execute(q)]

    # --- briefs ----------------------------------------------------------------------------------------

    def upsert_brief(self, row: NewAlert, version: int) -> str:
        """Create the brief row, or give it a newer version: ``created``, ``updated`` or ``unchanged``.

        A newer version replaces the payload; a row that was posted (or failed) becomes due again and
        keeps its ``ts``, so the next delivery edits the message in place. An older or equal version
        changes nothing, so racing runs cannot move a brief backwards.
        """
        now = utcnow()
        c = alert_ledger.c
        payload = dumps(row.payload) if row.payload is not None else None
        with self.engine.begin() as conn:
            exists = conn.execute(sa.select(c.alert_id).where(c.alert_id == row.alert_id)).first()
            if exists is None:
                dialect_insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
                inserted = conn.execute(
                    dialect_insert(alert_ledger)
                    .values(
                        alert_id=row.alert_id,
                        channel=row.channel,
                        kind=row.kind,
                        story_id=row.story_id,
                        article_id=row.article_id,
                        parent_alert_id=row.parent_alert_id,
                        model_version=row.model_version,
                        run_id=row.run_id,
                        interval_start=row.interval_start,
                        interval_end=row.interval_end,
                        payload=payload,
                        state=PENDING,
                        attempts=0,
                        version=version,
                        created_at=now,
                        updated_at=now,
                    )
                    .on_conflict_do_nothing(index_elements=["alert_id"])
                )
                # One statement, one row: its rowcount says whether this call created it (a racing run
                # may have, in which case this version goes through the update below).
                if inserted.rowcount == 1:
                    return CREATED
            reopen = c.state.in_([POSTED, FAILED])
            result = conn.execute(
                sa.update(alert_ledger)
                .where(c.alert_id == row.alert_id, sa.or_(c.version.is_(None), c.version < version))
                .values(
                    payload=payload,
                    version=version,
                    run_id=row.run_id,
                    model_version=row.model_version,
                    updated_at=now,
                    state=sa.case((reopen, PENDING), else_=c.state),
                    error=sa.case((reopen, None), else_=c.error),
                )
            )
        return UPDATED if result.rowcount == 1 else UNCHANGED

    def mark_brief_sent(
        self,
        alert_id: str,
        token: str,
        *,
        ts: str,
        thread_ts: str | None,
        version: int,
        permalink: str | None = None,
    ) -> str | None:
        """Record that ``version`` of a claimed brief is in Slack (message ``ts``); return the row's new
        state: ``posted``, or ``pending`` when a newer version arrived while this one was being sent
        (None: the claim was lost)."""
        c = alert_ledger.c
        now = utcnow()
        values: dict[str, Any] = {
            "state": sa.case((c.version > version, PENDING), else_=POSTED),
            "sent_version": version,
            "ts": ts,
            "thread_ts": thread_ts,
            "posted_at": now,
            "updated_at": now,
            "error": None,
            "claim_token": None,
        }
        if permalink:
            values["permalink"] = permalink
        with self.engine.begin() as conn:
            result = conn.execute(
                sa.update(alert_ledger)
                .where(c.alert_id == alert_id, c.claim_token == token, c.state == POSTING)
                .values(**values)
            )
            if result.rowcount != 1:
                return None
            return str(conn.execute(sa.select(c.state).where(c.alert_id == alert_id)).scalar_one())

    def brief_versions(self, alert_id: str) -> tuple[int | None, int | None]:
        """(version held, version sent) of a brief row; (None, None) when there is no such row."""
        c = alert_ledger.c
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(c.version, c.sent_version).where(c.alert_id == alert_id)).first()
        return (row.version, row.sent_version) if row else (None, None)
