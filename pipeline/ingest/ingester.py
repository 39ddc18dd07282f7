"""Fetching feeds into the archive: conditional GET, parse, archive every item, fetch short articles' pages.

One feed's failure is recorded in its health row and never stops the others.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pipeline.errors import FeedParseError, FetchError, NewsMonitorError, RetryLaterError, StoreError
from pipeline.ingest.dates import event_time
from pipeline.ingest.feedparse import parse_feed
from pipeline.ingest.http import FEED_MAX_BYTES, PAGE_MAX_BYTES, FetchRequest, HttpClient
from pipeline.ingest.pages import extract_page, needs_page
from pipeline.ingest.urls import article_id, canonical_url
from pipeline.models import Article, FeedSpec, HttpResult, ParsedFeed
from pipeline.settings import Settings
from pipeline.store import FeedHealth, Store
from pipeline.text import detect_language

log = logging.getLogger(__name__)

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, application/xml;q=0.9, text/xml;q=0.8"
)
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
MAX_BACKOFF = timedelta(hours=12)
# Pages are fetched for at most this many new articles per feed and run, so one chatty feed cannot
# hold a fetch task for long; the rest keep their feed summary.
MAX_PAGES_PER_FEED = 20


@dataclass(frozen=True)
class FeedOutcome:
    """What happened to one feed in one fetch."""

    feed_id: str
    ok: bool
    status: int | None = None
    items: int = 0
    new_ids: tuple[str, ...] = ()
    error: str | None = None
    skipped: str | None = None
    not_modified: bool = False
    encoding: str | None = None
    pages_fetched: int = 0


@dataclass
class FetchSummary:
    outcomes: list[FeedOutcome] = field(default_factory=list)

    @property
    def new_ids(self) -> list[str]:
        return [i for o in self.outcomes for i in o.new_ids]

    def counts(self) -> dict[str, int]:
        return {
            "feeds": len(self.outcomes),
            "ok": sum(1 for o in self.outcomes if o.ok and not o.skipped),
            "not_modified": sum(1 for o in self.outcomes if o.not_modified),
            "failed": sum(1 for o in self.outcomes if not o.ok),
            "skipped": sum(1 for o in self.outcomes if o.skipped),
            "items": sum(o.items for o in self.outcomes),
            "new_items": sum(len(o.new_ids) for o in self.outcomes),
            "pages": sum(o.pages_fetched for o in self.outcomes),
        }


def entries_to_articles(feed: FeedSpec, parsed: ParsedFeed, *, seen_at: datetime) -> list[Article]:
    """Feed entries as archive rows: canonical URL, stable id, event time (published or first seen)."""
    out: list[Article] = []
    for entry in parsed.entries:
        canon = canonical_url(entry.url)
        title = entry.title or entry.summary[:120]
        if not title:
            continue
        out.append(
            Article(
                article_id=article_id(feed_id=feed.id, canonical_url=canon, guid=entry.guid, title=title),
                feed_id=feed.id,
                # javascript:, file: and other non-web links are not kept: nothing downstream may follow them
                url=entry.url if canon else None,
                canonical_url=canon,
                guid=entry.guid,
                title=title,
                summary=entry.summary,
                language=_item_language(feed.language, title, entry.summary),
                first_seen_at=seen_at,
                event_at=event_time(entry.published, seen_at),
                published_at=entry.published,
                source_name=feed.display_name,
            )
        )
    return out


def _item_language(feed_language: str, title: str, summary: str) -> str:
    """A bilingual feed's items carry their own language; single-language feeds are trusted."""
    if feed_language != "mixed":
        return feed_language
    return detect_language(f"{title}\n{summary}")


def backoff_after_failure(
    feed: FeedSpec, failures: int, now: datetime, retry_after: float | None
) -> datetime:
    """When a failing feed is next tried: its poll interval doubled per consecutive failure, capped."""
    delay = timedelta(minutes=feed.poll_minutes) * (2 ** min(max(failures - 1, 0), 8))
    delay = min(delay, MAX_BACKOFF)
    if retry_after is not None:
        delay = max(delay, timedelta(seconds=retry_after))
    return now + delay


def due_reason(feed: FeedSpec, health: FeedHealth | None, now: datetime) -> str | None:
    """Why a feed is not fetched now (None when it is due)."""
    if health is None:
        return None
    if health.backoff_until and health.backoff_until > now:
        return f"backing off until {health.backoff_until:%Y-%m-%d %H:%M} UTC after {health.consecutive_failures} failures"
    # A minute of slack so a 15-minute feed polled by a 15-minute schedule is not skipped by jitter.
    if health.last_attempt_at and now - health.last_attempt_at < timedelta(minutes=feed.poll_minutes - 1):
        return f"polled {int((now - health.last_attempt_at).total_seconds() // 60)} min ago"
    return None


class FeedIngester:
    """Fetches a set of feeds concurrently and archives their items."""

    def __init__(self, store: Store, settings: Settings, client: HttpClient | None = None) -> None:
        self.store = store
        self.settings = settings
        self._own_client = client is None
        self.client = client or HttpClient(user_agent=settings.user_agent, allow_hosts=settings.allow_hosts)

    def close(self) -> None:
        if self._own_client:
            self.client.close()

    def __enter__(self) -> FeedIngester:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fetch(
        self,
        feeds: Sequence[FeedSpec],
        *,
        now: datetime,
        run_id: str | None = None,
        force: bool = False,
        fetch_pages: bool = True,
    ) -> FetchSummary:
        """Fetch the feeds that are due (all of them with ``force``) and archive their items under ``run_id``."""
        summary = FetchSummary()
        health = self.store.feed_health([f.id for f in feeds])
        by_id = {f.id: f for f in feeds}
        requests: list[FetchRequest] = []
        for feed in feeds:
            reason = None if force else due_reason(feed, health.get(feed.id), now)
            if reason:
                log.info("feed %s skipped: %s", feed.id, reason)
                summary.outcomes.append(FeedOutcome(feed_id=feed.id, ok=True, skipped=reason))
                continue
            h = health.get(feed.id)
            same_url = h is not None and h.url == feed.url
            requests.append(
                FetchRequest(
                    key=feed.id,
                    url=feed.url,
                    max_bytes=FEED_MAX_BYTES,
                    etag=h.etag if h and same_url else None,
                    last_modified=h.last_modified if h and same_url else None,
                    accept=FEED_ACCEPT,
                )
            )
        started = time.monotonic()
        for request, result in self.client.fetch_many(requests, concurrency=self.settings.fetch_concurrency):
            feed = by_id[request.key]
            try:
                outcome = self._handle(
                    feed, result, health.get(feed.id), now=now, run_id=run_id, fetch_pages=fetch_pages
                )
            except StoreError:
                raise  # the archive is unusable: fail the task so Airflow retries it
            except Exception as e:  # one feed's surprise must not stop the other feeds
                log.exception("feed %s: unexpected error", feed.id)
                err = NewsMonitorError(f"unexpected {type(e).__name__}: {e}")
                outcome = self._failed(feed, health.get(feed.id), now, err, status=None)
            summary.outcomes.append(outcome)
        counts = summary.counts()
        log.info(
            "fetched %d feeds in %.1fs: %d ok (%d not modified), %d failed, %d skipped; %d items, %d new, %d pages",
            counts["feeds"],
            time.monotonic() - started,
            counts["ok"],
            counts["not_modified"],
            counts["failed"],
            counts["skipped"],
            counts["items"],
            counts["new_items"],
            counts["pages"],
        )
        return summary

    def _handle(
        self,
        feed: FeedSpec,
        result: HttpResult | FetchError,
        health: FeedHealth | None,
        *,
        now: datetime,
        run_id: str | None,
        fetch_pages: bool,
    ) -> FeedOutcome:
        if isinstance(result, FetchError):
            return self._failed(feed, health, now, result, status=result.status)
        if result.not_modified:
            self.store.record_feed_result(
                feed.id,
                feed.url,
                ok=True,
                at=now,
                status=304,
                etag=result.etag,
                last_modified=result.last_modified,
            )
            log.info("feed %s not modified (304)", feed.id)
            return FeedOutcome(feed_id=feed.id, ok=True, status=304, not_modified=True)
        try:
            parsed = parse_feed(
                result.body, result.headers, url=result.final_url, language=feed.language, feed_id=feed.id
            )
        except FeedParseError as e:
            return self._failed(feed, health, now, e, status=result.status)
        rows = entries_to_articles(feed, parsed, seen_at=now)
        new_ids = self.store.upsert_articles(rows, seen_at=now, run_id=run_id)
        self.store.record_feed_result(
            feed.id,
            feed.url,
            ok=True,
            at=now,
            status=result.status,
            encoding=parsed.encoding,
            items=len(rows),
            new_items=len(new_ids),
            etag=result.etag,
            last_modified=result.last_modified,
        )
        for warning in parsed.warnings:
            log.warning("feed %s: %s", feed.id, warning)
        log.info("feed %s: %d items, %d new (%s)", feed.id, len(rows), len(new_ids), parsed.encoding)
        pages = 0
        if fetch_pages and feed.fetch_pages and new_ids:
            new_set = set(new_ids)
            pages = self.fetch_pages([a for a in rows if a.article_id in new_set])
        return FeedOutcome(
            feed_id=feed.id,
            ok=True,
            status=result.status,
            items=len(rows),
            new_ids=tuple(new_ids),
            encoding=parsed.encoding,
            pages_fetched=pages,
        )

    def _failed(
        self,
        feed: FeedSpec,
        health: FeedHealth | None,
        now: datetime,
        error: NewsMonitorError,
        status: int | None,
    ) -> FeedOutcome:
        failures = (health.consecutive_failures if health else 0) + 1
        retry_after = error.retry_after if isinstance(error, RetryLaterError) else None
        until = backoff_after_failure(feed, failures, now, retry_after)
        self.store.record_feed_result(
            feed.id, feed.url, ok=False, at=now, status=status, error=str(error), backoff_until=until
        )
        log.warning(
            "feed %s failed (%d in a row, next try after %s): %s",
            feed.id,
            failures,
            f"{until:%H:%M} UTC",
            error,
        )
        return FeedOutcome(feed_id=feed.id, ok=False, status=status, error=str(error))

    def fetch_pages(self, new_articles: Sequence[Article]) -> int:
        """Fetch and extract the pages of new articles whose feed gave only a headline or a stub."""
        wanted = [a for a in new_articles if a.canonical_url and needs_page(a.title, a.summary, a.language)][
            :MAX_PAGES_PER_FEED
        ]
        if not wanted:
            return 0
        by_id = {a.article_id: a for a in wanted}
        requests = [
            FetchRequest(
                key=a.article_id,
                url=a.url or a.canonical_url or "",
                max_bytes=PAGE_MAX_BYTES,
                accept=PAGE_ACCEPT,
            )
            for a in wanted
        ]
        fetched = 0
        for request, result in self.client.fetch_many(requests, concurrency=self.settings.fetch_concurrency):
            article = by_id[request.key]
            if isinstance(result, FetchError):
                log.info("page of %s not fetched: %s", article.article_id, result)
                self.store.set_article_page(article.article_id, body=None, page_status="failed")
                continue
            try:
                page = extract_page(result.body, result.headers, url=result.final_url)
            except NewsMonitorError as e:
                log.info("page of %s not extracted: %s", article.article_id, e)
                self.store.set_article_page(article.article_id, body=None, page_status="unparsable")
                continue
            status = "paywalled" if page.paywalled else ("ok" if page.main_text else "empty")
            body = page.main_text if page.main_text and not page.paywalled else None
            self.store.set_article_page(
                article.article_id,
                body=body,
                page_status=status,
                canonical_url=canonical_url(page.canonical_url),
            )
            fetched += 1
        return fetched
