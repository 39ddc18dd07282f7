"""Task-failure notices to the operations channel, as an Airflow notifier.

Used as a task-level ``on_failure_callback`` (DAG-level notifiers crash under ``dag.test()`` on 3.3.2,
apache/airflow#64649). It never raises: a broken notice must not hide the original failure.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseNotifier

from chip_news_airflow.hooks import SLACK_CONN_ID

log = logging.getLogger(__name__)


class OpsFailureNotifier(BaseNotifier):
    """Posts a failed task (DAG, task, run, try, error, log link) to the ops channel.

    ``channel`` defaults to ``NEWS_OPS_CHANNEL``; with neither, nothing is sent.
    """

    template_fields: Sequence[str] = ("channel",)

    def __init__(self, *, channel: str | None = None, slack_conn_id: str = SLACK_CONN_ID) -> None:
        super().__init__()
        self.channel = channel
        self.slack_conn_id = slack_conn_id

    def notify(self, context: Any) -> None:
        try:
            from chip_news_airflow.hooks import slack_poster
            from chip_news_airflow.runtime import task_settings
            from pipeline.slack.ops import report_task_failure

            settings = task_settings()
            if self.channel:
                settings = dataclasses.replace(settings, ops_channel=self.channel)
            if not settings.ops_channel:
                return
            ti = context.get("ti") or context.get("task_instance")
            error = context.get("exception")
            report_task_failure(
                settings,
                slack_poster(settings, conn_id=self.slack_conn_id),
                dag_id=getattr(ti, "dag_id", "?"),
                task_id=getattr(ti, "task_id", "?"),
                run_id=getattr(ti, "run_id", "?"),
                try_number=getattr(ti, "try_number", None),
                error=f"{type(error).__name__}: {error}" if error else "unknown error",
                log_url=getattr(ti, "log_url", None),
            )
        except Exception:
            log.exception("could not report the task failure to the ops channel")
