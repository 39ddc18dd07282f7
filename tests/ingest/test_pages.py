"""Article pages: when to fetch, decoding, metadata, paywall flags, main text quality, bad input."""

from __future__ import annotations

import gzip
import json
import logging
import random
import re
import socket
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support.environment import unavailable

from bench.corpus import corpus_root
from pipeline.ingest import pages
from pipeline.ingest.pages import (
    SHORT_SUMMARY_CHARS,
    SHORT_SUMMARY_CHARS_ZH,
    extract_main_text_soup,
    extract_page,
    needs_page,
)
from pipeline.models import PageContent

DATA = Path(__file__).parents[1] / "data" / "pages"
CORPUS = corpus_root() or Path("/work/shared/corpus")
HTML = {"content-type": "text/html"}

# --------------------------------------------------------------------------- needs_page


@pytest.mark.parametrize(
    ("title", "summary", "language", "expected"),
    [
        ("Nvidia unveils new AI chip", "", "en", True),
        ("Nvidia unveils new AI chip", "Nvidia unveils new AI chip", "en", True),
        ("Nvidia unveils new AI chip", "Nvidia unveils new AI chip - Reuters. Read more", "en", True),
        ("Nvidia unveils new AI chip", "NVIDIA UNVEILS NEW AI CHIP…", "en", True),
        ("Nvidia unveils new AI chip", "The company said the chip ships next year.", "en", True),
        (
            "Nvidia unveils new AI chip",
            "Nvidia on Tuesday unveiled a new artificial intelligence chip for data centres, saying the "
            "processor would ship to cloud customers next year. It will be made by its usual foundry in "
            "Taiwan, the company said.",
            "en",
            False,
        ),
        ("阿里发布AI芯片", "阿里发布AI芯片", "zh", True),
        ("阿里发布AI芯片", "阿里发布AI芯片 阅读全文", "zh", True),
        ("阿里发布AI芯片", "阿里巴巴今日发布一款自研AI推理芯片。", "zh", True),
        (
            "阿里发布AI芯片",
            "阿里巴巴今日在杭州发布一款自研AI推理芯片，该芯片由旗下半导体公司平头哥设计，主要用于云端推理，"
            "将率先部署在阿里云数据中心，公司表示暂不对外销售，未来将通过云服务向企业客户提供算力。",
            "zh",
            False,
        ),
    ],
)
def test_needs_page(title: str, summary: str, language: str, expected: bool) -> None:
    assert needs_page(title, summary, language) is expected


def test_chinese_threshold_is_denser_than_english() -> None:
    assert SHORT_SUMMARY_CHARS_ZH < SHORT_SUMMARY_CHARS
    zh = "芯" * SHORT_SUMMARY_CHARS_ZH
    assert not needs_page("标题", zh, "zh")
    assert needs_page("标题", zh[:-5], "zh")
    assert needs_page("Title", "x" * (SHORT_SUMMARY_CHARS_ZH + 5), "en")


# --------------------------------------------------------------------------- golden fixtures


def _expected_cases() -> list[str]:
    return sorted(p.name.removesuffix(".expected.json") for p in DATA.glob("*.expected.json"))


@pytest.mark.parametrize("name", _expected_cases())
def test_fixture_page(name: str) -> None:
    expected = json.loads((DATA / f"{name}.expected.json").read_text(encoding="utf-8"))
    page = extract_page((DATA / f"{name}.html").read_bytes(), HTML, url=expected["url"])
    assert isinstance(page, PageContent)
    assert page.url == expected["url"]
    assert page.encoding == expected["encoding"]
    assert page.canonical_url == expected["canonical_url"]
    assert page.title == expected["title"]
    assert page.description == expected["description"]
    published = datetime.fromisoformat(expected["published"]) if expected["published"] else None
    assert page.published == published
    assert page.published is None or page.published.tzinfo == UTC
    assert page.site_name == expected["site_name"]
    assert page.paywalled is expected["paywalled"]
    assert page.extractor == pages.MAIN_EXTRACTOR
    for snippet in expected["main_text_contains"]:
        assert snippet in page.main_text
    for snippet in expected["main_text_excludes"]:
        assert snippet not in page.main_text


def test_gbk_page_with_header_charset_too() -> None:
    body = (DATA / "gbk_meta_charset.html").read_bytes()
    assert b"charset=gb2312" in body and "喆".encode("gbk") in body  # a GBK character outside GB2312
    page = extract_page(body, {"Content-Type": "text/html; charset=GBK"}, url="https://news.example.cn/a")
    assert page.encoding == "gb18030"
    assert "首席架构师张喆" in page.main_text and "\ufffd" not in page.main_text


def test_soup_extractor_is_a_working_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pages, "extract_main_text_trafilatura", lambda html, url=None: "")
    page = extract_page((DATA / "metadata.html").read_bytes(), HTML, url="https://example.com/a")
    assert page.extractor == pages.FALLBACK_EXTRACTOR
    assert "has designed its own artificial intelligence accelerator" in page.main_text
    for boilerplate in ("Share on LinkedIn", "Five things to know", "All rights reserved", "Home"):
        assert boilerplate not in page.main_text


def test_soup_extractor_on_chinese_page() -> None:
    html = (DATA / "gbk_meta_charset.html").read_bytes().decode("gbk")
    text = extract_main_text_soup(html)
    assert text.startswith("本报讯 星河科技20日宣布")
    assert "相关新闻" not in text and "京ICP备" not in text


# --------------------------------------------------------------------------- metadata details


def _page(head: str, body: str = "<p>Short.</p>", url: str = "https://example.com/news/1") -> PageContent:
    html = f"<html><head>{head}</head><body>{body}</body></html>"
    return extract_page(html.encode(), HTML, url=url)


def test_canonical_url_sources() -> None:
    assert _page('<meta property="og:url" content="https://example.com/og">').canonical_url == (
        "https://example.com/og"
    )
    both = '<link rel="canonical" href="/c"><meta property="og:url" content="https://example.com/og">'
    assert _page(both).canonical_url == "https://example.com/c"
    assert _page('<link rel="canonical" href="javascript:void(0)">').canonical_url is None
    assert _page('<link rel="Canonical alternate" href="https://example.com/x">').canonical_url == (
        "https://example.com/x"
    )


def test_published_sources_in_order() -> None:
    og = '<meta property="article:published_time" content="2024-01-02T03:04:05+08:00">'
    ld = '<script type="application/ld+json">{"@type": "NewsArticle", "datePublished": "2024-02-01T00:00:00Z"}</script>'
    time_tag = '<time datetime="2024-03-01T12:00:00Z">1 March</time>'
    assert _page(og + ld, time_tag).published == datetime(2024, 1, 1, 19, 4, 5, tzinfo=UTC)
    assert _page(ld, time_tag).published == datetime(2024, 2, 1, tzinfo=UTC)
    assert _page("", time_tag).published == datetime(2024, 3, 1, 12, tzinfo=UTC)
    assert _page('<meta name="pubdate" content="not a date">').published is None


def test_broken_json_ld_is_ignored() -> None:
    broken = '<script type="application/ld+json">{"@type": "NewsArticle", "datePublished": </script>'
    page = _page(broken + "<title>Fine</title>")
    assert page.title == "Fine" and page.published is None


# --------------------------------------------------------------------------- bad input


def _big_page() -> bytes:
    rng = random.Random(7)
    words = "chip foundry cloud revenue design wafer model server market supply demand quarter".split()
    paragraphs = "".join(
        "<p>" + " ".join(rng.choice(words) for _ in range(60)) + f" paragraph {i}.</p>\n" for i in range(12)
    )
    script = "<script>var state = " + json.dumps({"k": "v" * 4_000_000}) + ";</script>"
    junk = '<div class="promo"><a href="/x">Another link</a></div>\n' * 20_000
    html = f"<html><head><title>Big</title>{script}</head><body><article>{paragraphs}</article>{junk}</body></html>"
    return html.encode()


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b"", HTML),
        (b"   \r\n\t ", HTML),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20, {"content-type": "image/png"}),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20, HTML),
        (gzip.compress(b"<html><body><p>compressed twice</p></body></html>"), HTML),
        (random.Random(1).randbytes(50_000), {}),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", {"content-type": "application/pdf"}),
        (b"<html><body><p>fine</p></body></html>", {"content-type": "application/octet-stream"}),
    ],
    ids=["empty", "whitespace", "png", "png-labelled-html", "gzip", "random", "pdf", "octet-stream"],
)
def test_non_pages_give_empty_text(body: bytes, headers: dict[str, str]) -> None:
    page = extract_page(body, headers, url="https://example.com/x")
    assert page.main_text == "" and page.extractor == "" and not page.paywalled


BROKEN = {
    "broken": ("<html><body><p>Unclosed <div><<<>>> <b><i>text</p></td></table>", "Unclosed"),
    "deep": ("<p>" + "<div>" * 10_000 + "deep" + "</div>" * 10_000, None),
    "unclosed-scripts": ("<script>" * 10_000 + "<p>never closed", None),
    "nul": ("<html>\x00<body><p>" + "A stray NUL. " * 20 + "nul\x00bytes</p></body></html>", "nulbytes"),
    "xml-declaration": (
        '<?xml version="1.0" encoding="utf-8"?><html><body><p>xml declaration</p></body></html>',
        "xml declaration",
    ),
    "tables": ("<html><body>" + "<table>" * 5_000 + "</body></html>", None),
    "nested-junk": (
        '<div class="share">' * 3_000
        + "<article><p>"
        + "Nested. " * 40
        + "</p></article>"
        + "</div>" * 3_000,
        "Nested. Nested.",
    ),
    "deep-inline": (
        "<p>" + "<b>" * 5_000 + "Deep inline text. " * 20 + "</b>" * 5_000 + "</p>",
        "Deep inline",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_html_never_crashes(case: str) -> None:
    html, expected = BROKEN[case]
    page = extract_page(html.encode(), HTML, url="https://example.com/x")
    assert "\x00" not in page.main_text
    if expected:
        assert expected in page.main_text


def test_five_megabyte_page_is_bounded() -> None:
    body = _big_page()
    assert len(body) > 5_000_000
    page = extract_page(body, HTML, url="https://example.com/big")
    assert page.title == "Big"
    assert "paragraph 0." in page.main_text and "paragraph 11." in page.main_text
    assert "vvvv" not in page.main_text


def test_trafilatura_is_quiet_and_adds_no_handlers() -> None:
    names = ("", "trafilatura", "trafilatura.core", "htmldate", "justext", "courlan")
    before = {n: list(logging.getLogger(n).handlers) for n in names}
    extract_page((DATA / "metadata.html").read_bytes(), HTML, url="https://example.com/a")
    assert {n: list(logging.getLogger(n).handlers) for n in names} == before
    assert not any(isinstance(h, logging.StreamHandler) for h in logging.getLogger("trafilatura").handlers)
    # Its per-page warnings ("discarding data") stay out of task logs.
    assert logging.getLogger("trafilatura.core").getEffectiveLevel() >= logging.ERROR


def test_extraction_never_touches_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("extract_page opened a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    for name in _expected_cases():
        page = extract_page((DATA / f"{name}.html").read_bytes(), HTML, url="https://example.com/a")
        assert page.main_text


# --------------------------------------------------------------------------- real pages (shared corpus)

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN_RE = re.compile(f"[{_CJK}]|[^\\W{_CJK}]+")


def _f1(predicted: str, reference: str) -> float:
    """Bag-of-tokens F1, Chinese per character (the scoring of bench/extraction.py)."""
    pred, ref = Counter(_TOKEN_RE.findall(predicted.lower())), Counter(_TOKEN_RE.findall(reference.lower()))
    overlap = sum((pred & ref).values())
    if not overlap:
        return 0.0
    precision, recall = overlap / sum(pred.values()), overlap / sum(ref.values())
    return 2 * precision * recall / (precision + recall)


# Floors sit ~0.04 under the F1 measured with trafilatura 2.3.1 (in brackets), to catch regressions in
# decoding, markup bounding or extractor settings without failing on a library patch release.
GOLDEN = {
    "fundus__us__Reuters_2024_03_07": 0.94,  # (0.982)
    "fundus__uk__BBC_2024_08_01": 0.95,  # (0.989)
    "fundus__us__LATimes_2023_06_26": 0.95,  # (0.992) isAccessibleForFree=false, yet the full text
    "fundus__cn__People_2024_04_24": 0.93,  # (0.975) Chinese, labelled GB2312
    "readability__qq": 0.91,  # (0.954) Chinese, labelled gb2312
    "readability__gmw": 0.95,  # (0.998) Chinese
}


@pytest.mark.parametrize(("name", "floor"), sorted(GOLDEN.items()))
def test_corpus_page_extraction_quality(name: str, floor: float) -> None:
    page_path, truth_path = CORPUS / "pages" / f"{name}.html", CORPUS / "truth" / f"{name}.txt"
    if not (page_path.exists() and truth_path.exists()):
        unavailable(f"shared corpus not available at {CORPUS}")
    page = extract_page(page_path.read_bytes(), HTML, url=f"https://example.com/{name}")
    assert not page.paywalled
    assert page.title
    assert _f1(page.main_text, truth_path.read_text(encoding="utf-8")) >= floor
