"""Ingest benchmark: the pipeline's cost per feed item next to raw ``feedparser.parse()`` on the same
bytes, and N feeds served from loopback ingested end to end (HTTP, decode, parse, archive).

Run ``python -m bench.ingest [--feeds 500]`` from the repository root (``make bench`` does). Feeds are
the shared corpus's real feeds (``shared/corpus/feeds``); served copies get a per-copy query parameter
on their item links, so every copy's items are new articles (the store does real inserts).

Targets: ingest cost per item (decode, parse, archive rows, store insert) at most 0.5x raw feedparser's,
measured in the same run (issue 13; it was 1.5x before the fast parse path); 500 feeds from loopback in
under 60 s on a 2-core machine; memory bounded whatever the feed sizes (a 40 MiB feed is refused at the
15 MiB cap, streamed, never held whole). The fast path's share of feeds and items is printed, and the
same pipeline with the fast path switched off, for comparison.
"""

from __future__ import annotations

import argparse
import logging
import re
import resource
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import feedparser

from bench.corpus import CANDIDATES, corpus_root
from pipeline.ingest.feedparse import parse_feed
from pipeline.ingest.http import HttpClient
from pipeline.ingest.ingester import FeedIngester, entries_to_articles
from pipeline.models import FeedSpec
from pipeline.settings import Settings
from pipeline.store import open_store

_LINK_RX = re.compile(
    rb"(<link>|<guid[^>]*>|<id>)(https?://[^<]+)(</link>|</guid>|</id>)|(<link[^>]*href=\")(https?://[^\"]+)(\")"
)


def corpus_feeds() -> list[tuple[str, bytes]]:
    root = corpus_root()
    if root is None or not (root / "feeds").is_dir():
        raise SystemExit(f"no feed corpus found in {[str(c) for c in CANDIDATES]}")
    return [(p.name, p.read_bytes()) for p in sorted((root / "feeds").iterdir()) if p.is_file()]


def unique_copy(body: bytes, n: int) -> bytes:
    """The feed with ``bench=<n>`` added to every item link, so each copy's items are distinct articles."""

    def add(m: re.Match[bytes]) -> bytes:
        if m.group(1) is not None:
            open_, url, close = m.group(1), m.group(2), m.group(3)
        else:
            open_, url, close = m.group(4), m.group(5), m.group(6)
        sep = b"&amp;" if b"?" in url else b"?"
        return open_ + url + sep + b"bench=" + str(n).encode() + close

    return _LINK_RX.sub(add, body)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu() -> float:
    return time.process_time()


INGEST_TARGET = 0.5  # per-item ingest cost / raw feedparser's, at most


def _language(name: str) -> str:
    return "zh" if any(k in name for k in ("chinese", "geekpark", "kc0011")) else "en"


def _ingest(feeds: list[tuple[str, bytes]], repeat: int, *, fast_path: bool) -> tuple[float, int, int, int]:
    """Best CPU seconds of decode + parse + archive rows + store insert over ``repeat`` runs, with the items
    stored and how many feeds and items the fast path read."""
    now = datetime.now(UTC)
    best, items, fast_feeds, fast_items = float("inf"), 0, 0, 0
    for r in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            store = open_store(f"sqlite:///{tmp}/bench.db")
            start = cpu()
            items = fast_feeds = fast_items = 0
            for name, body in feeds:
                headers = {"content-type": "application/xml"}
                language = _language(name)
                spec = FeedSpec(
                    id=f"f{r}-{name[:40].lower()}".replace("_", "-"),
                    url=f"https://bench.example/{name}",
                    language=language,
                )
                parsed = parse_feed(
                    body, headers, url=spec.url, language=language, feed_id=spec.id, fast_path=fast_path
                )
                rows = entries_to_articles(spec, parsed, seen_at=now)
                store.upsert_articles(rows, seen_at=now, run_id="bench")
                items += len(parsed.entries)
                if parsed.parser == "lxml":
                    fast_feeds += 1
                    fast_items += len(parsed.entries)
            best = min(best, cpu() - start)
            store.dispose()
    return best, items, fast_feeds, fast_items


def bench_parse(feeds: list[tuple[str, bytes]], repeat: int) -> None:
    """CPU time per item: raw feedparser vs the pipeline's decode + parse + archive rows + store insert,
    with the fast parse path and without it."""
    raw_items = 0
    raw_best = parse_best = float("inf")
    for _ in range(repeat):
        start = cpu()
        raw_items = sum(len(feedparser.parse(body).entries) for _, body in feeds)
        raw_best = min(raw_best, cpu() - start)
    for _ in range(repeat):
        start = cpu()
        for name, body in feeds:
            parse_feed(
                body,
                {"content-type": "application/xml"},
                url="https://bench.example/",
                language=_language(name),
            )
        parse_best = min(parse_best, cpu() - start)
    pipe_best, items, fast_feeds, fast_items = _ingest(feeds, repeat, fast_path=True)
    slow_best, slow_items, _, _ = _ingest(feeds, repeat, fast_path=False)
    raw_cost = raw_best / raw_items
    pipe_cost, slow_cost = pipe_best / max(items, 1), slow_best / max(slow_items, 1)
    print(
        f"per-item cost on {len(feeds)} real feeds ({raw_items} items as feedparser counts them), best of {repeat}:"
    )
    print(
        f"  raw feedparser.parse(bytes)                  {raw_cost * 1000:7.3f} ms/item  {1 / raw_cost:8.0f} items/s"
    )
    print(f"  pipeline decode+parse only                   {parse_best * 1000 / max(items, 1):7.3f} ms/item")
    print(
        f"  pipeline decode+parse+rows+insert            {pipe_cost * 1000:7.3f} ms/item  {1 / pipe_cost:8.0f} items/s"
    )
    print(
        f"  same, fast path off (feedparser for all)     {slow_cost * 1000:7.3f} ms/item  {1 / slow_cost:8.0f} items/s"
    )
    print(
        f"  fast path (lxml) read {fast_feeds} of {len(feeds)} feeds, {fast_items} of {items} items "
        f"({100 * fast_items / max(items, 1):.0f}%); the rest went to feedparser"
    )
    ratio = pipe_cost / raw_cost
    verdict = "met" if ratio <= INGEST_TARGET else "NOT met"
    print(
        f"  pipeline / raw cost per item                 {ratio:7.2f}x   (target <= {INGEST_TARGET}x: {verdict})"
    )
    print(f"  fast path off / raw cost per item            {slow_cost / raw_cost:7.2f}x")


class _Handler(BaseHTTPRequestHandler):
    bodies: ClassVar[dict[str, bytes]] = {}

    def do_GET(self) -> None:
        body = self.bodies.get(self.path)
        if body is None and self.path == "/huge.xml":
            self._huge()
            return
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _huge(self) -> None:
        # 40 MiB of a valid-looking feed, streamed without Content-Length: only the streamed cap stops it.
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.end_headers()
        head = b'<?xml version="1.0"?><rss version="2.0"><channel><title>huge</title>'
        item = b"<item><title>x</title><description>" + b"y" * 4000 + b"</description></item>"
        try:
            self.wfile.write(head)
            for _ in range(40 * 1024 * 1024 // len(item)):
                self.wfile.write(item)
        except OSError:
            pass

    def log_message(self, format: str, *args: object) -> None:
        pass


def bench_loopback(feeds: list[tuple[str, bytes]], n: int, concurrency: int) -> None:
    bodies = {f"/feeds/{i}.xml": unique_copy(feeds[i % len(feeds)][1], i) for i in range(n)}
    _Handler.bodies = bodies
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    total_bytes = sum(len(b) for b in bodies.values())
    with tempfile.TemporaryDirectory() as tmp:
        env = {"NEWS_HOME": tmp, "NEWS_DB_URL": f"sqlite:///{tmp}/bench.db", "NEWS_ALLOW_HOSTS": f"127.0.0.1:{port}",
               "NEWS_FETCH_CONCURRENCY": str(concurrency)}  # fmt: skip
        settings = Settings.from_env(env)
        store = open_store(settings.db_url)
        specs = [
            FeedSpec(
                id=f"feed-{i}", url=f"http://127.0.0.1:{port}/feeds/{i}.xml", language="en", fetch_pages=False
            )
            for i in range(n)
        ]
        # Every feed is on one loopback host, so per-host politeness (1 s between requests to a host in
        # production) is off here: it would measure the politeness delay, not the pipeline.
        client = HttpClient(
            user_agent=settings.user_agent, allow_hosts=settings.allow_hosts, per_host_interval=0
        )
        rss_before = peak_rss_mib()
        start, cpu_start = time.monotonic(), cpu()
        with FeedIngester(store, settings, client) as ingester:
            summary = ingester.fetch(specs, now=datetime.now(UTC), run_id="bench", force=True)
        wall, used = time.monotonic() - start, cpu() - cpu_start
        counts = summary.counts()
        print(
            f"\n{n} feeds served from loopback ({total_bytes / 1e6:.1f} MB), {concurrency} concurrent fetches, one process:"
        )
        print(
            f"  wall {wall:6.1f} s   ({n / wall:6.1f} feeds/s, {counts['items'] / wall:7.0f} items/s)   CPU {used:.1f} s"
        )
        print(
            f"  {counts['ok']} ok, {counts['failed']} failed, {counts['items']} items, {counts['new_items']} new articles stored"
        )
        print(
            f"  target: 500 feeds in under 60 s: {'met' if n >= 500 and wall < 60 else ('n/a' if n < 500 else 'NOT met')}"
        )
        print(f"  peak RSS {peak_rss_mib():.0f} MiB (before the run {rss_before:.0f} MiB)")
        huge = FeedSpec(id="huge", url=f"http://127.0.0.1:{port}/huge.xml", language="en", fetch_pages=False)
        before = peak_rss_mib()
        with FeedIngester(store, settings, client) as ingester:
            outcome = ingester.fetch([huge], now=datetime.now(UTC), run_id="bench-huge", force=True).outcomes[
                0
            ]
        print(f"\na 40 MiB feed: {'refused: ' + (outcome.error or '') if not outcome.ok else 'accepted?!'}")
        print(f"  peak RSS {peak_rss_mib():.0f} MiB (was {before:.0f} MiB): memory bounded by the 15 MiB cap")
        store.dispose()
    server.shutdown()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=500, help="feeds to serve from loopback (default 500)")
    parser.add_argument(
        "--concurrency", type=int, default=8, help="concurrent fetches (default 8, as NEWS_FETCH_CONCURRENCY)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="repetitions of the per-item comparison (best is kept)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    feeds = corpus_feeds()
    print("== ingest benchmark ==")
    bench_parse(feeds, args.repeat)
    bench_loopback(feeds, args.feeds, args.concurrency)
    return 0


if __name__ == "__main__":
    sys.exit(main())
