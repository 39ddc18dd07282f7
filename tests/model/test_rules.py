"""The labelling guide's hard rules: no chips or no watch-list company, or an own chip only as a device
spec, is never relevant; prediction and training apply the same rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.analysis.extract import MARK_CHIPCO, analyze
from pipeline.config.watchlist import Watchlist
from pipeline.model.classifier import ClassifyItem, NewsClassifier
from pipeline.model.dataset import LabelledItem
from pipeline.model.features import model_text
from pipeline.model.rules import (
    CAP_FACTOR,
    cap_scores,
    chip_only_as_device_spec,
    has_chip_signal,
    ineligibility,
)
from pipeline.model.training import _prepare, choose_threshold, train_and_save
from pipeline.settings import PROJECT_ROOT

SMALL = Path(__file__).parents[1] / "data" / "extract" / "labelled_small.jsonl"


@pytest.fixture(scope="module")
def watchlist() -> Watchlist:
    return Watchlist.load(PROJECT_ROOT / "config" / "watchlist.yaml")


def test_chip_signal() -> None:
    assert has_chip_signal("⒝ unveils a custom chip")
    assert has_chip_signal("⒝发布自研芯片")
    assert has_chip_signal(f"{MARK_CHIPCO} raises money")
    assert not has_chip_signal("⒝ opens a Chipotle outlet in its campus")
    assert not has_chip_signal("⒝ reports record advertising revenue")


def test_an_own_chip_named_only_as_a_device_spec_is_not_the_news(watchlist: Watchlist) -> None:
    wl = watchlist

    def spec_only(title: str, summary: str) -> bool:
        return chip_only_as_device_spec(model_text(analyze(title, summary, language=None, watchlist=wl)))

    assert spec_only("Google's new Pixel phone adds a brighter screen", "The phone runs on the Tensor G4.")
    assert spec_only("苹果新款平板开售", "新机搭载M4芯片，起售价7999元。")
    # the chip is the headline, or the text is about designing it: not a spec mention
    assert not spec_only("Google previews Tensor chip for Pixel phones", "The phone runs on the Tensor G4.")
    assert not spec_only("Apple's new iPhone", "It runs on the A19, which Apple designs in-house.")
    assert not spec_only("Huawei unveils Ascend 950 roadmap", "Huawei's Ascend chips power its clusters.")


CASES = [
    ("eligible", "Google unveils TPU v7 Ironwood", "Google designed the chip in-house."),
    ("no-chips", "Google unveils its own new search redesign", "Google said it built the design in-house."),
    ("no-company", "Nvidia unveils its own in-house AI chip", "Nvidia designed the chip itself."),
    ("spec-only", "Google's new Pixel phone adds a brighter screen", "The phone runs on the Tensor G4."),
]


def test_ineligibility_names_the_rule(watchlist: Watchlist) -> None:
    reasons = {
        name: ineligibility(analyze(title, summary, language=None, watchlist=watchlist))
        for name, title, summary in CASES
    }
    assert reasons == {
        "eligible": None,
        "no-chips": "no sign of chips",
        "no-company": "no watch-list company",
        "spec-only": "own chip named only as a device spec",
    }


def test_capped_scores_fall_below_any_threshold() -> None:
    scores = np.array([0.99, 0.99, 0.2])
    eligible = np.array([True, False, False])
    for threshold in (0.05, 0.5, 0.95):
        capped = cap_scores(scores, eligible, threshold)
        assert capped[0] == 0.99 and capped[1] == pytest.approx(threshold * CAP_FACTOR)
        assert capped[1] < threshold
        assert capped[2] == min(0.2, threshold * CAP_FACTOR)
    # the threshold search caps at 0: the same decisions as capping at whatever threshold it picks
    assert list(cap_scores(scores, eligible, 0.0)) == [0.99, 0.0, 0.0]


def test_prediction_and_the_threshold_search_apply_the_same_rule(
    watchlist: Watchlist, tmp_path: Path
) -> None:
    """Training marks exactly the items prediction caps, so the threshold is chosen for the running model."""
    items = [
        LabelledItem(id=name, lang="en", title=title, summary=summary, label=1, event_type="self_development",
                     companies=("Google",))
        for name, title, summary in CASES
    ]  # fmt: skip
    _texts, eligible = _prepare(items, watchlist)
    model = NewsClassifier.load(
        train_and_save(train_paths=[SMALL], model_dir=tmp_path, promote=False, feature_set="char").path
    )
    predictions = model.predict([ClassifyItem(i.id, i.title, i.summary) for i in items], watchlist=watchlist)
    capped = [p.probability <= model.threshold * CAP_FACTOR for p in predictions]
    assert list(eligible) == [True, False, False, False]
    assert capped[1:] == [True, True, True] and not model.is_relevant(predictions[1])
    # the search never counts a capped item as flagged: here the positive at 0.99 is ineligible, so the
    # best cut keeps the positive at 0.9 and leaves the negative at 0.1 out (F1 0.5), half-way between
    y = np.array([1, 0, 1, 0])
    scores = np.array([0.9, 0.95, 0.99, 0.1])
    eligible = np.array([True, True, False, True])
    assert choose_threshold(y, scores, eligible=eligible, min_precision=0.0) == pytest.approx(0.5)
