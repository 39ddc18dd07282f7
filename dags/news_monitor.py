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

import pendulum
from airflow.sdk import CronDataIntervalTimetable, Param, dag, get_current_context, task

from chip_news_airflow.defaults import task_defaults
from pipeline.settings import Settings

# Only the schedule is read when the file is parsed; tasks read their settings when they run.
SETTINGS = Settings.from_env()


def _run_info() -> tuple[object, dict]:
    """RunInfo of the current task's run, and its params."""
    from pipeline.runs import resolve_run

    ctx = get_current_context()
    dag_run = ctx["dag_run"]
    params = dict(ctx.get("params") or {})
    run = resolve_run(
        run_id=ctx["run_id"],
        run_type=getattr(dag_run, "run_type", None),
        data_interval_start=ctx.get("data_interval_start"),
        data_interval_end=ctx.get("data_interval_end"),
        run_after=getattr(dag_run, "run_after", None),
        params=params,
        dry_run_setting=False,
    )
    return run, params


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
    @task
    def plan() -> list[list[str]]:
        """Feed shards to fetch; none for a backfill (the past cannot be fetched) or with fetch off."""
        from pipeline.cycle import plan_shards

        run, params = _run_info()
        if run.is_backfill or not params.get("fetch", True):
            print(f"{run.run_type} run of {run.interval_label}: no fetch, the archive is re-processed")
            return []
        return plan_shards(Settings.from_env(), params.get("feeds") or None)

    @task(pool="feed_fetch", retries=2, execution_timeout=timedelta(minutes=10))
    def fetch(shard: list[str]) -> dict:
        """Fetch one shard of feeds and archive their items (counts only in XCom)."""
        from pipeline.cycle import fetch_shard

        run, params = _run_info()
        return fetch_shard(Settings.from_env(), shard, run_id=run.run_id, force=bool(params.get("feeds")))

    @task(trigger_rule="none_failed")
    def store() -> dict:
        """This run's window from the archive, grouped into stories."""
        from pipeline.cycle import store_window

        run, params = _run_info()
        return store_window(Settings.from_env(), run, feed_ids=params.get("feeds") or None)

    @task
    def classify(stored: dict) -> dict:
        """Score and extract fields with the promoted model."""
        from pipeline.cycle import classify_articles

        return classify_articles(Settings.from_env(), stored["article_ids"])

    @task(pool="slack_api")
    def alert(classified: dict) -> dict:
        """Post the relevant articles to Slack (dry-run file without a token), exactly once."""
        from airflow.sdk.exceptions import AirflowFailException

        from chip_news_airflow.hooks import ChipNewsSlackHook
        from pipeline.cycle import alert_articles
        from pipeline.errors import SlackConfigError

        run, params = _run_info()
        hook = ChipNewsSlackHook(settings=Settings.from_env())
        settings = hook.settings(dry_run=bool(params.get("dry_run")))
        try:
            return alert_articles(settings, run, classified["relevant_ids"])
        except SlackConfigError as e:
            # An operator must fix this (token, channel, invitation): retrying now would not help; the
            # alerts stay in the ledger and go out on the first run after the fix.
            raise AirflowFailException(str(e)) from e

    fetched = fetch.expand(shard=plan())
    stored = store()
    fetched >> stored
    alert(classify(stored))


news_monitor()
