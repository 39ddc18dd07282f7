"""Console benchmark: how long each page of the chip-news console (JSON API and HTML) takes on a store of
100,000 articles, first pages and deep pages, with and without filters.

Run ``python -m bench.console [--articles 100000] [--db-url URL]`` from the repository root (``make bench``
does, on SQLite). The store is synthetic but shaped like a real one: 90 days of articles from 200 feeds
(Chinese, English, mixed), about one in five joining an earlier story, every article classified, 3%
relevant, an alert (posted, pending or failed) per relevant article, a week of fetch attempts every 15
minutes per feed, 20 registered models. ``--db-url`` names an empty database (e.g. PostgreSQL) to build it
in instead of a temporary SQLite file.

Target (issue 12): every page fast on a store of 100,000 articles; here "fast" is read as a median under
100 ms per page on this 2-core machine, deep pages (keyset paging) as fast as the first.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "plugins"))

import sqlalchemy as sa  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from chip_news_airflow.console import create_console_app  # noqa: E402
from chip_news_airflow.console.app import console_context  # noqa: E402
from chip_news_airflow.console.auth import require_user  # noqa: E402
from chip_news_airflow.console.views import ConsoleContext  # noqa: E402
from pipeline.settings import Settings  # noqa: E402
from pipeline.store import Store, open_store  # noqa: E402
from pipeline.store.base import dumps  # noqa: E402
from pipeline.store.schema import (  # noqa: E402
    alert_ledger,
    articles,
    classifications,
    feed_days,
    feed_runs,
    feed_state,
)

NOW = datetime(2025, 9, 16, 0, 0, tzinfo=UTC)
FEEDS = 200
COMPANIES = ["Alibaba", "Baidu", "Tencent", "Huawei", "Xiaomi", "Google", "Amazon", "Microsoft", "Meta"]
EVENT_TYPES = ["self_development", "chip_investment"]
CHUNK = 5000


def _chunks(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def build(store: Store, n_articles: int, feeds_file: Path) -> dict[str, int]:
    """Fill an empty store with the synthetic data; return the row counts."""
    rng = random.Random(12)
    feed_ids = [f"feed-{i:03d}" for i in range(FEEDS)]
    feeds_file.write_text(
        "feeds:\n"
        + "".join(
            f"  - id: {f}\n    url: https://news{i}.example.com/rss\n    language: {'zh' if i % 2 else 'en'}\n"
            for i, f in enumerate(feed_ids)
        ),
        encoding="utf-8",
    )
    span = timedelta(days=90).total_seconds()
    story_of_recent: list[str] = []
    story_relevant: set[str] = set()
    counts = {"articles": 0, "alerts": 0, "stories": 0, "feed_runs": 0}
    article_rows, cls_rows, alert_rows = [], [], []
    times = sorted(NOW - timedelta(seconds=rng.random() * span) for _ in range(n_articles))
    for i, at in enumerate(times):
        article_id = hashlib.sha256(f"a{i}".encode()).hexdigest()[:32]
        if story_of_recent and rng.random() < 0.2:
            story = rng.choice(story_of_recent[-50:])
        else:
            story = "s" + article_id[:31]
            story_of_recent.append(story)
            counts["stories"] += 1
        lang = rng.choices(["zh", "en", "mixed"], weights=[55, 40, 5])[0]
        feed = rng.choice(feed_ids)
        article_rows.append({
            "article_id": article_id, "feed_id": feed, "source_name": f"Source {feed}", "guid": article_id,
            "url": f"https://{feed}.example.com/{article_id}", "canonical_url": f"https://{feed}.example.com/{article_id}",
            "title": f"{'芯片新闻' if lang == 'zh' else 'Chip news'} {i}: a title of ordinary length for a feed item",
            "summary": "A summary of a couple of sentences. " * 4, "body": None, "language": lang,
            "published_at": at, "first_seen_at": at + timedelta(minutes=3), "first_seen_run": None,
            "last_seen_at": at + timedelta(minutes=3), "event_at": at, "page_status": None, "story_id": story,
            "minhash": None,
        })  # fmt: skip
        relevant = rng.random() < 0.03
        companies = rng.sample(COMPANIES, rng.choice([1, 1, 2]))
        cls_rows.append({
            "article_id": article_id, "model_version": "clf-bench", "relevant": relevant,
            "score": rng.random() * 0.5 + (0.5 if relevant else 0), "event_type": rng.choice(EVENT_TYPES) if relevant else None,
            "companies": dumps(companies if relevant else []), "chips": "[]", "counterparties": "[]", "amount": None,
            "summary": "", "error": None, "classified_at": at + timedelta(minutes=4),
        })  # fmt: skip
        if relevant:
            kind = "update" if story in story_relevant else "story"
            story_relevant.add(story)
            state = rng.choices(["posted", "pending", "failed"], weights=[95, 3, 2])[0]
            alert_rows.append({
                "alert_id": f"{kind}-{article_id[:24]}", "channel": rng.choice(["#chip-alerts", "#china-silicon"]),
                "kind": kind, "story_id": story, "article_id": article_id, "parent_alert_id": None, "state": state,
                "attempts": 1, "claim_token": None, "claimed_at": None, "ts": None, "thread_ts": None,
                "permalink": f"https://example.slack.com/archives/C1/p{i}" if state == "posted" else None,
                "payload": None, "model_version": "clf-bench", "run_id": None, "interval_start": None,
                "interval_end": None, "error": None if state == "posted" else "ratelimited",
                "created_at": at + timedelta(minutes=5), "updated_at": at + timedelta(minutes=5),
                "posted_at": at + timedelta(minutes=6) if state == "posted" else None,
            })  # fmt: skip
    with store.begin() as conn:
        for table, rows in (
            (articles, article_rows),
            (classifications, cls_rows),
            (alert_ledger, alert_rows),
        ):
            for batch in _chunks(iter(rows)):
                conn.execute(table.insert(), batch)
        counts["articles"], counts["alerts"] = len(article_rows), len(alert_rows)

        # a week of attempts every 15 minutes per feed, and their per-day sums as the store keeps them
        days: dict[tuple[str, date], dict[str, Any]] = {}
        runs = []
        for feed in feed_ids:
            for k in range(7 * 96):
                at, ok = NOW - timedelta(minutes=15 * k), rng.random() > 0.02
                items, new = (rng.randint(10, 40), rng.randint(0, 3)) if ok else (0, 0)
                runs.append({
                    "feed_id": feed, "attempted_at": at, "ok": ok, "http_status": 200 if ok else 503,
                    "items": items, "new_items": new, "error": None if ok else "HTTP 503",
                })  # fmt: skip
                day = days.setdefault(
                    (feed, at.date()),
                    {
                        "feed_id": feed,
                        "day": at.date(),
                        "attempts": 0,
                        "failures": 0,
                        "items": 0,
                        "new_items": 0,
                    },
                )
                day["attempts"] += 1
                day["failures"] += 0 if ok else 1
                day["items"] += items
                day["new_items"] += new
        for table, rows in ((feed_runs, runs), (feed_days, list(days.values()))):
            for batch in _chunks(iter(rows)):
                conn.execute(table.insert(), batch)
        counts["feed_runs"] = len(runs)
        conn.execute(
            feed_state.insert(),
            [
                {"feed_id": f, "url": f"https://news{i}.example.com/rss", "last_attempt_at": NOW,
                 "last_success_at": NOW, "consecutive_failures": 0, "last_status": 200, "encoding": "utf-8",
                 "items_last": 20, "items_seen": 20000, "new_items_total": 500, "failure_notified": False}
                for i, f in enumerate(feed_ids)
            ],
        )  # fmt: skip
    for m in range(20):
        store.register_model(
            f"clf-bench-{m:02d}", data_hash=f"{m:064d}", metrics={"f1": 0.95, "precision": 0.96},
            card={"threshold": 0.5, "feature_set": "char"}, artifact=b"x" * 1000,
        )  # fmt: skip
    store.promote_model("clf-bench-19")
    with store.begin() as conn:  # planner statistics, as a store that has been in use has them
        conn.execute(sa.text("ANALYZE"))
    return counts


def timed(call: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """Median and worst time of ``call`` in milliseconds (after one warm-up call)."""
    call()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), max(samples)


def deep_cursor(client: TestClient, path: str, pages: int, **params: Any) -> str:
    """The cursor of page ``pages + 1`` of ``path``, found by following next_cursor."""
    cursor = None
    for _ in range(pages):
        body = client.get(path, params={**params, **({"cursor": cursor} if cursor else {})}).json()
        cursor = body["next_cursor"]
        assert cursor, f"{path} has fewer than {pages} pages"
    return str(cursor)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument(
        "--db-url", help="an empty database to build the store in (default: temporary SQLite)"
    )
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    with tempfile.TemporaryDirectory(prefix="bench-console-") as tmp:
        url = args.db_url or f"sqlite:///{tmp}/news.db"
        store = open_store(url)
        with store.begin() as conn:
            if conn.execute(articles.select().limit(1)).first() is not None:
                raise SystemExit(f"{url}: not an empty store")
        started = time.perf_counter()
        counts = build(store, args.articles, Path(tmp) / "feeds.yaml")
        print(f"store {store.dialect}: {', '.join(f'{v:,} {k}' for k, v in counts.items())} "
              f"(built in {time.perf_counter() - started:.0f} s)")  # fmt: skip
        settings = Settings.from_env(
            {
                "NEWS_HOME": tmp,
                "NEWS_DB_URL": url,
                "NEWS_FEEDS_FILE": f"{tmp}/feeds.yaml",
                "NEWS_WATCHLIST_FILE": str(ROOT / "config" / "watchlist.yaml"),
            }
        )
        app = create_console_app()
        app.dependency_overrides[require_user] = lambda: "bench"
        app.dependency_overrides[console_context] = lambda: ConsoleContext(settings, store, now=lambda: NOW)
        client = TestClient(app)
        alerts_deep = deep_cursor(client, "/api/alerts", 40)
        stories_deep = deep_cursor(client, "/api/stories", 40)
        all_stories_deep = deep_cursor(client, "/api/stories", 200, relevant="false")
        month_ago = (NOW - timedelta(days=30)).date()
        cases: list[tuple[str, str, dict[str, Any]]] = [
            ("alerts, first page (JSON)", "/api/alerts", {}),
            ("alerts, first page (HTML)", "/alerts", {}),
            ("alerts, page 41", "/api/alerts", {"cursor": alerts_deep}),
            ("alerts, company=Baidu", "/api/alerts", {"company": "Baidu"}),
            ("alerts, state=failed", "/api/alerts", {"state": "failed"}),
            ("alerts, one week a month ago", "/api/alerts", {"since": str(month_ago), "until": str(month_ago + timedelta(days=6))}),
            ("alerts, 200 a page", "/api/alerts", {"limit": 200}),
            ("stories (relevant), first page (JSON)", "/api/stories", {}),
            ("stories (relevant), first page (HTML)", "/stories", {}),
            ("stories (relevant), page 41", "/api/stories", {"cursor": stories_deep}),
            ("stories (all), first page", "/api/stories", {"relevant": "false"}),
            ("stories (all), page 201", "/api/stories", {"relevant": "false", "cursor": all_stories_deep}),
            ("feeds, first page (JSON)", "/api/feeds", {}),
            ("feeds, first page (HTML, 50 charts)", "/feeds", {}),
            ("feeds, last page", "/api/feeds", {"offset": 150}),
            ("models (HTML)", "/models", {}),
        ]  # fmt: skip
        print(f"\n{'page':<42} {'median ms':>10} {'max ms':>8}  (over {args.repeats} requests)")
        worst = 0.0
        for name, path, params in cases:
            response = client.get(path, params=params)
            assert response.status_code == 200, f"{name}: {response.status_code} {response.text[:200]}"
            median, high = timed(
                lambda path=path, params=params: client.get(path, params=params), args.repeats
            )
            worst = max(worst, median)
            print(f"{name:<42} {median:>10.1f} {high:>8.1f}")
        print(f"\nslowest median: {worst:.1f} ms (target < 100 ms)")
        store.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
