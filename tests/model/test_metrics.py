"""Binary scores from scikit-learn in the one shape reports and the gate use; counts worked out by hand."""

from __future__ import annotations

from pipeline.model.metrics import binary_scores


def test_scores_and_counts() -> None:
    # y:    1 1 1 0 0 0 0 1
    # pred: 1 0 1 1 0 0 0 1  -> tp 3, fn 1, fp 1, tn 3; precision 3/4, recall 3/4, F1 3/4
    s = binary_scores([1, 1, 1, 0, 0, 0, 0, 1], [1, 0, 1, 1, 0, 0, 0, 1])
    assert (s.tp, s.fn, s.fp, s.tn, s.n, s.positives) == (3, 1, 1, 3, 8, 4)
    assert (s.precision, s.recall, s.f1) == (0.75, 0.75, 0.75)
    assert s.as_dict()["f1"] == 0.75


def test_undefined_ratios_are_zero() -> None:
    none_flagged = binary_scores([1, 0], [0, 0])
    assert (none_flagged.precision, none_flagged.recall, none_flagged.f1) == (0.0, 0.0, 0.0)
    assert binary_scores([], []).n == 0
    # two of three found, one false alarm: precision 2/3, recall 2/3 (rounded to 4 places)
    s = binary_scores([1, 1, 1, 0], [1, 1, 0, 1])
    assert (s.precision, s.recall, s.f1) == (0.6667, 0.6667, 0.6667)
