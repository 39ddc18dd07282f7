"""The distributed path for real: news_monitor under the CeleryExecutor, with Redis as the broker,
PostgreSQL for the metadata and the Celery result backend, and a real ``airflow celery worker``.

The worker alone consumes a queue made for this test (LocalExecutor is not running: the scheduler can only
hand tasks to Celery); the run succeeds, every task instance was queued there, the worker's log shows it
executed each task, and the alert task's result (XCom) shows it did its work.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from support.environment import create_pg_database, drop_pg_database, unavailable

from bench.cluster import AirflowCluster, wait_for

pytestmark = [pytest.mark.live, pytest.mark.postgres]

# The Celery broker for the test: NEWS_TEST_REDIS (host:port), default the local Redis.
REDIS_HOST, _, REDIS_PORT = os.environ.get("NEWS_TEST_REDIS", "127.0.0.1:6379").rpartition(":")


def _redis_reason() -> str | None:
    try:
        with socket.create_connection((REDIS_HOST, int(REDIS_PORT)), timeout=2) as s:
            s.sendall(b"PING\r\n")
            if not s.recv(16).startswith(b"+PONG"):
                return f"Redis at {REDIS_HOST}:{REDIS_PORT} did not answer PING"
    except OSError as e:
        return f"Redis not reachable at {REDIS_HOST}:{REDIS_PORT} ({e})"
    return None


@pytest.fixture
def celery_cluster(tmp_path: Path, archived_samples: dict[str, str]) -> Iterator[tuple[AirflowCluster, str]]:
    reason = _redis_reason()
    if reason:
        unavailable(reason)
    metadata_url = create_pg_database("chipnews_celery")
    result_backend = "db+" + sa.engine.make_url(metadata_url).render_as_string(hide_password=False)
    queue = f"chipnews-test-{uuid.uuid4().hex[:8]}"
    env = dict(archived_samples) | {
        "AIRFLOW__CELERY__BROKER_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/7",
        "AIRFLOW__CELERY__RESULT_BACKEND": result_backend,
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue,
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
    }
    home = tmp_path / "airflow"
    home.mkdir()
    c = AirflowCluster(home=home, metadata_url=metadata_url, env_extra=env, executor="CeleryExecutor")
    try:
        c.setup()
        c.start_core()
        c.start(
            "celery-worker",
            "celery", "worker", "--queues", queue, "--concurrency", "2", "--skip-serve-logs",
            "--celery-hostname", f"{queue}@%h",
        )  # fmt: skip
        c.wait_healthy()
        yield c, queue
    finally:
        leftovers = c.stop()
        drop_pg_database(metadata_url)
    assert leftovers == [], f"processes left behind: {leftovers}"


def test_news_monitor_runs_on_a_real_celery_worker(celery_cluster: tuple[AirflowCluster, str]) -> None:
    c, queue = celery_cluster
    c.wait_dag_parsed("news_monitor")
    assert c.api("PATCH", "/dags/news_monitor", json={"is_paused": False}).status_code == 200
    conf = {"since": "2025-09-15T00:00:00Z", "until": "2025-09-16T00:00:00Z", "fetch": False, "dry_run": True}
    r = c.api("POST", "/dags/news_monitor/dagRuns", json={"logical_date": None, "conf": conf})
    assert r.status_code in (200, 201), r.text
    run_id = r.json()["dag_run_id"]

    def done() -> str | None:
        state = c.api("GET", f"/dags/news_monitor/dagRuns/{run_id}").json()["state"]
        return state if state in ("success", "failed") else None

    state = wait_for(done, timeout=240, interval=3, what="the Celery-run news_monitor")
    assert state == "success", c.logs()

    tis: list[dict[str, Any]] = c.api("GET", f"/dags/news_monitor/dagRuns/{run_id}/taskInstances").json()[
        "task_instances"
    ]
    ran = [t for t in tis if t["state"] == "success"]
    assert {t["task_id"] for t in ran} >= {"plan", "store", "classify", "alert"}
    assert all(t["queue"] == queue for t in ran), [(t["task_id"], t["queue"]) for t in ran]
    worker_log = (c.home / "celery-worker.log").read_text(errors="replace")
    for task_id in ("plan", "store", "classify", "alert"):
        assert task_id in worker_log, f"the worker's log does not show task {task_id}"
    # the alert task did its work: dry-run payloads were written, and its XCom reports them
    xcom = c.api("GET", f"/dags/news_monitor/dagRuns/{run_id}/taskInstances/alert/xcomEntries/return_value")
    assert xcom.status_code == 200, xcom.text
    value = xcom.json()["value"]
    result = value if isinstance(value, dict) else json.loads(value)
    assert result["dry_run"] is True and result["planned"] > 0
