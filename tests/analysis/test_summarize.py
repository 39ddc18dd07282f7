"""Extractive summaries: 2-3 sentences in article order, bounded and deterministic (the splitter they
use is tested in test_sentences)."""

from __future__ import annotations

from pipeline.analysis.summarize import (
    MAX_SUMMARY_CHARS,
    MAX_SUMMARY_CHARS_EN,
    extractive_summary,
    split_sentences,
)


def test_summary_takes_two_or_three_sentences_in_order() -> None:
    title = "Google unveils Ironwood, its seventh-generation TPU"
    text = (
        "Google on Wednesday unveiled Ironwood, the seventh generation of its TPU chip. "
        "The company said the chip is built for inference. "
        "Separately, the weather in Mountain View was sunny and warm this week. "
        "Ironwood will be available to Google Cloud customers later this year. "
        "Analysts said the TPU competes with Nvidia GPUs. "
        "Read more on our website."
    )
    summary = extractive_summary(title, text, language="en")
    sentences = split_sentences(summary)
    assert 2 <= len(sentences) <= 3
    assert sentences[0].startswith("Google on Wednesday unveiled Ironwood")
    assert "weather" not in summary and "Read more" not in summary
    positions = [text.index(s) for s in sentences]
    assert positions == sorted(positions)
    assert extractive_summary(title, text, language="en") == summary  # deterministic


def test_summary_of_chinese_text_is_chinese_and_bounded() -> None:
    text = "百度发布昆仑芯P800。" + "该芯片面向大模型训练，采用先进工艺，能效大幅提升。" * 30
    summary = extractive_summary("百度发布昆仑芯", text, language="zh")
    assert summary.startswith("百度发布昆仑芯P800。")
    assert len(summary) <= MAX_SUMMARY_CHARS


def test_short_text_is_kept_and_empty_text_falls_back_to_title() -> None:
    assert extractive_summary("Title", "One sentence only.", language="en") == "One sentence only."
    assert extractive_summary("Meta tests a chip", "", language="en") == "Meta tests a chip"
    assert extractive_summary("Meta tests a chip", "Meta tests a chip", language="en") == "Meta tests a chip"


def test_one_megabyte_text_gives_a_bounded_summary() -> None:
    """Its speed is measured by ``make bench`` (bench/hostile.py), not here."""
    text = ("Amazon unveiled Trainium3 at re:Invent and said it would ship next year. " * 14_000)[:1_000_000]
    summary = extractive_summary("Amazon unveils Trainium3", text, language="en")
    assert 0 < len(summary) <= MAX_SUMMARY_CHARS_EN
