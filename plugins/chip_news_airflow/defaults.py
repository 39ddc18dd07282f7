"""Task defaults every chip-news DAG shares: owner, exponential back-off, failure notices to ops."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chip_news_airflow.notifiers import OpsFailureNotifier


def task_defaults(
    *, retries: int, retry_delay: timedelta, timeout: timedelta, max_retry_delay: timedelta | None = None
) -> dict[str, Any]:
    """``default_args`` for a DAG: its own retry budget and timeout, the project's common settings."""
    args: dict[str, Any] = {
        "owner": "chip-news",
        "retries": retries,
        "retry_delay": retry_delay,
        "retry_exponential_backoff": 2.0,
        "execution_timeout": timeout,
        "on_failure_callback": [OpsFailureNotifier()],
    }
    if max_retry_delay is not None:
        args["max_retry_delay"] = max_retry_delay
    return args
