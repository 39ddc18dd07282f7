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
