"""Sentence splitting for Chinese, English and both in one text: the one splitter the summary and the
brief share."""

from __future__ import annotations

import random

import pytest

from pipeline.analysis.sentences import (
    _SPACE_RX,
    _WORD_BEFORE_RX,
    _collapse_blanks,
    _word_before,
    split_sentences,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Chinese end marks, closing quotes and brackets stay with their sentence
        (
            "腾讯公布自研芯片进展！紫霄是AI推理芯片。沧海用于视频转码？“玄灵”是智能网卡芯片。",
            ["腾讯公布自研芯片进展！", "紫霄是AI推理芯片。", "沧海用于视频转码？", "“玄灵”是智能网卡芯片。"],
        ),
        (
            "他说：“我们会继续投入。”这表明公司信心十足。",
            ["他说：“我们会继续投入。”", "这表明公司信心十足。"],
        ),
        ("芯片已量产（据公司公告。）后续将扩产。", ["芯片已量产（据公司公告。）", "后续将扩产。"]),
        # a Chinese semicolon separates statements; an ellipsis ends one
        ("一季度推出950PR；四季度推出950DT。", ["一季度推出950PR；", "四季度推出950DT。"]),
        ("市场反应热烈……股价随即上涨。", ["市场反应热烈……", "股价随即上涨。"]),
        # decimals and Latin names inside Chinese are not boundaries
        ("投入3.5亿元研发P800.集群规模扩大。", ["投入3.5亿元研发P800.", "集群规模扩大。"]),
        ("苹果公司（Apple Inc.）宣布新芯片。", ["苹果公司（Apple Inc.）宣布新芯片。"]),
        # ASCII marks in Chinese text, with no space after them
        ("太好了!接下来怎么办?没人知道。", ["太好了!", "接下来怎么办?", "没人知道。"]),
    ],
    ids=[
        "zh-marks",
        "zh-quote",
        "zh-bracket",
        "zh-semicolon",
        "zh-ellipsis",
        "zh-decimal",
        "zh-inc",
        "zh-ascii",
    ],
)
def test_chinese_edge_cases(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "U.S. officials met Alibaba Inc. executives on Monday. The chip costs $2.5 billion. Is it late? Yes.",
            [
                "U.S. officials met Alibaba Inc. executives on Monday.",
                "The chip costs $2.5 billion.",
                "Is it late?",
                "Yes.",
            ],
        ),
        # an abbreviation ends the sentence when a sentence-starting word follows
        (
            "The chip is made in the U.S. The company said so.",
            ["The chip is made in the U.S.", "The company said so."],
        ),
        (
            "It bought Ampere Computing Inc. Its shares rose.",
            ["It bought Ampere Computing Inc.", "Its shares rose."],
        ),
        # titles, initials, e.g., months and lower-case continuations never end one
        (
            "Mr. Ma met Dr. Su in Sept. 2025. J. P. Morgan agreed, e.g. on pricing. No. 2 is Baidu.",
            ["Mr. Ma met Dr. Su in Sept. 2025.", "J. P. Morgan agreed, e.g. on pricing.", "No. 2 is Baidu."],
        ),
        ('He said "it works." Then he left.', ['He said "it works."', "Then he left."]),
        (
            "Shares rose 3.5% to HK$120.5. Node.js and 36kr.com are names.",
            ["Shares rose 3.5% to HK$120.5.", "Node.js and 36kr.com are names."],
        ),
        (
            "Wait... it was not over. Yahoo!Japan covered it.",
            ["Wait... it was not over.", "Yahoo!Japan covered it."],
        ),
        # a line break ends a sentence (a headline inside a body has no full stop)
        (
            "Alibaba tests a new chip\nT-Head built it. It is in testing.",
            ["Alibaba tests a new chip", "T-Head built it.", "It is in testing."],
        ),
    ],
    ids=[
        "en-abbrev",
        "en-us-end",
        "en-inc-end",
        "en-titles",
        "en-quote",
        "en-decimals",
        "en-ellipsis",
        "en-lines",
    ],
)
def test_english_edge_cases(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_mixed_text_and_limits() -> None:
    text = "Alibaba's T-Head is testing a chip. 平头哥新芯片正在测试。It is made at home. 由国内厂商代工。"
    assert split_sentences(text) == [
        "Alibaba's T-Head is testing a chip.",
        "平头哥新芯片正在测试。",
        "It is made at home.",
        "由国内厂商代工。",
    ]
    assert split_sentences(text, limit=2) == split_sentences(text)[:2]
    assert split_sentences("x" * 50 + "。" + "y" * 50 + "。", max_chars=51) == ["x" * 50 + "。"]
    assert split_sentences("") == [] and split_sentences(" \n \n") == []


def test_word_before_and_blank_collapse_are_their_expressions() -> None:
    rng = random.Random(5)
    alphabet = list("aZ.. ,9中\t\u00a0\u3000\u2000")
    for _ in range(5000):
        text = "".join(rng.choices(alphabet, k=rng.randrange(14)))
        start = rng.randrange(len(text) + 1)
        end = rng.randrange(start, len(text) + 1)
        match = _WORD_BEFORE_RX.search(text, start, end)
        assert _word_before(text, start, end) == (match.group(1) if match else ""), (text, start, end)
        assert _collapse_blanks(text) == _SPACE_RX.sub(" ", text).strip(), repr(text)
