"""The operations channel: task failures and feed-health notices, once each, never raising."""

from __future__ import annotations

import dataclasses

from support.fake_slack import FakeSlack

from pipeline.settings import Settings
from pipeline.slack.client import WebApiPoster
from pipeline.slack.ops import report_feed_health, report_task_failure
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
