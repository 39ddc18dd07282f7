"""The scale benchmark's harness pieces (bench/scale_feeds.py, bench/scale.py), without Airflow: the feed
server answers on several loopback addresses, its items are published at serve time, the relevant share
is the one asked for, and the pipeline's own fetcher and feed-list loader accept what it serves."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bench.scale import p95, tree_cpu
from bench.scale_feeds import ITEMS_PER_FEED, ScaleFeedServer, hosts, make_feeds, write_feed_list
from pipeline.config.feeds import load_feeds
from pipeline.ingest.feedparse import parse_feed
from pipeline.ingest.http import HttpClient
from pipeline.settings import parse_allow_hosts


@pytest.fixture(scope="module")
def served() -> Iterator[ScaleFeedServer]:
    feeds = make_feeds(6, hosts(3))
    with ScaleFeedServer(feeds, relevant_every=20) as server:
        yield server


def test_feeds_are_spread_over_the_hosts_in_turn() -> None:
    feeds = make_feeds(7, hosts(3))
    assert [f.host for f in feeds] == ["127.0.0.1", "127.0.0.2", "127.0.0.3"] * 2 + ["127.0.0.1"]
    assert hosts()[-1] == "127.0.0.50"


def test_a_feed_is_served_on_its_own_host_with_items_published_at_serve_time(served: ScaleFeedServer) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    r = httpx.get(f"http://127.0.0.2:{served.port}/feeds/scale-0001.xml", timeout=10)
    after = datetime.now(UTC)
    assert r.status_code == 200
    parsed = parse_feed(r.content, dict(r.headers), url=str(r.url), language="en")
    assert len(parsed.entries) == ITEMS_PER_FEED
    for entry in parsed.entries:
        assert entry.published is not None and before <= entry.published <= after
        assert entry.url is not None and entry.url.startswith(f"http://127.0.0.2:{served.port}/a/scale-0001/")
        assert served.published[entry.url] == entry.published
    # Another host does not serve this feed.
    assert httpx.get(f"http://127.0.0.3:{served.port}/feeds/scale-0001.xml", timeout=10).status_code == 404


def test_one_item_in_relevant_every_is_relevant(served: ScaleFeedServer) -> None:
    items = [item for feed in served.feeds.values() for item in served.items(feed)]
    relevant = [text for _url, text, is_relevant in items if is_relevant]
    assert len(items) == 6 * ITEMS_PER_FEED
    assert len(relevant) == len(items) // 20
    # Relevant items are whole labelled examples; the others are recombined, so nearly all distinct.
    irrelevant_titles = [text.title for _url, text, is_relevant in items if not is_relevant]
    assert len(set(irrelevant_titles)) > 0.9 * len(irrelevant_titles)


def test_the_pipeline_accepts_the_feed_list_and_the_hosts(served: ScaleFeedServer, tmp_path: Path) -> None:
    feeds = list(served.feeds.values())
    specs = load_feeds(write_feed_list(feeds, served.port, tmp_path / "feeds.yaml"))
    assert [s.id for s in specs] == [f.id for f in feeds]
    assert not any(s.fetch_pages for s in specs)
    client = HttpClient(
        user_agent="bench", allow_hosts=parse_allow_hosts(served.allow_hosts), per_host_interval=0
    )
    result = client.fetch(specs[2].url)
    assert result.status == 200 and b"<rss" in result.body


def test_p95_and_cpu_of_a_process_tree() -> None:
    assert p95([float(i) for i in range(1, 101)]) == 95.0
    assert p95([3.0]) == 3.0
    import os

    assert tree_cpu([os.getpid()]) > 0
    assert tree_cpu([2**22 + 7]) == 0.0  # no such process


def test_publish_times_are_recorded_once(served: ScaleFeedServer) -> None:
    feed = served.feeds["scale-0004"]
    first = datetime(2030, 1, 1, tzinfo=UTC)
    served.render(feed, now=first)
    served.render(feed, now=first + timedelta(minutes=5))
    url = served.items(feed)[0][0]
    assert served.published[url] == first
