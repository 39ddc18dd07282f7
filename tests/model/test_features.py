"""What the models read: cues that tell who acts, and word tokens for Chinese and English."""

from __future__ import annotations

from pipeline.analysis.extract import MARK_BIGTECH, MARK_CHIPCO, TITLE_SEPARATOR
from pipeline.model.features import CUE_NAMES, cue_vector, word_tokens


def test_cues_tell_who_acts() -> None:
    names = CUE_NAMES
    bigtech = dict(
        zip(
            names,
            cue_vector(
                f"{MARK_BIGTECH} unveils its own chip{TITLE_SEPARATOR}...",
            ),
            strict=True,
        )
    )
    chipco = dict(
        zip(
            names,
            cue_vector(f"{MARK_CHIPCO} to launch its own chip, with {MARK_BIGTECH} as customer"),
            strict=True,
        )
    )
    assert bigtech["title_bigtech_acts"] == 1.0 and bigtech["title_chipco_acts"] == 0.0
    assert chipco["title_chipco_acts"] == 1.0 and chipco["bigtech_customer"] == 1.0


def test_word_tokens_segment_chinese_and_english() -> None:
    tokens = word_tokens(f"{MARK_BIGTECH}发布自研芯片 in-house chip")
    assert MARK_BIGTECH in tokens and "自研" in tokens and "in-house" in tokens and "in-house chip" in tokens
