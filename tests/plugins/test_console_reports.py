"""What the console adds from the feedback loop and the story briefs, on a fixture store (SQLite and
PostgreSQL): analysts' votes on the alerts page, novelty and briefs on the stories page, promotion reports
and their replay summaries on the models page; each read in a fixed number of queries whatever the page
size, and feed or brief text inert in HTML.

Every expected value below follows from the fixture written here (who voted what, when).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from support.articles import add_alert, add_classified

from chip_news_airflow.console import create_console_app
from chip_news_airflow.console.app import console_context
from chip_news_airflow.console.auth import require_user
from chip_news_airflow.console.views import ConsoleContext
from pipeline.models import Brief, BriefGroup, BriefPoint, BriefSource, FeedbackVote, Novelty
from pipeline.settings import Settings
from pipeline.store import NewAlert, Store
from pipeline.store.schema import promotion_reports

T0 = datetime(2025, 9, 15, 8, 0, tzinfo=UTC)
NOW = datetime(2025, 9, 16, 4, 0, tzinfo=UTC)
HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'
REPORT = "clf-new~clf-old"
CHART = b"\x89PNG\r\n\x1a\n(a chart)"


def _vote(vote_id: str, article_id: str, user: str, label: str | None, **kw: Any) -> FeedbackVote:
    return FeedbackVote(
        vote_id=vote_id,
        article_id=article_id,
        voter=f"slack:{user}",
        label=label,
        event_type=kw.pop("event_type", None),
        voted_at=T0,  # the store stamps the time it is given to save_votes
        alert_id=kw.pop("alert_id", f"story-{article_id}"),
        **kw,
    )


def _brief() -> Brief:
    point = BriefPoint(f"Alibaba's T-Head taped out a chip {HOSTILE}", (1, 2), "en")
    return Brief(
        story_id="S1",
        language="en",
        headline="Alibaba chip",
        core=BriefPoint("Alibaba builds its own inference chip", (1,), "en"),
        groups=(
            BriefGroup("developments", (point,)),
            BriefGroup("risks", (BriefPoint("出口管制可能影响供货", (2,), "zh"),)),
        ),
        sources=(
            BriefSource(1, "a1", "示例财经网", "https://cn.example/a1", T0, "zh"),
            BriefSource(2, "a2", "Tech Wire", "javascript:alert(3)", None, "en"),
        ),
    )


def _fill(store: Store) -> None:
    """Three stories with alerts; votes on two of their articles; novelty; a brief (two versions, two
    channels) and an old-style one; two promotion reports, one decided."""
    add_classified(
        store, "a1", at=T0, story="S1", source="示例财经网", title="阿里平头哥新芯片", language="zh"
    )
    add_classified(store, "a2", at=T0 + timedelta(minutes=20), story="S1", source="Tech Wire")
    add_classified(store, "b1", at=T0 + timedelta(hours=1), story="S2", title=f"{HOSTILE} Baidu chip")
    add_classified(store, "c1", at=T0 + timedelta(hours=2), story="S3")
    add_alert(store, "story-a1", at=T0 + timedelta(minutes=5), story_id="S1", article_id="a1", state="posted")
    add_alert(
        store, "ops-a1", at=T0 + timedelta(minutes=6), channel="#chip-ops", story_id="S1", article_id="a1",
        state="posted",
    )  # fmt: skip
    add_alert(store, "story-b1", at=T0 + timedelta(hours=1, minutes=5), story_id="S2", article_id="b1")
    add_alert(store, "story-c1", at=T0 + timedelta(hours=2, minutes=5), story_id="S3", article_id="c1")
    add_alert(store, "digest-1", at=T0 - timedelta(hours=3), kind="digest", state="posted")

    # a1: Alice relevant (own chips), Carol not relevant, Bob first not relevant, later relevant (on the
    # other channel's alert): Bob's latest vote counts, once -> 2 relevant, 1 not: relevant, disagreement.
    store.save_votes(
        [
            _vote("v-a1-alice", "a1", "UALICE", "relevant", event_type="self_development"),
            _vote("v-a1-bob", "a1", "UBOB", "not_relevant"),
        ],
        now=T0 + timedelta(hours=1),
    )
    store.save_votes([_vote("v-a1-carol", "a1", "UCAROL", "not_relevant")], now=T0 + timedelta(hours=2))
    store.save_votes(
        [_vote("v-a1-bob-ops", "a1", "UBOB", "relevant", alert_id="ops-a1")], now=T0 + timedelta(hours=3)
    )
    # b1: one each way -> disputed. c1: a withdrawn vote (no label) -> no feedback.
    store.save_votes(
        [
            _vote("v-b1-alice", "b1", "UALICE", "relevant"),
            _vote("v-b1-dan", "b1", f"UDAN{HOSTILE}", "not_relevant"),
            _vote("v-c1-alice", "c1", "UALICE", None),
        ],
        now=T0 + timedelta(hours=4),
    )

    store.save_novelty(
        [
            Novelty("S1", "new", "a1", "示例财经网", T0),
            Novelty(
                "S2", "follow-up", "b1", "Reuters", T0 + timedelta(hours=1), earlier_story_id="S0",
                earlier_headline=f"Earlier {HOSTILE}", reason="same company and chip, 3 days later",
            ),
        ],
        at=T0 + timedelta(hours=1),
    )  # fmt: skip

    brief = _brief()
    payload = {"core": brief.core.text if brief.core else None, "brief": brief.as_record()}
    for alert_id, channel, version in (("brief-s1", "#chip-alerts", 2), ("brief-s1-dry", "dry-run:#x", 1)):
        row = NewAlert(alert_id, channel, "brief", story_id="S1", parent_alert_id="story-a1", payload=payload)
        store.upsert_brief(row, version)
    old_style = NewAlert(
        "brief-s2",
        "#chip-alerts",
        "brief",
        story_id="S2",
        payload={"core": "Baidu's core point", "version": 2},
    )
    store.upsert_brief(old_style, 2)

    summary = {
        "since": "2025-09-01T00:00:00+00:00",
        "until": "2025-09-15T00:00:00+00:00",
        "articles": 80,
        "added": 3,
        "dropped": 1,
        "changed": 4,
        "agreement": 0.95,
        "alerts_dropped": 1,
        "feedback": {"labels": 5},
    }
    store.save_promotion_report(
        REPORT, candidate_version="clf-new", current_version="clf-old", decision="approve",
        reason="it changes 4 decisions", report={"replay": {"summary": summary}},
        markdown=f"## Candidate `clf-new`\n{HOSTILE}", chart=CHART, run_id="manual__1",
    )  # fmt: skip
    store.decide_promotion(REPORT, outcome="promoted", decided_by="alice")
    store.save_promotion_report(
        "clf-bad~clf-old", candidate_version="clf-bad", current_version="clf-old", decision="keep",
        reason="worse on the held-out split", report={"replay": None}, markdown="kept", chart=None,
    )  # fmt: skip
    with store.begin() as conn:  # fixed evaluation times (the store stamps the wall clock)
        for report_id, at in ((REPORT, T0), ("clf-bad~clf-old", T0 + timedelta(days=1))):
            conn.execute(
                sa.update(promotion_reports)
                .where(promotion_reports.c.report_id == report_id)
                .values(created_at=at)
            )


@pytest.fixture
def store(any_store: Store) -> Store:
    _fill(any_store)
    return any_store


@pytest.fixture
def client(settings: Settings, store: Store) -> Iterator[TestClient]:
    app = create_console_app()
    app.dependency_overrides[require_user] = lambda: "analyst"
    app.dependency_overrides[console_context] = lambda: ConsoleContext(settings, store, now=lambda: NOW)
    with TestClient(app) as client:
        yield client


def _json(client: TestClient, path: str, **params: Any) -> dict[str, Any]:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_alerts_show_the_analysts_votes_on_their_article(client: TestClient) -> None:
    alerts = {a["alert_id"]: a for a in _json(client, "/api/alerts")["alerts"]}

    a1 = alerts["story-a1"]["feedback"]
    assert a1["summary"] == "✅ 2 · ❌ 1 (disagree)"
    assert (a1["label"], a1["relevant"], a1["not_relevant"], a1["disagreement"]) == ("relevant", 2, 1, True)
    assert a1["event_type"] == "self_development" and a1["settled_by"] is None
    # each voter once, their latest vote (Bob's on the other channel's alert), oldest first
    assert [(v["voter"], v["label"], v["alert_id"]) for v in a1["votes"]] == [
        ("slack:UALICE", "relevant", "story-a1"),
        ("slack:UCAROL", "not_relevant", "story-a1"),
        ("slack:UBOB", "relevant", "ops-a1"),
    ]
    assert a1["votes"][2]["voted_at"] == "2025-09-15T11:00:00Z"
    assert alerts["ops-a1"]["feedback"] == a1  # the same article: the same label
    b1 = alerts["story-b1"]["feedback"]
    assert (b1["label"], b1["summary"], b1["disagreement"]) == ("disputed", "✅ 1 · ❌ 1 (disputed)", True)
    assert alerts["story-c1"]["feedback"] is None  # a withdrawn vote says nothing
    assert alerts["digest-1"]["feedback"] is None


@pytest.mark.parametrize(
    ("feedback", "expected"),
    [
        ("yes", {"story-a1", "ops-a1", "story-b1"}),
        ("no", {"story-c1", "digest-1", "brief-s1", "brief-s1-dry", "brief-s2"}),
        (
            "",
            {
                "story-a1",
                "ops-a1",
                "story-b1",
                "story-c1",
                "digest-1",
                "brief-s1",
                "brief-s1-dry",
                "brief-s2",
            },
        ),
    ],
)
def test_the_has_feedback_filter(client: TestClient, feedback: str, expected: set[str]) -> None:
    page = _json(client, "/api/alerts", feedback=feedback)
    assert {a["alert_id"] for a in page["alerts"]} == expected
    assert page["filters"]["feedback"] == (feedback or None)


def test_an_unknown_feedback_filter_is_refused(client: TestClient) -> None:
    response = client.get("/api/alerts", params={"feedback": "maybe"})
    assert response.status_code == 400 and "feedback" in response.json()["detail"]


def test_stories_show_novelty_and_the_newest_brief(client: TestClient) -> None:
    stories = {s["story_id"]: s for s in _json(client, "/api/stories")["stories"]}

    assert stories["S1"]["novelty"] == {
        "tag": "new",
        "first_source": "示例财经网",
        "first_published_at": "2025-09-15T08:00:00Z",
        "earlier_story_id": None,
        "earlier_headline": None,
        "reason": "",
    }
    s2 = stories["S2"]["novelty"]
    assert (s2["tag"], s2["earlier_story_id"], s2["earlier_headline"]) == (
        "follow-up",
        "S0",
        f"Earlier {HOSTILE}",
    )
    assert stories["S3"]["novelty"] is None and stories["S3"]["brief"] is None

    brief = stories["S1"]["brief"]
    # of the story's two brief rows, the one with the newer version (v2, #chip-alerts)
    assert (brief["alert_id"], brief["channel"], brief["dry_run"], brief["version"]) == (
        "brief-s1", "#chip-alerts", False, 2,
    )  # fmt: skip
    assert brief["state"] == "pending" and brief["sent_version"] is None
    assert brief["headline"] == "Alibaba chip"
    assert brief["core"] == {
        "text": "Alibaba builds its own inference chip",
        "citations": [1],
        "language": "en",
    }
    assert brief["core_text"] == "Alibaba builds its own inference chip"
    assert [(g["key"], g["label"]) for g in brief["groups"]] == [
        ("developments", "Company developments"),
        ("risks", "Risks"),
    ]
    assert brief["groups"][0]["points"] == [
        {"text": f"Alibaba's T-Head taped out a chip {HOSTILE}", "citations": [1, 2], "language": "en"}
    ]
    assert brief["groups"][1]["points"][0]["text"] == "出口管制可能影响供货"
    assert [(s["number"], s["outlet"], s["url"]) for s in brief["sources"]] == [
        (1, "示例财经网", "https://cn.example/a1"),
        (2, "Tech Wire", None),  # a javascript: link never becomes one
    ]
    assert brief["sources"][0]["published_at"] == "2025-09-15T08:00:00Z"

    old = stories["S2"]["brief"]  # written before the ledger kept a brief's points: its core only
    assert (old["alert_id"], old["core_text"], old["core"], old["groups"], old["sources"]) == (
        "brief-s2", "Baidu's core point", None, [], [],
    )  # fmt: skip


def test_models_list_promotion_reports_with_their_replay(client: TestClient) -> None:
    page = _json(client, "/api/models")

    assert page["promotions_total"] == 2
    newest, decided = page["promotions"]
    assert (newest["report_id"], newest["decision"], newest["outcome"], newest["replay"]) == (
        "clf-bad~clf-old", "keep", None, None,
    )  # fmt: skip
    assert newest["has_chart"] is False and newest["decided_by"] is None
    assert (decided["candidate_version"], decided["current_version"]) == ("clf-new", "clf-old")
    assert (decided["decision"], decided["outcome"], decided["decided_by"]) == (
        "approve",
        "promoted",
        "alice",
    )
    assert decided["decided_at"] is not None and decided["created_at"] == "2025-09-15T08:00:00Z"
    assert decided["reason"] == "it changes 4 decisions" and decided["has_chart"] is True
    assert decided["replay"] == {
        "since": "2025-09-01T00:00:00Z",
        "until": "2025-09-15T00:00:00Z",
        "articles": 80,
        "added": 3,
        "dropped": 1,
        "changed": 4,
        "agreement": 0.95,
        "alerts_dropped": 1,
        "feedback_labels": 5,
    }


def test_a_promotion_report_in_full_and_its_chart(client: TestClient) -> None:
    report = _json(client, "/api/promotion", id=REPORT)
    assert report["promotion"]["outcome"] == "promoted"
    assert report["report"]["replay"]["summary"]["added"] == 3
    assert report["markdown"].startswith("## Candidate `clf-new`")

    chart = client.get("/promotion.png", params={"id": REPORT})
    assert chart.status_code == 200 and chart.headers["content-type"] == "image/png"
    assert chart.content == CHART
    assert client.get("/promotion.png", params={"id": "clf-bad~clf-old"}).status_code == 404
    assert client.get("/api/promotion", params={"id": "no-such-report"}).status_code == 404
    assert client.get("/api/promotion").status_code == 422  # the id is required

    html = client.get("/promotion", params={"id": REPORT}).text
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html and "<img src=x" not in html
    assert '<img class="chart" src="promotion.png?id=clf-new~clf-old"' in html
    models = client.get("/models").text
    assert 'href="promotion?id=clf-new~clf-old"' in models
    assert "+3 / −1" in models and "95.0%" in models and "alice" in models


def test_feedback_novelty_and_briefs_render_as_inert_text(client: TestClient) -> None:
    alerts = client.get("/alerts").text
    stories = client.get("/stories").text

    assert "✅ 2 · ❌ 1 (disagree)" in alerts and "✅ 1 · ❌ 1 (disputed)" in alerts
    assert 'option value="yes"' in alerts
    assert "Core viewpoint:</strong> Alibaba builds its own inference chip" in stories
    assert "Alibaba&#39;s T-Head taped out a chip &lt;script&gt;" in stories
    assert "出口管制可能影响供货" in stories and "[1, 2]" in stories
    assert "Earlier &lt;script&gt;" in stories and 'class="badge novelty-follow-up"' in stories
    for html in (alerts, stories):
        assert re.findall(r"<script[^>]*>", html, flags=re.I) == ['<script src="console.js" defer>']
        assert "<img" not in html and 'onerror="' not in html
        assert "javascript:" not in html


def _statements(store: Store, client: TestClient, path: str, **params: Any) -> int:
    """How many SQL statements one request runs."""
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(args[2])

    sa.event.listen(store.engine, "before_cursor_execute", count)
    try:
        _json(client, path, **params)
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", count)
    return len(seen)


# the smallest page that holds an article alert (the three brief rows are the newest alerts)
@pytest.mark.parametrize(("path", "small"), [("/api/alerts", 4), ("/api/stories", 1)])
def test_a_page_costs_the_same_queries_whatever_its_size(
    store: Store, client: TestClient, path: str, small: int
) -> None:
    assert _statements(store, client, path, limit=small) == _statements(store, client, path, limit=50)
