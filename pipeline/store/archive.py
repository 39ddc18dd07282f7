"""The archive: every item ever fetched (first-seen time, story) and its classification by the current model."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from pipeline.models import Amount, Article, Classification
from pipeline.store.base import StoreBase, chunks, dumps, utcnow
from pipeline.store.schema import articles, classifications


@dataclass(frozen=True)
class StoredClassification:
    article_id: str
    model_version: str
    relevant: bool
    score: float
    event_type: str | None
    companies: tuple[str, ...]
    chips: tuple[str, ...]
    counterparties: tuple[str, ...]
    amount: Amount | None
    summary: str
    error: str | None
    classified_at: datetime


@dataclass(frozen=True)
class RelevantEvent:
    """What a relevant, story-grouped article says happened: the raw facts the story merger compares."""

    article_id: str
    story_id: str
    event_at: datetime
    companies: tuple[str, ...]
    event_type: str | None
    chips: tuple[str, ...]
    counterparties: tuple[str, ...]


def _article_from_row(row: sa.Row[Any]) -> Article:
    m = row._mapping
    return Article(
        article_id=m["article_id"],
        feed_id=m["feed_id"],
        url=m["url"],
        canonical_url=m["canonical_url"],
        guid=m["guid"],
        title=m["title"],
        summary=m["summary"] or "",
        language=m["language"],
        first_seen_at=m["first_seen_at"],
        event_at=m["event_at"],
        published_at=m["published_at"],
        body=m["body"],
        story_id=m["story_id"],
        source_name=m["source_name"],
        page_status=m["page_status"],
    )


def _classification_from_row(row: sa.Row[Any]) -> StoredClassification:
    m = row._mapping
    amount = json.loads(m["amount"]) if m["amount"] else None
    return StoredClassification(
        article_id=m["article_id"],
        model_version=m["model_version"],
        relevant=bool(m["relevant"]),
        score=float(m["score"]),
        event_type=m["event_type"],
        companies=tuple(json.loads(m["companies"] or "[]")),
        chips=tuple(json.loads(m["chips"] or "[]")),
        counterparties=tuple(json.loads(m["counterparties"] or "[]")),
        amount=Amount(**amount) if amount else None,
        summary=m["summary"] or "",
        error=m["error"],
        classified_at=m["classified_at"],
    )


class ArchiveStore(StoreBase):
    """Reads and writes of ``articles`` and ``classifications``."""

    def upsert_articles(
        self, rows: Sequence[Article], *, seen_at: datetime, run_id: str | None = None
    ) -> list[str]:
        """Archive items; return the ids that were new. An existing article keeps its first-seen time and run."""
        if not rows:
            return []
        by_id: dict[str, Article] = {}
        for a in rows:
            by_id.setdefault(a.article_id, a)
        ids = list(by_id)
        with self.engine.begin() as conn:
            existing: set[str] = set()
            for chunk in chunks(ids):
                existing.update(
                    conn.execute(
                        sa.select(articles.c.article_id).where(articles.c.article_id.in_(chunk))
                    ).scalars()
                )
            new = [by_id[i] for i in ids if i not in existing]
            self._upsert(
                conn,
                articles,
                [
                    {
                        "article_id": a.article_id,
                        "feed_id": a.feed_id,
                        "source_name": a.source_name,
                        "guid": a.guid,
                        "url": a.url,
                        "canonical_url": a.canonical_url,
                        "title": a.title,
                        "summary": a.summary,
                        "body": a.body,
                        "language": a.language,
                        "published_at": a.published_at,
                        "first_seen_at": a.first_seen_at,
                        "first_seen_run": run_id,
                        "last_seen_at": seen_at,
                        "event_at": a.event_at,
                        "page_status": a.page_status,
                        "story_id": a.story_id,
                    }
                    for a in new
                ],
                ["article_id"],
                None,
            )
            for chunk in chunks([i for i in ids if i in existing]):
                conn.execute(
                    sa.update(articles).where(articles.c.article_id.in_(chunk)).values(last_seen_at=seen_at)
                )
        return [a.article_id for a in new]

    def get_articles(self, article_ids: Sequence[str]) -> list[Article]:
        """Articles by id, in the order given (missing ids are skipped)."""
        found: dict[str, Article] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(list(article_ids)):
                for row in conn.execute(sa.select(articles).where(articles.c.article_id.in_(chunk))):
                    found[row.article_id] = _article_from_row(row)
        return [found[i] for i in article_ids if i in found]

    def articles_in_window(
        self, start: datetime, end: datetime, *, feed_ids: Sequence[str] | None = None
    ) -> list[str]:
        """Ids of archived articles whose event time is in [start, end), oldest first."""
        c = articles.c
        q = sa.select(c.article_id).where(c.event_at >= start, c.event_at < end)
        if feed_ids:
            q = q.where(c.feed_id.in_(list(feed_ids)))
        q = q.order_by(c.event_at, c.article_id)
        with self.engine.connect() as conn:
            return list(conn.execute(q).scalars())

    def late_arrivals(
        self,
        run_id: str,
        *,
        event_after: datetime,
        event_before: datetime,
        feed_ids: Sequence[str] | None = None,
    ) -> list[str]:
        """Ids first archived by ``run_id`` whose event time is in [event_after, event_before).

        These are items a feed listed only after their own interval had run; the run that first saw them
        processes them (a retry of that run finds the same set).
        """
        c = articles.c
        q = sa.select(c.article_id).where(
            c.first_seen_run == run_id, c.event_at >= event_after, c.event_at < event_before
        )
        if feed_ids:
            q = q.where(c.feed_id.in_(list(feed_ids)))
        q = q.order_by(c.event_at, c.article_id)
        with self.engine.connect() as conn:
            return list(conn.execute(q).scalars())

    def list_articles(
        self, *, since: datetime | None = None, relevant_only: bool = False, limit: int | None = None
    ) -> list[tuple[Article, StoredClassification | None]]:
        """Stored articles (newest first) with their classification, for the CLI and checks."""
        q = sa.select(articles, classifications).select_from(
            articles.outerjoin(classifications, articles.c.article_id == classifications.c.article_id)
        )
        if since is not None:
            q = q.where(articles.c.event_at >= since)
        if relevant_only:
            q = q.where(classifications.c.relevant.is_(True))
        q = q.order_by(articles.c.event_at.desc(), articles.c.article_id)
        if limit:
            q = q.limit(limit)
        out: list[tuple[Article, StoredClassification | None]] = []
        with self.engine.connect() as conn:
            for row in conn.execute(q):
                cls = _classification_from_row(row) if row._mapping["model_version"] is not None else None
                out.append((_article_from_row(row), cls))
        return out

    def set_article_page(
        self, article_id: str, *, body: str | None, page_status: str, canonical_url: str | None = None
    ) -> None:
        values: dict[str, Any] = {"body": body, "page_status": page_status}
        if canonical_url:
            values["canonical_url"] = canonical_url
        with self.engine.begin() as conn:
            conn.execute(sa.update(articles).where(articles.c.article_id == article_id).values(**values))

    # --- stories -------------------------------------------------------------------------------------

    def story_signatures(
        self, since: datetime, *, exclude: Sequence[str] = ()
    ) -> list[tuple[str, str, bytes]]:
        """(article_id, story_id, minhash) of grouped articles first seen since ``since``."""
        q = sa.select(articles.c.article_id, articles.c.story_id, articles.c.minhash).where(
            articles.c.first_seen_at >= since,
            articles.c.story_id.is_not(None),
            articles.c.minhash.is_not(None),
        )
        excluded = set(exclude)
        with self.engine.connect() as conn:
            return [
                (r.article_id, r.story_id, r.minhash) for r in conn.execute(q) if r.article_id not in excluded
            ]

    def set_stories(self, assignments: Sequence[tuple[str, str, bytes | None]]) -> None:
        """Record (article_id, story_id, minhash) for articles that had no story yet (one executemany)."""
        if not assignments:
            return
        stmt = (
            sa.update(articles)
            .where(articles.c.article_id == sa.bindparam("b_id"), articles.c.story_id.is_(None))
            .values(story_id=sa.bindparam("b_story"), minhash=sa.bindparam("b_minhash"))
        )
        rows = [{"b_id": a, "b_story": s, "b_minhash": m} for a, s, m in assignments]
        with self.engine.begin() as conn:
            for chunk in chunks(rows):
                conn.execute(stmt, list(chunk))

    def relevant_events(self, since: datetime) -> list[RelevantEvent]:
        """Relevant, story-grouped articles with an event time since ``since``, with their extracted facts."""
        a, c = articles.c, classifications.c
        q = (
            sa.select(
                a.article_id, a.story_id, a.event_at, c.companies, c.event_type, c.chips, c.counterparties
            )
            .select_from(articles.join(classifications, a.article_id == c.article_id))
            .where(c.relevant.is_(True), a.story_id.is_not(None), a.event_at >= since)
        )
        with self.engine.connect() as conn:
            return [
                RelevantEvent(
                    article_id=r.article_id,
                    story_id=r.story_id,
                    event_at=r.event_at,
                    companies=tuple(json.loads(r.companies or "[]")),
                    event_type=r.event_type,
                    chips=tuple(json.loads(r.chips or "[]")),
                    counterparties=tuple(json.loads(r.counterparties or "[]")),
                )
                for r in conn.execute(q)
            ]

    def move_to_story(self, moves: dict[str, str]) -> None:
        """Put articles into another (earlier) story; used before they are alerted."""
        if not moves:
            return
        stmt = (
            sa.update(articles)
            .where(articles.c.article_id == sa.bindparam("b_id"))
            .values(story_id=sa.bindparam("b_story"))
        )
        with self.engine.begin() as conn:
            conn.execute(stmt, [{"b_id": a, "b_story": s} for a, s in moves.items()])

    # --- classifications ---------------------------------------------------------------------------

    def save_classifications(self, results: Sequence[Classification], *, at: datetime | None = None) -> None:
        at = at or utcnow()
        rows = [
            {
                "article_id": r.article_id,
                "model_version": r.model_version,
                "relevant": r.relevant,
                "score": float(r.score),
                "event_type": r.event_type,
                "companies": dumps(list(r.extraction.companies)),
                "chips": dumps(list(r.extraction.chips)),
                "counterparties": dumps(list(r.extraction.counterparties)),
                "amount": dumps(r.extraction.amount.as_dict()) if r.extraction.amount else None,
                "summary": r.extraction.summary,
                "error": r.error,
                "classified_at": at,
            }
            for r in results
        ]
        with self.engine.begin() as conn:
            self._upsert(
                conn,
                classifications,
                rows,
                ["article_id"],
                [k for k in rows[0] if k != "article_id"] if rows else None,
            )

    def get_classifications(self, article_ids: Sequence[str]) -> dict[str, StoredClassification]:
        out: dict[str, StoredClassification] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(list(article_ids)):
                q = sa.select(classifications).where(classifications.c.article_id.in_(chunk))
                for row in conn.execute(q):
                    out[row.article_id] = _classification_from_row(row)
        return out
