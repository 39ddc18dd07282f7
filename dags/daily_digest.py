"""
### daily_digest

A morning summary per Slack channel, in the analysts' register: the day's stories grouped by company, each
with its core viewpoint and the number of sources cited, what changed since the day before, the rehashes
held back, counts by event type, and a chart. Schedule `NEWS_DIGEST_SCHEDULE` (default 08:00) in `NEWS_DISPLAY_TZ`.
Without a Slack token the digest goes to the dry-run file like every alert.
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
    dag_id="daily_digest",
    schedule=CronTriggerTimetable(SETTINGS.digest_schedule, timezone=SETTINGS.display_tz),
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=task_defaults(retries=2, retry_delay=timedelta(minutes=2), timeout=timedelta(minutes=10)),
    tags=["chip-news", "slack", "digest"],
    doc_md=__doc__,
)
def daily_digest() -> None:
    @task(pool="slack_api")
    def send_digest(dag_run: Any = None) -> dict[str, Any]:
        """Build and post (or dry-run) the digest for every channel that had alerts."""
        from chip_news_airflow.hooks import slack_poster
        from chip_news_airflow.runtime import task_settings
        from pipeline.cycle import post_daily_digest
        from pipeline.runs import as_utc

        now = as_utc(getattr(dag_run, "run_after", None) or pendulum.now("UTC"))
        assert now is not None
        settings = task_settings()
        return post_daily_digest(settings, slack_poster(settings), now=now)

    send_digest()


daily_digest()
