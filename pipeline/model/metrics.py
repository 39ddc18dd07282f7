"""Classification metrics, computed by scikit-learn, in the one shape reports and gates use."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class BinaryScores:
    """Precision, recall and F1 of the positive class (rounded to 4 places), with the confusion counts."""

    n: int
    positives: int
    precision: float
    recall: float
    f1: float
    tp: int
    fp: int
    fn: int
    tn: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def binary_scores(y_true: Any, y_pred: Any) -> BinaryScores:
    """Scores of 0/1 predictions against 0/1 labels; an undefined ratio (no positives) counts as 0."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    y = np.asarray(y_true, dtype=int)
    p = np.asarray(y_pred, dtype=int)
    if len(y) == 0:
        return BinaryScores(0, 0, 0.0, 0.0, 0.0, 0, 0, 0, 0)
    tn, fp, fn, tp = (int(v) for v in confusion_matrix(y, p, labels=[0, 1]).ravel())
    precision, recall, f1, _ = precision_recall_fscore_support(
        y, p, labels=[1], average="binary", pos_label=1, zero_division=0
    )
    return BinaryScores(
        n=len(y),
        positives=int(y.sum()),
        precision=round(float(precision), 4),
        recall=round(float(recall), 4),
        f1=round(float(f1), 4),
        tp=tp,
        fp=fp,
        fn=fn,
        tn=tn,
    )
