"""`make demo`: run news_monitor once through Airflow on the bundled sample feeds and show the alerts.

The sample feeds are served from loopback and fetched through the pipeline's real HTTP path; the store
is SQLite (var/news.db); with no Slack token the exact chat.postMessage payloads go to the dry-run file
and a preview of each is printed here. With SLACK_BOT_TOKEN and NEWS_SLACK_CHANNEL set, it posts.

The run is a manual run over the sample "day" (2025-09-15 UTC). The samples' items of 2025-09-14
06:00-08:00 UTC are archived but not processed: backfill those intervals from the UI (`make up`) to see
the backfill message. Stories with two sources or more get a brief in their thread (the five-source
Alibaba story among them); every alert's context line carries its novelty stamp. The minutes to the
alert count from the sample day's publish times to now: the demo replays a past day.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import warnings
from pathlib import Path

DEMO_WINDOW = {"since": "2025-09-15T00:00:00Z", "until": "2025-09-16T00:00:00Z"}
ROOT = Path(__file__).resolve().parents[1]


def _count_lines(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open("rb") as fh:
        return sum(1 for _ in fh)


def main() -> int:
    from pipeline.sample_server import DEFAULT_PORT, make_server, write_sample_feed_list
    from pipeline.settings import Settings

    port = int(os.environ.get("SAMPLE_PORT", str(DEFAULT_PORT)))
    feeds_file = Settings.from_env().feeds_file
    if port != DEFAULT_PORT and feeds_file.name == "feeds.sample.yaml":
        # the bundled list names the default port: the tasks read a copy pointed at this one
        copy = write_sample_feed_list(f"http://127.0.0.1:{port}", ROOT / "var" / f"feeds.sample.{port}.yaml")
        os.environ["NEWS_FEEDS_FILE"] = str(copy)
    settings = Settings.from_env()
    try:
        server = make_server("127.0.0.1", port)
    except OSError as e:
        print(
            f"demo: cannot serve the sample feeds on 127.0.0.1:{port} ({e}); set SAMPLE_PORT", file=sys.stderr
        )
        return 1
    import threading

    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"demo: sample feeds served at http://127.0.0.1:{port}/feeds/ ({settings.feeds_file.name})")
    print(
        f"demo: store {settings.db_url}; Slack: {'dry run -> ' + str(settings.dry_run_file) if settings.dry_run else 'posting'}"
    )

    before = _count_lines(settings.dry_run_file)
    # The pipeline's progress lines, not Airflow's own chatter (set before Airflow reads its config).
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("AIRFLOW__LOGGING__NAMESPACE_LEVELS", "pipeline=INFO chip_news_airflow=INFO")
    # Raised by Airflow's in-process execution API under dag.test only, never in a real worker.
    warnings.filterwarnings("ignore", message=r"Using `httpx` with `starlette\.testclient`")
    logging.basicConfig(level=logging.WARNING)
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    if bag.import_errors:
        for path, err in bag.import_errors.items():
            print(f"demo: DAG import error in {path}:\n{err}", file=sys.stderr)
        return 1
    dag = bag.dags["news_monitor"]
    started = time.monotonic()
    print(
        f"demo: running news_monitor through Airflow (dag.test) for the window {DEMO_WINDOW} ...", flush=True
    )
    dag_run = dag.test(run_conf=DEMO_WINDOW)
    server.shutdown()
    state = str(getattr(dag_run, "state", "unknown"))
    print(f"demo: news_monitor finished: {state} in {time.monotonic() - started:.1f}s")
    for ti in sorted(dag_run.get_task_instances(), key=lambda t: (t.start_date or started, t.task_id)):
        index = f"[{ti.map_index}]" if ti.map_index >= 0 else ""
        print(f"demo:   {ti.task_id}{index}: {ti.state}")
    print()
    if "success" not in state:
        print("demo: the run did not succeed; see the task logs above", file=sys.stderr)
        return 1

    if settings.dry_run:
        from pipeline.slack.blocks import render_preview

        lines = (
            settings.dry_run_file.read_text(encoding="utf-8").splitlines()[before:]
            if settings.dry_run_file.exists()
            else []
        )
        posts = [json.loads(line) for line in lines if line.strip()]
        messages = [p for p in posts if p.get("method") in ("chat.postMessage", "chat.update")]
        edits = sum(1 for p in messages if p["method"] == "chat.update")
        print(
            f"=== {len(messages) - edits} Slack message(s) and {edits} edit(s) written to "
            f"{settings.dry_run_file} (dry run) ===\n"
        )
        for post in messages:
            print(render_preview(post.get("payload", {})))
            print()
        if not messages:
            print("No new alerts: every relevant sample story was already alerted by an earlier demo run.")
            print("(Delete var/news.db and var/slack-dry-run.jsonl to start over.)\n")
    print(
        "Next: `.venv/bin/python -m pipeline feeds` (feed health), `.venv/bin/python -m pipeline articles --relevant`,"
    )
    print("`make up` and backfill news_monitor from 2025-09-14T06:00 to 2025-09-14T08:00 (UTC) in the UI.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
