"""Feeds for the scale benchmark: N RSS feeds served from loopback across 50 host names (127.0.0.1 to
127.0.0.50; Linux routes all of 127/8 to ``lo``), so the ingester's per-host spacing applies as on the web.

Every feed carries ``ITEMS_PER_FEED`` items published at serve time. A fixed share of the items (one in
``relevant_every``, counted over all feeds in order) is relevant: a whole relevant example from
``data/train`` (title and summary as labelled). The others are irrelevant news recombined from the
plain training negatives (half of one title with half of another, two sentences from two summaries), so
they are distinct stories, as most items of a run are, rather than thousands of copies of the same few.
The hard negatives are left out: recombined, their halves (a big-tech name here, a chip deal there) make
new texts that are genuinely ambiguous, and the model rightly flags some of them.

The server records when it first served each item (its publish time, to the second as the feed says),
which the benchmark compares with the time the fake Slack received the alert.
"""

from __future__ import annotations

import json
import random
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from xml.sax.saxutils import escape

from pipeline.settings import PROJECT_ROOT

HOST_COUNT = 50
ITEMS_PER_FEED = 30
DEFAULT_RELEVANT_EVERY = 1000
ZH_EVERY = 5  # one feed in five is Chinese
TRAIN_DIR = PROJECT_ROOT / "data" / "train"

_SENTENCE_RE = re.compile(r"(?<=[.!?。！？])\s*")


def hosts(count: int = HOST_COUNT) -> list[str]:
    return [f"127.0.0.{i}" for i in range(1, count + 1)]


@dataclass(frozen=True)
class Text:
    title: str
    summary: str


@dataclass(frozen=True)
class Pools:
    """Relevant examples and irrelevant parts (titles, summary sentences), per language."""

    relevant: dict[str, list[Text]]
    titles: dict[str, list[str]]
    sentences: dict[str, list[str]]

    @classmethod
    def load(cls, train_dir: Path = TRAIN_DIR) -> Pools:
        relevant: dict[str, list[Text]] = {"en": [], "zh": []}
        titles: dict[str, list[str]] = {"en": [], "zh": []}
        sentences: dict[str, list[str]] = {"en": [], "zh": []}
        for path in sorted(train_dir.glob("*.jsonl")):
            for line in path.read_text(encoding="utf-8").splitlines():
                if not line.strip():
                    continue
                row = json.loads(line)
                lang = row.get("lang", "en")
                if lang not in relevant:
                    continue
                if row.get("label") == 1:
                    relevant[lang].append(Text(row["title"], row.get("summary") or ""))
                elif path.name.endswith("_negative.jsonl") and "hard_negative" not in path.name:
                    titles[lang].append(row["title"])
                    sentences[lang].extend(s for s in _SENTENCE_RE.split(row.get("summary") or "") if s)
        return cls(relevant, titles, sentences)

    def irrelevant(self, lang: str, rng: random.Random) -> Text:
        a, b = rng.choice(self.titles[lang]), rng.choice(self.titles[lang])
        if lang == "zh":
            title = a[: len(a) // 2] + b[len(b) // 2 :]
        else:
            wa, wb = a.split(), b.split()
            title = " ".join(wa[: len(wa) // 2] + wb[len(wb) // 2 :])
        joiner = "" if lang == "zh" else " "
        summary = joiner.join(rng.sample(self.sentences[lang], 2))
        return Text(title, summary)


@dataclass(frozen=True)
class ScaleFeed:
    id: str
    host: str
    language: str
    index: int


def make_feeds(n: int, host_names: list[str]) -> list[ScaleFeed]:
    """``n`` feeds, the k-th on host ``k mod len(host_names)`` (so each host serves about n/50 feeds)."""
    return [
        ScaleFeed(
            id=f"scale-{k:04d}",
            host=host_names[k % len(host_names)],
            language="zh" if k % ZH_EVERY == ZH_EVERY - 1 else "en",
            index=k,
        )
        for k in range(n)
    ]


def write_feed_list(feeds: list[ScaleFeed], port: int, path: Path) -> Path:
    lines = ["feeds:"]
    for f in feeds:
        lines += [
            f"  - id: {f.id}",
            f"    url: http://{f.host}:{port}/feeds/{f.id}.xml",
            f"    language: {f.language}",
            "    category: bench",
            "    poll_minutes: 15",
            "    fetch_pages: false",
        ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class ScaleFeedServer:
    """One HTTP server per host address, all on one port; ``/feeds/<id>.xml`` renders that feed now."""

    def __init__(
        self,
        feeds: list[ScaleFeed],
        *,
        relevant_every: int = DEFAULT_RELEVANT_EVERY,
        pools: Pools | None = None,
        host_names: list[str] | None = None,
    ) -> None:
        self.feeds = {f.id: f for f in feeds}
        self.relevant_every = relevant_every
        self.pools = pools or Pools.load()
        self.host_names = host_names or sorted(
            {f.host for f in feeds}, key=lambda h: int(h.rsplit(".", 1)[1])
        )
        self.published: dict[str, datetime] = {}  # item URL -> publish time as served (first serve)
        self.relevant_urls: set[str] = set()
        self.requests: list[tuple[str, str]] = []  # (host, path)
        self._lock = threading.Lock()
        self._servers: list[ThreadingHTTPServer] = []
        self._threads: list[threading.Thread] = []
        self.port = 0

    # -- lifecycle --

    def start(self) -> ScaleFeedServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                host = self.server.server_address[0]
                with owner._lock:
                    owner.requests.append((str(host), self.path))
                feed_id = self.path.split("?", 1)[0].removeprefix("/feeds/").removesuffix(".xml")
                feed = owner.feeds.get(feed_id)
                if feed is None or feed.host != host:
                    self.send_error(404)
                    return
                body = owner.render(feed)
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        for host in self.host_names:
            server = ThreadingHTTPServer((host, self.port), Handler)
            server.daemon_threads = True
            self.port = int(server.server_address[1])  # the first picks a free port, the others reuse it
            thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
            thread.start()
            self._servers.append(server)
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers.clear()

    def __enter__(self) -> ScaleFeedServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def allow_hosts(self) -> str:
        """NEWS_ALLOW_HOSTS for these servers."""
        return ",".join(f"{h}:{self.port}" for h in self.host_names)

    def reset(self) -> None:
        """Forget what was served (publish times, relevant items, requests)."""
        with self._lock:
            self.published.clear()
            self.relevant_urls.clear()
            self.requests.clear()

    # -- content --

    def items(self, feed: ScaleFeed) -> list[tuple[str, Text, bool]]:
        """(URL, text, relevant) of the feed's items; the same every time for a feed."""
        rng = random.Random(feed.index)
        out = []
        for i in range(ITEMS_PER_FEED):
            seq = feed.index * ITEMS_PER_FEED + i
            url = f"http://{feed.host}:{self.port}/a/{feed.id}/{i}"
            if seq % self.relevant_every == self.relevant_every // 2:
                pool = self.pools.relevant[feed.language]
                out.append((url, pool[(seq // self.relevant_every) % len(pool)], True))
            else:
                out.append((url, self.pools.irrelevant(feed.language, rng), False))
        return out

    def render(self, feed: ScaleFeed, now: datetime | None = None) -> bytes:
        """The feed as RSS 2.0, every item published ``now`` (to the second)."""
        now = (now or datetime.now(UTC)).replace(microsecond=0)
        stamp = format_datetime(now, usegmt=True)
        parts = [
            '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>',
            f"<title>Scale bench {feed.id}</title><link>http://{feed.host}:{self.port}/</link>",
            f"<description>benchmark feed</description><language>{feed.language}</language>",
        ]
        items = self.items(feed)
        with self._lock:
            for url, _text, relevant in items:
                self.published.setdefault(url, now)
                if relevant:
                    self.relevant_urls.add(url)
        for url, text, _relevant in items:
            parts.append(
                f"<item><title>{escape(text.title)}</title><link>{url}</link>"
                f'<guid isPermaLink="true">{url}</guid><pubDate>{stamp}</pubDate>'
                f"<description>{escape(text.summary)}</description></item>"
            )
        parts.append("</channel></rss>")
        return "".join(parts).encode("utf-8")
