"""
### news_monitor

Crawls the configured news feeds and alerts Slack when a big-tech company develops its own chips or
invests in a chip company.

**Tasks**: `plan` (feed shards) → `fetch` (mapped over shards: conditional GET, parse, archive every item
with its first-seen time) → `store` (this run's window from the archive, grouped into stories) →
`classify` (current promoted model + structured fields) → `alert` (Slack, exactly once per alert).

**Run semantics**
- *Scheduled run* (every `NEWS_SCHEDULE`, default 15 min): fetches the feeds now, archives every item,
  then processes the items whose event time (published, or first seen when missing or in the future)
  falls in its data interval, plus items this run saw for the first time that are older than the
  interval but younger than `NEWS_LATE_WINDOW_HOURS` (feeds that list items late).
- *Backfill* (Trigger → Backfill): cannot fetch the past. It re-processes the archived items of each
  interval with the current model and alerts only what was never alerted, as one "backfill" message
  per run with the items in its thread. Running the same backfill twice posts nothing new.
- *Manual run* (Trigger with params): `feeds` (subset of feed ids), `since`/`until` (the window; default
  the last 15 min), `fetch` (off: archive only, like a backfill), `dry_run` (payloads to the dry-run file).

Re-running or retrying a run changes nothing it already did: archive writes are UPSERTs, classification
is skipped for articles the current model already scored, and every alert has a ledger row.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import CronDataIntervalTimetable, Param, dag, task

from chip_news_airflow.defaults import task_defaults
from pipeline.models import RunInfo
from pipeline.settings import Settings

# Only the schedule is read when the file is parsed; tasks read their settings when they run.
SETTINGS = Settings.from_env()


def _run_info(context: dict[str, Any]) -> RunInfo:
    """The window this run processes, from the context Airflow injected into the task (a manual run may
    have no data interval)."""
    from pipeline.runs import resolve_run

    dag_run = context["dag_run"]
    return resolve_run(
        run_id=str(context["run_id"]),
        run_type=getattr(dag_run, "run_type", None),
        data_interval_start=context.get("data_interval_start"),
        data_interval_end=context.get("data_interval_end"),
        run_after=getattr(dag_run, "run_after", None),
        params=_params(context),
    )


def _params(context: dict[str, Any]) -> dict[str, Any]:
    return dict(context.get("params") or {})


@dag(
    dag_id="news_monitor",
    schedule=CronDataIntervalTimetable(SETTINGS.schedule, timezone=SETTINGS.timezone),
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=2,
    dagrun_timeout=timedelta(minutes=30),
    default_args=task_defaults(
        retries=3,
        retry_delay=timedelta(seconds=30),
        max_retry_delay=timedelta(minutes=10),
        timeout=timedelta(minutes=15),
    ),
    params={
        "feeds": Param(
            [],
            type="array",
            items={"type": "string"},
            title="Feeds",
            description="Feed ids to fetch (empty: every enabled feed).",
        ),
        "since": Param(
            None,
            type=["null", "string"],
            format="date-time",
            title="Window start",
            description="Manual runs: process items from this time (UTC; default 15 min before until).",
        ),
        "until": Param(
            None,
            type=["null", "string"],
            format="date-time",
            title="Window end",
            description="Manual runs: process items up to this time (UTC; default: now).",
        ),
        "fetch": Param(
            True,
            type="boolean",
            title="Fetch feeds",
            description="Fetch the feeds now. Off: re-process the archive only.",
        ),
        "dry_run": Param(
            False,
            type="boolean",
            title="Dry run",
            description="Write Slack payloads to the dry-run file instead of posting.",
        ),
    },
    tags=["chip-news", "ingest", "slack"],
    doc_md=__doc__,
)
def news_monitor() -> None:
    # Each task takes the Airflow context by injection (``**context``), never a global lookup.
    @task
    def plan(**context: Any) -> list[list[str]]:
        """Feed shards to fetch; none for a backfill (the past cannot be fetched) or with fetch off."""
        from chip_news_airflow.runtime import task_settings
        from pipeline.cycle import plan_shards

        run, params = _run_info(context), _params(context)
        if run.is_backfill or not params.get("fetch", True):
            print(f"{run.run_type} run of {run.interval_label}: no fetch, the archive is re-processed")
            return []
        return plan_shards(task_settings(), params.get("feeds") or None)

    @task(pool="feed_fetch", retries=2, execution_timeout=timedelta(minutes=10))
    def fetch(shard: list[str], **context: Any) -> dict[str, Any]:
        """Fetch one shard of feeds and archive their items (counts only in XCom)."""
        from chip_news_airflow.runtime import task_settings
        from pipeline.cycle import fetch_shard

        force = bool(_params(context).get("feeds"))
        return fetch_shard(task_settings(), shard, run_id=str(context["run_id"]), force=force)

    @task(trigger_rule="none_failed")
    def store(**context: Any) -> dict[str, Any]:
        """This run's window from the archive, grouped into stories."""
        from chip_news_airflow.runtime import task_settings
        from pipeline.cycle import store_window

        feeds = _params(context).get("feeds") or None
        return store_window(task_settings(), _run_info(context), feed_ids=feeds)

    @task
    def classify(stored: dict[str, Any]) -> dict[str, Any]:
        """Score and extract fields with the promoted model."""
        from chip_news_airflow.runtime import task_settings
        from pipeline.cycle import classify_articles

        return classify_articles(task_settings(), stored["article_ids"])

    @task(pool="slack_api")
    def alert(classified: dict[str, Any], **context: Any) -> dict[str, Any]:
        """Post the relevant articles to Slack (dry-run file without a connection), exactly once."""
        from airflow.sdk.exceptions import AirflowFailException

        from chip_news_airflow.hooks import slack_poster
        from chip_news_airflow.runtime import task_settings
        from pipeline.cycle import alert_articles
        from pipeline.errors import SlackConfigError

        run = _run_info(context)
        settings = task_settings()
        poster = slack_poster(settings, dry_run=run.dry_run)
        try:
            return alert_articles(settings, run, classified["relevant_ids"], poster=poster)
        except SlackConfigError as e:
            # An operator must fix this (token, channel, invitation): retrying now would not help; the
            # alerts stay in the ledger and go out on the first run after the fix.
            raise AirflowFailException(str(e)) from e

    # XComArgs stand for the task results at parse time; mypy sees the XComArg, Airflow passes the dict.
    fetched = fetch.expand(shard=plan())
    stored: Any = store()
    fetched >> stored
    classified: Any = classify(stored)
    alert(classified)


news_monitor()
