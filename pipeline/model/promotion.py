"""Promotion of a candidate model: evaluate it three ways, then promote it, ask a human, or keep the current one.

The three checks, each against the promoted model on the same items:

1. the training files' held-out split (F1 and precision within noise: ``training.evaluate_candidate``);
2. the held-out slice of analysts' feedback (no more of it wrong);
3. a replay over the last ``settings.replay_days`` of the archive: no more disagreement with the feedback
   labels of that window than the current model.

Worse on any of them: ``keep`` (never promoted). Otherwise, when it changes more decisions over the replay
window than ``settings.promotion_max_changed_alerts``, or more than ``promotion_max_changed_share`` of the
current model's alerts: ``approve`` (an operator decides, with the report); else ``promote``. The
evaluation is kept in the store (``promotion_reports``) for the approval page and the ops channel.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pipeline.config.watchlist import Watchlist
from pipeline.model import registry
from pipeline.model.dataset import LabelledItem
from pipeline.model.replay import ReplayReport, replay
from pipeline.model.training import GateResult, evaluate_candidate
from pipeline.settings import Settings
from pipeline.store import Store

log = logging.getLogger(__name__)

PROMOTE, APPROVE, KEEP = "promote", "approve", "keep"
DECISION_LABELS = {
    PROMOTE: "promote automatically",
    APPROVE: "needs approval",
    KEEP: "keep the current model",
}


def report_id(candidate: str, current: str | None) -> str:
    """The id of the evaluation of ``candidate`` against ``current`` (evaluating again replaces it)."""
    return f"{candidate}~{current or 'none'}"


@dataclass(frozen=True)
class PromotionEvaluation:
    """What the three checks found and what follows from them."""

    report_id: str
    candidate_version: str
    current_version: str | None
    decision: str
    reason: str
    gate: GateResult
    replay: ReplayReport | None
    thresholds: dict[str, Any]

    def replay_errors(self) -> tuple[int, int] | None:
        """(candidate, current) disagreements with the feedback labels of the replay window."""
        return disagreements(self.replay) if self.replay is not None else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "report_id": self.report_id,
            "candidate_version": self.candidate_version,
            "current_version": self.current_version,
            "decision": self.decision,
            "reason": self.reason,
            "thresholds": self.thresholds,
            "holdout": {"candidate": self.gate.candidate_metrics, "current": self.gate.current_metrics},
            "feedback_holdout": {
                "candidate": self.gate.candidate_feedback,
                "current": self.gate.current_feedback,
            },
            "replay": self.replay.as_dict() if self.replay else None,
        }

    def to_markdown(self) -> str:
        """The report an operator reads before approving (Airflow renders it as Markdown)."""
        g = self.gate
        cur, cand = g.current_metrics or {}, g.candidate_metrics
        curf, candf = g.current_feedback or {}, g.candidate_feedback
        replaced = f" (replacing `{self.current_version}`)" if self.current_version else ""
        lines = [
            f"## Candidate model `{self.candidate_version}`{replaced}",
            "",
            f"**Decision: {DECISION_LABELS[self.decision]}.** {self.reason}",
            "",
            "| check | current | candidate |",
            "| --- | ---: | ---: |",
            f"| held-out F1 ({cand.get('n', 0)} items) | {_num(cur, 'f1')} | {_num(cand, 'f1')} |",
            f"| held-out precision | {_num(cur, 'precision')} | {_num(cand, 'precision')} |",
            f"| held-out feedback wrong ({candf.get('n', 0)} labels) | {curf.get('errors', '–')} | "
            f"{candf.get('errors', '–')} |",
        ]
        errors = self.replay_errors()
        if errors is not None and self.replay is not None:
            labels = self.replay.feedback_scores()["labels"]
            lines.append(
                f"| replay: disagreements with feedback ({labels} labels) | {errors[1]} | {errors[0]} |"
            )
        lines += [
            "",
            f"Approval is needed above {self.thresholds['max_changed_alerts']} changed decisions or "
            f"{self.thresholds['max_changed_share']:.0%} of the current model's alerts over "
            f"{self.thresholds['replay_days']} days.",
        ]
        if self.replay is not None:
            lines += ["", self.replay.to_markdown()]
        if self.current_version:
            lines += [
                "",
                f"Roll back at any time: `python -m pipeline models promote {self.current_version}`.",
            ]
        return "\n".join(lines) + "\n"

    def chart(self) -> bytes | None:
        return self.replay.render_chart() if self.replay is not None else None

    def save(self, store: Store, *, run_id: str | None = None) -> None:
        store.save_promotion_report(
            self.report_id,
            candidate_version=self.candidate_version,
            current_version=self.current_version,
            decision=self.decision,
            reason=self.reason,
            report=self.as_dict(),
            markdown=self.to_markdown(),
            chart=self.chart(),
            run_id=run_id,
        )

    def write(self, out_dir: Path) -> list[Path]:
        """The report as files (``promotion.md``, ``promotion.json``, and the replay's files)."""
        import json

        out_dir.mkdir(parents=True, exist_ok=True)
        md, js = out_dir / "promotion.md", out_dir / "promotion.json"
        md.write_text(self.to_markdown(), encoding="utf-8")
        js.write_text(
            json.dumps(self.as_dict(), ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8"
        )
        return [md, js, *(self.replay.write(out_dir) if self.replay else [])]


def disagreements(report: ReplayReport) -> tuple[int, int]:
    """(candidate, current): how many feedback labels of the replay window each model contradicts."""
    fb = report.feedback_scores()
    return (
        fb["candidate"]["fp"] + fb["candidate"]["fn"],
        fb["current"]["fp"] + fb["current"]["fn"],
    )


def _num(metrics: dict[str, Any], key: str) -> str:
    value = metrics.get(key)
    return f"{value:.3f}" if isinstance(value, int | float) else "–"


def evaluate_for_promotion(
    store: Store,
    settings: Settings,
    *,
    candidate_version: str,
    train_paths: Sequence[Path],
    feedback: Sequence[LabelledItem],
    now: datetime,
    watchlist: Watchlist | None = None,
) -> PromotionEvaluation:
    """Run the three checks on a registered candidate and decide (``promote``, ``approve`` or ``keep``)."""
    watchlist = watchlist or Watchlist.load(settings.watchlist_file)
    candidate = registry.load_version(store, candidate_version, settings.model_dir)
    gate = evaluate_candidate(
        candidate,
        train_paths=train_paths,
        store=store,
        cache_dir=settings.model_dir,
        watchlist=watchlist,
        feedback=feedback,
    )
    current_record = store.current_model()
    current_version = current_record.version if current_record else None
    thresholds = {
        "max_changed_alerts": settings.promotion_max_changed_alerts,
        "max_changed_share": settings.promotion_max_changed_share,
        "replay_days": settings.replay_days,
    }

    def result(decision: str, reason: str, report: ReplayReport | None = None) -> PromotionEvaluation:
        evaluation = PromotionEvaluation(
            report_id(candidate_version, current_version),
            candidate_version,
            current_version,
            decision,
            reason,
            gate,
            report,
            thresholds,
        )
        log.info("candidate %s: %s (%s)", candidate_version, decision, reason)
        return evaluation

    if current_version is None or current_version == candidate_version:
        return result(PROMOTE if gate.promote else KEEP, gate.reason)
    current = registry.load_version(store, current_version, settings.model_dir)
    report = replay(
        store,
        candidate=candidate,
        current=current,
        since=now - timedelta(days=settings.replay_days),
        until=now,
        watchlist=watchlist,
    )
    if not gate.promote:
        return result(KEEP, gate.reason, report)
    wrong, wrong_now = disagreements(report)
    if wrong > wrong_now:
        labels = report.feedback_scores()["labels"]
        return result(
            KEEP,
            f"candidate is worse on the replay: it disagrees with {wrong} of {labels} feedback labels of "
            f"the last {settings.replay_days} days, the current model with {wrong_now}",
            report,
        )
    changes = (
        f"it changes {report.changed} decisions ({len(report.added)} added, {len(report.dropped)} dropped, "
        f"{report.changed_share:.0%} of the current model's alerts) over {settings.replay_days} days"
    )
    if (
        report.changed > settings.promotion_max_changed_alerts
        or report.changed_share > settings.promotion_max_changed_share
    ):
        return result(APPROVE, f"{gate.reason}; {changes}: an operator decides", report)
    return result(PROMOTE, f"{gate.reason}; {changes}", report)
