"""The store: every SQL statement of the project, over SQLAlchemy Core (SQLite or PostgreSQL).

The schema is one ``MetaData``; ``Store.migrate()`` creates it and records its version. Writes are
idempotent: UPSERTs keyed on stable ids (``article_id``, ``alert_id``, ``feed_id``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from pipeline.errors import StoreError
from pipeline.models import Amount, Article, Classification
from pipeline.stories import EventFacts

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps them naive, in UTC)."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use UTC-aware datetimes")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = sa.MetaData()

schema_info = sa.Table(
    "schema_info",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("migrated_at", UTCDateTime, nullable=False),
)

feed_state = sa.Table(
    "feed_state",
    metadata,
    sa.Column("feed_id", sa.String(64), primary_key=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("etag", sa.Text),
    sa.Column("last_modified", sa.Text),
    sa.Column("last_attempt_at", UTCDateTime),
    sa.Column("last_success_at", UTCDateTime),
    sa.Column("consecutive_failures", sa.Integer, nullable=False, default=0),
    sa.Column("last_error", sa.Text),
    sa.Column("last_status", sa.Integer),
    sa.Column("encoding", sa.String(40)),
    sa.Column("items_last", sa.Integer, nullable=False, default=0),
    sa.Column("items_seen", sa.Integer, nullable=False, default=0),
    sa.Column("new_items_total", sa.Integer, nullable=False, default=0),
    sa.Column("backoff_until", UTCDateTime),
    sa.Column("failure_notified", sa.Boolean, nullable=False, default=False),
)

articles = sa.Table(
    "articles",
    metadata,
    sa.Column("article_id", sa.String(40), primary_key=True),
    sa.Column("feed_id", sa.String(64), nullable=False),
    sa.Column("source_name", sa.Text),
    sa.Column("guid", sa.Text),
    sa.Column("url", sa.Text),
    sa.Column("canonical_url", sa.Text),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("summary", sa.Text, nullable=False, default=""),
    sa.Column("body", sa.Text),
    sa.Column("language", sa.String(8), nullable=False),
    sa.Column("published_at", UTCDateTime),
    sa.Column("first_seen_at", UTCDateTime, nullable=False),
    sa.Column("first_seen_run", sa.Text),
    sa.Column("last_seen_at", UTCDateTime, nullable=False),
    sa.Column("event_at", UTCDateTime, nullable=False),
    sa.Column("page_status", sa.String(20)),
    sa.Column("story_id", sa.String(40)),
    sa.Column("minhash", sa.LargeBinary),
    sa.Index("ix_articles_event_at", "event_at"),
    sa.Index("ix_articles_first_seen_at", "first_seen_at"),
    sa.Index("ix_articles_first_seen_run", "first_seen_run"),
    sa.Index("ix_articles_story_id", "story_id"),
    sa.Index("ix_articles_canonical_url", "canonical_url"),
)

classifications = sa.Table(
    "classifications",
    metadata,
    sa.Column("article_id", sa.String(40), primary_key=True),
    sa.Column("model_version", sa.String(64), nullable=False),
    sa.Column("relevant", sa.Boolean, nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("event_type", sa.String(32)),
    sa.Column("companies", sa.Text, nullable=False, default="[]"),
    sa.Column("chips", sa.Text, nullable=False, default="[]"),
    sa.Column("counterparties", sa.Text, nullable=False, default="[]"),
    sa.Column("amount", sa.Text),
    sa.Column("summary", sa.Text, nullable=False, default=""),
    sa.Column("error", sa.Text),
    sa.Column("classified_at", UTCDateTime, nullable=False),
)

alert_ledger = sa.Table(
    "alert_ledger",
    metadata,
    sa.Column("alert_id", sa.String(64), primary_key=True),
    sa.Column("channel", sa.String(128), nullable=False),
    sa.Column("kind", sa.String(24), nullable=False),
    sa.Column("story_id", sa.String(40)),
    sa.Column("article_id", sa.String(40)),
    sa.Column("parent_alert_id", sa.String(64)),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("claim_token", sa.String(64)),
    sa.Column("claimed_at", UTCDateTime),
    sa.Column("ts", sa.String(32)),
    sa.Column("thread_ts", sa.String(32)),
    sa.Column("permalink", sa.Text),
    sa.Column("payload", sa.Text),
    sa.Column("model_version", sa.String(64)),
    sa.Column("run_id", sa.Text),
    sa.Column("interval_start", UTCDateTime),
    sa.Column("interval_end", UTCDateTime),
    sa.Column("error", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("posted_at", UTCDateTime),
    sa.Index("ix_alert_ledger_state", "state"),
    sa.Index("ix_alert_ledger_story", "story_id", "channel"),
)

model_registry = sa.Table(
    "model_registry",
    metadata,
    sa.Column("version", sa.String(64), primary_key=True),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("data_hash", sa.String(64), nullable=False),
    sa.Column("metrics", sa.Text, nullable=False, default="{}"),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("promoted_at", UTCDateTime),
    sa.Column("is_current", sa.Boolean, nullable=False, default=False),
)

# Alert states, in the order an alert moves through them.
PENDING, POSTING, POSTED, FAILED = "pending", "posting", "posted", "failed"


def utcnow() -> datetime:
    return datetime.now(UTC)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


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


def _facts_from_row(row: Any) -> EventFacts:
    m = row._mapping
    companies = json.loads(m["companies"] or "[]")
    return EventFacts(
        article_id=m["article_id"],
        story_id=m["story_id"],
        event_at=m["event_at"],
        company=companies[0] if companies else None,
        event_type=m["event_type"],
        chips=frozenset(x.casefold() for x in json.loads(m["chips"] or "[]")),
        counterparties=frozenset(x.casefold() for x in json.loads(m["counterparties"] or "[]")),
    )


def _chunks(items: Sequence[Any], size: int = 500) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class Store:
    """All reads and writes of the pipeline's data. Safe to share within a process."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        try:
            if url.startswith("sqlite"):
                self.engine: Engine = sa.create_engine(
                    url, echo=echo, connect_args={"timeout": 60}, poolclass=sa.pool.NullPool
                )
                sa.event.listen(self.engine, "connect", _sqlite_pragmas)
            else:
                self.engine = sa.create_engine(url, echo=echo, pool_pre_ping=True, pool_size=5)
        except (sa.exc.ArgumentError, ImportError) as e:
            raise StoreError(f"cannot use store URL {_redact(url)}: {e}") from e
        self.dialect = self.engine.dialect.name

    # --- lifecycle -----------------------------------------------------------------------------------

    def migrate(self) -> int:
        """Create or upgrade the schema; return the schema version. Safe to call concurrently."""
        attempts = 5
        for attempt in range(1, attempts + 1):
            try:
                self._migrate_once()
                break
            except (sa.exc.IntegrityError, sa.exc.ProgrammingError, sa.exc.OperationalError) as e:
                # Another process created the same table at the same moment: its result is ours.
                concurrent = isinstance(e, sa.exc.IntegrityError) or "already exists" in str(e).lower()
                if attempt < attempts and concurrent:
                    log.debug("concurrent migration detected (%s); checking again", type(e).__name__)
                    time.sleep(0.05 * attempt)
                    continue
                if isinstance(e, sa.exc.OperationalError):
                    raise StoreError(f"cannot reach store {_redact(self.url)}: {e.orig}") from e
                raise
        return SCHEMA_VERSION

    def _migrate_once(self) -> None:
        with self.engine.begin() as conn:
            metadata.create_all(conn, checkfirst=True)
            current = conn.execute(sa.select(schema_info.c.version).where(schema_info.c.id == 1)).scalar()
            if current is None:
                self._upsert(
                    conn,
                    schema_info,
                    [{"id": 1, "version": SCHEMA_VERSION, "migrated_at": utcnow()}],
                    ["id"],
                    ["version", "migrated_at"],
                )
            elif current > SCHEMA_VERSION:
                raise StoreError(
                    f"store schema version {current} is newer than this code ({SCHEMA_VERSION}); upgrade the code"
                )

    def dispose(self) -> None:
        self.engine.dispose()

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def _upsert(
        self,
        conn: Connection,
        table: sa.Table,
        rows: Sequence[dict[str, Any]],
        keys: Sequence[str],
        update: Sequence[str] | None,
    ) -> None:
        """INSERT ... ON CONFLICT (keys) DO UPDATE (update columns) / DO NOTHING (update=None)."""
        if not rows:
            return
        dialect_insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        for chunk in _chunks(rows):
            stmt = dialect_insert(table).values(list(chunk))
            if update:
                stmt = stmt.on_conflict_do_update(
                    index_elements=list(keys), set_={c: stmt.excluded[c] for c in update}
                )
            else:
                stmt = stmt.on_conflict_do_nothing(index_elements=list(keys))
            conn.execute(stmt)

    # --- feed health ---------------------------------------------------------------------------------

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
        """Record one fetch attempt of a feed and return its new health."""
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
        return FeedHealth(**values)

    def set_feed_failure_notified(self, feed_id: str, notified: bool) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(feed_state).where(feed_state.c.feed_id == feed_id).values(failure_notified=notified)
            )

    # --- articles (the archive) ----------------------------------------------------------------------

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
            for chunk in _chunks(ids):
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
            for chunk in _chunks([i for i in ids if i in existing]):
                conn.execute(
                    sa.update(articles).where(articles.c.article_id.in_(chunk)).values(last_seen_at=seen_at)
                )
        return [a.article_id for a in new]

    def get_articles(self, article_ids: Sequence[str]) -> list[Article]:
        """Articles by id, in the order given (missing ids are skipped)."""
        found: dict[str, Article] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(list(article_ids)):
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
        """Record (article_id, story_id, minhash) for articles that had no story yet."""
        with self.engine.begin() as conn:
            for article_id, story_id, minhash in assignments:
                conn.execute(
                    sa.update(articles)
                    .where(articles.c.article_id == article_id, articles.c.story_id.is_(None))
                    .values(story_id=story_id, minhash=minhash)
                )

    def relevant_event_facts(self, since: datetime) -> list[EventFacts]:
        """Facts of relevant, story-grouped articles with an event time since ``since``."""
        a, c = articles.c, classifications.c
        q = (
            sa.select(
                a.article_id, a.story_id, a.event_at, c.companies, c.event_type, c.chips, c.counterparties
            )
            .select_from(articles.join(classifications, a.article_id == c.article_id))
            .where(c.relevant.is_(True), a.story_id.is_not(None), a.event_at >= since)
        )
        with self.engine.connect() as conn:
            return [_facts_from_row(r) for r in conn.execute(q)]

    def alerted_story_ids(self, story_ids: Sequence[str]) -> set[str]:
        """Those of ``story_ids`` that already have an alert posted (or being posted)."""
        out: set[str] = set()
        c = alert_ledger.c
        with self.engine.connect() as conn:
            for chunk in _chunks(sorted(set(story_ids))):
                q = (
                    sa.select(c.story_id)
                    .where(c.story_id.in_(chunk), c.state.in_([POSTED, POSTING]))
                    .distinct()
                )
                out.update(s for s in conn.execute(q).scalars() if s)
        return out

    def move_to_story(self, moves: dict[str, str]) -> None:
        """Put articles into another (earlier) story; used before they are alerted."""
        with self.engine.begin() as conn:
            for article_id, story_id in moves.items():
                conn.execute(
                    sa.update(articles).where(articles.c.article_id == article_id).values(story_id=story_id)
                )

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
                "companies": _dumps(list(r.extraction.companies)),
                "chips": _dumps(list(r.extraction.chips)),
                "counterparties": _dumps(list(r.extraction.counterparties)),
                "amount": _dumps(r.extraction.amount.as_dict()) if r.extraction.amount else None,
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
            for chunk in _chunks(list(article_ids)):
                q = sa.select(classifications).where(classifications.c.article_id.in_(chunk))
                for row in conn.execute(q):
                    out[row.article_id] = _classification_from_row(row)
        return out

    # --- alert ledger (outbox) -----------------------------------------------------------------------

    def ensure_alerts(self, rows: Sequence[dict[str, Any]]) -> list[str]:
        """Insert ledger rows in state ``pending`` unless their ``alert_id`` exists; return the new ids.

        Each row needs ``alert_id``, ``channel``, ``kind``; optional ``story_id``, ``article_id``,
        ``parent_alert_id``, ``payload`` (dict), ``model_version``, ``run_id``, ``interval_start``,
        ``interval_end``.
        """
        if not rows:
            return []
        now = utcnow()
        ids = [r["alert_id"] for r in rows]
        with self.engine.begin() as conn:
            existing: set[str] = set()
            for chunk in _chunks(ids):
                existing.update(
                    conn.execute(
                        sa.select(alert_ledger.c.alert_id).where(alert_ledger.c.alert_id.in_(chunk))
                    ).scalars()
                )
            values: list[dict[str, Any]] = []
            for r in rows:
                if r["alert_id"] in existing:
                    continue
                v = {
                    k: r.get(k)
                    for k in (
                        "alert_id",
                        "channel",
                        "kind",
                        "story_id",
                        "article_id",
                        "parent_alert_id",
                        "model_version",
                        "run_id",
                        "interval_start",
                        "interval_end",
                    )
                }
                v["payload"] = _dumps(r["payload"]) if r.get("payload") is not None else None
                v.update(state=PENDING, attempts=0, created_at=now, updated_at=now)
                values.append(v)
            self._upsert(conn, alert_ledger, values, ["alert_id"], None)
        return [str(v["alert_id"]) for v in values]

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
            values["payload"] = _dumps(payload)
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
                .values(payload=_dumps(payload), updated_at=utcnow())
            )

    # --- model registry ------------------------------------------------------------------------------

    def register_model(self, version: str, path: str, data_hash: str, metrics: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            self._upsert(
                conn,
                model_registry,
                [
                    {
                        "version": version,
                        "path": path,
                        "data_hash": data_hash,
                        "metrics": _dumps(metrics),
                        "created_at": utcnow(),
                        "is_current": False,
                    }
                ],
                ["version"],
                ["path", "data_hash", "metrics"],
            )

    def promote_model(self, version: str) -> None:
        with self.engine.begin() as conn:
            found = conn.execute(
                sa.select(model_registry.c.version).where(model_registry.c.version == version)
            ).first()
            if not found:
                raise StoreError(f"model {version!r} is not registered")
            conn.execute(sa.update(model_registry).values(is_current=False))
            conn.execute(
                sa.update(model_registry)
                .where(model_registry.c.version == version)
                .values(is_current=True, promoted_at=utcnow())
            )

    def current_model(self) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(model_registry).where(model_registry.c.is_current.is_(True))).first()
        if not row:
            return None
        out = dict(row._mapping)
        out["metrics"] = json.loads(out["metrics"] or "{}")
        return out

    def models(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(model_registry).order_by(model_registry.c.created_at)).all()
        return [{**dict(r._mapping), "metrics": json.loads(r.metrics or "{}")} for r in rows]


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets the mapped fetch tasks read while one of them writes; busy_timeout waits for the lock.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=60000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _redact(url: str) -> str:
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<invalid URL>"


def open_store(url: str, *, migrate: bool = True) -> Store:
    """A store for ``url``, with its folder created (SQLite) and its schema migrated."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        from pathlib import Path

        path = url.removeprefix("sqlite:///")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    store = Store(url)
    if migrate:
        store.migrate()
    return store
