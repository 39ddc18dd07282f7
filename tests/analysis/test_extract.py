"""Extraction: aliases to canonical names, primary actor first, chips, counterparties, amounts, language."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from pipeline.analysis.extract import (
    MARK_AMOUNT,
    MARK_BIGTECH,
    MARK_CHIP,
    MARK_CHIPCO,
    MARK_UNIT,
    analyze,
    detect_language,
    extract,
    find_amounts,
    phrase_pattern,
    phrase_scanner,
)
from pipeline.config.watchlist import Watchlist
from pipeline.settings import PROJECT_ROOT

CASES = Path(__file__).parents[1] / "data" / "extract" / "cases.jsonl"


@pytest.fixture(scope="module")
def watchlist() -> Watchlist:
    return Watchlist.load(PROJECT_ROOT / "config" / "watchlist.yaml")


def _cases() -> list[dict[str, Any]]:
    return [json.loads(line) for line in CASES.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c["id"])
def test_golden_cases(case: dict[str, Any], watchlist: Watchlist) -> None:
    got = extract(case["title"], case["summary"], language=None, watchlist=watchlist)
    expect = case["expect"]
    if "companies" in expect:
        assert list(got.companies) == expect["companies"]
    if "companies_first" in expect:
        assert got.companies[:1] == (expect["companies_first"],)
    if "companies_include" in expect:
        assert set(expect["companies_include"]) <= set(got.companies)
    if "chips" in expect:
        assert list(got.chips) == expect["chips"]
    if "chips_include" in expect:
        assert set(expect["chips_include"]) <= set(got.chips), got.chips
    if "counterparties" in expect:
        assert list(got.counterparties) == expect["counterparties"]
    if "amount" in expect:
        assert got.amount is not None
        assert got.amount.as_dict() == expect["amount"]


@pytest.mark.parametrize(
    ("text", "value", "currency", "written"),
    [
        ("融资18亿元", 1.8e9, "CNY", "18亿元"),
        ("投资2.5亿美元", 2.5e8, "USD", "2.5亿美元"),
        ("完成人民币5000万元融资", 5e7, "CNY", "人民币5000万元"),
        ("C輪融資18億人民幣", 1.8e9, "CNY", "18億人民幣"),
        ("获得10亿港元", 1e9, "HKD", "10亿港元"),
        ("for $2 billion", 2e9, "USD", "$2 billion"),
        ("raised $273.68 mn", 273.68e6, "USD", "$273.68 mn"),
        ("raised 2.5 billion yuan", 2.5e9, "CNY", "2.5 billion yuan"),
        ("a US$1.5bn deal", 1.5e9, "USD", "US$1.5bn"),
        ("HK$3 billion", 3e9, "HKD", "HK$3 billion"),
        ("€1 billion", 1e9, "EUR", "€1 billion"),
        ("$500m round", 5e8, "USD", "$500m"),
        ("10 billion U.S. dollars", 1e10, "USD", "10 billion U.S. dollars"),
    ],
)
def test_amount_formats(text: str, value: float, currency: str, written: str) -> None:
    amounts = [a for _, a in find_amounts(text)]
    assert len(amounts) == 1
    assert amounts[0].value == pytest.approx(value)
    assert amounts[0].currency == currency
    assert amounts[0].text == written


def test_no_amount_without_currency() -> None:
    assert find_amounts("shipped 300 units in 2024") == []
    assert find_amounts("") == []


def test_amount_prefers_the_deal(watchlist: Watchlist) -> None:
    got = extract(
        "Meta tests in-house training chip",
        "Meta forecasts capital spending of $65 billion. Separately, it invested $100 million in a chip start-up.",
        language="en",
        watchlist=watchlist,
    )
    assert got.amount is not None and got.amount.text == "$100 million"


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("谷歌发布第七代TPU芯片\n谷歌在大会上发布了新的TPU芯片，性能提升十倍。", "zh"),
        ("Google unveils Ironwood\nGoogle said its seventh-generation TPU is built for inference.", "en"),
        (
            "谷歌发布第七代TPU芯片\nGoogle said its seventh-generation TPU is built for inference at scale.",
            "mixed",
        ),
        (
            "Enflame (燧原科技) raises money\nEnflame, backed by Tencent, raised $273 million in a new round.",
            "en",
        ),
        ("", "en"),
    ],
)
def test_detect_language(text: str, language: str) -> None:
    assert detect_language(text) == language


def test_masked_text_replaces_entities(watchlist: Watchlist) -> None:
    a = analyze(
        "Alibaba's T-Head unveils Hanguang 800, made by TSMC",
        "The chip cost $100 million to develop.",
        language="en",
        watchlist=watchlist,
    )
    for mark in (MARK_BIGTECH, MARK_UNIT, MARK_CHIP, MARK_CHIPCO, MARK_AMOUNT):
        assert mark in a.masked_text
    assert "Alibaba" not in a.masked_text and "TSMC" not in a.masked_text
    assert a.language == "en"


def test_summary_is_in_the_articles_language(watchlist: Watchlist) -> None:
    zh = extract(
        "腾讯首次公布自研芯片进展",
        "腾讯公布了三款自研芯片。紫霄是一款AI推理芯片。沧海用于视频转码。玄灵是一款智能网卡芯片。",
        language="zh",
        watchlist=watchlist,
    )
    assert zh.summary.startswith("腾讯公布了三款自研芯片。")
    assert 2 <= zh.summary.count("。") <= 3


def test_watchlist_edits_apply_without_code(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.yaml"
    path.write_text(
        "companies:\n  - name: Samsung Electronics\n    region: KR\n    aliases: [三星电子, Samsung]\n"
        "chip_companies:\n  - {name: Rebellions, aliases: [리벨리온]}\n",
        encoding="utf-8",
    )
    custom = Watchlist.load(path)
    got = extract("Samsung invests in Rebellions", "", language="en", watchlist=custom)
    assert got.companies == ("Samsung Electronics",)
    assert got.counterparties == ("Rebellions",)


def test_huge_and_odd_input_is_bounded(watchlist: Watchlist) -> None:
    big = "Google unveils TPU v7. " * 50_000  # ~1 MB
    got = extract("Google TPU", big, language=None, watchlist=watchlist)
    assert got.companies == ("Google",)
    assert len(got.summary) <= 600
    odd = extract("\x00\x01 \ufffd", "\x00" * 100, language=None, watchlist=watchlist)
    assert odd.companies == ()


# --- the skipping scanner finds what the phrase pattern finds ----------------------------------------------

_SCAN_PHRASES = [
    "chip",
    "chips",
    "its own chip",
    "in-house",
    "tape out",
    "自研",
    "自研芯片",
    "芯片",
    "a",
    "fund",
]
_SCAN_TEXTS = [
    "",
    "its own chip, its  own-chip and itsown chip; chipset chips",
    "microchip a chip; an in house in-house in--house inhouse. tape-out tapes out",
    "阿里自研芯片流片，自研的芯片。fund funds refund a",
    "⒝ unveils its own chip ¶ the chip ⒞ tape out\n a a a",
]


@pytest.mark.parametrize("overlapping", [False, True])
def test_phrase_scanner_finds_what_phrase_pattern_finds(overlapping: bool) -> None:
    plain = phrase_pattern(_SCAN_PHRASES)
    regex = re.compile(f"(?=({plain.pattern}))") if overlapping else plain
    scanner = phrase_scanner(_SCAN_PHRASES, overlapping=overlapping)
    assert scanner is not None
    for text in _SCAN_TEXTS:
        expected = [
            (m.start(1) if overlapping else m.start(), m.group(1) if overlapping else m.group())
            for m in regex.finditer(text)
        ]
        found = [(m.start(1), m.group(1)) for m in scanner.finditer(text) if m.start(1) >= 0]
        assert found == expected, text


def test_acts_after_matches_as_the_case_insensitive_pattern() -> None:
    from pipeline.analysis.extract import _ACTION_AFTER_RX, _acts_after

    words = [
        "unveils",
        "LAUNCHED",
        "Tpu",
        "Is ",
        "HAS ",
        "own",
        "In-House",
        "in house",
        "芯片",
        "研发",
        "led",
    ]
    odd = ["\u0130", "\u0131", "\u017f", "\u212a"]  # İ ı ſ K: IGNORECASE pairs them with ASCII letters
    fillers = ["", " ", ", ", "'s ", "’S ", "的", "  \t ", "new ", "x" * 12, "x" * 13, "-", "S "]
    windows = [
        f"{filler}{pre}{word}"
        for filler in fillers
        for pre in ["", "AI ", "ai-", "最新", *odd]
        for word in [*words, *(w.replace("i", o).replace("s", o) for w in words for o in odd)]
    ]
    windows += ["\u017fhip", " \u0130nvest", "\u212austom", "ſ tpu", "ıs a chip", "Intel", "and Google"]
    assert any(_ACTION_AFTER_RX.match(w) for w in windows)
    assert not all(_ACTION_AFTER_RX.match(w) for w in windows)
    for window in windows:
        assert _acts_after(window) == bool(_ACTION_AFTER_RX.match(window)), window


def test_pattern_gate_changes_no_mention(watchlist: Watchlist) -> None:
    from pipeline.analysis.extract import _Matcher

    gated, plain = _Matcher(watchlist), _Matcher(watchlist)
    plain.rare_gate = None  # every pattern's triggers checked in turn
    assert gated.rare_gate is not None and len(gated.common_patterns) < len(gated.patterns)
    texts = [f"{c['title']}\n{c.get('summary', '')}" for c in _cases()]
    texts += [
        "Google's TPU v7 and Trainium2 and 昇腾910C, Kunlun P800, 麒麟9020 and 澎湃芯片",
        "Huawei Atlas 950 SuperPoD; Microsoft Maia 200 and Cobalt 100; Meta MTIA v2; Tesla Dojo D1 chip",
        "Apple M4 Pro and A18 Pro, N1 chip, C1X modem; 第七代TPU; seventh-generation TPU; XuanTie C930",
        "Acme Semiconductor and 华芯微电子 and 长江集成电路; MI300X; H20; no product here at all",
    ]
    found = [gated.find(t) for t in texts]
    assert found == [plain.find(t) for t in texts]
    assert sum(len(f) for f in found) > 20
