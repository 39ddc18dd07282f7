"""The stacked estimator's trees summed over rows and trees at once: the numbers of scikit-learn's own."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from pipeline.model.estimator import _flat_trees, trees_decision


def _data(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    X = rng.normal(size=(n, 6))  # noqa: N806 - scikit-learn naming
    X[:, 1] = rng.integers(0, 2, size=n)  # a 0/1 cue, as most cues are
    y = ((X[:, 0] + X[:, 1] - 0.5 * X[:, 2] + rng.normal(scale=0.5, size=n)) > 0.3).astype(int)
    X[rng.random(size=(n, 6)) < 0.1] = np.nan  # missing values, so that splits learn a side for them
    return X, y


def test_tree_sums_are_scikit_learns_bit_for_bit() -> None:
    rng = np.random.default_rng(3)
    X, y = _data(rng, 600)  # noqa: N806
    for depth, iterations in ((3, 200), (2, 100), (None, 30)):
        trees = HistGradientBoostingClassifier(max_depth=depth, max_iter=iterations, random_state=0).fit(X, y)
        test, _ = _data(rng, 257)
        test[0, :] = np.inf
        test[1, :] = -np.inf
        test[2, :] = np.nan
        expected = trees.decision_function(test)
        got = trees_decision(trees, test)
        assert got.dtype == expected.dtype and got.shape == expected.shape
        assert np.array_equal(got, expected)  # every bit: the leaf values added in the same order
        assert _flat_trees[trees][2] is not None  # summed by the vectorised walk, not handed back


def test_other_tree_models_and_inputs_fall_back_to_scikit_learn() -> None:
    rng = np.random.default_rng(4)
    X, y = _data(rng, 300)  # noqa: N806
    X[:, 3] = rng.integers(0, 4, size=300)
    categorical = HistGradientBoostingClassifier(categorical_features=[3], max_iter=20, random_state=0).fit(
        X, y
    )
    assert np.array_equal(trees_decision(categorical, X), categorical.decision_function(X))
    assert _flat_trees[categorical][2] is None
    plain = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(X, y)
    as_float32 = X.astype(np.float32)
    assert np.array_equal(trees_decision(plain, as_float32), plain.decision_function(as_float32))
    with pytest.raises(ValueError, match="minimum of 1 is required"):  # as scikit-learn refuses no rows
        trees_decision(plain, X[:0])


def test_a_model_fitted_again_is_walked_with_its_new_trees() -> None:
    rng = np.random.default_rng(5)
    X, y = _data(rng, 300)  # noqa: N806
    trees = HistGradientBoostingClassifier(max_iter=10, random_state=0, warm_start=True).fit(X, y)
    assert np.array_equal(trees_decision(trees, X), trees.decision_function(X))
    trees.set_params(max_iter=25).fit(X, y)  # warm start: more trees in the same list
    assert np.array_equal(trees_decision(trees, X), trees.decision_function(X))
    other, other_y = _data(rng, 300)
    trees.set_params(warm_start=False).fit(other, 1 - other_y)  # a new fit: a new list of trees
    assert np.array_equal(trees_decision(trees, X), trees.decision_function(X))
