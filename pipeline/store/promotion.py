"""Promotion reports: what the evaluation of a candidate model found, kept where every worker (and the
approval task in the Airflow UI) can read it, with the decision taken on it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from pipeline.store.base import StoreBase, dumps, utcnow
from pipeline.store.schema import promotion_reports


@dataclass(frozen=True)
class PromotionReportRecord:
    """A stored evaluation of ``candidate_version`` against ``current_version``.

    ``decision``: ``promote`` (not worse, few changes), ``approve`` (not worse, many changes: a human
    decides) or ``keep`` (worse: never promoted). ``outcome``: ``promoted``, ``rejected`` or ``kept`` once
    decided, with who decided and when.
    """

    report_id: str
    candidate_version: str
    current_version: str | None
    decision: str
    reason: str
    report: dict[str, Any] = field(compare=False)
    markdown: str = field(compare=False)
    chart: bytes | None = field(compare=False, repr=False)
    run_id: str | None
    created_at: datetime
    outcome: str | None
    decided_by: str | None
    decided_at: datetime | None


def _report_from_row(m: Any) -> PromotionReportRecord:
    return PromotionReportRecord(
        report_id=m["report_id"],
        candidate_version=m["candidate_version"],
        current_version=m["current_version"],
        decision=m["decision"],
        reason=m["reason"],
        report=json.loads(m["report"] or "{}"),
        markdown=m["markdown"],
        chart=bytes(m["chart"]) if m["chart"] is not None else None,
        run_id=m["run_id"],
        created_at=m["created_at"],
        outcome=m["outcome"],
        decided_by=m["decided_by"],
        decided_at=m["decided_at"],
    )


class PromotionStore(StoreBase):
    """Reads and writes of ``promotion_reports``."""

    def save_promotion_report(
        self,
        report_id: str,
        *,
        candidate_version: str,
        current_version: str | None,
        decision: str,
        reason: str,
        report: dict[str, Any],
        markdown: str,
        chart: bytes | None,
        run_id: str | None = None,
    ) -> None:
        """Keep an evaluation (idempotent: evaluating the same pair again replaces it, undecided)."""
        row = {
            "report_id": report_id,
            "candidate_version": candidate_version,
            "current_version": current_version,
            "decision": decision,
            "reason": reason,
            "report": dumps(report),
            "markdown": markdown,
            "chart": chart,
            "run_id": run_id,
            "created_at": utcnow(),
            "outcome": None,
            "decided_by": None,
            "decided_at": None,
        }
        with self.engine.begin() as conn:
            self._upsert(conn, promotion_reports, [row], ["report_id"], [k for k in row if k != "report_id"])

    def promotion_report(self, report_id: str) -> PromotionReportRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(promotion_reports).where(promotion_reports.c.report_id == report_id)
            ).first()
        return _report_from_row(row._mapping) if row else None

    def promotion_reports(self, *, candidate_version: str | None = None) -> list[PromotionReportRecord]:
        """Stored evaluations, newest first."""
        c = promotion_reports.c
        q = sa.select(promotion_reports).order_by(c.created_at.desc(), c.report_id)
        if candidate_version:
            q = q.where(c.candidate_version == candidate_version)
        with self.engine.connect() as conn:
            return [_report_from_row(r._mapping) for r in conn.execute(q)]

    def decide_promotion(self, report_id: str, *, outcome: str, decided_by: str) -> None:
        """Record what became of an evaluation (``promoted``, ``rejected`` or ``kept``) and who decided."""
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(promotion_reports)
                .where(promotion_reports.c.report_id == report_id)
                .values(outcome=outcome, decided_by=decided_by, decided_at=utcnow())
            )
