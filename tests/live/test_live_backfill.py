"""A live scheduler: api-server, scheduler and dag-processor (LocalExecutor, metadata on PostgreSQL in its
own database) run news_monitor; a backfill over past intervals of archived sample data is created through
the REST API, and the fake Slack server must receive each expected alert exactly once — and nothing more
when part of it is backfilled again with ``reprocess_behavior: completed`` (those runs run again).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support.environment import create_pg_database, drop_pg_database
from support.fake_slack import FakeSlack

from bench.cluster import AirflowCluster, wait_for
from pipeline.settings import PROJECT_ROOT

pytestmark = [pytest.mark.live, pytest.mark.postgres]

EXPECTED = json.loads((PROJECT_ROOT / "samples" / "expected.json").read_text(encoding="utf-8"))
WINDOW = EXPECTED["windows"]["backfill"]
CHANNEL = "#chip-alerts"


def _mentions(messages: list[dict[str, Any]], item: dict[str, Any]) -> list[dict[str, Any]]:
    url = item["url"].split("?")[0]
    return [m for m in messages if url in json.dumps(m, ensure_ascii=False)]


@pytest.fixture
def cluster(
    tmp_path: Path, archived_samples: dict[str, str], pg_url: str
) -> Iterator[tuple[AirflowCluster, FakeSlack]]:
    metadata_url = create_pg_database("chipnews_airflow")
    with FakeSlack() as slack:
        slack.add_channel(CHANNEL)
        conn = {"conn_type": "slack", "password": "xoxb-test", "extra": {"base_url": slack.base_url}}
        env = dict(archived_samples) | {"AIRFLOW_CONN_SLACK_API_DEFAULT": json.dumps(conn)}
        home = tmp_path / "airflow"
        home.mkdir()
        c = AirflowCluster(home=home, metadata_url=metadata_url, env_extra=env)
        try:
            c.setup()
            c.start_core()
            c.wait_healthy()
            yield c, slack
        finally:
            leftovers = c.stop()
            drop_pg_database(metadata_url)
        assert leftovers == [], f"processes left behind: {leftovers}"


def _backfill(c: AirflowCluster, reprocess: str, start: str, end: str) -> dict[str, Any]:
    r = c.api(
        "POST",
        "/backfills",
        json={
            "dag_id": "news_monitor",
            "from_date": start,
            "to_date": end,
            "reprocess_behavior": reprocess,
            "max_active_runs": 4,
        },
    )
    assert r.status_code in (200, 201), r.text
    backfill: dict[str, Any] = r.json()

    def finished() -> bool:
        state = c.api("GET", f"/backfills/{backfill['id']}").json()
        if state.get("completed_at"):
            return True
        runs = c.api(
            "GET", "/dags/news_monitor/dagRuns", params={"run_type": "backfill", "limit": 100}
        ).json()
        failed = [r["dag_run_id"] for r in runs["dag_runs"] if r["state"] == "failed"]
        assert not failed, f"backfill runs failed: {failed}\n{c.logs()}"
        return False

    try:
        wait_for(finished, timeout=300, interval=3, what=f"backfill ({reprocess}) to complete")
    except TimeoutError as e:
        runs = c.api("GET", "/dags/news_monitor/dagRuns", params={"limit": 100}).json()
        states = [(r["dag_run_id"], r["run_type"], r["state"]) for r in runs.get("dag_runs", [])]
        raise AssertionError(f"{e}\nruns: {states}\n{c.logs()}") from e
    return backfill


def _backfill_runs(c: AirflowCluster) -> dict[str, dict[str, Any]]:
    """The backfill runs by logical date (ISO, UTC ``Z``)."""
    body = c.api("GET", "/dags/news_monitor/dagRuns", params={"run_type": "backfill", "limit": 100}).json()
    return {_utc(r["logical_date"]): r for r in body["dag_runs"]}


def _utc(stamp: str) -> str:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _plus_minutes(stamp: str, minutes: int) -> str:
    return _utc(
        (datetime.fromisoformat(stamp.replace("Z", "+00:00")) + timedelta(minutes=minutes)).isoformat()
    )


def test_backfill_through_the_rest_api_alerts_each_archived_story_once(
    cluster: tuple[AirflowCluster, FakeSlack],
) -> None:
    c, slack = cluster
    c.wait_dag_parsed("news_monitor")
    assert c.api("PATCH", "/dags/news_monitor", json={"is_paused": False}).status_code == 200

    _backfill(c, "none", WINDOW["start"], WINDOW["end"])
    runs = _backfill_runs(c)
    assert len(runs) >= 8 and {r["state"] for r in runs.values()} == {"success"}, runs

    messages = slack.messages_for(CHANNEL)
    relevant = [i for i in EXPECTED["items"] if i["window"] == "backfill" and i["relevant"]]
    irrelevant = [i for i in EXPECTED["items"] if i["window"] == "backfill" and not i["relevant"]]
    for item in relevant:
        found = _mentions(messages, item)
        assert len(found) == 1, f"{item['title']!r} arrived {len(found)} times"
        parent = next(m for m in messages if m["ts"] == found[0].get("thread_ts"))
        assert "backfill" in json.dumps(parent, ensure_ascii=False).lower()
    for item in irrelevant:
        assert _mentions(messages, item) == []
    posted = len(slack.messages)

    # The first half hour again, re-running its completed intervals (which alerted the items published at
    # 06:10 and 06:20): they run a second time, and nothing new reaches Slack.
    again = {"start": WINDOW["start"], "end": _plus_minutes(WINDOW["start"], 30)}
    rerun = [i for i in relevant if again["start"] <= i["published"] < again["end"]]
    assert len(rerun) >= 2, rerun
    _backfill(c, "completed", again["start"], again["end"])
    after = _backfill_runs(c)
    redone = {k for k in runs if after[k]["end_date"] != runs[k]["end_date"]}
    assert redone and all(again["start"] <= k <= again["end"] for k in redone), (redone, again)
    assert {after[k]["state"] for k in redone} == {"success"}, after
    assert len(slack.messages) == posted
