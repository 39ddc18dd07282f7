"""
### collect_feedback

Analysts' reactions on alerts become labels for the classifier. Every `NEWS_FEEDBACK_SCHEDULE` (default
15 min) it reads the reactions on the alerts posted in the last `NEWS_FEEDBACK_DAYS` days and records
each analyst's vote with its provenance (alert, article, story, model version, user, emoji, time).
Which emoji mean what: `config/feedback.yaml` (✅/👍 relevant, ❌/👎 not relevant, 🛠️ own chips,
💰 investment).

**Tasks**: `collect` (read reactions, record votes; re-reading the same reactions records nothing) →
`acknowledge` (one reply in the thread of each alert that got its first vote, exactly once; off with
`NEWS_FEEDBACK_ACK=false`).

The votes are a separate, versioned source: `python -m pipeline feedback list` shows them (and where
analysts disagree), `retrain_classifier` trains on them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import CronTriggerTimetable, dag, task

from chip_news_airflow.defaults import task_defaults
from pipeline.settings import Settings

SETTINGS = Settings.from_env()


@dag(
    dag_id="collect_feedback",
    schedule=CronTriggerTimetable(SETTINGS.feedback_schedule, timezone=SETTINGS.timezone),
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=30),
    default_args=task_defaults(retries=2, retry_delay=timedelta(minutes=1), timeout=timedelta(minutes=20)),
    tags=["chip-news", "slack", "feedback"],
    doc_md=__doc__,
)
def collect_feedback() -> None:
    @task(pool="slack_api")
    def collect() -> dict[str, Any]:
        """Read the reactions on recent alerts and record the analysts' votes (counts in XCom)."""
        from chip_news_airflow.hooks import run_slack_step
        from pipeline.learning import collect_reactions

        return run_slack_step(collect_reactions)

    @task(pool="slack_api")
    def acknowledge(collected: dict[str, Any]) -> dict[str, Any]:
        """Reply once in the thread of each alert that got its first vote."""
        from chip_news_airflow.hooks import run_slack_step
        from pipeline.learning import acknowledge_votes

        return run_slack_step(acknowledge_votes)

    # XComArgs stand for the task results at parse time; mypy sees the XComArg, Airflow passes the dict.
    collected: Any = collect()
    acknowledge(collected)


collect_feedback()
