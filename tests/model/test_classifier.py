"""The classifier: predictions with extraction, robustness to bad input, persistence with trusted types."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import skops.io as sio
from threadpoolctl import threadpool_info, threadpool_limits

from pipeline.config.watchlist import Watchlist
from pipeline.errors import ModelError
from pipeline.model import estimator
from pipeline.model.classifier import MODEL_FORMAT, TRUSTED_TYPES, ClassifyItem, NewsClassifier
from pipeline.model.training import TrainResult, train_and_save
from pipeline.settings import PROJECT_ROOT

SMALL = Path(__file__).parents[1] / "data" / "extract" / "labelled_small.jsonl"


@pytest.fixture(scope="module")
def watchlist() -> Watchlist:
    return Watchlist.load(PROJECT_ROOT / "config" / "watchlist.yaml")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> TrainResult:
    return train_and_save(
        train_paths=[SMALL], model_dir=tmp_path_factory.mktemp("models"), promote=False, feature_set="char"
    )


@pytest.fixture(scope="module")
def model(trained: TrainResult) -> NewsClassifier:
    return NewsClassifier.load(trained.path)


def test_classifies_clear_cases_and_extracts(model: NewsClassifier, watchlist: Watchlist) -> None:
    items = [
        ClassifyItem("pos-en", "Meta unveils MTIA v2, its own in-house AI chip", "Meta said the custom chip is made by TSMC."),
        ClassifyItem("pos-zh", "腾讯领投摩尔线程新一轮融资", "国产GPU公司摩尔线程完成15亿元融资，腾讯领投。", "zh"),
        ClassifyItem("neg-en", "Nvidia reports record revenue", "Nvidia said quarterly sales doubled on data-centre demand."),
    ]  # fmt: skip
    results = model.classify(items, watchlist=watchlist)
    assert [r.article_id for r in results] == ["pos-en", "pos-zh", "neg-en"]
    pos_en, pos_zh, neg_en = results
    assert pos_en.relevant and pos_en.event_type == "self_development"
    assert pos_en.extraction.companies[0] == "Meta" and "MTIA v2" in pos_en.extraction.chips
    assert pos_en.extraction.counterparties == ("TSMC",)
    assert pos_zh.relevant and pos_zh.event_type == "chip_investment"
    assert pos_zh.extraction.companies == ("Tencent",) and pos_zh.extraction.counterparties == (
        "Moore Threads",
    )
    assert pos_zh.extraction.amount is not None and pos_zh.extraction.amount.currency == "CNY"
    assert not neg_en.relevant and neg_en.event_type is None
    assert all(r.model_version == model.version and r.error is None for r in results)
    assert 0.0 <= neg_en.score < model.threshold <= pos_en.score <= 1.0


def test_bad_items_never_crash_the_batch(model: NewsClassifier, watchlist: Watchlist) -> None:
    junk = bytes(random.Random(1).randrange(256) for _ in range(5000)).decode("latin-1")
    items = [
        ClassifyItem("empty", "", ""),
        ClassifyItem("blank", "   ", "\n\t"),
        ClassifyItem("huge", "Google unveils a new TPU chip", "Google said its in-house TPU is faster. " * 26_000),
        ClassifyItem("binary", "\x00\x01\x02\x03", "\x00" * 2000 + "\x07\x08" * 500),
        ClassifyItem("junk", junk[:200], junk),
        ClassifyItem("mixed", "谷歌发布TPU v7芯片 Ironwood", "Google said Ironwood is its most powerful TPU. 性能提升十倍。"),
        ClassifyItem("none", None, None),  # type: ignore[arg-type]
        ClassifyItem("bytes", b"Alibaba T-Head chip", b"\xff\xfe T-Head unveils a chip"),  # type: ignore[arg-type]
        ClassifyItem("ok", "Alibaba's T-Head unveils XuanTie C930", "Alibaba said the chip was designed in-house."),
    ]  # fmt: skip
    results = model.classify(items, watchlist=watchlist)
    by_id = {r.article_id: r for r in results}
    assert list(by_id) == [i.id for i in items]
    for name in ("empty", "blank", "binary", "none"):
        assert by_id[name].error and not by_id[name].relevant
    assert "empty" in (by_id["empty"].error or "")
    assert "binary" in (by_id["binary"].error or "")
    for name in ("huge", "mixed", "bytes", "ok"):
        assert by_id[name].error is None
    assert by_id["huge"].extraction.companies == ("Google",)
    assert by_id["mixed"].extraction.companies == ("Google",)
    assert by_id["ok"].relevant and by_id["ok"].extraction.companies[0] == "Alibaba"
    assert by_id["junk"].error is not None or not by_id["junk"].relevant


def test_save_and_load_round_trip(model: NewsClassifier, watchlist: Watchlist, tmp_path: Path) -> None:
    path = tmp_path / "copy" / "model.skops"
    model.save(path)
    again = NewsClassifier.load(path)
    assert again.version == model.version and again.threshold == model.threshold
    meta = json.loads((path.parent / "metadata.json").read_text())
    for key in ("version", "data_hash", "threshold", "created_at", "sklearn_version", "metrics"):
        assert key in meta
    items = [ClassifyItem("a", "Baidu trains model on Kunlun P800 cluster", "百度昆仑芯P800集群点亮。")]
    assert (
        again.classify(items, watchlist=watchlist)[0].score
        == model.classify(items, watchlist=watchlist)[0].score
    )
    # Every type in the file is on the explicit list (nothing is loaded with trusted=True).
    assert set(sio.get_untrusted_types(file=path)) <= set(TRUSTED_TYPES)


class Sneaky:
    """A type nobody trusted."""

    def __init__(self) -> None:
        self.payload = "rm -rf /"


def test_refuses_untrusted_corrupt_and_missing_files(tmp_path: Path) -> None:
    untrusted = tmp_path / "untrusted.skops"
    sio.dump({"format": MODEL_FORMAT, "features": Sneaky()}, untrusted)
    with pytest.raises(ModelError, match="untrusted types"):
        NewsClassifier.load(untrusted)
    corrupt = tmp_path / "corrupt.skops"
    corrupt.write_bytes(b"PK\x03\x04 this is not a model")
    with pytest.raises(ModelError, match=r"corrupt|cannot load"):
        NewsClassifier.load(corrupt)
    with pytest.raises(ModelError, match="not found"):
        NewsClassifier.load(tmp_path / "missing.skops")
    wrong = tmp_path / "wrong.skops"
    sio.dump({"something": "else"}, wrong)
    with pytest.raises(ModelError, match="not a chip-news classifier"):
        NewsClassifier.load(wrong)


@pytest.fixture(scope="module")
def stacked(tmp_path_factory: pytest.TempPathFactory) -> TrainResult:
    # The real corpus is large enough for the two-stage model; force it on the small set.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("pipeline.model.training.MIN_STACK_ITEMS", 10)
        return train_and_save(
            train_paths=[SMALL],
            model_dir=tmp_path_factory.mktemp("stacked"),
            promote=False,
            feature_set="char",
        )


def test_stacked_model_round_trip(stacked: TrainResult, watchlist: Watchlist) -> None:
    assert json.loads((stacked.path.parent / "metadata.json").read_text())["stacked"] is True
    assert set(sio.get_untrusted_types(file=stacked.path)) <= set(TRUSTED_TYPES)
    model = NewsClassifier.load(stacked.path)
    assert model.relevance.trees_ is not None
    out = model.classify(
        [ClassifyItem("a", "Google unveils TPU v7", "Google designed the chip.")], watchlist=watchlist
    )
    assert out[0].error is None and 0.0 <= out[0].score <= 1.0


def test_scoring_uses_one_thread_and_scores_as_with_more(
    stacked: TrainResult, watchlist: Watchlist, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = NewsClassifier.load(stacked.path)
    items = [
        ClassifyItem(str(n), json.loads(line)["title"], json.loads(line)["summary"])
        for n, line in enumerate(SMALL.read_text(encoding="utf-8").splitlines())
        if line.strip()
    ]
    seen: list[dict[str, int]] = []
    decide = estimator.trees_decision  # where the trees of both models are summed

    def spy(trees: object, X: object) -> object:  # noqa: N803 - scikit-learn naming
        seen.append({lib["internal_api"]: lib["num_threads"] for lib in threadpool_info()})
        return decide(trees, X)

    monkeypatch.setattr(estimator, "trees_decision", spy)
    one_thread = model.predict(items, watchlist=watchlist)
    assert seen and "openmp" in seen[0] and all(n == 1 for s in seen for n in s.values())
    # The same batch with OpenMP and BLAS free to use four threads: bit for bit the same outputs.
    monkeypatch.setattr("pipeline.model.classifier._one_thread", lambda: threadpool_limits(4))
    seen.clear()
    more_threads = model.predict(items, watchlist=watchlist)
    assert seen and all(n == 4 for s in seen for n in s.values())
    assert more_threads == one_thread


def test_no_chips_or_no_watchlist_company_is_never_relevant(
    model: NewsClassifier, watchlist: Watchlist
) -> None:
    items = [
        ClassifyItem("no-chips", "Google unveils its own new search redesign", "Google said it built the design in-house."),
        ClassifyItem("no-company", "Nvidia unveils its own in-house AI chip", "Nvidia designed the chip itself."),
    ]  # fmt: skip
    for result in model.classify(items, watchlist=watchlist):
        assert not result.relevant and result.score < model.threshold


def test_bytes_round_trip_gives_the_same_scores(model: NewsClassifier, watchlist: Watchlist) -> None:
    again = NewsClassifier.from_bytes(model.to_bytes(), source="test")
    items = [ClassifyItem("a", "Microsoft unveils Maia 200", "Microsoft designed the AI chip in-house.")]
    assert again.version == model.version and again.card == model.card
    assert again.classify(items, watchlist=watchlist) == model.classify(items, watchlist=watchlist)


def test_a_model_saved_before_the_classes_moved_asks_for_a_retrain(
    model: NewsClassifier, tmp_path: Path
) -> None:
    # A version-1 file names its classes under pipeline.classifier; simulate one by renaming them.
    path = tmp_path / "old.skops"
    model.save(path)
    import zipfile

    old = tmp_path / "legacy.skops"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(old, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "schema.json":
                data = data.replace(b"pipeline.model.features", b"pipeline.classifier").replace(
                    b"pipeline.model.estimator", b"pipeline.classifier"
                )
            dst.writestr(info, data)
    with pytest.raises(ModelError, match=r"older version of this project.*python -m pipeline train"):
        NewsClassifier.load(old)
