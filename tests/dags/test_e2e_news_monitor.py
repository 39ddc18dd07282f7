"""End to end through Airflow: news_monitor runs (dag.test) against the bundled sample feeds served on
loopback and a fake Slack Web API (the real slack_sdk client via the connection's base_url).

It asserts the messages that arrived: one per relevant sample story of the window, none for the rest,
and nothing more when the same window runs again (a retry/re-run) or is backfilled; and, window by window,
that a story's brief is posted once into its thread and edited in place as each new source arrives.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from support.environment import settings_env
from support.fake_slack import FakeSlack
from support.models import install_model

from pipeline.models import RunInfo
from pipeline.sample_server import serving, write_sample_feed_list
from pipeline.settings import PROJECT_ROOT, Settings
from pipeline.store import get_store

pytestmark = pytest.mark.airflow

EXPECTED = json.loads((PROJECT_ROOT / "samples" / "expected.json").read_text(encoding="utf-8"))
DEMO = EXPECTED["windows"]["demo"]
CHANNEL = "#chip-alerts"


def _items(window: str, relevant: bool) -> list[dict[str, Any]]:
    return [i for i in EXPECTED["items"] if i["window"] == window and i["relevant"] is relevant]


def _message_text(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False)


def _alert_id(message: dict[str, Any]) -> str:
    return str(((message.get("metadata") or {}).get("event_payload") or {}).get("alert_id", ""))


def _briefs(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if _alert_id(m).startswith("brief-")]


def _mentions(messages: list[dict[str, Any]], item: dict[str, Any]) -> list[dict[str, Any]]:
    """Alerts that carry this item (its link in a button, or its title); briefs list every source."""
    url = item["url"].split("?")[0]
    return [m for m in messages if url in _message_text(m) and m not in _briefs(messages)]


@pytest.fixture
def env(
    tmp_path: Path, sample_model_file: Path, monkeypatch: pytest.MonkeyPatch, airflow_db: Path
) -> Iterator[tuple[Settings, FakeSlack]]:
    with serving() as base_url, FakeSlack() as slack:
        port = base_url.rsplit(":", 1)[1]
        feeds = write_sample_feed_list(base_url, tmp_path / "feeds.yaml")
        values = settings_env(
            tmp_path,
            NEWS_FEEDS_FILE=str(feeds),
            NEWS_ALLOW_HOSTS=f"127.0.0.1:{port}",
            NEWS_SLACK_CHANNEL=CHANNEL,
            # above the sample day's story count, so each story gets its own parent (no run digest)
            NEWS_DIGEST_THRESHOLD="50",
        )
        for key, value in values.items():
            monkeypatch.setenv(key, value)
        conn = {"conn_type": "slack", "password": "xoxb-test", "extra": {"base_url": slack.base_url}}
        monkeypatch.setenv("AIRFLOW_CONN_SLACK_API_DEFAULT", json.dumps(conn))
        slack.add_channel(CHANNEL)
        get_store.cache_clear()
        install_model(Settings.from_env().db_url, sample_model_file)
        yield Settings.from_env(), slack


def _news_monitor():  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags" / "news_monitor.py"))
    assert bag.import_errors == {}
    return bag.dags["news_monitor"]


def test_news_monitor_alerts_each_relevant_sample_story_once(env: tuple[Settings, FakeSlack]) -> None:
    settings, slack = env
    dag = _news_monitor()
    run = dag.test(run_conf={"since": DEMO["start"], "until": DEMO["end"]})
    assert "success" in str(run.state)

    messages = slack.messages_for(CHANNEL)
    assert messages, "no message reached Slack"
    relevant, irrelevant = _items("demo", True), _items("demo", False)
    assert relevant and irrelevant
    for item in relevant:
        assert len(_mentions(messages, item)) == 1, f"{item['title']!r} should be alerted exactly once"
    for item in irrelevant:
        assert _mentions(messages, item) == [], f"{item['title']!r} is not relevant and must not be alerted"
    for item in _items("backfill", True):
        assert _mentions(messages, item) == [], "items outside the window are archived, not alerted"
    # the same story from two sources: one parent message, the second source in its thread
    keys: dict[str, list[dict[str, Any]]] = {}
    for item in relevant:
        keys.setdefault(item["story_key"], []).append(item)
    for group in (g for g in keys.values() if len(g) > 1):
        found = list({m["ts"]: m for item in group for m in _mentions(messages, item)}.values())
        parents = [m for m in found if not m.get("thread_ts")]
        assert len(parents) == 1, f"story {group[0]['story_key']} should have one parent message"
        urls = {item["url"].split("?")[0] for item in group}
        if (
            len(urls) > 1
        ):  # other sources go into its thread (the same URL under tracking params is one article)
            replies = [m for m in found if m.get("thread_ts")]
            assert len(replies) == len(urls) - 1 and all(m["thread_ts"] == parents[0]["ts"] for m in replies)

    # Running the same window again (a re-run, or a retry of the alert task) posts nothing new.
    count = len(slack.messages)
    run = dag.test(run_conf={"since": DEMO["start"], "until": DEMO["end"]})
    assert "success" in str(run.state)
    assert len(slack.messages) == count

    # A backfill of the same window re-processes the archive and posts nothing new either.
    from pipeline.cycle import alert_articles, classify_articles, store_window

    backfill = RunInfo(
        run_id="backfill__demo",
        run_type="backfill",
        window_start=datetime.fromisoformat(DEMO["start"].replace("Z", "+00:00")),
        window_end=datetime.fromisoformat(DEMO["end"].replace("Z", "+00:00")),
    )
    stored = store_window(settings, backfill)
    classified = classify_articles(settings, stored["article_ids"])
    alert_articles(settings.with_slack("xoxb-test", slack.base_url), backfill, classified["relevant_ids"])
    assert len(slack.messages) == count


def test_backfill_of_archived_interval_posts_one_backfill_message(env: tuple[Settings, FakeSlack]) -> None:
    settings, slack = env
    dag = _news_monitor()
    assert "success" in str(dag.test(run_conf={"since": DEMO["start"], "until": DEMO["end"]}).state)
    before = len(slack.messages)

    from pipeline.cycle import alert_articles, classify_articles, store_window

    window = EXPECTED["windows"]["backfill"]
    backfill = RunInfo(
        run_id="backfill__2025-09-14T06:00",
        run_type="backfill",
        window_start=datetime.fromisoformat(window["start"].replace("Z", "+00:00")),
        window_end=datetime.fromisoformat(window["end"].replace("Z", "+00:00")),
    )
    slack_settings = settings.with_slack("xoxb-test", slack.base_url)
    for _ in range(2):  # a second backfill of the same interval is harmless
        stored = store_window(settings, backfill)
        classified = classify_articles(settings, stored["article_ids"])
        alert_articles(slack_settings, backfill, classified["relevant_ids"])
    new = slack.messages[before:]
    parents = [m for m in new if not m.get("thread_ts")]
    assert len(parents) == 1 and "backfill" in _message_text(parents[0]).lower()
    for item in _items("backfill", True):
        assert len(_mentions(new, item)) == 1, item["title"]
    for item in _items("backfill", False):
        assert _mentions(new, item) == []
    assert datetime.now(UTC) > backfill.window_end


def _utc(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_a_story_brief_is_posted_once_and_edited_as_each_source_arrives(
    env: tuple[Settings, FakeSlack],
) -> None:
    """The five-source sample story, replayed window by window: two sources, then one more per window."""
    settings, slack = env
    dag = _news_monitor()
    day = DEMO["start"][:10]
    windows = [("00:00", "02:00"), ("02:00", "02:30"), ("02:30", "03:00"), ("03:00", "23:59")]
    story = sorted(
        (i for i in EXPECTED["items"] if i["story_key"] == "alibaba-inference-chip"),
        key=lambda i: i["published"],
    )
    assert len(story) == 5 and {i["language"] for i in story} == {"zh", "en"}
    edits_after: list[int] = []
    for start, end in windows:
        run = dag.test(run_conf={"since": f"{day}T{start}:00Z", "until": f"{day}T{end}:00Z"})
        assert "success" in str(run.state)
        briefs = [b for b in _briefs(slack.messages) if story[0]["url"] in _message_text(b)]
        assert len(briefs) == 1, "one brief message for the story, never a second one"
        edits_after.append(briefs[0]["edits"])
    # posted in the first window (two sources), then edited once per window that brought a source
    assert edits_after == [0, 1, 2, 3]
    [brief] = [b for b in _briefs(slack.messages) if story[0]["url"] in _message_text(b)]
    parent = next(m for m in slack.messages if m["ts"] == brief["thread_ts"])
    assert story[0]["url"] in _message_text(parent) and not parent.get("thread_ts")
    # the brief is the first reply in its thread; every source of the story is cited, in both languages
    assert slack.replies(parent["ts"])[0]["ts"] == brief["ts"]
    text = _message_text(brief)
    assert all(item["url"] in text for item in story)
    assert "[5]" in text and "Core viewpoint" in text  # three English sources of five: English labels
    assert any("\u4e00" <= ch <= "\u9fff" for ch in text.split("Core viewpoint", 1)[1])
    # the parent's novelty stamp: the first source, its time, minutes to the alert, the tag
    context = parent["blocks"][-1]["elements"][0]["text"]
    assert context.startswith("First: 示例财经网 7×24快讯 · 2025-09-15 09:30 Asia/Shanghai · ")
    assert context.endswith(" to alert · new")
    # every brief of the run was posted exactly once (one chat.postMessage per brief alert id)
    posted = [p for p in slack.calls_of("chat.postMessage") if "brief-" in json.dumps(p.get("metadata"))]
    ids = [
        json.loads(p["metadata"])["event_payload"]["alert_id"]
        if isinstance(p["metadata"], str)
        else p["metadata"]["event_payload"]["alert_id"]
        for p in posted
    ]
    assert len(ids) == len(set(ids)) == len(_briefs(slack.messages))

    # the last window again (a retry of its alert task): nothing is posted or edited
    from pipeline.cycle import alert_articles, classify_articles, store_window

    count, updates = len(slack.messages), len(slack.updates)
    last = RunInfo(
        run_id="manual__retry", run_type="manual", window_start=_utc(f"{day}T03:00:00Z"),
        window_end=_utc(f"{day}T23:59:00Z"), explicit_window=True,
    )  # fmt: skip
    stored = store_window(settings, last)
    alert_articles(
        settings.with_slack("xoxb-test", slack.base_url),
        last,
        classify_articles(settings, stored["article_ids"])["relevant_ids"],
    )
    assert (len(slack.messages), len(slack.updates)) == (count, updates)
