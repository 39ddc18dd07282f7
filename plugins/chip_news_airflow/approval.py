"""The human in the loop of a model promotion: an ``ApprovalOperator`` whose page shows the candidate's report.

The standard provider's ``ApprovalOperator`` parks the task in ``awaiting_input`` until someone answers on
the run's Required Actions page (or the HITL REST API): Approve runs the promotion, Reject skips it. This
subclass fills the subject and the Markdown body from the promotion report in the store when the task
starts, so the page shows exactly what the evaluation found.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator


class PromotionApprovalOperator(ApprovalOperator):
    """Approve or reject the candidate that ``evaluation_task_id`` evaluated (its XCom names the report)."""

    def __init__(self, *, evaluation_task_id: str, **kwargs: Any) -> None:
        kwargs.setdefault("subject", "Promote the candidate model?")
        super().__init__(**kwargs)
        self.evaluation_task_id = evaluation_task_id

    def execute(self, context: Any) -> Any:
        from pipeline.learning import approval_request
        from pipeline.settings import Settings

        evaluation = context["ti"].xcom_pull(task_ids=self.evaluation_task_id) or {}
        self.subject, self.body = approval_request(Settings.from_env(), str(evaluation.get("report_id")))
        return super().execute(context)
