"""A DAG whose only task fails, with the project's task defaults: for the failure-notifier test."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from chip_news_airflow.defaults import task_defaults


@dag(
    dag_id="chip_news_failing_test",
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    default_args=task_defaults(retries=0, retry_delay=timedelta(seconds=1), timeout=timedelta(minutes=1)),
)
def chip_news_failing_test() -> None:
    @task
    def fetch() -> None:
        raise ValueError("feeds.yaml [entry 3]: missing required field 'url'")

    fetch()


chip_news_failing_test()
