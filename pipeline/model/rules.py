"""The labelling guide's hard rules, in one place: what can never be relevant, whatever the model says.

``NewsClassifier.predict`` caps the probability of an ineligible article below its threshold, and training
chooses the threshold on out-of-fold scores capped by the same function, so the threshold is chosen for
the model as it runs.
"""

from __future__ import annotations

import re

import numpy as np

from pipeline.analysis.extract import MARK_CHIP, MARK_CHIPCO, MARK_OTHER_CHIP, MARK_UNIT, Analysis
from pipeline.model.features import ACTOR_MARKS, cue_hits, end_of_title, model_text
from pipeline.text import Guarded

# A capped probability: half the threshold, so an ineligible article is never relevant and its score
# still orders it among the other irrelevant ones.
CAP_FACTOR = 0.5

# An own chip named as a device's spec ("running on a Kirin 9020", "搭载麒麟9020") in a device story: the
# news is the phone or laptop, the chip at most a mention.
_CHIP_AS_SPEC_RX = re.compile(
    rf"(?:running on|runs on|run on|powered by|equipped with|built around|uses the|use the|spec sheet lists|"
    rf"moves to|搭载|搭載|配备|配備|采用|採用|内置|內建)\s?(?:the |a |an |its |new )?[^{ACTOR_MARKS}。.;；]{{0,12}}{MARK_CHIP}"
)
_DEVICE_RX = re.compile(
    r"smartphone|phone|tablet|laptop|notebook|macbook|ipad|iphone|pixel|galaxy|watch|tri-fold|foldable|"
    r"手机|手機|平板|笔记本|筆電|折叠屏|折疊|三折|手表|手錶|新机|新機|"
    r"(?:mate|pura|nova|redmi|xiaomi|find x|reno|mi)\s?\d"
)
# A device on sale, repriced or reviewed: the news is the device, whatever chip the headline names.
_DEVICE_SALE_RX = re.compile(
    r"\bon sale|price cut|cuts? (?:the )?price|\breview|\bhands-on|"
    r"降价|降價|开售|開售|首销|首銷|评测|評測|上手|发售|發售|售价|售價|起售"
)

# Any sign that the text is about chips at all: a chip product, unit or company, or a chip word.
_CHIP_SIGNAL_RX = re.compile(
    rf"[{MARK_CHIP}{MARK_UNIT}{MARK_CHIPCO}{MARK_OTHER_CHIP}]|芯|晶片|半导体|半導體|集成电路|積體電路|处理器|處理器|"
    r"加速器|算力卡|基带|基帶|晶圆|晶圓|光刻|传感器|傳感器|射频|射頻|滤波器|碳化硅|氮化镓|衬底|封测|"
    r"(?<![a-z])(?:chips?|chipmakers?|chipsets?|silicon|semiconductors?|processors?|coprocessors?|"
    r"microprocessors?|accelerators?|foundry|foundries|wafers?|modems?|asics?|socs?|[gctnd]pus?|risc-v|"
    r"tape[sd]?[- ]?out|fabs?|sensors?|lithography|eda|sic|gan|substrates?|lasers?|photonics?)(?![a-z])",
    re.IGNORECASE,
)


# The same searches, faster (``Guarded``).
_CHIP_AS_SPEC = Guarded(_CHIP_AS_SPEC_RX)
_DEVICE = Guarded(_DEVICE_RX)
_CHIP_SIGNAL = Guarded(_CHIP_SIGNAL_RX)


def chip_only_as_device_spec(text: str) -> bool:
    """A device story (phone, laptop ...) naming the company's own chip only as a spec, with no word of
    in-house chip work: the guide's "phones where the chip is at most a mention"."""
    lowered = text.lower()
    title = lowered[: end_of_title(lowered)]
    if not _DEVICE.search(title):
        return False
    hits = cue_hits(lowered)
    if _DEVICE_SALE_RX.search(title) and not any(cue == "self_dev" for cue, _ in hits):
        return True
    if MARK_CHIP in title or not _CHIP_AS_SPEC.search(lowered):
        return False
    if any(cue == "chip_word" and at < len(title) for cue, at in hits):
        return False  # the headline is about a chip
    return not any(cue == "self_dev" for cue, _ in hits)


def has_chip_signal(text: str) -> bool:
    """Whether a masked model text mentions chips at all (product, unit, chip company or chip word)."""
    if MARK_CHIP in text or MARK_UNIT in text or MARK_CHIPCO in text or MARK_OTHER_CHIP in text:
        return True  # what the expression's first branch matches: no need to search
    return bool(_CHIP_SIGNAL.search(text))


def ineligibility(analysis: Analysis, text: str | None = None) -> str | None:
    """Why an analysed article cannot be relevant under the labelling guide, or None when it can be.

    The definition needs a watch-list company and chips; a device story naming an own chip only as a spec
    is not chip news. (A model trained on chip-news negatives cannot know these on its own.) ``text``:
    ``model_text(analysis)`` when the caller has it already.
    """
    if not analysis.extraction.companies:
        return "no watch-list company"
    if text is None:
        text = model_text(analysis)
    if not has_chip_signal(text):
        return "no sign of chips"
    if chip_only_as_device_spec(text):
        return "own chip named only as a device spec"
    return None


def cap_scores(scores: np.ndarray, eligible: np.ndarray, threshold: float) -> np.ndarray:
    """``scores`` with every ineligible item capped at ``CAP_FACTOR * threshold`` (below any threshold)."""
    scores = np.asarray(scores, dtype=float)
    return np.where(eligible, scores, np.minimum(scores, threshold * CAP_FACTOR))
