"""Regenerate the feed-parsing golden files and the encoded test fixtures.

    .venv/bin/python scripts/regen_feed_golden.py             # expected/<feed>.json from the real corpus
    .venv/bin/python scripts/regen_feed_golden.py --fixtures  # also rewrite the generated fixtures

The golden files record, for each real feed in the shared corpus (``shared/corpus/feeds``), what
``parse_feed`` makes of it: the encoding, the entry count, and the first entry's title, link and date.
Review the diff before committing: a change there is a change in what the pipeline ingests.

The generated fixtures are the ones whose bytes cannot be written by hand in a text editor: GBK and
GB18030 encodings, a byte-order mark, NUL and bidi control characters, a PNG, an entity bomb.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.corpus import corpus_root  # noqa: E402
from pipeline.ingest.feedparse import parse_feed  # noqa: E402
from pipeline.models import ParsedFeed  # noqa: E402

FEEDS_DATA = ROOT / "tests" / "data" / "feeds"
EXPECTED = FEEDS_DATA / "expected"
# The Chinese feeds of the corpus; the others are read as English (naive times are UTC).
CHINESE_FEEDS = frozenset({"rss2email__bbc-chinese.atom", "feeder__rss_geekpark.xml", "rsparser__kc0011.rss"})


def corpus_dir() -> Path | None:
    """The shared corpus's feed folder, wherever this checkout sits beside ``shared/``."""
    root = corpus_root()
    return root / "feeds" if root is not None and (root / "feeds").is_dir() else None


def feed_url(name: str) -> str:
    return f"https://corpus.example/feeds/{name}"


def language_of(name: str) -> str:
    return "zh" if name in CHINESE_FEEDS else "en"


def parse_corpus_feed(name: str, body: bytes) -> ParsedFeed:
    """Parse one corpus feed as the golden files were made (no HTTP headers: the bytes must suffice)."""
    return parse_feed(body, {}, url=feed_url(name), language=language_of(name), feed_id=name)


def golden_record(name: str, parsed: ParsedFeed) -> dict[str, object]:
    """What the golden file holds for one feed."""
    first = parsed.entries[0] if parsed.entries else None
    return {
        "language": language_of(name),
        "encoding": parsed.encoding,
        "entries": len(parsed.entries),
        "first": None
        if first is None
        else {
            "title": first.title,
            "url": first.url,
            "published": first.published.isoformat() if first.published else None,
        },
    }


def write_golden(corpus: Path) -> int:
    EXPECTED.mkdir(parents=True, exist_ok=True)
    count = 0
    for path in sorted(p for p in corpus.iterdir() if p.is_file()):
        record = golden_record(path.name, parse_corpus_feed(path.name, path.read_bytes()))
        target = EXPECTED / f"{path.name}.json"
        target.write_text(json.dumps(record, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        count += 1
    return count


# --- generated fixtures ---------------------------------------------------------------------------

CHINESE_ITEMS = (
    (
        "阿里巴巴旗下平头哥发布新一代自研芯片",
        "https://tech.example.cn/a/1001.html",
        "Mon, 15 Sep 2025 08:30:00 +0800",
    ),
    (
        "腾讯投资芯片设计公司，金额达十亿元",
        "https://tech.example.cn/a/1002.html",
        "Mon, 15 Sep 2025 09:00:00 +0800",
    ),
    ("百度昆仑芯完成新一轮融资", "https://tech.example.cn/a/1003.html", "Mon, 15 Sep 2025 10:15:00 +0800"),
)


def rss_document(
    declaration: str | None,
    items: tuple[tuple[str, str, str], ...],
    *,
    channel: tuple[str, str, str] = ("科技新闻", "https://tech.example.cn/", "芯片与半导体"),
    describe: str = "{title}。芯片行业动态。",
) -> str:
    """A small RSS 2.0 document; ``declaration`` is the XML declaration's encoding, if any.

    ``items`` are (title, link, date); each description is ``describe`` with the title filled in, as
    escaped HTML in a paragraph.
    """
    head = f'<?xml version="1.0" encoding="{declaration}"?>\n' if declaration else ""
    body = "".join(
        f"    <item>\n      <title>{title}</title>\n      <link>{link}</link>\n"
        f"      <guid>{link}</guid>\n      <description>&lt;p&gt;{describe.format(title=title)}&lt;/p&gt;"
        f"</description>\n      <pubDate>{date}</pubDate>\n    </item>\n"
        for title, link, date in items
    )
    title, link, description = channel
    return (
        f'{head}<rss version="2.0">\n  <channel>\n    <title>{title}</title>\n'
        f"    <link>{link}</link>\n    <description>{description}</description>\n{body}"
        "  </channel>\n</rss>\n"
    )


def chinese_rss(declaration: str | None, items: tuple[tuple[str, str, str], ...] = CHINESE_ITEMS) -> str:
    """The Chinese test feed: three chip stories from a made-up tech site."""
    return rss_document(declaration, items)


# Characters GB2312 lacks: 镕 堃 喆 are in GBK; 䶮 and the emoji need GB18030's four-byte forms.
OUTSIDE_GB2312 = (
    ("朱镕基谈半导体产业", "https://tech.example.cn/b/1.html", "Tue, 16 Sep 2025 08:00:00 +0800"),
    ("王堃：陶喆与龚䶮的芯片故事 🚀", "https://tech.example.cn/b/2.html", "Tue, 16 Sep 2025 09:00:00 +0800"),
)

HOSTILE_TITLES = (
    "<script>alert(1)</script>Tencent invests in chip start-up",
    "<b>Alibaba</b> &amp;amp; T-Head",
    "Zero\u200bwidth\u200d Bai\u2060du\ufeff chips",
    "RTL \u202eevil\u202c override \u2066isolate\u2069 and \u200fmark",
    "NUL\x00 byte and \x07bell\x1b controls",
)


def hostile_rss() -> str:
    items = []
    for index, title in enumerate(HOSTILE_TITLES, start=1):
        # CDATA keeps the markup as the publisher wrote it; NUL and other controls are raw bytes.
        items.append(
            f"<item><title><![CDATA[{title}]]></title><link>https://news.example.com/h/{index}</link>"
            f"<guid>h-{index}</guid><description><![CDATA[<p>Body {index}"
            "<script>document.cookie</script><style>p{}</style></p>]]></description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>Hostile</title>'
        "<link>https://news.example.com/</link>" + "".join(items) + "</channel></rss>\n"
    )


def entity_bomb() -> str:
    """About 110 KB: a billion-laughs chain and a quadratic blow-up (a 50 KB entity used 20,000 times).

    Expanded, it would be gigabytes; with the DOCTYPE removed it is 110 KB of text.
    """
    laughs = ['<!ENTITY lol "lol">']
    for level in range(1, 10):
        previous = "lol" if level == 1 else f"lol{level - 1}"
        laughs.append(f'<!ENTITY lol{level} "{f"&{previous};" * 10}">')
    big = "x" * 50_000
    subset = "\n".join([*laughs, f'<!ENTITY a "{big}">'])
    references = "&a;" * 20_000
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE rss [\n{subset}\n]>\n'
        '<rss version="2.0"><channel><title>Bomb &lol9;</title><link>https://bomb.example/</link>'
        f"<item><title>Laughs &lol9;</title><link>https://bomb.example/1</link>"
        f"<description>{references}</description></item></channel></rss>\n"
    )


def png_bytes() -> bytes:
    """A valid 1x1 transparent PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\x00\x00\x00\x00"))
        + chunk(b"IEND", b"")
    )


# Undeclared legacy encodings (issue 13): our own sentences, three stories per feed, so that the
# detector has as little text as a small real feed gives it. Each tuple: encoding, channel title, items.
LEGACY_FEEDS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "eucjp_undeclared.xml": (
        "euc_jp",
        "半導体ニュース",
        (
            "国内大手が自社設計の半導体を発表",
            "電機メーカーが半導体の新興企業に出資",
            "次世代メモリの試作品を公開",
        ),
    ),
    "koi8r_undeclared.xml": (
        "koi8_r",
        "Новости микроэлектроники",
        (
            "Компания представила собственный процессор",
            "Крупный банк вложил средства в разработчика микросхем",
            "Производство памяти расширяется",
        ),
    ),
    "windows1255_undeclared.xml": (
        "cp1255",
        "חדשות שבבים",
        (
            "החברה חשפה שבב חדש לבינה מלאכותית",
            "ענקית הטכנולוגיה השקיעה בחברת שבבים צעירה",
            "מפעל חדש לייצור מעבדים",
        ),
    ),
    "tis620_undeclared.xml": (
        "tis_620",
        "ข่าวเซมิคอนดักเตอร์",
        ("บริษัทเปิดตัวชิปที่ออกแบบเอง", "กลุ่มเทคโนโลยีลงทุนในบริษัทออกแบบชิป", "โรงงานผลิตหน่วยความจำแห่งใหม่"),
    ),
}
LEGACY_DESCRIPTION = {
    "euc_jp": "{title}。新しい製品は来年から工場で量産される予定です。",
    "koi8_r": "{title}. Новый чип будет выпускаться на заводе в следующем году.",
    "cp1255": "{title}. הייצור צפוי להתחיל בשנה הבאה.",
    "tis_620": "{title} การผลิตจะเริ่มขึ้นในปีหน้า",
}


def legacy_rss(codec: str, channel_title: str, titles: tuple[str, ...]) -> bytes:
    items = tuple(
        (title, f"https://chips.example/{codec}/{n}", f"Mon, 15 Sep 2025 0{n}:00:00 +0000")
        for n, title in enumerate(titles, start=1)
    )
    channel = (channel_title, "https://chips.example/", channel_title)
    return rss_document(None, items, channel=channel, describe=LEGACY_DESCRIPTION[codec]).encode(codec)


# Declared UTF-8 with one bad byte (issue 13): a stray Latin-1 "©" (0xA9) in an English feed with a few
# curly quotes, and a Chinese flash-news feed whose "动" (E5 8A A8) lost its last byte. Small on purpose:
# re-guessing such a document read it as windows-1251 ("ItвЂ™s", "еЌЋдёє").
def utf8_with_one_bad_byte(chinese: bool) -> bytes:
    if chinese:
        channel, first, second = "快讯", "华为发布新芯片", "小米投资芯片公司"
        description, bad = "发布会上公布了价格动态", "动".encode()[:2]
    else:
        channel, first, second = (
            "Chip wire",
            "It’s “here”: a chip of its own",
            "Cloud group backs a chip start-up",
        )
        description, bad = "Price: 5 © units", b"\xa9"
    marker = "动" if chinese else "©"
    text = (
        f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>{channel}</title>\n'
        f"<item><title>{first}</title><link>https://wire.example/1</link>"
        f"<description>{description}</description></item>\n"
        f"<item><title>{second}</title><link>https://wire.example/2</link></item>\n</channel></rss>\n"
    )
    return text.encode("utf-8").replace(marker.encode(), bad)


def generated_fixtures() -> dict[str, bytes]:
    """File name -> bytes for every generated fixture."""
    utf16_document = chinese_rss("utf-16")
    return {
        "gbk_declared.xml": chinese_rss("gbk").encode("gbk"),
        "gbk_undeclared.xml": chinese_rss(None).encode("gbk"),
        "gbk_declared_latin1.xml": chinese_rss("ISO-8859-1").encode("gbk"),
        "gb2312_label_gb18030.xml": chinese_rss("gb2312", OUTSIDE_GB2312).encode("gb18030"),
        "utf8_bom.xml": b"\xef\xbb\xbf" + chinese_rss("utf-8").encode("utf-8"),
        "utf8_labelled_gbk.xml": chinese_rss(None).encode("utf-8"),
        "hostile_titles.xml": hostile_rss().encode("utf-8"),
        "entity_bomb.xml": entity_bomb().encode("utf-8"),
        "binary.png": png_bytes(),
        "empty.xml": b"",
        # No byte-order mark: the first bytes ("<\0?\0", "\0\0\0<" ...) give the encoding away.
        "utf16le_no_bom.xml": utf16_document.encode("utf-16-le"),
        "utf16be_no_bom.xml": utf16_document.encode("utf-16-be"),
        "utf32le_no_bom.xml": chinese_rss("utf-32").encode("utf-32-le"),
        "utf32be_no_bom.xml": chinese_rss("utf-32").encode("utf-32-be"),
        "utf16le_undeclared.xml": chinese_rss(None).encode("utf-16-le"),
        "utf8_one_bad_byte.xml": utf8_with_one_bad_byte(chinese=False),
        "utf8_chinese_one_bad_byte.xml": utf8_with_one_bad_byte(chinese=True),
        **{name: legacy_rss(*spec) for name, spec in LEGACY_FEEDS.items()},
    }


def write_fixtures() -> int:
    FEEDS_DATA.mkdir(parents=True, exist_ok=True)
    fixtures = generated_fixtures()
    for name, data in fixtures.items():
        (FEEDS_DATA / name).write_bytes(data)
    return len(fixtures)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures", action="store_true", help="also rewrite the generated fixtures")
    parser.add_argument(
        "--corpus", type=Path, default=None, help="folder of real feeds (default: shared corpus)"
    )
    args = parser.parse_args(argv)
    if args.fixtures:
        print(f"wrote {write_fixtures()} fixtures to {FEEDS_DATA}")
    corpus = args.corpus or corpus_dir()
    if corpus is None or not corpus.is_dir():
        print("shared corpus not found; golden files not regenerated", file=sys.stderr)
        return 1
    print(f"wrote {write_golden(corpus)} golden files to {EXPECTED}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
