"""The operations channel: task failures and feed-health notices (off without ``NEWS_OPS_CHANNEL``)."""

from __future__ import annotations

import logging

from pipeline.errors import SlackError
from pipeline.settings import Settings
from pipeline.slack.blocks import feed_health_message, finalize, task_failure_message
from pipeline.slack.client import SlackPoster
from pipeline.store import Store

log = logging.getLogger(__name__)


def report_task_failure(
    settings: Settings,
    poster: SlackPoster,
    *,
    dag_id: str,
    task_id: str,
    run_id: str,
    try_number: int | None,
    error: str,
    log_url: str | None,
) -> None:
    """Tell the operations channel that a task failed; off without ``settings.ops_channel``. Never raises."""
    if not settings.ops_channel:
        return
    try:
        message = task_failure_message(
            dag_id=dag_id, task_id=task_id, run_id=run_id, try_number=try_number, error=error, log_url=log_url
        )
        poster.post_message(finalize(message, channel=settings.ops_channel))
    except SlackError as e:
        # A failure callback that raises only hides the original failure.
        log.error("could not report the failure of %s.%s to %s: %s", dag_id, task_id, settings.ops_channel, e)


def report_feed_health(store: Store, settings: Settings, poster: SlackPoster) -> int:
    """Tell the operations channel about feeds that failed ``feed_failure_threshold`` runs in a row (once)
    and about their recovery (once); return the notices sent. Off without ``settings.ops_channel``.
    """
    if not settings.ops_channel:
        return 0
    sent = 0
    for health in sorted(store.feed_health().values(), key=lambda h: h.feed_id):
        failing = health.consecutive_failures >= settings.feed_failure_threshold
        recovered = health.failure_notified and health.consecutive_failures == 0
        if not ((failing and not health.failure_notified) or recovered):
            continue
        message = feed_health_message(
            feed_id=health.feed_id,
            url=health.url,
            failing=failing,
            failures=health.consecutive_failures,
            last_error=health.last_error,
            since=health.last_success_at,
            display_tz=settings.display_tz,
        )
        try:
            poster.post_message(finalize(message, channel=settings.ops_channel))
        except SlackError as e:
            # The flag stays as it was, so the notice is tried again on the next run.
            log.warning("feed-health notice for %s not sent: %s", health.feed_id, e)
            break
        store.set_feed_failure_notified(health.feed_id, failing)
        sent += 1
    return sent
