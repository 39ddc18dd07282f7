"""The operations channel: task failures and feed-health notices, once each, never raising."""

from __future__ import annotations

import dataclasses
import json

from support.fake_slack import FakeSlack

from pipeline.settings import Settings
from pipeline.slack.blocks import PromotionNotice
from pipeline.slack.client import WebApiPoster
from pipeline.slack.ops import (
    post_promotion_outcome,
    post_promotion_report,
    report_feed_health,
    report_task_failure,
)
from pipeline.store import Store, utcnow


def test_task_failure_report(cfg: Settings, poster: WebApiPoster, slack: FakeSlack) -> None:
    report_task_failure(
        cfg,
        poster,
        dag_id="news_monitor",
        task_id="alert",
        run_id="scheduled__1",
        try_number=3,
        error="SlackConfigError: <!channel> boom",
        log_url="http://airflow.local/log",
    )
    [message] = slack.messages_for("#chip-ops")
    assert message["blocks"][0]["text"]["text"] == "Task failed: news_monitor.alert"
    assert "&lt;!channel&gt; boom" in message["blocks"][2]["text"]["text"]
    # Off without an ops channel; never raises when Slack fails.
    report_task_failure(
        dataclasses.replace(cfg, ops_channel=""),
        poster,
        dag_id="d",
        task_id="t",
        run_id="r",
        try_number=None,
        error="e",
        log_url=None,
    )
    slack.fail_next("chat.postMessage", "invalid_auth")
    report_task_failure(
        cfg, poster, dag_id="d", task_id="t", run_id="r", try_number=1, error="e", log_url=None
    )
    assert len(slack.messages) == 1


def test_feed_health_reported_once_and_on_recovery(
    store: Store, cfg: Settings, poster: WebApiPoster, slack: FakeSlack
) -> None:
    def attempt(ok: bool) -> None:
        store.record_feed_result(
            "feed-a", "https://a.example/rss", ok=ok, at=utcnow(), error=None if ok else "HTTP 503"
        )

    for _ in range(2):
        attempt(False)
    assert report_feed_health(store, cfg, poster) == 0
    attempt(False)
    assert report_feed_health(store, cfg, poster) == 1
    attempt(False)
    assert report_feed_health(store, cfg, poster) == 0
    attempt(True)
    assert report_feed_health(store, cfg, poster) == 1
    assert report_feed_health(store, cfg, poster) == 0
    down, up = slack.messages_for("#chip-ops")
    assert down["blocks"][0]["text"]["text"] == "Feed feed-a has failed 3 runs in a row"
    assert "HTTP 503" in down["blocks"][1]["text"]["text"]
    assert up["blocks"][0]["text"]["text"] == "Feed feed-a has recovered"
    assert report_feed_health(store, dataclasses.replace(cfg, ops_channel=""), poster) == 0


def test_feed_health_retried_when_slack_is_down(
    store: Store, cfg: Settings, poster: WebApiPoster, slack: FakeSlack
) -> None:
    for _ in range(3):
        store.record_feed_result("feed-b", "https://b.example/rss", ok=False, at=utcnow(), error="x")
    slack.fail_next("chat.postMessage", "server_error", times=3)
    assert report_feed_health(store, cfg, poster) == 0
    assert store.feed_health()["feed-b"].failure_notified is False
    assert report_feed_health(store, cfg, poster) == 1
    assert len(slack.messages) == 1


def _notice() -> PromotionNotice:
    return PromotionNotice(
        candidate="clf-new",
        current="clf-old",
        decision="needs approval",
        reason="it changes 12 decisions: an operator decides",
        facts=(("Held-out F1 (current → candidate)", "0.962 → 0.965"),),
        dropped_alerts=("<!channel> Baidu denies rumours",),
        added=(),
        where="Approve or reject in Airflow: Browse → Required Actions",
    )


def test_promotion_report_and_outcome_go_to_ops_once(
    store: Store, cfg: Settings, poster: WebApiPoster, slack: FakeSlack
) -> None:
    args = {"report_id": "clf-new~clf-old", "notice": _notice(), "chart": b"\x89PNG fake", "now": utcnow()}
    assert post_promotion_report(store, cfg, poster, **args) == {"state": "posted", "chart": "uploaded"}  # type: ignore[arg-type]
    (report,) = slack.messages_for("#chip-ops")
    text = json.dumps(report["blocks"], ensure_ascii=False)
    assert "Candidate model clf-new: needs approval" in text and "0.962 → 0.965" in text
    assert "&lt;!channel&gt; Baidu denies rumours" in text  # feed text stays inert
    (upload,) = slack.uploads
    assert upload["thread_ts"] == report["ts"] and upload["filename"] == "replay-clf-new.png"
    # again (a retry of the task): nothing new
    assert post_promotion_report(store, cfg, poster, **args) == {"state": "posted", "chart": "already"}  # type: ignore[arg-type]
    for _ in range(2):
        post_promotion_outcome(
            store, cfg, poster, report_id="clf-new~clf-old", text="Rejected by alice", now=utcnow()
        )
    (outcome,) = [m for m in slack.messages_for("#chip-ops") if m["thread_ts"]]
    assert outcome["thread_ts"] == report["ts"] and outcome["text"] == "Rejected by alice"
    assert len(slack.messages_for("#chip-ops")) == 2 and len(slack.uploads) == 1
    # off without an ops channel
    quiet = dataclasses.replace(cfg, ops_channel="")
    assert post_promotion_report(store, quiet, poster, **{**args, "report_id": "x"}) == {"state": "off"}  # type: ignore[arg-type]
