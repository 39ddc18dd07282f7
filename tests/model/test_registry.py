"""Models where every worker can reach them: a worker with an empty local model folder classifies with
the store's promoted model; the local copy is a cache that is checked and repaired."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.config.watchlist import Watchlist
from pipeline.errors import ModelError
from pipeline.model import registry
from pipeline.model.classifier import ClassifyItem, NewsClassifier
from pipeline.settings import PROJECT_ROOT
from pipeline.store import Store, open_store

ITEMS = [
    ClassifyItem(
        "pos", "Google unveils TPU v7 Ironwood, its own AI chip", "Google designed the chip in-house."
    ),
    ClassifyItem("neg", "Nvidia reports record revenue", "Sales doubled on data-centre demand."),
]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(f"sqlite:///{tmp_path}/shared.db")
    yield s
    s.dispose()


@pytest.fixture(autouse=True)
def _fresh_process_cache() -> None:
    registry._LOADED.clear()


def test_a_worker_with_an_empty_model_folder_classifies_with_the_promoted_model(
    store: Store, trained_model_file: Path, tmp_path: Path
) -> None:
    trainer = registry.register_file(store, trained_model_file)
    registry.promote(store, trainer.version)

    worker_cache = tmp_path / "worker" / "models"  # another machine: nothing on its disk
    assert not worker_cache.exists()
    model = registry.load_promoted(store, worker_cache)
    watchlist = Watchlist.load(PROJECT_ROOT / "config" / "watchlist.yaml")
    results = model.classify(ITEMS, watchlist=watchlist)
    assert model.version == trainer.version
    assert results == NewsClassifier.load(trained_model_file).classify(ITEMS, watchlist=watchlist)
    assert [r.relevant for r in results] == [True, False]
    cached = registry.cache_path(worker_cache, trainer.version)
    assert cached.read_bytes() == trained_model_file.read_bytes()


def test_a_damaged_local_copy_is_replaced_from_the_store(
    store: Store, trained_model_file: Path, tmp_path: Path
) -> None:
    version = registry.register_file(store, trained_model_file).version
    registry.promote(store, version)
    cached = registry.cache_path(tmp_path, version)
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"truncated")
    assert registry.load_promoted(store, tmp_path).version == version
    assert cached.read_bytes() == trained_model_file.read_bytes()


def test_no_promoted_model_says_what_to_do(store: Store, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"no promoted model.*python -m pipeline train"):
        registry.load_promoted(store, tmp_path)
    with pytest.raises(ModelError, match="not registered"):
        registry.load_version(store, "clf-nope", tmp_path)
