"""Ingestion against a local server of hostile and honest feeds: every bad feed fails cleanly and is
recorded, and the good feeds of the same run are still archived."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.local_server import LocalServer

from pipeline.ingest.http import HttpClient
from pipeline.ingest.ingester import FeedIngester
from pipeline.ingest.urls import canonical_url
from pipeline.models import FeedSpec
from pipeline.settings import Settings
from pipeline.store import Store

DATA = Path(__file__).parents[1] / "data" / "feeds"
NOW = datetime(2025, 9, 15, 9, 0, tzinfo=UTC)
RSS = "application/rss+xml"


def rss(items: str, *, encoding: str = "utf-8") -> bytes:
    return (
        f'<?xml version="1.0" encoding="{encoding}"?><rss version="2.0"><channel><title>t</title>'
        f"<link>https://news.example.com/</link><description>d</description>{items}</channel></rss>"
    ).encode(encoding)


def item(
    guid: str, title: str, link: str, summary: str = "", date: str = "Mon, 15 Sep 2025 08:30:00 +0000"
) -> str:
    return (
        f"<item><guid>{guid}</guid><title>{title}</title><link>{link}</link>"
        f"<description>{summary}</description><pubDate>{date}</pubDate></item>"
    )


LONG = (
    "Alibaba's chip unit T-Head said its new inference accelerator entered testing with cloud customers. " * 3
)


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as s:
        yield s


@pytest.fixture
def client(server: LocalServer) -> Iterator[HttpClient]:
    c = HttpClient(
        user_agent="chip-news-test", allow_hosts=server.allow_hosts, deadline=1.5, per_host_interval=0
    )
    yield c
    c.close()


def feed(server: LocalServer, feed_id: str, path: str, language: str = "en", **kw: object) -> FeedSpec:
    return FeedSpec(id=feed_id, url=server.url(path), language=language, fetch_pages=False, **kw)  # type: ignore[arg-type]


def test_one_run_survives_every_hostile_feed(
    server: LocalServer, client: HttpClient, sqlite_store: Store, settings: Settings
) -> None:
    with LocalServer() as internal:  # an "internal" service that no feed link may reach
        internal.route("/admin", "secret")
        good = rss(
            item("g1", "Alibaba T-Head tests new AI chip", "https://news.example.com/a?utm_source=rss", LONG)
            + item(
                "g2", "Alibaba T-Head tests new AI chip (update)", "https://news.example.com/a?fbclid=x", LONG
            )
            + item("g3", "Meta buys chip start-up", "https://news.example.com/b", LONG)
        )
        server.route("/good.xml", good, headers={"Content-Type": RSS})
        server.route(
            "/gbk.xml", (DATA / "gbk_declared.xml").read_bytes(), headers={"Content-Type": "text/xml"}
        )
        server.route(
            "/gbk-nodecl.xml",
            (DATA / "gbk_undeclared.xml").read_bytes(),
            headers={"Content-Type": "text/xml"},
        )
        server.route(
            "/gbk-lying.xml",
            (DATA / "gbk_declared_latin1.xml").read_bytes(),
            headers={"Content-Type": "application/rss+xml; charset=ISO-8859-1"},
        )
        server.route("/bomb.xml", (DATA / "entity_bomb.xml").read_bytes(), headers={"Content-Type": RSS})
        server.route(
            "/page.html", (DATA / "html_page.html").read_bytes(), headers={"Content-Type": "text/html"}
        )
        server.route("/empty.xml", b"", headers={"Content-Type": RSS})
        server.route("/dupes.xml", (DATA / "duplicate_guids.xml").read_bytes(), headers={"Content-Type": RSS})
        server.redirect_loop("/loop-a", "/loop-b")
        server.drip_body("/drip.xml")
        server.retry_after("/busy.xml", "120", times=5)
        server.reset_mid_body("/reset.xml")
        hostile_links = rss(
            item("h1", "Internal link", internal.url("/admin"), "x")
            + item("h2", "Metadata link", "http://169.254.169.254/latest/meta-data/", "x")
            + item("h3", "File link", "file:///etc/passwd", "x")
            + item("h4", "Script link", "javascript:alert(1)", "x")
        )
        server.route("/links.xml", hostile_links, headers={"Content-Type": RSS})

        feeds = [
            feed(server, "good", "/good.xml"),
            feed(server, "gbk", "/gbk.xml", "zh"),
            feed(server, "gbk-nodecl", "/gbk-nodecl.xml", "zh"),
            feed(server, "gbk-lying", "/gbk-lying.xml", "zh"),
            feed(server, "bomb", "/bomb.xml"),
            feed(server, "html", "/page.html"),
            feed(server, "empty", "/empty.xml"),
            feed(server, "dupes", "/dupes.xml"),
            feed(server, "loop", "/loop-a"),
            feed(server, "drip", "/drip.xml"),
            feed(server, "busy", "/busy.xml"),
            feed(server, "reset", "/reset.xml"),
            feed(server, "missing", "/nope.xml"),
            FeedSpec(id="links", url=server.url("/links.xml"), language="en", fetch_pages=True),
        ]
        with FeedIngester(sqlite_store, settings, client) as ingester:
            summary = ingester.fetch(feeds, now=NOW, run_id="run-1")

        outcomes = {o.feed_id: o for o in summary.outcomes}
        assert len(outcomes) == len(feeds)
        # the honest feeds were archived
        assert outcomes["good"].ok and outcomes["good"].items == 3
        assert len(outcomes["good"].new_ids) == 2, "the same story under tracking parameters is one article"
        for fid in ("gbk", "gbk-nodecl", "gbk-lying"):
            assert outcomes[fid].ok and outcomes[fid].items > 0, outcomes[fid].error
            assert outcomes[fid].encoding == "gb18030"
        # the three GBK fixtures carry the same items (same URLs, so the same article ids)
        titles = [a.title for a, _ in sqlite_store.list_articles() if a.language == "zh"]
        assert titles and all(any("\u4e00" <= ch <= "\u9fff" for ch in t) for t in titles), titles
        assert not any("Ã" in t or "Â" in t for t in titles)
        assert outcomes["bomb"].ok or "entit" in (outcomes["bomb"].error or "").lower()
        assert outcomes["dupes"].ok
        dupes = [a for a, _ in sqlite_store.list_articles() if a.feed_id == "dupes"]
        assert sorted(a.title for a in dupes) == ["B", "First A", "No GUID C", "Title only"]
        # every hostile feed failed with a reason, recorded in its health row
        reasons = {
            "html": "html page, not a feed",
            "empty": "empty document",
            "loop": "redirect loop",
            "drip": "no complete response",
            "busy": "retry after",
            "reset": "connection",
            "missing": "404",
        }
        health = sqlite_store.feed_health()
        for fid, word in reasons.items():
            assert not outcomes[fid].ok, fid
            assert health[fid].consecutive_failures == 1
            assert word in (health[fid].last_error or "").lower(), (fid, health[fid].last_error)
        assert health["busy"].backoff_until is not None
        assert health["busy"].backoff_until >= NOW + timedelta(seconds=120)
        # items with hostile links are archived as text, but nothing followed them
        links = {a.guid: a for a, _ in sqlite_store.list_articles() if a.feed_id == "links"}
        assert set(links) == {"h1", "h2", "h3", "h4"}
        assert links["h3"].url is None and links["h4"].url is None
        assert links["h1"].page_status == "failed" and links["h2"].page_status == "failed"
        assert internal.requests == []


def test_conditional_get_costs_no_parsing(
    server: LocalServer, client: HttpClient, sqlite_store: Store, settings: Settings
) -> None:
    body = rss(item("c1", "Google unveils TPU", "https://news.example.com/tpu", LONG))
    server.conditional("/c.xml", body, etag='"v1"', headers={"Content-Type": RSS})
    spec = feed(server, "cond", "/c.xml")
    with FeedIngester(sqlite_store, settings, client) as ingester:
        first = ingester.fetch([spec], now=NOW, run_id="r1").outcomes[0]
        second = ingester.fetch([spec], now=NOW + timedelta(minutes=20), run_id="r2").outcomes[0]
    assert first.ok and len(first.new_ids) == 1
    assert second.ok and second.not_modified and second.items == 0
    assert server.requests_to("/c.xml")[1].headers.get("if-none-match") == '"v1"'
    assert sqlite_store.feed_health()["cond"].consecutive_failures == 0


def test_failing_feed_is_backed_off_and_polls_respect_their_interval(
    server: LocalServer, client: HttpClient, sqlite_store: Store, settings: Settings
) -> None:
    server.route("/broken.xml", b"{}", headers={"Content-Type": "application/json"})
    server.route(
        "/ok.xml",
        rss(item("o1", "Apple C1 modem", "https://news.example.com/c1", LONG)),
        headers={"Content-Type": RSS},
    )
    broken, ok = feed(server, "broken", "/broken.xml"), feed(server, "ok", "/ok.xml", poll_minutes=30)
    with FeedIngester(sqlite_store, settings, client) as ingester:
        ingester.fetch([broken, ok], now=NOW, run_id="r1")
        ingester.fetch([broken, ok], now=NOW + timedelta(minutes=16), run_id="r2")  # second failure
        later = ingester.fetch([broken, ok], now=NOW + timedelta(minutes=31), run_id="r3")
        forced = ingester.fetch([broken], now=NOW + timedelta(minutes=32), run_id="r4", force=True)
    by_id = {o.feed_id: o for o in later.outcomes}
    assert by_id["broken"].skipped and "backing off" in by_id["broken"].skipped
    assert not by_id["ok"].skipped  # its 30-minute interval has passed
    assert len(server.requests_to("/broken.xml")) == 3  # r1, r2, and the forced r4
    assert not forced.outcomes[0].ok
    assert sqlite_store.feed_health()["broken"].consecutive_failures == 3


def test_short_items_get_their_page_and_paywalls_are_flagged(
    server: LocalServer, client: HttpClient, sqlite_store: Store, settings: Settings
) -> None:
    article_html = (
        "<html><head><title>Baidu Kunlun</title><link rel='canonical' href='https://news.example.com/kunlun'>"
        "</head><body><article>" + "".join(
            f"<p>Baidu said its Kunlun P800 cluster trained a new model, paragraph {i}, with more detail "
            "about the thirty-thousand chip cluster and its software stack.</p>" for i in range(8)
        ) + "</article></body></html>"
    )  # fmt: skip
    paywall_html = (
        "<html><body><article><p>Microsoft's Maia chip ...</p>"
        "<div class='paywall'>Subscribe to continue reading.</div></article></body></html>"
    )
    server.route("/kunlun.html", article_html, headers={"Content-Type": "text/html; charset=utf-8"})
    server.route("/maia.html", paywall_html, headers={"Content-Type": "text/html; charset=utf-8"})
    body = rss(
        item("p1", "Baidu trains model on Kunlun chips", server.url("/kunlun.html"), "Short.")
        + item("p2", "Microsoft Maia delayed", server.url("/maia.html"), "")
    )
    server.route("/p.xml", body, headers={"Content-Type": RSS})
    spec = FeedSpec(id="pages", url=server.url("/p.xml"), language="en")
    with FeedIngester(sqlite_store, settings, client) as ingester:
        outcome = ingester.fetch([spec], now=NOW, run_id="r1").outcomes[0]
    assert outcome.pages_fetched == 2
    stored = {a.guid: a for a, _ in sqlite_store.list_articles()}
    assert stored["p1"].page_status == "ok" and "thirty-thousand chip cluster" in (stored["p1"].body or "")
    assert stored["p1"].canonical_url == canonical_url("https://news.example.com/kunlun")
    assert stored["p2"].page_status == "paywalled" and stored["p2"].body is None
