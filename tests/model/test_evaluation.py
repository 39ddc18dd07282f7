"""Evaluation: the figures, per-language breakdown, per-item errors and the written report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.config.watchlist import Watchlist
from pipeline.model.classifier import NewsClassifier
from pipeline.model.dataset import LabelledItem, load_labelled
from pipeline.model.evaluation import EvalReport, evaluate, format_report, write_report
from pipeline.model.training import train_and_save
from pipeline.settings import PROJECT_ROOT

SMALL = Path(__file__).parents[1] / "data" / "extract" / "labelled_small.jsonl"


@pytest.fixture(scope="module")
def watchlist() -> Watchlist:
    return Watchlist.load(PROJECT_ROOT / "config" / "watchlist.yaml")


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> NewsClassifier:
    result = train_and_save(
        train_paths=[SMALL], model_dir=tmp_path_factory.mktemp("models"), promote=False, feature_set="char"
    )
    return NewsClassifier.load(result.path)


def _items() -> list[LabelledItem]:
    return [
        LabelledItem("e1", "en", "Google unveils TPU v7 Ironwood, its in-house AI chip", "Google designed it.", 1,
                     "self_development", ("Google",)),
        LabelledItem("e2", "zh", "腾讯领投燧原科技新一轮融资", "燧原科技完成融资，腾讯领投。", 1, "chip_investment", ("Tencent",)),
        LabelledItem("e3", "en", "Nvidia reports record revenue", "Sales doubled.", 0, None),
        LabelledItem("e4", "zh", "小米发布新款手机", "小米发布了新手机，售价3999元。", 0, None, ("Xiaomi",)),
        # Deliberately mislabelled, so the report has errors of each kind to show.
        LabelledItem("e5", "en", "Apple reports iPhone sales", "Apple said sales rose.", 1, "chip_investment", ("Meta",)),
    ]  # fmt: skip


def test_evaluate_reports_the_figures(model: NewsClassifier, watchlist: Watchlist) -> None:
    report = evaluate(model, _items(), watchlist=watchlist)
    o = report.overall
    assert (o.n, o.positives) == (5, 3)
    assert o.tp + o.fp + o.fn + o.tn == 5
    assert o.tp == 2 and o.fn == 1 and o.fp == 0
    assert o.precision == 1.0 and o.recall == pytest.approx(2 / 3, abs=1e-3)
    assert set(report.per_language) == {"en", "zh"}
    assert report.per_language["zh"].n == 2
    assert report.primary_company_accuracy == pytest.approx(2 / 3, abs=1e-3)
    kinds = {(e.id, e.kind) for e in report.errors}
    assert ("e5", "false_negative") in kinds and ("e5", "company") in kinds
    assert report.confusion == {"tp": 2, "fp": 0, "fn": 1, "tn": 2}


def test_report_text_and_files(model: NewsClassifier, watchlist: Watchlist, tmp_path: Path) -> None:
    report = evaluate(model, _items(), watchlist=watchlist)
    text = format_report(report)
    assert "precision" in text and "primary company accuracy" in text and "e5" in text
    paths = write_report(report, tmp_path / "out")
    assert [p.name for p in paths] == ["report.md", "report.json", "pr_curve.png"]
    assert paths[2].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads(paths[1].read_text())
    assert data["overall"]["f1"] == report.overall.f1 and data["confusion"]["tp"] == 2


def test_evaluate_on_training_items_is_near_perfect(model: NewsClassifier, watchlist: Watchlist) -> None:
    report: EvalReport = evaluate(model, load_labelled([SMALL]), watchlist=watchlist)
    assert report.overall.f1 >= 0.9
    assert report.event_type_accuracy is not None and report.event_type_accuracy >= 0.9
    assert report.primary_company_accuracy == 1.0
