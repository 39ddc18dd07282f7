"""The relevance estimator: a text regression stacked with the cues in gradient-boosted trees, calibrated."""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin

_REPEAT_SEED_STEP = 7919  # between the fold shuffles of repeated out-of-fold passes


class StackedRelevanceClassifier(ClassifierMixin, BaseEstimator):
    """Relevance in two stages, with calibrated probabilities.

    A logistic regression over the text n-grams gives a score; gradient-boosted trees combine that score
    with the hand-built cues, which is where interactions live (an "own chip" phrase counts when a big-tech
    company is the one acting, an investment when the target makes chips). The trees learn from
    out-of-fold text scores, so they do not over-trust a score the regression saw in training.

    Probabilities are Platt-calibrated (as ``CalibratedClassifierCV(method="sigmoid")``) on out-of-fold
    outputs of the whole stack; those out-of-fold probabilities are kept (``oof_proba_``) so the decision
    threshold is chosen on predictions the model did not train on. ``X`` is the FeatureUnion output:
    text columns first, then the ``n_cues`` cue columns.

    Trees need data: below ``min_stack_items`` training items the second stage is skipped and the
    regression reads the text and the cues together (``stacked_`` is False).
    """

    def __init__(
        self,
        n_cues: int,
        *,
        C: float = 16.0,  # noqa: N803 - scikit-learn naming
        cv: int = 5,
        max_depth: int = 3,
        max_iter: int = 200,
        learning_rate: float = 0.1,
        random_state: int = 0,
        min_stack_items: int = 300,
    ) -> None:
        self.n_cues = n_cues
        self.min_stack_items = min_stack_items
        self.C = C
        self.cv = cv
        self.max_depth = max_depth
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.random_state = random_state

    def _split(self, X: Any) -> tuple[Any, np.ndarray]:  # noqa: N803
        X = sp.csr_matrix(X)  # noqa: N806
        width = X.shape[1] - self.n_cues
        return X[:, :width], np.asarray(X[:, width:].toarray())

    def _folds(self, y: np.ndarray, groups: Any, seed: int) -> Any:
        from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

        folds = min(self.cv, int(min(y.sum(), len(y) - y.sum())))
        if folds < 2:
            raise ValueError("relevance training needs at least two items of each class")
        if groups is None:
            return StratifiedKFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y)
        return StratifiedGroupKFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y, groups)

    def _text_model(self) -> Any:
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(
            C=self.C, class_weight="balanced", solver="liblinear", random_state=self.random_state
        )

    def _fit_stack(self, text: Any, cues: np.ndarray, y: np.ndarray, groups: Any) -> tuple[Any, Any]:
        from sklearn.ensemble import HistGradientBoostingClassifier

        if not self.stacked_:
            return self._text_model().fit(sp.hstack([text, cues], format="csr"), y), None
        inner = np.zeros(len(y))
        for train, test in self._folds(y, groups, self.random_state + 1):
            model = self._text_model().fit(text[train], y[train])
            inner[test] = model.decision_function(text[test])
        text_model = self._text_model().fit(text, y)
        trees = HistGradientBoostingClassifier(
            max_depth=self.max_depth,
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            class_weight="balanced",
            random_state=self.random_state,
        ).fit(np.column_stack([inner, cues]), y)
        return text_model, trees

    def fit(self, X: Any, y: Any, groups: Any = None, *, oof_repeats: int = 1) -> StackedRelevanceClassifier:  # noqa: N803
        """Fit; ``groups`` keeps items of one group (one news event told several ways) in one fold.

        ``oof_repeats`` > 1 repeats the out-of-fold pass over differently shuffled folds and averages the
        scores: the calibration and the threshold chosen on them then depend less on one draw of folds.
        """
        from sklearn.linear_model import LogisticRegression

        if oof_repeats < 1:
            raise ValueError(f"oof_repeats must be at least 1, not {oof_repeats}")
        y = np.asarray(y).astype(int)
        groups_arr = None if groups is None else np.asarray(groups)
        self.stacked_ = len(y) >= self.min_stack_items
        text, cues = self._split(X)
        raw = np.zeros(len(y))
        for repeat in range(oof_repeats):
            # The first pass draws its folds as a single pass always has (the same model for one repeat).
            seed = self.random_state + _REPEAT_SEED_STEP * repeat
            for train, test in self._folds(y, groups_arr, seed):
                text_model, trees = self._fit_stack(
                    text[train], cues[train], y[train], None if groups_arr is None else groups_arr[train]
                )
                raw[test] += self._raw(text_model, trees, text[test], cues[test])
        raw /= oof_repeats
        platt = LogisticRegression(C=1e4).fit(raw.reshape(-1, 1), y)
        self.slope_ = float(platt.coef_[0, 0])
        self.intercept_ = float(platt.intercept_[0])
        self.oof_proba_ = self._sigmoid(raw)
        self.text_model_, self.trees_ = self._fit_stack(text, cues, y, groups_arr)
        self.classes_ = np.array([0, 1])
        return self

    def _sigmoid(self, raw: np.ndarray) -> np.ndarray:
        from scipy.special import expit  # the logistic function without overflow for large scores

        return np.asarray(expit(self.slope_ * raw + self.intercept_))

    @staticmethod
    def _raw(text_model: Any, trees: Any, text: Any, cues: np.ndarray) -> np.ndarray:
        if trees is None:
            return np.asarray(text_model.decision_function(sp.hstack([text, cues], format="csr")))
        stacked = np.column_stack([text_model.decision_function(text), cues])
        return trees_decision(trees, stacked)

    def decision_function(self, X: Any) -> np.ndarray:  # noqa: N803
        text, cues = self._split(X)
        return self._raw(self.text_model_, self.trees_, text, cues)

    def proba_of_parts(self, text: Any, cues: np.ndarray) -> np.ndarray:
        """``predict_proba(X)[:, 1]`` from ``X`` already split as ``_split`` splits it (text columns as
        CSR, the ``n_cues`` cue columns as a dense array): the same numbers without the split's copies."""
        return self._sigmoid(self._raw(self.text_model_, self.trees_, text, cues))

    def predict_proba(self, X: Any) -> np.ndarray:  # noqa: N803
        p = self._sigmoid(self.decision_function(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Any) -> np.ndarray:  # noqa: N803
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


# --- the trees' sum, vectorised ---------------------------------------------------------------------


@dataclass(frozen=True)
class _FlatTrees:
    """The nodes of all trees of a fitted ``HistGradientBoostingClassifier`` (one tree per iteration,
    numeric splits only) in flat arrays; a leaf is its own child on both sides."""

    roots: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    missing_left: np.ndarray
    children: np.ndarray  # node k's right child at 2k, its left child at 2k + 1
    value: np.ndarray
    depth: int


# Per fitted model: its list of trees, their number, and their flat form (None: not of the kind handled).
# A model fitted again has a new list (or, warm-started, a longer one): its flat form is made anew.
_flat_trees: weakref.WeakKeyDictionary[Any, tuple[Any, int, _FlatTrees | None]] = weakref.WeakKeyDictionary()


def _flatten(trees: Any) -> _FlatTrees | None:
    """``trees`` as ``_FlatTrees``, or None when it is of another kind (categorical splits, several
    trees per iteration, a preprocessor of its own)."""
    if getattr(trees, "_preprocessor", None) is not None or getattr(trees, "n_trees_per_iteration_", 0) != 1:
        return None
    nodes = [iteration[0].nodes for iteration in trees._predictors]
    if not nodes or any(n["is_categorical"].any() for n in nodes):
        return None
    sizes = np.array([len(n) for n in nodes])
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    flat = np.concatenate(nodes)
    shift = np.repeat(offsets, sizes)
    index = np.arange(len(flat))
    leaf = flat["is_leaf"].astype(bool)
    children = np.empty(2 * len(flat), dtype=np.intp)
    children[0::2] = np.where(leaf, index, flat["right"].astype(np.intp) + shift)
    children[1::2] = np.where(leaf, index, flat["left"].astype(np.intp) + shift)
    return _FlatTrees(
        roots=offsets.astype(np.intp),
        feature=np.where(leaf, 0, flat["feature_idx"]).astype(np.intp),
        threshold=flat["num_threshold"].astype(np.float64),
        missing_left=flat["missing_go_to_left"].astype(bool),
        children=children,
        value=flat["value"].astype(np.float64),
        depth=int(flat["depth"].max()),
    )


def trees_decision(trees: Any, X: np.ndarray) -> np.ndarray:  # noqa: N803 - scikit-learn naming
    """``trees.decision_function(X)`` for a binary ``HistGradientBoostingClassifier``, the same numbers:
    every row walks all trees at once (numpy over rows x trees instead of one compiled call per tree),
    and the leaf values are added to the baseline one tree after another, in the trees' order, as
    scikit-learn adds them. Falls back to ``decision_function`` for anything else."""
    predictors = getattr(trees, "_predictors", None)
    try:
        known, count, flat = _flat_trees.get(trees, (None, 0, None))
        if known is not predictors or predictors is None or count != len(predictors):
            flat = _flatten(trees) if predictors is not None else None
            _flat_trees[trees] = (predictors, 0 if predictors is None else len(predictors), flat)
    except TypeError:  # not weakly referenceable
        flat = None
    if (
        flat is None
        or getattr(trees, "_in_fit", False)
        or not isinstance(X, np.ndarray)
        or X.dtype != np.float64
        or X.ndim != 2
        or X.shape[1] != trees.n_features_in_
        or X.shape[0] == 0
    ):
        return np.asarray(trees.decision_function(X))
    n_rows, n_features = X.shape
    values = np.ascontiguousarray(X).ravel()
    row_start = np.arange(n_rows, dtype=np.intp) * n_features
    node = np.repeat(flat.roots[:, None], n_rows, axis=1)  # trees x rows
    missing = bool(np.isnan(values).any())
    for _ in range(flat.depth):
        value = values.take(row_start + flat.feature.take(node))
        # Left when at most the threshold; a missing value (NaN) goes to the side the node says.
        go_left = value <= flat.threshold.take(node)
        if missing:
            go_left |= np.isnan(value) & flat.missing_left.take(node)
        node = flat.children.take(2 * node + go_left)
    leaves = flat.value.take(node)
    raw = np.zeros(n_rows)
    raw += trees._baseline_prediction.ravel()[0]
    for tree_values in leaves:  # one tree after another, as ``_predict_iterations`` adds them
        raw += tree_values
    return raw
