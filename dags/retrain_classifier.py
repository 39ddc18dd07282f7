"""
### retrain_classifier

Retrains the classifier on `data/train/*.jsonl` **plus analysts' feedback** (Slack reactions collected
by `collect_feedback`, and labels added with `python -m pipeline feedback add`; for the same article the
feedback wins), and promotes the candidate only when it is not worse, with a human in the loop when it
would change many decisions.

**Tasks**: `train` (fit a candidate; a held-out slice of the feedback is never trained on) →
`evaluate` (against the current model: the held-out split, the held-out feedback, and a replay of the
last `NEWS_REPLAY_DAYS` of the archive; the report goes to the store and `var/reports/promotion/`) →
`announce` (the report to the ops channel, beside the decision) and `decide`:
- `keep` when the candidate is worse on any check: never promoted;
- `approve` when it changes more than `NEWS_PROMOTION_MAX_CHANGED_ALERTS` decisions or
  `NEWS_PROMOTION_MAX_CHANGED_SHARE` of the current model's alerts over the replay window: the run waits
  on **Required Actions** (the report is on the page) until an operator approves or rejects (rejected
  after `NEWS_APPROVAL_TIMEOUT_HOURS`);
- `promote_now` otherwise.

→ `promote` (records who decided) → `finish` (the outcome, in the report's thread in the ops channel).
Roll back at any time: `python -m pipeline models promote <version>`.

Manual by default; set `NEWS_RETRAIN_SCHEDULE` (e.g. `0 3 * * 1`) for a weekly run.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import dag, task

from chip_news_airflow.approval import ANSWER_KEY, PromotionApprovalOperator
from chip_news_airflow.defaults import task_defaults
from pipeline.settings import Settings

SETTINGS = Settings.from_env()


@dag(
    dag_id="retrain_classifier",
    schedule=SETTINGS.retrain_schedule or None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=task_defaults(retries=1, retry_delay=timedelta(minutes=1), timeout=timedelta(minutes=30)),
    tags=["chip-news", "model", "feedback"],
    doc_md=__doc__,
)
def retrain_classifier() -> None:
    @task
    def train() -> dict[str, Any]:
        """Fit a candidate on the training files plus feedback; register it in the store (not promoted)."""
        from chip_news_airflow.runtime import task_settings
        from pipeline.learning import train_candidate

        return train_candidate(task_settings())

    @task
    def evaluate(candidate: dict[str, Any], **context: Any) -> dict[str, Any]:
        """Held-out split, held-out feedback and replay against the current model; the decision."""
        from chip_news_airflow.runtime import task_settings
        from pipeline.learning import evaluate_candidate_model

        return evaluate_candidate_model(task_settings(), candidate, run_id=str(context["run_id"]))

    @task(pool="slack_api")
    def announce(evaluation: dict[str, Any]) -> dict[str, Any]:
        """The promotion report to the ops channel (once), the replay chart in its thread."""
        from chip_news_airflow.hooks import run_slack_step
        from pipeline.learning import announce_promotion

        return run_slack_step(lambda settings, poster: announce_promotion(settings, poster, evaluation))

    @task.branch
    def decide(evaluation: dict[str, Any]) -> str:
        """keep (worse), approve (many changed decisions: a human decides) or promote_now."""
        print(f"{evaluation['decision'].upper()}: {evaluation['reason']}")
        return {"keep": "keep", "approve": "approve"}.get(evaluation["decision"], "promote_now")

    # Its only upstreams are the two ways to say yes (the evaluation comes by XCom): when both are
    # skipped (the candidate is kept, or the approval was rejected), promote is skipped too.
    @task(trigger_rule="none_failed_min_one_success")
    def promote(**context: Any) -> dict[str, Any]:
        """Make the candidate the model news_monitor uses from its next run; record who decided."""
        from chip_news_airflow.runtime import task_settings
        from pipeline.learning import promote_candidate

        ti = context["ti"]
        evaluation = ti.xcom_pull(task_ids="evaluate")
        return promote_candidate(task_settings(), evaluation, ti.xcom_pull("approve", key=ANSWER_KEY))

    @task(trigger_rule="all_done", pool="slack_api")
    def finish(evaluation: dict[str, Any], **context: Any) -> dict[str, Any]:
        """Record the outcome (promoted, rejected, kept) and post it in the report's thread."""
        from chip_news_airflow.hooks import run_slack_step
        from pipeline.learning import finish_promotion

        approval = context["ti"].xcom_pull("approve", key=ANSWER_KEY)
        return run_slack_step(
            lambda settings, poster: finish_promotion(settings, poster, evaluation, approval)
        )

    # XComArgs stand for the task results at parse time; mypy sees the XComArg, Airflow passes the dict.
    candidate: Any = train()
    evaluation: Any = evaluate(candidate)
    choice = decide(evaluation)
    announced = announce(evaluation)
    approval = PromotionApprovalOperator(
        task_id="approve",
        evaluation_task_id="evaluate",
        defaults="Reject",
        response_timeout=timedelta(hours=SETTINGS.approval_timeout_hours),
    )
    automatic = EmptyOperator(task_id="promote_now")
    keep = EmptyOperator(task_id="keep")
    promoted = promote()
    choice >> [approval, automatic, keep]
    [approval, automatic] >> promoted
    [promoted, keep, announced] >> finish(evaluation)


retrain_classifier()
