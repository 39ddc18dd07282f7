"""Training on a small fixed set, reproducibility, the promotion gate and promotion."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from pipeline.config.watchlist import Watchlist
from pipeline.errors import ModelError, StoreError
from pipeline.model.classifier import ClassifyItem, NewsClassifier
from pipeline.model.dataset import load_labelled
from pipeline.model.registry import load_promoted, promote
from pipeline.model.training import (
    TrainResult,
    choose_threshold,
    evaluate_candidate,
    split_holdout,
    train_and_save,
)
from pipeline.store import Store, open_store

SMALL = Path(__file__).parents[1] / "data" / "extract" / "labelled_small.jsonl"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    s = open_store(f"sqlite:///{tmp_path_factory.mktemp('store')}/news.db")
    yield s
    s.dispose()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def trained(model_dir: Path, store: Store) -> TrainResult:
    return train_and_save(train_paths=[SMALL], model_dir=model_dir, store=store, feature_set="char")


def test_train_saves_registers_and_promotes_the_first_model(
    trained: TrainResult, model_dir: Path, store: Store
) -> None:
    assert re.fullmatch(r"clf-\d{8}-[0-9a-f]{8}", trained.version)
    assert trained.path.is_file() and trained.path.parent.name == trained.version
    assert 0.05 <= trained.threshold <= 0.95
    assert {"precision", "recall", "f1", "n"} <= set(trained.metrics)
    assert trained.promoted and "no promoted model" in trained.gate_reason
    meta = json.loads((trained.path.parent / "metadata.json").read_text())
    assert meta["data_hash"] == trained.data_hash
    assert meta["feature_set"] == "char" and meta["sklearn_version"] and meta["created_at"]
    current = store.current_model()
    assert current is not None and current.version == trained.version and current.metrics == trained.metrics
    assert current.card["threshold"] == trained.threshold and current.size == trained.path.stat().st_size
    assert load_promoted(store, model_dir).version == trained.version


def test_training_is_reproducible(trained: TrainResult, tmp_path: Path, store: Store) -> None:
    again = train_and_save(train_paths=[SMALL], model_dir=tmp_path, promote=False, feature_set="char")
    assert again.version == trained.version
    assert again.threshold == pytest.approx(trained.threshold)
    watchlist = Watchlist.load(Path(__file__).parents[2] / "config" / "watchlist.yaml")
    items = [ClassifyItem(id=i.id, title=i.title, summary=i.summary) for i in load_labelled([SMALL])[:10]]
    a = NewsClassifier.load(trained.path).predict(items, watchlist=watchlist)
    b = NewsClassifier.load(again.path).predict(items, watchlist=watchlist)
    assert np.allclose([p.probability for p in a], [p.probability for p in b])


def test_gate_promotes_a_model_that_is_not_worse(trained: TrainResult, model_dir: Path, store: Store) -> None:
    candidate = NewsClassifier.load(trained.path)
    gate = evaluate_candidate(candidate, train_paths=[SMALL], store=store, cache_dir=model_dir)
    assert gate.promote
    assert gate.current_metrics is not None


def test_gate_refuses_a_worse_model(
    trained: TrainResult, model_dir: Path, store: Store, tmp_path: Path
) -> None:
    # A model trained on inverted labels is worse on the same held-out split.
    rows = [json.loads(line) for line in SMALL.read_text(encoding="utf-8").splitlines()]
    for r in rows:
        r["label"] = 1 - r["label"]
        r["event_type"] = "self_development" if r["label"] else None
        r["companies"] = r["companies"] or ["Google"]
    flipped = tmp_path / "flipped.jsonl"
    flipped.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    worse = train_and_save(
        train_paths=[flipped], model_dir=model_dir, store=store, promote=False, feature_set="char"
    )
    assert not worse.promoted
    gate = evaluate_candidate(
        NewsClassifier.load(worse.path), train_paths=[SMALL], store=store, cache_dir=model_dir
    )
    assert not gate.promote and "worse" in gate.reason
    assert gate.current_metrics is not None and gate.candidate_metrics["f1"] < gate.current_metrics["f1"]
    assert load_promoted(store, model_dir).version == trained.version
    # Promotion by hand still works (an operator's decision), and can be undone the same way.
    promote(store, worse.version)
    assert load_promoted(store, model_dir).version == worse.version
    promote(store, trained.version)
    assert load_promoted(store, model_dir).version == trained.version


def test_promote_unknown_version_fails(store: Store) -> None:
    with pytest.raises(StoreError, match="not registered"):
        promote(store, "clf-19990101-deadbeef")


def test_promoting_needs_a_store(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="needs a store"):
        train_and_save(train_paths=[SMALL], model_dir=tmp_path, store=None, promote=True, feature_set="char")


def test_split_is_stable_and_groups_events() -> None:
    items = load_labelled([SMALL])
    train, held = split_holdout(items)
    assert len(train) + len(held) == len(items) and held
    assert split_holdout(list(reversed(items)))[1] == list(reversed(held))


def test_choose_threshold_prefers_high_precision() -> None:
    y = np.array([1, 1, 1, 1, 0, 1, 0, 0, 0, 0])
    scores = np.array([0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.5, 0.3, 0.2, 0.1])
    threshold = choose_threshold(y, scores, min_precision=0.95)
    assert 0.7 < threshold <= 0.8  # the four certain positives, not the 0.7 negative
    assert choose_threshold(y, scores, min_precision=0.0) < 0.7  # plain F1 takes the 0.6 positive too


def test_training_needs_both_classes(tmp_path: Path) -> None:
    rows = [json.loads(line) for line in SMALL.read_text(encoding="utf-8").splitlines()]
    only_positive = tmp_path / "pos.jsonl"
    only_positive.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows if r["label"] == 1), encoding="utf-8"
    )
    with pytest.raises(ModelError, match="two relevant and two irrelevant"):
        train_and_save(train_paths=[only_positive], model_dir=tmp_path, promote=False, feature_set="char")
