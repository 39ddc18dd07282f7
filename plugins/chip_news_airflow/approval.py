"""The human in the loop of a model promotion: an ``ApprovalOperator`` whose page shows the candidate's report.

The standard provider's ``ApprovalOperator`` parks the task in ``awaiting_input`` until someone answers on
the run's Required Actions page (or the HITL REST API): Approve runs the promotion, Reject skips it. This
subclass fills the subject and the Markdown body from the promotion report in the store when the task
starts, so the page shows exactly what the evaluation found.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator

# The XCom key of the operator's answer: {"chosen_options": [...], "responded_by_user": {...} | None}.
ANSWER_KEY = "answer"


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

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        # Reject skips the promotion by raising, so the task's return value never reaches XCom: the answer
        # (and who gave it; nobody when it timed out) is pushed here first, under the key ANSWER_KEY.
        user = event.get("responded_by_user") or {}
        context["ti"].xcom_push(
            key=ANSWER_KEY,
            value={
                "chosen_options": list(event.get("chosen_options") or []),
                "responded_by_user": {"id": user.get("id"), "name": user.get("name")} if user else None,
                "timedout": bool(event.get("timedout")),
            },
        )
        return super().execute_complete(context, event)
