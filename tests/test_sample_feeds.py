"""The bundled sample feeds (samples/feeds) agree with their ground truth (samples/expected.json) and with
the sample feed list (config/feeds.sample.yaml) that `make demo` serves them through."""

from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import feedparser
import pytest

from pipeline.config.feeds import load_feeds
from pipeline.models import EVENT_TYPES
from pipeline.settings import PROJECT_ROOT

SAMPLES = PROJECT_ROOT / "samples"
FEEDS_DIR = SAMPLES / "feeds"
SAMPLE_LIST = PROJECT_ROOT / "config" / "feeds.sample.yaml"
ATOM = "{http://www.w3.org/2005/Atom}"
_DECLARED = re.compile(rb"""^<\?xml[^>]*encoding=["']([A-Za-z0-9_.-]+)["']""")


def _expected() -> dict[str, Any]:
    return json.loads((SAMPLES / "expected.json").read_text(encoding="utf-8"))


EXPECTED = _expected()
ITEMS: list[dict[str, Any]] = EXPECTED["items"]


def _utc(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _parse_xml(path: Path) -> ET.Element:
    """Parse with the encoding the XML declaration names (expat alone cannot read GBK)."""
    raw = path.read_bytes()
    m = _DECLARED.match(raw)
    encoding = m.group(1).decode("ascii") if m else "utf-8"
    text = raw.decode(encoding)  # strict: a byte that is not valid in the declared encoding fails here
    return ET.fromstring(re.sub(r"^<\?xml[^>]*\?>", "", text))


def _plain(markup: str) -> str:
    """A feed title as a reader sees it: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", markup)).strip()


def _items_in(path: Path) -> dict[str, dict[str, Any]]:
    """guid/id -> {published (UTC), raw_published, title, url} for every item of an RSS or Atom file."""
    root = _parse_xml(path)
    out: dict[str, dict[str, Any]] = {}
    if root.tag == "rss":
        for item in root.iter("item"):
            raw = item.findtext("pubDate", "")
            out[item.findtext("guid", "")] = {
                "published": parsedate_to_datetime(raw).astimezone(UTC),
                "raw_published": raw,
                "title": _plain(item.findtext("title", "")),
                "url": item.findtext("link", ""),
            }
    else:
        assert root.tag == f"{ATOM}feed", path
        for entry in root.iter(f"{ATOM}entry"):
            raw = entry.findtext(f"{ATOM}published", "")
            link = entry.find(f"{ATOM}link[@rel='alternate']")
            out[entry.findtext(f"{ATOM}id", "")] = {
                "published": _utc(raw),
                "raw_published": raw,
                "title": _plain(entry.findtext(f"{ATOM}title", "")),
                "url": link.get("href", "") if link is not None else "",
            }
    return out


def test_sample_feed_list_points_at_the_bundled_files() -> None:
    feeds = load_feeds(SAMPLE_LIST)
    assert len(feeds) == 5
    assert {f.language for f in feeds} == {"zh", "en", "mixed"}
    for feed in feeds:
        parts = urlsplit(feed.url)
        assert (parts.scheme, parts.hostname, parts.port) == ("http", "127.0.0.1", 8765), feed.id
        assert parts.path.startswith("/feeds/") and (FEEDS_DIR / parts.path.removeprefix("/feeds/")).is_file()
        assert not feed.fetch_pages, f"{feed.id} would fetch example.* pages from the network"
    listed = {urlsplit(f.url).path.removeprefix("/feeds/") for f in feeds}
    assert listed == {p.name for p in FEEDS_DIR.iterdir()}
    by_file = {urlsplit(f.url).path.removeprefix("/feeds/"): f.id for f in feeds}
    assert all(by_file[item["file"]] == item["feed_id"] for item in ITEMS)


@pytest.mark.parametrize("path", sorted(FEEDS_DIR.iterdir()), ids=lambda p: p.name)
def test_every_sample_file_is_well_formed_and_fully_described(path: Path) -> None:
    items = _items_in(path)
    assert 6 <= len(items) <= 10
    assert set(items) == {i["guid"] for i in ITEMS if i["file"] == path.name}
    # feedparser (what the pipeline uses) reads it cleanly too, with every item dated.
    parsed = feedparser.parse(path.read_bytes())
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert len(parsed.entries) == len(items)
    assert all(e.get("published_parsed") for e in parsed.entries)


def test_the_chinese_finance_feed_is_really_gbk() -> None:
    raw = (FEEDS_DIR / "cn-finance-gbk.xml").read_bytes()
    assert raw.startswith(b'<?xml version="1.0" encoding="gbk"?>')
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert "阿里平头哥" in raw.decode("gbk")
    assert feedparser.parse(raw).encoding == "gbk"
    dates = [v["raw_published"] for v in _items_in(FEEDS_DIR / "cn-finance-gbk.xml").values()]
    assert dates and all(d.endswith(" +0800") for d in dates)


@pytest.mark.parametrize("item", ITEMS, ids=lambda i: f"{i['file']}:{i['guid']}")
def test_expected_item_is_in_its_file_with_that_date_title_and_link(item: dict[str, Any]) -> None:
    found = _items_in(FEEDS_DIR / item["file"]).get(item["guid"])
    assert found is not None, f"{item['guid']} not in {item['file']}"
    assert found["published"] == _utc(item["published"])
    assert found["title"] == item["title"]
    assert found["url"] == item["url"]


def test_windows_match_the_dates() -> None:
    windows = {name: (_utc(w["start"]), _utc(w["end"])) for name, w in EXPECTED["windows"].items()}
    assert set(windows) == {"demo", "backfill"}
    for item in ITEMS:
        start, end = windows[item["window"]]
        assert start <= _utc(item["published"]) < end, item["guid"]
    demo = [_utc(i["published"]) for i in ITEMS if i["window"] == "demo"]
    # "Today" is spread over the morning (UTC); the backfill hours are a small, separate group.
    assert all(1 <= d.hour < 11 for d in demo)
    backfill = [i for i in ITEMS if i["window"] == "backfill"]
    assert 6 <= len(backfill) <= 10 and len({i["file"] for i in backfill}) >= 2
    assert 35 <= len(ITEMS) <= 45


@pytest.mark.parametrize("window", ["demo", "backfill"])
def test_each_window_has_relevant_and_irrelevant_items(window: str) -> None:
    labels = Counter(i["relevant"] for i in ITEMS if i["window"] == window)
    assert labels[True] >= 3 and labels[False] >= 3


def test_labels_are_consistent() -> None:
    for item in ITEMS:
        if item["relevant"]:
            assert item["event_type"] in EVENT_TYPES and item["company"], item["guid"]
        else:
            assert item["event_type"] is None and item["company"] is None and item["amount"] is None
        assert item["language"] in ("zh", "en", "mixed")
    assert {i["event_type"] for i in ITEMS if i["relevant"]} == set(EVENT_TYPES)
    with_amount = [i for i in ITEMS if i["amount"]]
    assert with_amount and any("亿元" in i["amount"] for i in with_amount)
    assert any(i["amount"].startswith("$") for i in with_amount)
    # The mixed item: a Chinese headline over an English summary.
    assert any(i["language"] == "mixed" and i["relevant"] for i in ITEMS)


def test_duplicate_stories_are_labelled_alike_and_cover_both_kinds() -> None:
    stories: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in ITEMS:
        stories[item["story_key"]].append(item)
    duplicates = {key: items for key, items in stories.items() if len(items) > 1}
    assert len(duplicates) >= 2
    for key, items in duplicates.items():
        assert len({i["file"] for i in items}) == len(items), (
            f"{key}: a duplicate must come from another feed"
        )
        assert len({(i["relevant"], i["event_type"], i["company"]) for i in items}) == 1, key
        assert len({i["title"] for i in items}) == len(items), f"{key}: duplicates are worded differently"
    # One story told in Chinese and in English ...
    assert any({"zh", "en"} <= {i["language"] for i in items} for items in duplicates.values())

    # ... and one English pair whose links differ only by tracking parameters.
    def without_query(url: str) -> str:
        return urlunsplit(urlsplit(url)._replace(query=""))

    assert any(
        len({i["url"] for i in items}) > 1
        and len({without_query(i["url"]) for i in items}) == 1
        and any("utm_source=" in i["url"] for i in items)
        for items in duplicates.values()
    )


def test_the_hostile_title_carries_escaped_markup() -> None:
    raw = (FEEDS_DIR / "semi-trade.xml").read_text(encoding="utf-8")
    assert "&lt;b&gt;Google&lt;/b&gt;" in raw and "&amp;amp;" in raw
    item = next(i for i in ITEMS if i["guid"] == "semi-review-41230")
    assert item["title"] == 'Google details TPU v7 "Ironwood" pods & liquid cooling'


def test_sample_links_never_point_at_real_sites() -> None:
    for item in ITEMS:
        host = urlsplit(item["url"]).hostname or ""
        assert host.endswith((".example.com", ".example.net", ".example.org")), item["url"]
