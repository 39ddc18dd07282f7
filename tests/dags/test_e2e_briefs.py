"""A crowded, hostile story end to end through Airflow: thirty reports of one event from three feeds on
a loopback server, one of them carrying markup and mentions, go through news_monitor (dag.test) to the
fake Slack. One brief message, inside every Slack limit, with the hostile text inert."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
from support.environment import settings_env
from support.fake_slack import MAX_BLOCKS_TEXT, FakeSlack, blocks_text
from support.local_server import LocalServer
from support.models import install_model

from pipeline.settings import PROJECT_ROOT, Settings
from pipeline.store import get_store

pytestmark = pytest.mark.airflow

CHANNEL = "#chip-alerts"
T0 = datetime(2025, 9, 15, 1, 0, tzinfo=UTC)
# Escaped once more than markup, so that the feed's text (not its markup) carries it, as a hostile
# publisher would write it.
HOSTILE = (
    "&lt;!channel&gt; @here Alibaba's &lt;https://evil.example|T-Head&gt; chip is made by a Chinese "
    "foundry, unlike its earlier processors &lt;@U123&gt;."
)


def _rss(feed: int) -> str:
    items = []
    for k in range(10):
        n = feed * 10 + k
        when = T0 + timedelta(minutes=n)
        extra = " ".join(f"term{n}x{i}" for i in range(5))
        summary = (
            "Alibaba's chip unit T-Head has built a new AI inference chip that is now being tested. "
            f"Analysts at house {n} warn that {extra} could delay its mass production."
        )
        if n == 0:
            summary = HOSTILE + " " + summary
        items.append(
            f"<item><title>Alibaba's T-Head tests a new AI inference chip - Outlet {n}</title>"
            f"<link>https://outlet{n}.example.com/news/t-head-chip</link>"
            f"<description>{escape(summary)}</description>"
            f"<pubDate>{when:%a, %d %b %Y %H:%M:%S} +0000</pubDate><guid>crowd-{n}</guid></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Crowd feed {feed}</title><link>https://crowd{feed}.example.com/</link>"
        f"<description>test</description>{''.join(items)}</channel></rss>"
    )


@pytest.fixture
def crowd(
    tmp_path: Path, trained_model_file: Path, monkeypatch: pytest.MonkeyPatch, airflow_db: Path
) -> Iterator[FakeSlack]:
    with LocalServer() as server, FakeSlack() as slack:
        feeds = ["feeds:"]
        for feed in range(3):
            server.route(
                f"/crowd{feed}.xml", body=_rss(feed), headers={"Content-Type": "application/rss+xml"}
            )
            feeds.append(
                f"  - {{id: crowd-{feed}, name: Crowd {feed}, url: '{server.url(f'/crowd{feed}.xml')}', "
                "language: en, fetch_pages: false}"
            )
        (tmp_path / "feeds.yaml").write_text("\n".join(feeds) + "\n", encoding="utf-8")
        values = settings_env(
            tmp_path,
            NEWS_FEEDS_FILE=str(tmp_path / "feeds.yaml"),
            NEWS_ALLOW_HOSTS=",".join(server.allow_hosts),
            NEWS_SLACK_CHANNEL=CHANNEL,
            NEWS_DIGEST_THRESHOLD="50",
        )
        for key, value in values.items():
            monkeypatch.setenv(key, value)
        conn = {"conn_type": "slack", "password": "xoxb-test", "extra": {"base_url": slack.base_url}}
        monkeypatch.setenv("AIRFLOW_CONN_SLACK_API_DEFAULT", json.dumps(conn))
        slack.add_channel(CHANNEL)
        get_store.cache_clear()
        install_model(Settings.from_env().db_url, trained_model_file)
        yield slack


def _alert_id(message: dict[str, Any]) -> str:
    return str(((message.get("metadata") or {}).get("event_payload") or {}).get("alert_id", ""))


def test_thirty_sources_and_a_hostile_sentence_make_one_brief_within_slack_limits(crowd: FakeSlack) -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags" / "news_monitor.py"))
    run = bag.dags["news_monitor"].test(
        run_conf={"since": "2025-09-15T00:00:00Z", "until": "2025-09-15T02:00:00Z"}
    )
    assert "success" in str(run.state)

    store = get_store(Settings.from_env().db_url)
    stories = {a.story_id for a, c in store.list_articles(relevant_only=True)}
    assert len(stories) == 1 and len(store.list_articles(relevant_only=True)) == 30

    briefs = [m for m in crowd.messages if _alert_id(m).startswith("brief-")]
    assert len(briefs) == 1, "one brief for the story"
    [brief] = briefs
    parent = next(m for m in crowd.messages if m["ts"] == brief["thread_ts"])
    assert crowd.replies(parent["ts"])[0]["ts"] == brief["ts"]  # the first reply
    assert blocks_text(brief["blocks"]) <= MAX_BLOCKS_TEXT  # and the fake accepted every other limit
    text = json.dumps(brief["blocks"], ensure_ascii=False)
    assert "v30 · 30 source(s)" in text and "more point(s) left out" in text
    # the hostile sentence reached the brief as inert text
    raw = json.dumps([m["params"] for m in crowd.messages], ensure_ascii=False)
    for needle in ("<!", "<@", "<http"):
        assert needle not in raw
    assert "&lt;!channel&gt; @\u2060here Alibaba's &lt;https://evil.example|T-Head&gt;" in text
    # every alert carries its stamp; 30 reports of one story: one parent, 29 replies, one brief
    assert len(crowd.top_level(CHANNEL)) == 1 and len(crowd.replies(parent["ts"])) == 30
    assert parent["blocks"][-1]["elements"][0]["text"].startswith("First: Crowd 0 · 2025-09-15 09:00")
