from __future__ import annotations

import io
import json
import re
import sys
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from support.environment import unavailable

from pipeline.errors import FeedParseError
from pipeline.ingest.encoding import looks_like_mojibake
from pipeline.ingest.feedparse import parse_feed
from pipeline.models import ParsedFeed

ROOT = Path(__file__).resolve().parents[2]
FEEDS = ROOT / "tests" / "data" / "feeds"
EXPECTED = FEEDS / "expected"
URL = "https://feeds.example/dir/feed.xml"

sys.path.insert(0, str(ROOT / "scripts"))
import regen_feed_golden  # noqa: E402

CORPUS = regen_feed_golden.corpus_dir()
CJK = re.compile(r"[\u4e00-\u9fff]")


def parse(
    name: str, headers: dict[str, str] | None = None, language: str = "zh", *, fast_path: bool = True
) -> ParsedFeed:
    body = (FEEDS / name).read_bytes()
    return parse_feed(body, headers or {}, url=URL, language=language, feed_id="t", fast_path=fast_path)


# --- encodings --------------------------------------------------------------------------------------

CHINESE_TITLES = [
    "阿里巴巴旗下平头哥发布新一代自研芯片",
    "腾讯投资芯片设计公司，金额达十亿元",
    "百度昆仑芯完成新一轮融资",
]


@pytest.mark.parametrize(
    ("name", "headers"),
    [
        ("gbk_declared.xml", {}),
        ("gbk_undeclared.xml", {}),
        ("gbk_undeclared.xml", {"Content-Type": "application/rss+xml; charset=ISO-8859-1"}),
        ("gbk_declared_latin1.xml", {"content-type": "text/xml"}),
        ("utf8_bom.xml", {"content-type": "text/xml; charset=gbk"}),
        ("utf8_labelled_gbk.xml", {"content-type": "text/xml; charset=gbk"}),
    ],
)
def test_chinese_encodings(name: str, headers: dict[str, str]) -> None:
    feed = parse(name, headers)
    assert [e.title for e in feed.entries] == CHINESE_TITLES
    assert feed.title == "科技新闻"
    assert feed.entries[0].summary == "阿里巴巴旗下平头哥发布新一代自研芯片。芯片行业动态。"
    assert feed.entries[0].published == datetime(2025, 9, 15, 0, 30, tzinfo=UTC)
    for entry in feed.entries:
        assert not looks_like_mojibake(entry.title + entry.summary)


def test_lying_header_is_reported_as_a_warning() -> None:
    feed = parse("gbk_undeclared.xml", {"Content-Type": "text/xml; charset=ISO-8859-1"})
    assert feed.encoding == "gb18030"
    assert any("detected as gb18030" in w for w in feed.warnings)


def test_gb2312_label_with_characters_outside_gb2312() -> None:
    feed = parse("gb2312_label_gb18030.xml")
    assert feed.encoding == "gb18030"
    assert [e.title for e in feed.entries] == ["朱镕基谈半导体产业", "王堃：陶喆与龚䶮的芯片故事 🚀"]


# UTF-16 and UTF-32 without a byte-order mark: the first bytes give the encoding away (XML appendix F).
@pytest.mark.parametrize(
    ("name", "headers", "encoding"),
    [
        ("utf16le_no_bom.xml", {}, "utf-16-le"),
        ("utf16be_no_bom.xml", {}, "utf-16-be"),
        ("utf32le_no_bom.xml", {}, "utf-32-le"),
        ("utf32be_no_bom.xml", {}, "utf-32-be"),
        ("utf16le_undeclared.xml", {"Content-Type": "application/rss+xml; charset=utf-16le"}, "utf-16-le"),
        ("utf16le_undeclared.xml", {}, "utf-16-le"),
    ],
)
def test_utf16_and_utf32_without_bom(name: str, headers: dict[str, str], encoding: str) -> None:
    feed = parse(name, headers)
    assert feed.encoding == encoding
    assert [e.title for e in feed.entries] == CHINESE_TITLES
    assert feed.title == "科技新闻"
    assert feed.entries[0].summary == "阿里巴巴旗下平头哥发布新一代自研芯片。芯片行业动态。"


def test_utf16_header_is_the_declaration_when_the_document_has_none() -> None:
    headers = {"Content-Type": "application/rss+xml; charset=utf-16le"}
    assert parse("utf16le_undeclared.xml", headers).warnings == ()
    assert any("detected as utf-16-le" in w for w in parse("utf16le_undeclared.xml").warnings)


@pytest.mark.parametrize(
    ("name", "titles", "summary"),
    [
        (
            "utf8_one_bad_byte.xml",
            ["It’s “here”: a chip of its own", "Cloud group backs a chip start-up"],
            "Price: 5 \ufffd units",  # the stray Latin-1 byte, and only it
        ),
        (
            "utf8_chinese_one_bad_byte.xml",
            ["华为发布新芯片", "小米投资芯片公司"],
            "发布会上公布了价格\ufffd态",
        ),
    ],
)
@pytest.mark.parametrize("language", ["en", "zh"])
def test_one_invalid_byte_in_declared_utf8_is_replaced_not_reguessed(
    name: str, titles: list[str], summary: str, language: str
) -> None:
    feed = parse(name, language=language)
    assert feed.encoding == "utf-8"
    assert [e.title for e in feed.entries] == titles
    assert feed.entries[0].summary == summary
    assert "replaced 1 invalid UTF-8 byte sequence(s) with U+FFFD" in feed.warnings


# Undeclared legacy encodings: the feeds are our own sentences written in those encodings; what must come
# back is the text that was encoded (scripts/regen_feed_golden.py LEGACY_FEEDS).
@pytest.mark.parametrize("name", sorted(regen_feed_golden.LEGACY_FEEDS))
@pytest.mark.parametrize("language", ["en", "zh"])  # a Chinese feed may prefer GB18030, not force it
def test_undeclared_legacy_encodings(name: str, language: str) -> None:
    codec, channel, titles = regen_feed_golden.LEGACY_FEEDS[name]
    body = (FEEDS / name).read_bytes()
    feed = parse(name, language=language)
    # Whatever codec name was chosen, it must read these bytes exactly as the encoding they were written in.
    assert body.decode(feed.encoding) == body.decode(codec)
    assert feed.title == channel
    assert [e.title for e in feed.entries] == list(titles)
    description = regen_feed_golden.LEGACY_DESCRIPTION[codec].format(title=titles[-1])
    assert feed.entries[-1].summary == description
    assert not any("\ufffd" in e.title + e.summary for e in feed.entries)


def test_undeclared_gbk_is_gb18030_for_chinese_and_english_feeds() -> None:
    for language in ("zh", "en"):
        feed = parse("gbk_undeclared.xml", language=language)
        assert feed.encoding == "gb18030"
        assert [e.title for e in feed.entries] == CHINESE_TITLES


def test_html_doctype_in_front_of_rss_is_a_feed() -> None:
    feed = parse("html_doctype_rss.xml", language="en")
    assert feed.title == "Doctype in front"
    assert [(e.title, e.url, e.guid) for e in feed.entries] == [
        ("Chip group opens a design centre", "https://doctype.example/news/1", "doctype-1")
    ]
    assert feed.entries[0].published == datetime(2025, 9, 16, 7, 0, tzinfo=UTC)


def test_tags_with_unbalanced_quotes_are_removed_from_titles_and_summaries() -> None:
    feed = parse("unbalanced_quote.xml", language="en")
    assert [(e.title, e.summary) for e in feed.entries] == [
        ("Search giant tapes out its fifth TPU", "Details in the report and the appendix."),
        ("Retailer invests in a RISC-V start-up", "Full story inside."),
    ]


def test_mathml_text_is_kept_in_summaries() -> None:
    feed = parse("mathml_summary.xml", language="en")
    assert [e.summary for e in feed.entries] == [
        "Yield falls as e-DA for die area A.",  # the TeX annotation is not read twice
        "Peak rate is 2×64 operations per cycle.",
    ]


# --- hostile documents ------------------------------------------------------------------------------


def test_entity_bomb_is_small() -> None:
    """Its parse time is measured by ``make bench`` (bench/hostile.py), not here."""
    body = (FEEDS / "entity_bomb.xml").read_bytes()
    assert 100_000 < len(body) < 120_000
    feed = parse_feed(body, {}, url=URL, language="en")
    tracemalloc.start()
    try:
        parse_feed(body, {}, url=URL, language="en")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 100 * 1024 * 1024
    assert feed.entries[0].title == "Laughs &lol9;"  # never expanded: left as the text it was written as
    assert "lollol" not in feed.entries[0].summary
    assert "x" * 100 not in feed.entries[0].summary
    assert any("DOCTYPE" in w for w in feed.warnings)


def test_doctype_and_external_entities_are_never_resolved() -> None:
    feed = parse("doctype_external_entity.xml", language="en")
    entry = feed.entries[0]
    assert entry.title == "Leak &xxe; here"
    assert "root:" not in entry.summary
    assert entry.summary == "Remote &remote; and &brand; and &tricky; and non-breaking © 2025"
    assert entry.published == datetime(2025, 9, 15, 8, 30, tzinfo=UTC)


def test_hostile_titles_become_plain_clean_text() -> None:
    feed = parse("hostile_titles.xml", language="en")
    assert [e.title for e in feed.entries] == [
        "Tencent invests in chip start-up",
        "Alibaba &amp; T-Head",
        "Zerowidth Baidu chips",
        "RTL evil override isolate and mark",
        "NUL byte and bell controls",
    ]
    assert [e.summary for e in feed.entries] == [f"Body {i}" for i in range(1, 6)]
    assert [e.guid for e in feed.entries] == [f"h-{i}" for i in range(1, 6)]  # GUIDs are not URLs


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("empty.xml", "empty document"),
        ("html_page.html", "HTML page, not a feed"),
        ("json_feed.json", "JSON document"),
        ("binary.png", "PNG image, not a feed"),
        ("not_a_feed.xml", "root <urlset>, not RSS/Atom/RDF"),
    ],
)
def test_not_a_feed(name: str, reason: str) -> None:
    with pytest.raises(FeedParseError, match=re.escape(reason)) as info:
        parse(name)
    assert info.value.url == URL
    assert info.value.feed_id == "t"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"   \n\t ", "empty document"),
        (b"<html><body><p>Hello</p></body></html>", "HTML page"),
        (b"<!doctype html><title>x</title>", "HTML page"),
        (b"<!DOCTYPE html>\n<html><body><rss>x</rss></body></html>", "HTML page"),
        (b"<!DOCTYPE html>just text", "HTML page"),
        (b"\n\n<head><title>x</title></head>", "HTML page"),
        (b'[{"title": "x"}]', "JSON document"),
        (b"\x1f\x8b\x08\x00\x00\x00\x00\x00", "gzip-compressed data"),
        (b"\x00\x01\x02\x03garbage\x00", "binary data"),
        (b"Just some text", "not XML"),
        (b"<?xml version='1.0'?><!-- only a comment -->", "without a root element"),
        (b"<rss><channel><title>cut", "malformed feed with no items"),
    ],
)
def test_not_a_feed_inline(body: bytes, reason: str) -> None:
    with pytest.raises(FeedParseError, match=re.escape(reason)):
        parse_feed(body, {}, url=URL, language="en")


def test_empty_channel_is_a_feed_with_no_entries() -> None:
    feed = parse("empty_channel.xml", language="en")
    assert feed.entries == ()
    assert feed.title == "Quiet feed"
    assert feed.warnings == ()


def test_cdf_channel_that_feedparser_reads_is_a_feed() -> None:
    # Microsoft's CDF: a <CHANNEL> feedparser parses cleanly without naming a version.
    feed = parse_feed(
        b'<CHANNEL HREF="https://cdf.example/"><TITLE>CDF</TITLE></CHANNEL>', {}, url=URL, language="en"
    )
    assert (feed.title, feed.entries) == ("CDF", ())
    with pytest.raises(FeedParseError, match="no RSS/Atom/RDF channel or items found"):
        parse_feed(
            b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>', {}, url=URL, language="en"
        )


def test_bozo_feed_with_entries_is_kept_with_a_warning() -> None:
    feed = parse("malformed_with_items.xml", language="en")
    assert [e.title for e in feed.entries] == ["First story", "Second story unclosed"]
    assert any("not well-formed" in w for w in feed.warnings)


def test_undefined_entities_and_bare_ampersands_do_not_break_strict_parsing() -> None:
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
        b"<item><title>AT&T &nbsp;&hellip; &bogus; &#0; &#x202E;x</title>"
        b"<link>https://e.example/a?x=1&y=2</link></item></channel></rss>"
    )
    feed = parse_feed(body, {}, url=URL, language="en")
    assert feed.warnings == ()  # parsed strictly: no lenient second pass
    assert feed.entries[0].title == "AT&T … &bogus; x"
    assert feed.entries[0].url == "https://e.example/a?x=1&y=2"


def test_leading_whitespace_and_a_repeated_xml_declaration_parse_strictly() -> None:
    body = (
        b'\n  <?xml version="1.0"?>\n<?xml version="1.0" encoding="utf-8"?><?xml-stylesheet href="a.xsl"?>'
        b"<rss><channel><title>x</title><item><title>a</title></item></channel></rss>"
    )
    feed = parse_feed(body, {}, url=URL, language="en")
    assert [e.title for e in feed.entries] == ["a"]
    assert feed.warnings == ()


# --- entries ----------------------------------------------------------------------------------------


def test_duplicates_collapse_to_the_first_and_empty_items_are_dropped() -> None:
    feed = parse("duplicate_guids.xml", language="en")
    assert [(e.title, e.guid, e.url) for e in feed.entries] == [
        ("First A", "guid-a", "https://dup.example/a"),
        ("B", "guid-b", "https://dup.example/b"),
        ("No GUID C", None, "https://dup.example/c"),
        ("Title only", None, None),
    ]
    assert "dropped 1 item(s) with neither title nor link" in feed.warnings
    assert "collapsed 2 item(s) repeating an earlier GUID or link" in feed.warnings


def test_links_are_made_absolute_but_not_canonicalised() -> None:
    feed = parse("relative_links.xml", language="en")
    assert [e.url for e in feed.entries] == [
        "https://feeds.example/news/2025/chips.html?utm_source=rss",
        "https://feeds.example/dir/2025/09/story.html",
        "https://cdn.rel.example/story",
        None,  # javascript:
        "https://rel.example/spaced",
    ]


def test_chinese_dates_and_cst() -> None:
    feed = parse("chinese_dates.xml", language="zh")
    at_0830 = datetime(2025, 9, 15, 0, 30, tzinfo=UTC)
    assert [e.published for e in feed.entries] == [
        at_0830,
        datetime(2025, 9, 14, 16, 0, tzinfo=UTC),
        at_0830,
        at_0830,
        at_0830,
        at_0830,
        datetime(2025, 9, 15, 8, 30, tzinfo=UTC),
        None,
    ]


def test_cst_is_us_central_in_english_feeds() -> None:
    feed = parse("chinese_dates.xml", language="en")
    by_title = {e.title: e.published for e in feed.entries}
    assert by_title["CST 时区"] == datetime(2025, 9, 15, 14, 30, tzinfo=UTC)
    assert by_title["横杠格式"] == datetime(2025, 9, 15, 8, 30, tzinfo=UTC)  # naive: UTC for English
    assert by_title["年月日时分"] == datetime(2025, 9, 15, 0, 30, tzinfo=UTC)  # written in Chinese


def test_summary_prefers_the_longer_of_summary_and_content() -> None:
    body = b"""<?xml version="1.0"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>T</title>
<item><title>Short desc</title><link>https://e.example/1</link><description>Teaser</description>
<content:encoded><![CDATA[<p>The full text.</p><p>Second paragraph.</p>]]></content:encoded></item>
<item><title>Long desc</title><link>https://e.example/2</link><description>A long description here</description>
<content:encoded>Tiny</content:encoded></item>
<item><title>Author</title><link>https://e.example/3</link><author>news@e.example (Jane Doe)</author></item>
</channel></rss>"""
    feed = parse_feed(body, {}, url=URL, language="en")
    assert [e.summary for e in feed.entries] == [
        "The full text.\nSecond paragraph.",
        "A long description here",
        "",
    ]
    assert feed.entries[2].author == "Jane Doe"


def test_atom_feed() -> None:
    body = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://atom.example/blog/">
  <title type="html">&lt;b&gt;Atom&lt;/b&gt; feed</title>
  <entry>
    <title type="html">&lt;i&gt;英伟达&lt;/i&gt; &amp;amp; 台积电</title>
    <link rel="alternate" href="posts/1"/>
    <id>tag:atom.example,2025:1</id>
    <updated>2025-09-15T08:30:00+08:00</updated>
    <summary type="html">&lt;p&gt;摘要&lt;/p&gt;</summary>
    <content type="html">&lt;p&gt;正文比摘要更长一些。&lt;/p&gt;</content>
    <author><name>记者</name></author>
  </entry>
</feed>""".encode()
    feed = parse_feed(body, {}, url=URL, language="zh")
    entry = feed.entries[0]
    assert feed.title == "Atom feed"
    assert entry.title == "英伟达 & 台积电"  # type="html": its "&amp;" is an escaped "&"
    assert entry.url == "https://atom.example/blog/posts/1"
    assert entry.guid == "tag:atom.example,2025:1"
    assert entry.published == datetime(2025, 9, 15, 0, 30, tzinfo=UTC)
    assert entry.summary == "正文比摘要更长一些。"
    assert entry.author == "记者"


# --- the feedparser seam ----------------------------------------------------------------------------


def test_feedparser_gets_a_stream_never_a_url_or_path(monkeypatch: pytest.MonkeyPatch) -> None:
    import feedparser

    real_parse = feedparser.parse
    calls: list[dict[str, Any]] = []

    def spy(source: Any, **kwargs: Any) -> Any:
        calls.append({"source": source, **kwargs})
        return real_parse(source, **kwargs)

    monkeypatch.setattr(feedparser, "parse", spy)
    # A body that feedparser would treat as a URL or a file name if it were handed a str or bytes.
    with pytest.raises(FeedParseError):
        parse_feed(b"http://127.0.0.1:9/feed.xml", {}, url=URL, language="en")
    with pytest.raises(FeedParseError):
        parse_feed(b"/etc/passwd", {}, url=URL, language="en")
    parse("gbk_declared.xml", fast_path=False)
    assert len(calls) == 1
    assert isinstance(calls[0]["source"], io.BytesIO)
    assert calls[0]["response_headers"]["content-type"] == "application/xml; charset=utf-8"
    document = calls[0]["source"].getvalue()
    assert document.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    document.decode("utf-8")  # re-encoded: feedparser cannot decode it as GBK again


def test_feedparser_crash_becomes_feed_parse_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import feedparser

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("internal failure")

    monkeypatch.setattr(feedparser, "parse", boom)
    with pytest.raises(FeedParseError, match="feedparser failed: RuntimeError") as info:
        parse("gbk_declared.xml", fast_path=False)
    assert isinstance(info.value.__cause__, RuntimeError)


# --- golden files over the real corpus --------------------------------------------------------------

GOLDEN = sorted(EXPECTED.glob("*.json"))


@pytest.fixture
def _corpus() -> None:
    if CORPUS is None:
        unavailable("shared corpus (shared/corpus/feeds) not found")


needs_corpus = pytest.mark.usefixtures("_corpus")


def test_golden_files_exist() -> None:
    assert len(GOLDEN) >= 44


@needs_corpus
def test_every_corpus_feed_has_a_golden_file() -> None:
    assert CORPUS is not None
    names = {p.name for p in CORPUS.iterdir() if p.is_file()}
    assert names == {p.name.removesuffix(".json") for p in GOLDEN}


@needs_corpus
@pytest.mark.parametrize("golden", GOLDEN, ids=lambda p: p.name.removesuffix(".json"))
def test_corpus_feed_matches_golden(golden: Path) -> None:
    assert CORPUS is not None
    name = golden.name.removesuffix(".json")
    expected = json.loads(golden.read_text(encoding="utf-8"))
    parsed = regen_feed_golden.parse_corpus_feed(name, (CORPUS / name).read_bytes())
    record = regen_feed_golden.golden_record(name, parsed)
    assert record == expected, (
        "run scripts/regen_feed_golden.py and review the diff if this change is intended"
    )
    for entry in parsed.entries:
        assert not looks_like_mojibake(entry.title), entry.title


@needs_corpus
@pytest.mark.parametrize("name", sorted(regen_feed_golden.CHINESE_FEEDS))
def test_chinese_corpus_feeds_have_cjk_titles_and_no_mojibake(name: str) -> None:
    assert CORPUS is not None
    feed = parse_feed((CORPUS / name).read_bytes(), {}, url=URL, language="zh")
    assert feed.entries
    for entry in feed.entries:
        assert CJK.search(entry.title), entry.title
        assert not looks_like_mojibake(entry.title), entry.title
        assert not looks_like_mojibake(entry.summary), entry.summary[:80]


@needs_corpus
def test_gb2312_corpus_feed_is_read_as_gb18030() -> None:
    assert CORPUS is not None
    feed = parse_feed((CORPUS / "rsparser__kc0011.rss").read_bytes(), {}, url=URL, language="zh")
    assert feed.encoding == "gb18030"
    assert b'encoding="gb2312"' in (CORPUS / "rsparser__kc0011.rss").read_bytes()[:100]
