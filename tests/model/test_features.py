"""What the models read: cues that tell who acts, and word tokens for Chinese and English."""

from __future__ import annotations

import math
import random
import re

import pytest

from pipeline.analysis.extract import MARK_BIGTECH, MARK_CHIPCO, TITLE_SEPARATOR
from pipeline.model.features import (
    _SPACE_LIMIT,
    CUE_NAMES,
    HashedCharTfidf,
    collapse_spaces,
    cue_vector,
    hashed_char_counts,
    word_tokens,
)


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


def test_later_cues_read_who_an_investment_goes_to() -> None:
    from pipeline.analysis.extract import MARK_UNIT

    def cues(text: str) -> dict[str, float]:
        return dict(zip(CUE_NAMES, cue_vector(text), strict=True))

    robotics = cues(f"{MARK_BIGTECH} takes a stake in robotics firm{TITLE_SEPARATOR}humanoid robots")
    chip = cues(f"{MARK_BIGTECH} leads funding round in {MARK_CHIPCO}{TITLE_SEPARATOR}...")
    spin_off = cues(f"{MARK_BIGTECH} spins off chip unit {MARK_UNIT}{TITLE_SEPARATOR}...")
    own_spend = cues(f"{MARK_BIGTECH}十年投入500亿元{TITLE_SEPARATOR}自研芯片")
    assert robotics["invest_into_nonchip"] == 1.0 and robotics["invest_into_chipco"] == 0.0
    assert chip["invest_into_chipco"] == 1.0 and chip["invest_into_nonchip"] == 0.0
    assert spin_off["unit_news_in_title"] == 1.0
    assert own_spend["spend_on_own"] == 1.0
    # the clause ends at the title: "基金" in the headline does not reach "软件" in the summary
    fund = cues(f"{MARK_BIGTECH}集成电路股权投资基金{TITLE_SEPARATOR}金山软件公告")
    assert fund["invest_into_nonchip"] == 0.0


def test_a_model_trained_before_later_cues_reads_only_the_cues_it_knew() -> None:
    from pipeline.model.features import LATER_CUE_NAMES, CueFeatures

    old = CueFeatures().fit(["x"])
    old.n_features_out_ = len(CUE_NAMES) - len(LATER_CUE_NAMES)  # as pickled by the earlier release
    matrix = old.transform([f"{MARK_BIGTECH} unveils its own chip{TITLE_SEPARATOR}..."])
    assert matrix.shape == (1, len(CUE_NAMES) - len(LATER_CUE_NAMES))
    assert list(old.get_feature_names_out())[-1] == "cue__chip_fund"


# --- hashed character n-grams against a plain-Python reading of their definition ---------------------------


def _reference_counts(text: str, ngram_range: tuple[int, int], n_bits: int) -> dict[int, int]:
    """Lower-case, collapse whitespace, NUL as a space; hash each n-gram (FNV-like, seeded by n, mixed)."""
    doc = re.sub(r"\s+", " ", text.lower()).replace("\x00", " ")
    mask = (1 << 64) - 1
    counts: dict[int, int] = {}
    for n in range(ngram_range[0], ngram_range[1] + 1):
        for k in range(len(doc) - n + 1):
            h = n
            for ch in doc[k : k + n]:
                h = ((h * 1099511628211) & mask) ^ ord(ch)
            column = ((h * 0x9E3779B97F4A7C15) & mask) >> (64 - n_bits)
            counts[column] = counts.get(column, 0) + 1
    return counts


def test_hashed_char_counts_match_their_definition() -> None:
    texts = ["Ali  Baba\tunveils ⒝ chip", "", "ΟΔΟΣ Σ", "nul\x00 inside  \x00", "自研芯片 ¶ 流片", "x"]
    matrix = hashed_char_counts(texts, (1, 4), 12)
    assert matrix.shape == (len(texts), 1 << 12)
    for row, text in enumerate(texts):
        got = {int(c): int(v) for c, v in zip(matrix[row].indices, matrix[row].data, strict=True)}
        assert got == _reference_counts(text, (1, 4), 12), text


def test_hashed_char_counts_of_a_batch_without_nul_match_their_definition() -> None:
    # Without a NUL in the batch, whitespace is collapsed over the code points of the joined texts.
    rng = random.Random(11)
    alphabet = list("aB中⒝Σς \t\n\r\x0b\x0c\x1c\x1f\x85\xa0\u1680\u2000\u2028\u202f\u3000İ")
    texts = [
        "",
        " ",
        "  a  ",
        "\u3000",
        *("".join(rng.choices(alphabet, k=rng.randrange(15))) for _ in range(300)),
    ]
    matrix = hashed_char_counts(texts, (1, 4), 12)
    for row, text in enumerate(texts):
        got = {int(c): int(v) for c, v in zip(matrix[row].indices, matrix[row].data, strict=True)}
        assert got == _reference_counts(text, (1, 4), 12), repr(text)


def test_all_whitespace_is_below_the_collapse_table_limit() -> None:
    assert not any(chr(c).isspace() for c in range(_SPACE_LIMIT, 0x110000))
    assert [c for c in range(_SPACE_LIMIT) if chr(c).isspace()] == [
        c for c in range(_SPACE_LIMIT) if re.fullmatch(r"\s", chr(c))
    ]


def test_hashed_tfidf_rows_are_unit_length_log_counts_times_idf() -> None:
    texts = [
        "Google unveils its own chip",
        "Alibaba backs a chip start-up",
        "自研芯片 流片",
        "chip chip chip",
    ]
    model = HashedCharTfidf(ngram_range=(1, 3), n_bits=12, min_df=1).fit(texts)
    matrix = model.transform(texts)
    for row, text in enumerate(texts):
        expected = {
            c: math.log1p(v) * float(model.idf_[c]) for c, v in _reference_counts(text, (1, 3), 12).items()
        }
        norm = math.sqrt(sum(v * v for v in expected.values()))
        got = dict(zip(matrix[row].indices.tolist(), matrix[row].data.tolist(), strict=True))
        assert set(got) == {c for c, v in expected.items() if v != 0.0}
        for column, value in got.items():
            assert value == pytest.approx(expected[column] / norm, rel=1e-12)


def test_collapse_spaces_is_the_whitespace_regex() -> None:
    spaces = re.compile(r"\s+")
    rng = random.Random(7)
    alphabet = list("ab中⒝\x00 \t\n\r\x0b\x0c\x1c\x1f\x85\xa0\u1680\u2000\u2028\u3000")
    texts = [
        "",
        " ",
        "  ",
        "a",
        " a",
        "a ",
        "\u3000a\t\tb\n",
        *("".join(rng.choices(alphabet, k=rng.randrange(12))) for _ in range(5000)),
    ]
    for text in texts:
        assert collapse_spaces(text) == spaces.sub(" ", text), repr(text)


def test_a_big_tech_named_only_after_the_lead_sentence_is_a_late_mention() -> None:
    from pipeline.analysis.extract import MARK_UNIT

    def late(text: str) -> float:
        return dict(zip(CUE_NAMES, cue_vector(text), strict=True))["bigtech_only_late"]

    sep = TITLE_SEPARATOR
    # the substance is a chip company; the big tech's unit comes in the second sentence
    assert (
        late(
            f"{MARK_CHIPCO} lists in Hong Kong{sep}{MARK_CHIPCO} began trading on Friday. Separately, {MARK_UNIT} filed."
        )
        == 1.0
    )
    assert (
        late(f"{MARK_CHIPCO}港股上市{sep}国产芯片企业{MARK_CHIPCO}今日挂牌上市。同日{MARK_UNIT}宣布分拆。")
        == 1.0
    )
    # named in the title, or in the first sentence: not late
    assert late(f"{MARK_BIGTECH} unveils its own chip{sep}The chip is made by {MARK_CHIPCO}. More.") == 0.0
    assert (
        late(f"Chip news{sep}{MARK_BIGTECH} said on Monday it tested a chip. {MARK_CHIPCO} builds it.") == 0.0
    )
    # "U.S." early in the lead does not end its first sentence
    assert late(f"Chip news{sep}U.S. officials said {MARK_BIGTECH} may build chips. Later text.") == 0.0
    # no big tech at all, or no summary: not late
    assert late(f"{MARK_CHIPCO} earnings{sep}{MARK_CHIPCO} beat estimates. Shares rose.") == 0.0
    assert late(f"{MARK_CHIPCO} earnings, then {MARK_BIGTECH}") == 0.0
