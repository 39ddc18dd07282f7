"""Task-failure notices to the ops channel.

A task-level ``on_failure_callback`` (DAG-level notifiers crash under ``dag.test()`` on 3.3.2,
apache/airflow#64649). It never raises: a broken notice must not hide the original failure.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def notify_ops_of_failure(context: Any) -> None:
    """Post a task failure (DAG, task, run, try, error, log link) to NEWS_OPS_CHANNEL, if configured."""
    try:
        from chip_news_airflow.hooks import ChipNewsSlackHook
        from pipeline.slack.ops import report_task_failure

        hook = ChipNewsSlackHook()
        settings = hook.settings()
        if not settings.ops_channel:
            return
        ti = context.get("ti") or context.get("task_instance")
        error = context.get("exception")
        report_task_failure(
            settings,
            hook.get_poster(),
            dag_id=getattr(ti, "dag_id", "?"),
            task_id=getattr(ti, "task_id", "?"),
            run_id=getattr(ti, "run_id", "?"),
            try_number=getattr(ti, "try_number", None),
            error=f"{type(error).__name__}: {error}" if error else "unknown error",
            log_url=getattr(ti, "log_url", None),
        )
    except Exception:
        log.exception("could not report the task failure to the ops channel")
