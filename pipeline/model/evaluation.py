"""Evaluation of a classifier on labelled items: the figures analysts need to trust it, and a report.

Precision, recall and F1 of relevance (overall and per language), event-type accuracy and primary-company
accuracy on the relevant items, the confusion matrix, every error by item, and a precision-recall curve.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.config.watchlist import Watchlist
from pipeline.model.classifier import ClassifyItem, NewsClassifier
from pipeline.model.dataset import LabelledItem
from pipeline.model.metrics import BinaryScores, binary_scores
from pipeline.model.training import canonical_company


@dataclass(frozen=True)
class ItemError:
    """One item the model got wrong; ``kind`` is false_positive, false_negative, event_type or company."""

    id: str
    kind: str
    expected: str
    predicted: str
    score: float
    title: str


@dataclass(frozen=True)
class EvalReport:
    model_version: str
    threshold: float
    overall: BinaryScores
    per_language: dict[str, BinaryScores]
    event_type_accuracy: float | None  # on gold-relevant items, event type predicted regardless of threshold
    event_type_accuracy_detected: float | None  # on gold-relevant items the model also flagged
    primary_company_accuracy: float | None  # first company, on gold-relevant items
    errors: tuple[ItemError, ...]
    labels: tuple[int, ...] = field(repr=False, default=())
    scores: tuple[float, ...] = field(repr=False, default=())
    processing_errors: int = 0

    @property
    def confusion(self) -> dict[str, int]:
        o = self.overall
        return {"tp": o.tp, "fp": o.fp, "fn": o.fn, "tn": o.tn}

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("labels")
        out.pop("scores")
        out["confusion"] = self.confusion
        return out


def evaluate(model: NewsClassifier, items: Sequence[LabelledItem], *, watchlist: Watchlist) -> EvalReport:
    """Score ``model`` on ``items`` (the gold labels are never shown to the model)."""
    preds = model.predict(
        [ClassifyItem(id=i.id, title=i.title, summary=i.summary, lang=i.lang) for i in items],
        watchlist=watchlist,
    )
    y = np.array([i.label for i in items], dtype=int)
    scores = np.array([p.probability for p in preds], dtype=float)
    predicted = np.array([int(model.is_relevant(p)) for p in preds], dtype=int)
    per_language = {
        lang: binary_scores(y[mask], predicted[mask])
        for lang in sorted({i.lang for i in items})
        if (mask := np.array([i.lang == lang for i in items])).any()
    }
    errors: list[ItemError] = []
    event_hits = event_detected_hits = detected = company_hits = relevant_n = 0
    for item, pred, flagged in zip(items, preds, predicted, strict=True):
        title = item.title[:120]
        if flagged and not item.label:
            errors.append(
                ItemError(item.id, "false_positive", "irrelevant", "relevant", pred.probability, title)
            )
        elif item.label and not flagged:
            errors.append(
                ItemError(item.id, "false_negative", "relevant", "irrelevant", pred.probability, title)
            )
        if not item.label:
            continue
        relevant_n += 1
        if pred.event_type == item.event_type:
            event_hits += 1
        else:
            errors.append(
                ItemError(
                    item.id, "event_type", str(item.event_type), str(pred.event_type), pred.probability, title
                )
            )
        if flagged:
            detected += 1
            event_detected_hits += int(pred.event_type == item.event_type)
        gold = canonical_company(item.companies[0], watchlist) if item.companies else ""
        got = canonical_company(pred.extraction.companies[0], watchlist) if pred.extraction.companies else ""
        if gold == got:
            company_hits += 1
        else:
            errors.append(ItemError(item.id, "company", gold, got or "(none)", pred.probability, title))
    return EvalReport(
        model_version=model.version,
        threshold=model.threshold,
        overall=binary_scores(y, predicted),
        per_language=per_language,
        event_type_accuracy=round(event_hits / relevant_n, 4) if relevant_n else None,
        event_type_accuracy_detected=round(event_detected_hits / detected, 4) if detected else None,
        primary_company_accuracy=round(company_hits / relevant_n, 4) if relevant_n else None,
        errors=tuple(errors),
        labels=tuple(int(v) for v in y),
        scores=tuple(float(s) for s in scores),
        processing_errors=sum(1 for p in preds if p.error),
    )


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def format_report(report: EvalReport) -> str:
    """A plain-text summary (also the body of the markdown report)."""
    o = report.overall
    lines = [
        f"model {report.model_version}, threshold {report.threshold:.3f}",
        f"relevance     precision {o.precision:.3f}  recall {o.recall:.3f}  F1 {o.f1:.3f}  "
        f"(n={o.n}, relevant={o.positives})",
    ]
    for lang, s in report.per_language.items():
        lines.append(
            f"  {lang:<6}      precision {s.precision:.3f}  recall {s.recall:.3f}  F1 {s.f1:.3f}  "
            f"(n={s.n}, relevant={s.positives})"
        )
    lines += [
        f"event type    accuracy {_pct(report.event_type_accuracy)} on relevant items "
        f"({_pct(report.event_type_accuracy_detected)} on those flagged)",
        f"primary company accuracy {_pct(report.primary_company_accuracy)} on relevant items",
        f"confusion     tp={o.tp} fp={o.fp} fn={o.fn} tn={o.tn}"
        + (
            f"  ({report.processing_errors} items could not be processed)" if report.processing_errors else ""
        ),
    ]
    if report.errors:
        lines.append(f"errors ({len(report.errors)}):")
        for e in report.errors:
            lines.append(
                f"  {e.id:<14} {e.kind:<15} expected {e.expected!s:<17} got {e.predicted!s:<17} "
                f"score {e.score:.3f}  {e.title}"
            )
    return "\n".join(lines)


def write_report(report: EvalReport, out_dir: Path) -> list[Path]:
    """Write ``report.md``, ``report.json`` and ``pr_curve.png`` into ``out_dir``; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    md = out_dir / "report.md"
    md.write_text(
        f"# Evaluation of {report.model_version}\n\n```\n{format_report(report)}\n```\n\n"
        "![precision-recall curve](pr_curve.png)\n",
        encoding="utf-8",
    )
    js = out_dir / "report.json"
    js.write_text(json.dumps(report.as_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    png = out_dir / "pr_curve.png"
    _plot_pr_curve(report, png)
    return [md, js, png]


def _plot_pr_curve(report: EvalReport, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve

    fig, ax = plt.subplots(figsize=(5.5, 4.5), dpi=100)
    try:
        y = np.array(report.labels)
        if len(y) and 0 < y.sum() < len(y):
            precision, recall, _ = precision_recall_curve(y, np.array(report.scores))
            ax.step(recall, precision, where="post", label="model")
            ax.scatter(
                [report.overall.recall],
                [report.overall.precision],
                color="red",
                zorder=3,
                label=f"threshold {report.threshold:.2f}",
            )
            ax.legend(loc="lower left")
        else:
            ax.text(0.5, 0.5, "needs both relevant and irrelevant items", ha="center")
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        ax.set_xlim(0, 1.02)
        ax.set_ylim(0, 1.02)
        ax.set_title(f"{report.model_version} (F1 {report.overall.f1:.3f})")
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)
