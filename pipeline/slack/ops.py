"""The operations channel (off without ``NEWS_OPS_CHANNEL``): task failures and feed-health notices, and
the promotion report of each candidate model with its outcome (those through the ledger: exactly once).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from pipeline.errors import SlackError
from pipeline.settings import Settings
from pipeline.slack.blocks import (
    PromotionNotice,
    feed_health_message,
    finalize,
    note_message,
    promotion_message,
    task_failure_message,
)
from pipeline.slack.client import SlackPoster, SlackUnavailableError
from pipeline.slack.ledger import LedgerSender, alert_id, ledger_channel, raise_collected
from pipeline.store import POSTED, NewAlert, Store

log = logging.getLogger(__name__)

# Ledger kinds: the report (a parent message), its replay chart and its outcome (in the report's thread).
PROMOTION, PROMOTION_CHART, PROMOTION_OUTCOME = "promotion", "promotion_chart", "promotion_outcome"
# A promotion message not delivered within this long is not sent any more (the decision is old news).
PROMOTION_MAX_AGE = timedelta(days=7)


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


def _deliver(sender: LedgerSender, store: Store, alert: str) -> str:
    """Send one ledger row unless it is already posted; return its state afterwards."""
    record = store.get_alert(alert)
    if record is not None and record.state != POSTED:
        sender.run([record])
        record = store.get_alert(alert)
    return record.state if record is not None else "missing"


def _finish(sender: LedgerSender) -> None:
    raise_collected(sender.result.config_errors, sender.result.rejected, report=sender.result)
    if sender.result.outage:
        raise SlackUnavailableError(f"ops message left pending, Slack unavailable: {sender.result.outage}")


def post_promotion_report(
    store: Store,
    settings: Settings,
    poster: SlackPoster,
    *,
    report_id: str,
    notice: PromotionNotice,
    chart: bytes | None,
    now: datetime,
) -> dict[str, Any]:
    """Post a candidate's promotion report to the ops channel once, with its replay chart in the thread.

    Off without ``settings.ops_channel``. Slack errors raise like ``send_alerts`` (the rows stay due).
    """
    if not settings.ops_channel:
        log.info("no ops channel: promotion report %s not posted", report_id)
        return {"state": "off"}
    lc = ledger_channel(settings.ops_channel, poster.namespace)
    parent = alert_id(PROMOTION, report_id, lc)
    chart_id = alert_id(PROMOTION_CHART, report_id, lc)
    rows = [
        NewAlert(
            alert_id=parent,
            channel=lc,
            kind=PROMOTION,
            payload={"message": promotion_message(notice), "broadcast": False},
            model_version=notice.candidate,
        )
    ]
    if chart:
        rows.append(NewAlert(alert_id=chart_id, channel=lc, kind=PROMOTION_CHART, parent_alert_id=parent))
    store.ensure_alerts(rows)
    sender = LedgerSender(store, poster, max_age=PROMOTION_MAX_AGE, now=now)
    state = _deliver(sender, store, parent)
    chart_state = "none"
    posted = store.get_alert(parent)
    chart_record = store.get_alert(chart_id)
    if chart and posted is not None and posted.state == POSTED and posted.ts and chart_record is not None:
        chart_state = sender.upload(
            chart_record,
            thread_ts=posted.ts,
            content=chart,
            filename=f"replay-{notice.candidate}.png",
            title=f"Replay of {notice.candidate}: decisions changed per company",
        )
    _finish(sender)
    return {"state": state, "chart": chart_state}


def post_promotion_outcome(
    store: Store, settings: Settings, poster: SlackPoster, *, report_id: str, text: str, now: datetime
) -> dict[str, Any]:
    """Say in the report's thread what became of the candidate (once); off without an ops channel."""
    if not settings.ops_channel:
        return {"state": "off"}
    lc = ledger_channel(settings.ops_channel, poster.namespace)
    parent = alert_id(PROMOTION, report_id, lc)
    outcome = alert_id(PROMOTION_OUTCOME, report_id, lc)
    store.ensure_alerts(
        [
            NewAlert(
                alert_id=outcome,
                channel=lc,
                kind=PROMOTION_OUTCOME,
                parent_alert_id=parent if store.get_alert(parent) else None,
                payload={"message": note_message(text), "broadcast": False},
            )
        ]
    )
    sender = LedgerSender(store, poster, max_age=PROMOTION_MAX_AGE, now=now)
    state = _deliver(sender, store, outcome)
    _finish(sender)
    return {"state": state}
