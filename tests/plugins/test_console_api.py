"""The console's JSON API and pages on a fixture store: what each page lists, its paging and filters, and
that feed text stays inert (escaped, never a script or a javascript: link).

The caller's login is checked by ``require_user`` (tested against Airflow in test_console_auth); here it is
overridden, as is the context, to give the app this store and a fixed clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from support.articles import add_alert, add_classified

from chip_news_airflow.console import create_console_app
from chip_news_airflow.console.app import CONTENT_SECURITY_POLICY, console_context
from chip_news_airflow.console.auth import require_user
from chip_news_airflow.console.views import ConsoleContext
from pipeline.settings import Settings
from pipeline.store import Store

T0 = datetime(2025, 9, 15, 8, 0, tzinfo=UTC)  # 16:00 in Asia/Shanghai, the default display timezone
NOW = datetime(2025, 9, 16, 4, 0, tzinfo=UTC)
HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2"> Baidu chip'


def _fill(store: Store) -> None:
    """Two stories with alerts (one hostile), an irrelevant story, feed health, two models."""
    add_classified(
        store, "a-zh", at=T0, story="S-ali", source="示例财经网", title="阿里平头哥新芯片", language="zh"
    )
    add_classified(store, "a-en", at=T0 + timedelta(minutes=30), story="S-ali", source="Tech Wire")
    add_classified(
        store, "h1", at=T0 + timedelta(hours=1), story="S-hostile", title=HOSTILE, companies=("Baidu",),
        url="javascript:alert(1)",
    )  # fmt: skip
    add_classified(store, "n1", at=T0 + timedelta(hours=2), story="S-n", relevant=False, score=0.1)

    for alert_id, hour in (("old-1", 15), ("digest-1", 17)):  # 2025-09-14 23:00 and 09-15 01:00 in Shanghai
        add_alert(
            store, alert_id, at=datetime(2025, 9, 14, hour, 0, tzinfo=UTC), kind="digest", state="posted"
        )
    add_alert(
        store, "story-ali", at=T0 + timedelta(minutes=10), story_id="S-ali", article_id="a-zh",
        state="posted", posted_at=T0 + timedelta(minutes=12), permalink="https://slack.example/archives/C1/p1",
    )  # fmt: skip
    add_alert(
        store, "update-ali", at=T0 + timedelta(minutes=40), kind="update", story_id="S-ali",
        article_id="a-en", state="pending", error="ratelimited: retried on the next run",
    )  # fmt: skip
    add_alert(
        store, "story-h", at=T0 + timedelta(minutes=50), channel="dry-run:#chip-alerts", story_id="S-hostile",
        article_id="h1", state="failed", error="channel_not_found", permalink="javascript:alert(2)",
    )  # fmt: skip

    url = "http://127.0.0.1:8765/feeds/"
    store.record_feed_result("sample-cn-finance", url, ok=True, at=NOW - timedelta(days=1, hours=1), status=200,
                             items=6, new_items=6, encoding="gb18030")  # fmt: skip
    store.record_feed_result("sample-cn-finance", url, ok=True, at=NOW - timedelta(hours=1), status=200,
                             items=8, new_items=2, encoding="gb18030")  # fmt: skip
    for hours in (3, 2):
        store.record_feed_result("sample-en-tech", url, ok=False, at=NOW - timedelta(hours=hours), status=503,
                                 error="HTTP 503 <b>busy</b>", backoff_until=NOW + timedelta(hours=1))  # fmt: skip
    store.record_feed_result("retired-feed", url, ok=True, at=NOW - timedelta(days=20), status=200, items=1)

    metrics = {"precision": 0.95, "recall": 0.97, "f1": 0.96, "event_type_accuracy": 0.9}
    card = {"feature_set": "char", "threshold": 0.48, "n_train": 900, "n_holdout": 250}
    store.register_model("clf-old", data_hash="d1", metrics=metrics, card=card, artifact=b"old")
    store.register_model(
        "clf-new", data_hash="d2", metrics={**metrics, "f1": 0.97}, card=card, artifact=b"new"
    )
    store.promote_model("clf-old")


@pytest.fixture
def client(settings: Settings, sqlite_store: Store) -> Iterator[TestClient]:
    _fill(sqlite_store)
    app = create_console_app()
    app.dependency_overrides[require_user] = lambda: "analyst"
    app.dependency_overrides[console_context] = lambda: ConsoleContext(
        settings, sqlite_store, now=lambda: NOW
    )
    with TestClient(app) as client:
        yield client


def _json(client: TestClient, path: str, **params: Any) -> dict[str, Any]:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_alerts_newest_first_with_their_article_and_state(client: TestClient) -> None:
    page = _json(client, "/api/alerts")

    assert [a["alert_id"] for a in page["alerts"]] == [
        "story-h",
        "update-ali",
        "story-ali",
        "digest-1",
        "old-1",
    ]
    by_id = {a["alert_id"]: a for a in page["alerts"]}
    ali = by_id["story-ali"]
    assert (ali["channel"], ali["dry_run"], ali["state"]) == ("#chip-alerts", False, "posted")
    assert ali["title"] == "阿里平头哥新芯片" and ali["source"] == "示例财经网" and ali["language"] == "zh"
    assert ali["companies"] == ["Alibaba"] and ali["event_type"] == "self_development"
    assert ali["score"] == pytest.approx(0.91) and ali["model_version"] == "m1"
    assert ali["permalink"] == "https://slack.example/archives/C1/p1"
    assert ali["posted_at"] == "2025-09-15T08:12:00Z"
    assert by_id["update-ali"]["state"] == "pending" and "ratelimited" in by_id["update-ali"]["error"]
    hostile = by_id["story-h"]
    assert (hostile["channel"], hostile["dry_run"], hostile["state"]) == ("#chip-alerts", True, "failed")
    assert hostile["title"] == HOSTILE  # the API returns the text as it is: JSON is not HTML
    assert hostile["url"] is None and hostile["permalink"] is None  # javascript: never becomes a link
    assert by_id["digest-1"]["title"] is None and by_id["digest-1"]["companies"] == []
    assert "Alibaba" in page["options"]["companies"] and page["timezone"] == "Asia/Shanghai"
    assert page["next_cursor"] is None


def test_alert_pages_follow_the_cursor_to_the_end(client: TestClient) -> None:
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page = _json(client, "/api/alerts", limit=2, **({"cursor": cursor} if cursor else {}))
        seen += [a["alert_id"] for a in page["alerts"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["story-h", "update-ali", "story-ali", "digest-1", "old-1"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"company": "Alibaba"}, {"story-ali", "update-ali"}),
        ({"company": "Baidu"}, {"story-h"}),
        ({"event_type": "self_development", "state": "failed"}, {"story-h"}),
        ({"state": ["pending", "failed"]}, {"update-ali", "story-h"}),
        ({"company": "", "event_type": "", "state": "", "since": "", "until": ""}, None),  # an empty form
        # days are whole days in Asia/Shanghai: digest-1 (2025-09-14 17:00 UTC) belongs to the 15th there
        ({"since": "2025-09-15"}, {"digest-1", "story-ali", "update-ali", "story-h"}),
        ({"until": "2025-09-14"}, {"old-1"}),
        ({"since": "2025-09-15", "until": "2025-09-15", "company": "Alibaba"}, {"story-ali", "update-ali"}),
        ({"since": "2025-09-16"}, set()),
    ],
)
def test_alert_filters(client: TestClient, params: dict[str, Any], expected: set[str] | None) -> None:
    page = _json(client, "/api/alerts", **params)
    found = {a["alert_id"] for a in page["alerts"]}
    assert found == (
        expected if expected is not None else {a["alert_id"] for a in _json(client, "/api/alerts")["alerts"]}
    )


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"cursor": "not-a-cursor"}, 400),
        ({"state": "lost"}, 400),
        ({"event_type": "rumour"}, 400),
        ({"since": "2025-13-01"}, 400),
        ({"limit": 0}, 422),
        ({"limit": 201}, 422),
    ],
)
def test_bad_alert_queries_are_refused_with_the_reason(
    client: TestClient, params: dict[str, Any], status: int
) -> None:
    response = client.get("/api/alerts", params=params)
    assert response.status_code == status
    assert "alerts" not in response.json()


def test_stories_list_sources_first_source_and_time_to_alert(client: TestClient) -> None:
    page = _json(client, "/api/stories")

    assert [s["story_id"] for s in page["stories"]] == ["S-hostile", "S-ali"]  # no relevant article in S-n
    ali = page["stories"][1]
    assert ali["source_count"] == 2 and ali["languages"] == {"en": 1, "zh": 1}
    assert [s["article_id"] for s in ali["sources"]] == ["a-zh", "a-en"]
    assert ali["first_source"]["source"] == "示例财经网"
    assert ali["first_published_at"] == "2025-09-15T08:00:00Z"
    assert ali["first_alert_at"] == "2025-09-15T08:12:00Z" and ali["minutes_to_alert"] == 12
    assert [(a["alert_id"], a["state"]) for a in ali["alerts"]] == [
        ("story-ali", "posted"),
        ("update-ali", "pending"),
    ]
    assert page["stories"][0]["sources"][0]["url"] is None  # javascript: dropped
    everything = _json(client, "/api/stories", relevant="false")
    assert [s["story_id"] for s in everything["stories"]] == ["S-n", "S-hostile", "S-ali"]
    first = _json(client, "/api/stories", limit=1)
    rest = _json(client, "/api/stories", limit=1, cursor=first["next_cursor"])
    assert [s["story_id"] for s in first["stories"] + rest["stories"]] == ["S-hostile", "S-ali"]
    assert rest["next_cursor"] is None


def test_feeds_show_health_and_a_week_of_attempts(client: TestClient) -> None:
    page = _json(client, "/api/feeds")

    feeds = {f["feed_id"]: f for f in page["feeds"]}
    assert list(feeds)[:5] == [  # the feed list's order, then feeds only the store knows
        "sample-cn-finance", "sample-cn-tech", "sample-en-business", "sample-en-tech", "sample-semi-trade"
    ]  # fmt: skip
    finance = feeds["sample-cn-finance"]
    assert (finance["status"], finance["http_status"], finance["encoding"]) == ("ok", 200, "gb18030")
    assert finance["items_last"] == 8 and finance["items_per_run"] == 7.0
    assert [d["day"] for d in finance["days"]] == [f"2025-09-{d}" for d in range(10, 17)]
    assert [(d["attempts"], d["items"]) for d in finance["days"][-2:]] == [(1, 6), (1, 8)]
    tech = feeds["sample-en-tech"]
    assert (tech["status"], tech["consecutive_failures"], tech["http_status"]) == ("backoff", 2, 503)
    assert tech["last_error"] == "HTTP 503 <b>busy</b>" and tech["items_per_run"] is None
    assert tech["days"][-1] == {"day": "2025-09-16", "attempts": 2, "failures": 2, "items": 0, "new_items": 0}
    assert feeds["sample-cn-tech"]["status"] == "never"
    retired = feeds["retired-feed"]
    assert retired["in_feed_list"] is False and retired["status"] == "disabled"
    assert page["status_counts"] == {"ok": 1, "failing": 0, "backoff": 1, "never": 3, "disabled": 1}

    never = _json(client, "/api/feeds", status="never", limit=2)
    assert [f["feed_id"] for f in never["feeds"]] == ["sample-cn-tech", "sample-en-business"]
    assert never["total"] == 3 and never["next_offset"] == 2
    rest = _json(client, "/api/feeds", status="never", limit=2, offset=2)
    assert [f["feed_id"] for f in rest["feeds"]] == ["sample-semi-trade"] and rest["next_offset"] is None
    assert client.get("/api/feeds", params={"status": "sleepy"}).status_code == 400


def test_models_newest_first_with_the_promoted_one(client: TestClient) -> None:
    page = _json(client, "/api/models")

    assert [m["version"] for m in page["models"]] == ["clf-new", "clf-old"]
    assert page["current"] == "clf-old"
    new, old = page["models"]
    assert old["is_current"] and not new["is_current"] and old["promoted_at"] is not None
    assert new["metrics"]["f1"] == 0.97 and new["threshold"] == 0.48 and new["feature_set"] == "char"
    assert new["stored_bytes"] == 3


@pytest.mark.parametrize("page", ["alerts", "stories", "feeds", "models"])
def test_pages_render_with_relative_links_and_only_their_own_script(client: TestClient, page: str) -> None:
    response = client.get(f"/{page}")

    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    policy = dict(p.strip().split(" ", 1) for p in CONTENT_SECURITY_POLICY.split(";"))
    assert policy["script-src"] == "'self'" and policy["default-src"] == "'none'"  # nothing inline runs
    html = response.text
    assert re.findall(r"<script[^>]*>", html, flags=re.I) == ['<script src="console.js" defer>']
    links = re.findall(r'(?:href|src|action)="([^"]*)"', html)
    assert links, "a page without links"
    for link in links:
        assert not link.startswith("/"), f"{link!r}: an absolute path breaks under a URL prefix"
        assert not link.lower().startswith("javascript:")
        if "://" in link:
            assert link.startswith(("https://", "http://")) and page in ("alerts", "stories")


def test_hostile_feed_text_renders_as_inert_text(client: TestClient) -> None:
    alerts = client.get("/alerts").text
    stories = client.get("/stories").text
    feeds = client.get("/feeds").text

    escaped = (
        "&lt;script&gt;window.__pwned=1&lt;/script&gt;&lt;img src=x onerror=&#34;window.__pwned=2&#34;&gt;"
    )
    for html in (alerts, stories):
        assert escaped in html
        assert "<img" not in html and 'onerror="' not in html
    assert "HTTP 503 &lt;b&gt;busy&lt;/b&gt;" in feeds


def test_the_feeds_page_draws_a_week_per_feed(client: TestClient) -> None:
    html = client.get("/feeds").text

    charts = re.findall(r'<svg class="week".*?</svg>', html, flags=re.S)
    assert len(charts) == 6
    for chart in charts:
        assert chart.count("<rect") == 7 and chart.count("<title>") == 7
    finance = charts[0]
    assert 'class="bar ok"' in finance and "2025-09-16: 1 runs, 0 failed, 8 items (2 new)" in finance
    assert 'class="bar failed"' in charts[3]  # sample-en-tech failed every attempt today


def test_the_index_sends_to_the_alerts_page_relatively(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 307 and response.headers["location"] == "alerts"
