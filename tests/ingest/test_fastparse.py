"""The fast parse path (lxml) against feedparser: the same fields, or a hand-over to feedparser.

The reference is feedparser itself (``parse_feed(..., fast_path=False)``), on the shared corpus, the
sample feeds, the test fixtures and randomised feeds that combine the constructs whose feedparser rules
the fast path replays (several titles at different depths, descriptions that turn into content, GUIDs
standing in for links, xml:base, Atom persons, XHTML wrappers ...).
"""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

import pytest
from support.environment import unavailable

from pipeline.ingest import fastparse
from pipeline.ingest.feedparse import parse_feed
from pipeline.models import ParsedFeed

ROOT = Path(__file__).resolve().parents[2]
FEEDS = ROOT / "tests" / "data" / "feeds"
SAMPLES = ROOT / "samples" / "feeds"
URL = "https://feeds.example/dir/feed.xml"

sys.path.insert(0, str(ROOT / "scripts"))
import regen_feed_golden  # noqa: E402

CORPUS = regen_feed_golden.corpus_dir()
# Corpus feeds the fast path hands to feedparser, and why.
CORPUS_FALLBACKS = {"rssparser__uolNoticias.rss": "no declared encoding: the encoding is guessed"}


def both(body: bytes, language: str = "en") -> tuple[ParsedFeed, ParsedFeed]:
    fast = parse_feed(body, {}, url=URL, language=language, feed_id="t")
    slow = parse_feed(body, {}, url=URL, language=language, feed_id="t", fast_path=False)
    return fast, slow


def assert_same(fast: ParsedFeed, slow: ParsedFeed) -> None:
    assert slow.parser == "feedparser"
    assert fast.title == slow.title
    assert fast.encoding == slow.encoding
    assert fast.warnings == slow.warnings
    assert len(fast.entries) == len(slow.entries)
    for mine, theirs in zip(fast.entries, slow.entries, strict=True):
        assert mine == theirs


# --- the classification of feedparser's handlers ---------------------------------------------------


def test_every_feedparser_handler_is_replayed_or_known_to_be_harmless() -> None:
    # A feedparser upgrade that adds an element handler must be looked at before the fast path trusts it.
    from feedparser.mixin import _FeedParserMixin

    handlers = {
        method.split("_", 2)[2] for method in dir(_FeedParserMixin) if method.startswith(("_start_", "_end_"))
    }
    assert handlers - fastparse.MODELLED - fastparse.HARMLESS == set()
    assert not fastparse.MODELLED & fastparse.HARMLESS


# --- real feeds ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus() -> Path:
    if CORPUS is None:
        unavailable("shared corpus (shared/corpus/feeds) not found")
    assert CORPUS is not None
    return CORPUS


def test_corpus_feeds_have_the_same_fields_on_both_paths(corpus: Path) -> None:
    fallbacks = set()
    for path in sorted(p for p in corpus.iterdir() if p.is_file()):
        fast, slow = both(path.read_bytes(), regen_feed_golden.language_of(path.name))
        assert_same(fast, slow)
        if fast.parser != "lxml":
            fallbacks.add(path.name)
    assert fallbacks == set(CORPUS_FALLBACKS)


@pytest.mark.parametrize("path", sorted(SAMPLES.iterdir()), ids=lambda p: p.name)
def test_sample_feeds_take_the_fast_path_with_the_same_fields(path: Path) -> None:
    fast, slow = both(path.read_bytes(), "zh" if path.name.startswith("cn-") else "en")
    assert fast.parser == "lxml"
    assert fast.entries
    assert_same(fast, slow)


FIXTURES = sorted(p for p in FEEDS.iterdir() if p.is_file() and p.suffix in (".xml", ".atom", ".rss"))


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_fixtures_have_the_same_fields_on_both_paths(path: Path) -> None:
    from pipeline.errors import FeedParseError

    try:
        fast, slow = both(path.read_bytes(), "zh")
    except FeedParseError:
        with pytest.raises(FeedParseError):
            parse_feed(path.read_bytes(), {}, url=URL, language="zh", fast_path=False)
        return
    assert_same(fast, slow)


# --- what goes to feedparser -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"<rss><channel><title>x</title><item><title>a</rss>", "not well-formed"),
        (
            b'<feed version="0.3" xmlns="http://purl.org/atom/ns#"><title>x</title>'
            b"<entry><title>a</title></entry></feed>",
            "Atom 0.3",
        ),
        (
            b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>a</title>'
            b'<content type="application/octet-stream">QUJD</content></entry></feed>',
            "base64 content",
        ),
        (
            b'<rss version="2.0"><channel><item><title>a</title><description><div>x</div>'
            b"<p>y</p></description></item></channel></rss>",
            "a <div> in HTML content (feedparser skips it and loses count of depth)",
        ),
        (
            b'<rss version="2.0"><channel><item><title>a</title><textinput><title>t</title></textinput>'
            b"</item></channel></rss>",
            "textinput inside an item",
        ),
    ],
)
def test_doubtful_documents_go_to_feedparser(body: bytes, why: str) -> None:
    assert fastparse.parse_document(body) is None, why
    fast, slow = both(body)
    assert fast.parser == "feedparser"
    assert_same(fast, slow)


def test_documents_with_entity_declarations_or_a_guessed_encoding_go_to_feedparser() -> None:
    assert parse_feed((FEEDS / "entity_bomb.xml").read_bytes(), {}, url=URL, language="en").parser == (
        "feedparser"
    )
    assert parse_feed((FEEDS / "gbk_undeclared.xml").read_bytes(), {}, url=URL, language="zh").parser == (
        "feedparser"
    )
    assert parse_feed((FEEDS / "gbk_declared.xml").read_bytes(), {}, url=URL, language="zh").parser == "lxml"


def test_a_defect_in_the_fast_path_costs_nothing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(self: Any) -> Any:
        raise KeyError("a bug")

    monkeypatch.setattr(fastparse._Reader, "read", broken)
    with caplog.at_level("WARNING", logger="pipeline.ingest.fastparse"):
        feed = parse_feed((FEEDS / "gbk_declared.xml").read_bytes(), {}, url=URL, language="zh")
    assert feed.parser == "feedparser"
    assert len(feed.entries) == 3
    assert "fast path failed" in caplog.text


def test_the_fast_path_does_not_call_feedparser(monkeypatch: pytest.MonkeyPatch) -> None:
    import feedparser

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("feedparser was called for a well-formed RSS feed")

    monkeypatch.setattr(feedparser, "parse", refuse)
    feed = parse_feed((FEEDS / "hostile_titles.xml").read_bytes(), {}, url=URL, language="en")
    assert feed.parser == "lxml"
    assert [e.title for e in feed.entries][:2] == ["Tencent invests in chip start-up", "Alibaba &amp; T-Head"]


# --- feedparser's rules, one at a time (expected values from feedparser's documented behaviour) ------


def rss(items: str, channel: str = "<title>Feed</title>", attributes: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:content="http://purl.org/rss/1.0/modules/content/"'
        f' xmlns:atom="http://www.w3.org/2005/Atom" {attributes}><channel>{channel}{items}</channel></rss>'
    ).encode()


@pytest.mark.parametrize(
    ("item", "field", "value"),
    [
        # The item's own title wins over media:title, before or after it.
        ("<media:content><media:title>M</media:title></media:content><title>T</title>", "title", "T"),
        ("<title>T</title><media:content><media:title>M</media:title></media:content>", "title", "T"),
        # A GUID stands in for a missing link, unless it says it is no permalink.
        ("<title>T</title><guid>https://g.example/1</guid>", "url", "https://g.example/1"),
        ('<title>T</title><guid isPermaLink="false">https://g.example/1</guid>', "url", None),
        # A second description becomes content: the longer one is the summary.
        ("<title>T</title><description>short</description><media:description>the longer one</media:description>",
         "summary", "the longer one"),
        # Text that is UTF-8 read as Latin-1 is repaired; windows-1252 C1 characters mapped.
        ("<title>CafÃ© &#150; bar</title>", "title", "Café – bar"),
        # An Atom person becomes "name (email)".
        ("<title>T</title><atom:author><atom:name>Li Lei</atom:name><atom:email>li@x.example</atom:email>"
         "</atom:author>", "author", "Li Lei (li@x.example)"),
    ],
)  # fmt: skip
def test_feedparser_rules(item: str, field: str, value: str | None) -> None:
    fast, slow = both(rss(f"<item>{item}</item>"))
    assert fast.parser == "lxml"
    assert getattr(fast.entries[0], field) == value
    assert_same(fast, slow)


def test_xml_base_is_applied_to_links_and_ids() -> None:
    body = (
        b'<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://base.example/blog/"><title>B</title>'
        b'<entry><title>T</title><link href="posts/1"/><id>entry-1</id></entry></feed>'
    )
    fast, slow = both(body)
    assert fast.parser == "lxml"
    assert (fast.entries[0].url, fast.entries[0].guid) == (
        "https://base.example/blog/posts/1",
        "https://base.example/blog/entry-1",  # feedparser joins Atom ids against xml:base too
    )
    assert_same(fast, slow)


# feedparser's bugs the fast path keeps, so that both paths give the same articles (docs/parsing.md).
def test_xml_base_leaks_out_of_its_element_as_in_feedparser() -> None:
    # The xml:base of one <content> applies to every later relative link and id, in the next entry too:
    # feedparser restores the outer base only when the outer element had one of its own.
    body = (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>B</title>'
        b'<entry><title>One</title><content type="html" xml:base="https://elsewhere.example/deep/">x</content>'
        b'<link href="posts/1"/><id>one</id></entry>'
        b'<entry><title>Two</title><link href="posts/2"/><id>two</id></entry></feed>'
    )
    fast, slow = both(body)
    assert fast.parser == "lxml"
    assert [(e.url, e.guid) for e in fast.entries] == [
        ("https://elsewhere.example/deep/posts/1", "https://elsewhere.example/deep/one"),
        ("https://elsewhere.example/deep/posts/2", "https://elsewhere.example/deep/two"),
    ]
    assert_same(fast, slow)


def test_references_in_rss_links_lose_their_semicolon_as_in_feedparser() -> None:
    # feedparser turns "&name;" in an RSS <link> into "&name" (meant for "?a=1&b;=2" damage).
    fast, slow = both(rss("<item><title>T</title><link>https://l.example/a?x=1&amp;copy;y=2</link></item>"))
    assert fast.parser == "lxml"
    assert fast.entries[0].url == "https://l.example/a?x=1&copyy=2"
    assert_same(fast, slow)


def test_a_deeply_nested_document_goes_to_feedparser() -> None:
    # libxml2 refuses more than 256 levels; feedparser reads it, and nothing recurses without bound.
    body = rss(
        "<item><title>t</title><link>https://d.example/1</link>" + "<x>" * 5000 + "</x>" * 5000 + "</item>"
    )
    assert fastparse.parse_document(body) is None
    fast, slow = both(body)
    assert [(e.title, e.url) for e in fast.entries] == [("t", "https://d.example/1")]
    assert_same(fast, slow)


# --- randomised feeds ------------------------------------------------------------------------------

TEXTS = ["Chip news", " padded  ", "AT&amp;T &lt;b&gt;bold&lt;/b&gt;", "<![CDATA[<p>Para</p> & more]]>",
         "CafÃ©", "dash &#150; here", "芯片 新闻", "", "&#8217;quoted&#8217;", "line\nbreak"]  # fmt: skip
DATES = ["Mon, 15 Sep 2025 08:30:00 +0800", "2025-09-15T08:30:00Z", "2025年9月15日 08:30", "Sep 2025", "",
         "Tue, 16 Sep 2025 07:00:00 GMT"]  # fmt: skip
LINKS = ["https://l.example/a?x=1&amp;y=2", "/relative/path", "  https://l.example/spaced  ", "", "story/2",
         "https://l.example/a&amp;copy;b"]  # fmt: skip


def random_item(rng: random.Random, atom: bool) -> str:
    text = lambda: rng.choice(TEXTS)  # noqa: E731
    pool = [
        lambda: f"<title>{text()}</title>",
        lambda: f"<dc:title>{text()}</dc:title>",
        lambda: (
            f"<media:content url='https://m.example/1.jpg'><media:title>{text()}</media:title>"
            f"<media:description>{text()}</media:description></media:content>"
        ),
        lambda: f"<media:group><media:content url='x'/><media:title>{text()}</media:title></media:group>",
        lambda: f"<description>{text()}</description>",
        lambda: f"<media:description>{text()}</media:description>",
        lambda: f"<content:encoded>{text()}</content:encoded>",
        lambda: f"<dc:description>{text()}</dc:description>",
        lambda: f"<link>{rng.choice(LINKS)}</link>",
        lambda: (
            f"<atom:link rel='{rng.choice(['alternate', 'self', 'related'])}' href='{rng.choice(LINKS)}'/>"
        ),
        lambda: (
            f"<atom:link href='{rng.choice(LINKS)}' type='{rng.choice(['text/html', 'html', 'image/png'])}'/>"
        ),
        lambda: "<enclosure url='https://e.example/a.mp3' type='audio/mpeg'/>",
        lambda: f"<guid>{rng.choice([*LINKS, 'g-1'])}</guid>",
        lambda: (
            f"<guid isPermaLink='{rng.choice(['false', 'true', 'True'])}'>{rng.choice([*LINKS, 'g-2'])}</guid>"
        ),
        lambda: f"<pubDate>{rng.choice(DATES)}</pubDate>",
        lambda: f"<dc:date>{rng.choice(DATES)}</dc:date>",
        lambda: f"<atom:updated>{rng.choice(DATES)}</atom:updated>",
        lambda: f"<author>{rng.choice(['news@x.example (Jane Doe)', 'Jane', 'j@x.example'])}</author>",
        lambda: f"<dc:creator>{text()}</dc:creator>",
        lambda: (
            "<atom:author><atom:name>Li</atom:name><atom:email>li@x.example</atom:email>"
            "<atom:uri>/li</atom:uri></atom:author>"
        ),
        lambda: f"<source url='https://s.example/'>{text()}</source>",
        lambda: f"<image><title>{text()}</title><url>https://i.example/1.png</url><link>/i</link></image>",
        lambda: f"<category>{text()}</category>",
        lambda: "<x:thing xmlns:x='https://unknown.example/'>custom</x:thing>",
    ]
    if atom:
        pool += [
            lambda: f"<atom:summary type='{rng.choice(['text', 'html'])}'>{text()}</atom:summary>",
            lambda: (
                "<atom:content type='xhtml'><div xmlns='http://www.w3.org/1999/xhtml'>"
                f"<p>{rng.choice(['x &amp; y', 'z'])}</p></div></atom:content>"
            ),
            lambda: f"<atom:title type='html'>{text()}</atom:title>",
            lambda: f"<atom:id>{rng.choice([*LINKS, 'tag:x,2025:1'])}</atom:id>",
            lambda: "<atom:source><atom:title>S</atom:title><atom:id>s</atom:id></atom:source>",
        ]
    chosen = [rng.choice(pool)() for _ in range(rng.randint(1, 9))]
    base = f" xml:base='{rng.choice(['https://b.example/x/', 'sub/'])}'" if rng.random() < 0.15 else ""
    return f"<item{base}>{''.join(chosen)}</item>"


def random_feed(rng: random.Random) -> bytes:
    atom = rng.random() < 0.4
    channel_parts = [
        f"<title>{rng.choice(TEXTS)}</title>",
        "<image><title>Logo</title><url>https://i.example/logo.png</url><link>https://i.example/</link></image>",
        f"<media:title>{rng.choice(TEXTS)}</media:title>",
        "<atom:link rel='self' href='https://feeds.example/feed.xml'/>",
        f"<description>{rng.choice(TEXTS)}</description>",
    ]
    channel = "".join(rng.sample(channel_parts, rng.randint(1, len(channel_parts))))
    items = "".join(random_item(rng, atom) for _ in range(rng.randint(1, 4)))
    base = "xml:base='https://root.example/'" if rng.random() < 0.1 else ""
    return rss(items, channel, base)


def test_randomised_feeds_have_the_same_fields_on_both_paths() -> None:
    rng = random.Random(20250916)
    fast_count = 0
    for number in range(250):
        body = random_feed(rng)
        fast, slow = both(body)
        try:
            assert_same(fast, slow)
        except AssertionError:
            raise AssertionError(f"feed {number} differs:\n{body.decode()}") from None
        fast_count += fast.parser == "lxml"
    assert fast_count >= 200  # most combinations are replayed, not handed over
