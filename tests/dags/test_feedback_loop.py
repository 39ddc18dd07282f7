"""The feedback loop through Airflow (dag.test) on a small fixture, against the fake Slack Web API with
reactions (the real slack_sdk, analysts reacting with their own tokens):

- collect_feedback records a vote once, records nothing new when run again, and follows a changed vote;
- an analyst's ❌ on an alert is, after collect_feedback and retrain_classifier, a training label with its
  provenance, and the candidate's replay report shows the alert as dropped;
- a worse candidate is never promoted; one that changes many decisions waits for an operator's approval
  (approved: promoted, rejected: not); a rollback restores the previous version.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient
from support.environment import settings_env
from support.fake_clock import FakeClock
from support.fake_slack import FakeSlack
from support.feedback import RUMOUR, SMALL, archive_items, classify, copy_small_training_file, small_items
from support.models import install_model

from pipeline.cli import main
from pipeline.models import RunInfo
from pipeline.settings import PROJECT_ROOT, Settings
from pipeline.slack.client import ChannelPacer, WebApiPoster, make_client
from pipeline.store import Store, get_store

pytestmark = pytest.mark.airflow

ALERTS, OPS = "#chip-alerts", "#chip-ops"
APPROVER = "Anonymous"  # who the API answers as when every user is an admin (SimpleAuthManager)


def _dag(name: str) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags" / f"{name}.py"))
    assert bag.import_errors == {}
    return bag.dags[name]


def _states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state).rsplit(".", 1)[-1].lower() for ti in dag_run.get_task_instances()}


@pytest.fixture(scope="module")
def base_model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The current model: trained on the small file as retrain_classifier trains (feature set ``auto``)."""
    from pipeline.model.training import train_and_save

    folder = tmp_path_factory.mktemp("base-model")
    return train_and_save(train_paths=[SMALL], model_dir=folder, store=None, promote=False).path


@dataclass
class Loop:
    settings: Settings
    slack: FakeSlack
    store: Store
    base_version: str
    alerted: list[str] = field(default_factory=list)

    def ts(self, article_id: str) -> str:
        (alert,) = [a for a in self.store.alerts(kinds=["story"]) if a.article_id == article_id]
        assert alert.ts
        return alert.ts

    def react(self, user: str, article_id: str, emoji: str, *, remove: bool = False) -> None:
        client = WebClient(token=self.slack.user_token(user), base_url=self.slack.base_url)
        call = client.reactions_remove if remove else client.reactions_add
        call(channel=self.slack.channel_id(ALERTS), timestamp=self.ts(article_id), name=emoji)

    def current(self) -> str:
        record = self.store.current_model()
        assert record is not None
        return record.version

    def thread(self, article_id: str) -> list[dict[str, Any]]:
        return [m for m in self.slack.messages if m["thread_ts"] == self.ts(article_id)]


@pytest.fixture
def loop(
    tmp_path: Path, base_model_file: Path, monkeypatch: pytest.MonkeyPatch, airflow_db: Path
) -> Iterator[Loop]:
    """A NEWS_HOME whose training data is the small file, whose promoted model is trained on it, and whose
    archive holds a day of articles that model classified and alerted to the fake Slack."""
    copy_small_training_file(tmp_path)
    with FakeSlack() as slack:
        values = settings_env(
            tmp_path,
            NEWS_OPS_CHANNEL=OPS,
            NEWS_DIGEST_THRESHOLD="50",
            NEWS_PROMOTION_MAX_CHANGED_ALERTS="1000",
            NEWS_PROMOTION_MAX_CHANGED_SHARE="1.0",
        )
        for key, value in values.items():
            monkeypatch.setenv(key, value)
        conn = {"conn_type": "slack", "password": "xoxb-test", "extra": {"base_url": slack.base_url}}
        monkeypatch.setenv("AIRFLOW_CONN_SLACK_API_DEFAULT", json.dumps(conn))
        for channel in (ALERTS, OPS):
            slack.add_channel(channel)
        get_store.cache_clear()
        settings = Settings.from_env()
        version = install_model(settings.db_url, base_model_file)
        store = get_store(settings.db_url)

        from pipeline.cycle import load_model
        from pipeline.slack.alerts import send_alerts

        now = datetime.now(UTC)
        ids = archive_items(store, [RUMOUR, *small_items(24)], at=now - timedelta(days=1))
        relevant = classify(store, load_model(settings), ids)
        assert "rumour" in relevant, "the current model alerts the rumour (the false alarm analysts reject)"
        run = RunInfo("scheduled__day", "scheduled", now - timedelta(days=1, minutes=5), now)
        # as news_monitor's alert task posts them, paced on a fake clock (a day's alerts without the wait)
        clock = FakeClock()
        client = make_client(
            "xoxb-test", base_url=slack.base_url, sleep=clock.sleep, backoff=0.001, timeout=5
        )
        poster = WebApiPoster(client, pacer=ChannelPacer(clock=clock, sleep=clock.sleep))
        send_alerts(store, settings, article_ids=relevant, run=run, poster=poster)
        yield Loop(settings, slack, store, version, relevant)


def test_collect_feedback_records_a_vote_once_and_follows_a_change(loop: Loop) -> None:
    loop.react("UALICE", "rumour", "x")
    dag = _dag("collect_feedback")
    assert set(_states(dag.test()).values()) == {"success"}
    (vote,) = loop.store.feedback_votes()
    assert (vote.article_id, vote.voter, vote.label, vote.emoji) == (
        "rumour",
        "slack:UALICE",
        "not_relevant",
        "x",
    )
    assert vote.alert_id and vote.model_version == loop.base_version and vote.story_id
    (ack,) = loop.thread("rumour")
    assert ack["text"] == "Recorded as not relevant; the next retrain will learn from it."

    # run again: nothing new is recorded, nothing is posted
    version, messages = loop.store.feedback_version(), len(loop.slack.messages)
    assert set(_states(dag.test()).values()) == {"success"}
    assert loop.store.feedback_version() == version and len(loop.slack.messages) == messages
    assert [v.revision for v in loop.store.feedback_votes()] == [1]

    # Alice changes her mind in Slack: the label follows, the alert is not acknowledged again
    loop.react("UALICE", "rumour", "x", remove=True)
    loop.react("UALICE", "rumour", "white_check_mark")
    assert set(_states(dag.test()).values()) == {"success"}
    (vote,) = loop.store.feedback_votes()
    assert (vote.label, vote.emoji, vote.revision) == ("relevant", "white_check_mark", 2)
    assert len(loop.thread("rumour")) == 1


def test_an_analysts_x_becomes_a_training_label_and_the_replay_shows_the_alert_dropped(
    loop: Loop, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    loop.react("UALICE", "rumour", "x")
    assert set(_states(_dag("collect_feedback").test()).values()) == {"success"}
    states = _states(_dag("retrain_classifier").test())
    assert states == {
        "train": "success",
        "evaluate": "success",
        "announce": "success",
        "decide": "success",
        "promote_now": "success",
        "approve": "skipped",
        "keep": "skipped",
        "promote": "success",
        "finish": "success",
    }

    # the vote is a training label of the candidate, with its provenance
    candidate = loop.current()
    assert candidate != loop.base_version
    card = loop.store.get_model(candidate).card  # type: ignore[union-attr]
    assert card["feedback"]["train_ids"] == ["fb-rumour"] and card["feedback"]["version"] == 1
    export = tmp_path / "feedback.jsonl"
    assert main(["feedback", "export", "--output", str(export)]) == 0
    (line,) = [json.loads(row) for row in export.read_text(encoding="utf-8").splitlines()]
    assert (line["id"], line["label"], line["title"]) == ("fb-rumour", 0, RUMOUR["title"])
    (vote,) = line["provenance"]["votes"]
    assert (vote["voter"], vote["emoji"], vote["model_version"]) == ("slack:UALICE", "x", loop.base_version)
    assert vote["alert_id"] == next(
        a.alert_id for a in loop.store.alerts(kinds=["story"]) if a.article_id == "rumour"
    )

    # the candidate's replay report shows the alert as dropped: in the store, on disk, in the ops channel
    (report,) = loop.store.promotion_reports(candidate_version=candidate)
    assert report.outcome == "promoted" and report.decided_by == "retrain_classifier (automatic)"
    (rumour,) = [d for d in report.report["replay"]["alerts_dropped"] if d["article_id"] == "rumour"]
    assert rumour["feedback"] == "not_relevant" and rumour["alert_ids"] and rumour["candidate"] is False
    folder = loop.settings.home / "var" / "reports" / "promotion" / report.report_id
    replay = json.loads((folder / "replay.json").read_text(encoding="utf-8"))
    assert "rumour" in [d["article_id"] for d in replay["alerts_dropped"]]
    assert (folder / "replay.png").read_bytes().startswith(b"\x89PNG")
    assert "Alerts the candidate would not have sent" in (folder / "replay.md").read_text(encoding="utf-8")
    (announcement,) = [m for m in loop.slack.messages_for(OPS) if not m["thread_ts"]]
    text = json.dumps(announcement["blocks"], ensure_ascii=False)
    assert f"Candidate model {candidate}: promote automatically" in text and RUMOUR["title"] in text
    in_thread = [m for m in loop.slack.messages_for(OPS) if m["thread_ts"] == announcement["ts"]]
    assert [m["text"] for m in in_thread] == [
        f"Promoted {candidate} (retrain_classifier (automatic)). Roll back with: python -m pipeline models "
        f"promote {loop.base_version}"
    ]
    assert [u["thread_ts"] for u in loop.slack.uploads] == [announcement["ts"]]  # the replay chart

    # `replay` from the command line shows the same drop
    out = tmp_path / "replay"
    args = [
        "replay",
        "--model",
        candidate,
        "--against",
        loop.base_version,
        "--since",
        "3d",
        "--report-dir",
        str(out),
    ]
    assert main(args) == 0
    assert "rumour" in [
        d["article_id"] for d in json.loads((out / "replay.json").read_text())["alerts_dropped"]
    ]

    # rollback: the previous version is current again, and the log says who did it
    assert main(["models", "promote", loop.base_version, "--by", "alice", "--reason", "too quiet"]) == 0
    assert loop.current() == loop.base_version
    from pipeline.cycle import load_model

    assert load_model(loop.settings).version == loop.base_version  # what news_monitor classifies with
    history = loop.store.promotions()
    assert [(h.version, h.previous_version, h.promoted_by) for h in history[-2:]] == [
        (candidate, loop.base_version, "retrain_classifier (automatic)"),
        (loop.base_version, candidate, "alice"),
    ]
    capsys.readouterr()
    assert main(["models", "history"]) == 0
    assert f"{loop.base_version}  (was {candidate})  by alice: too quiet" in capsys.readouterr().out


def test_a_worse_candidate_is_never_promoted(loop: Loop) -> None:
    from pipeline.model.dataset import load_labelled
    from pipeline.model.training import split_holdout

    # every label the candidate trains on is inverted (never the held-out ones the checks score with)
    path = loop.settings.home / "data" / "train" / "small.jsonl"
    held = {i.id for i in split_holdout(load_labelled([path]))[1]}
    rows = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        item = json.loads(raw)
        if item["id"] not in held:
            item["label"] = 1 - item["label"]
            item["event_type"] = None if item["label"] == 0 else "self_development"
            item["companies"] = item["companies"] or ["Google"]
        rows.append(json.dumps(item, ensure_ascii=False))
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")

    states = _states(_dag("retrain_classifier").test())
    assert states["keep"] == "success" and states["promote"] == "skipped" and states["approve"] == "skipped"
    assert states["finish"] == "success"
    assert loop.current() == loop.base_version
    (report,) = loop.store.promotion_reports()
    assert report.decision == "keep" and report.outcome == "kept" and "worse" in report.reason
    outcome = [m["text"] for m in loop.slack.messages_for(OPS) if m["thread_ts"]]
    assert len(outcome) == 1 and outcome[0].startswith("Not promoted: candidate")


@dataclass
class Operator:
    """An operator who answers the approval page (the HITL REST API, as the UI does) once the run waits,
    noting what they saw while it waited."""

    loop: Loop
    choice: str
    seen: dict[str, Any] = field(default_factory=dict)
    thread: threading.Thread | None = None

    def start(self, known_runs: set[str]) -> None:
        self.thread = threading.Thread(target=self._answer, args=(known_runs,), daemon=True)
        self.thread.start()

    def _awaiting(self, known_runs: set[str]) -> Any:
        from airflow.models.taskinstance import TaskInstance
        from airflow.utils.session import create_session
        from airflow.utils.state import TaskInstanceState

        with create_session() as session:
            tis = (
                session.query(TaskInstance)
                .filter(
                    TaskInstance.dag_id == "retrain_classifier",
                    TaskInstance.task_id == "approve",
                    TaskInstance.state == TaskInstanceState.AWAITING_INPUT,
                )
                .all()
            )
            session.expunge_all()
        return [ti for ti in tis if ti.run_id not in known_runs]

    def _answer(self, known_runs: set[str]) -> None:
        deadline = time.monotonic() + 300
        waiting: list[Any] = []
        try:
            while not waiting and time.monotonic() < deadline:
                time.sleep(0.5)
                waiting = self._awaiting(known_runs)
            if not waiting:
                self.seen["error"] = "the approval task never waited"
                return
            (ti,) = waiting
            self.seen["current_while_waiting"] = self.loop.current()
            from airflow.api_fastapi.app import create_app
            from fastapi.testclient import TestClient

            client = TestClient(create_app())
            url = f"/api/v2/dags/retrain_classifier/dagRuns/{ti.run_id}/taskInstances/approve/-1/hitlDetails"
            detail = client.get(url)
            self.seen["detail"] = detail.json()
            answer = client.patch(url, json={"chosen_options": [self.choice], "params_input": {}})
            self.seen["answer"] = answer.status_code
            answer.raise_for_status()
        except BaseException as e:  # dag.test() waits for this answer: never leave it waiting
            self.seen["error"] = repr(e)
            self._fail_waiting(known_runs)

    def _fail_waiting(self, known_runs: set[str]) -> None:
        from airflow.utils.state import TaskInstanceState

        for ti in self._awaiting(known_runs):
            ti.set_state(TaskInstanceState.FAILED)


def _runs() -> set[str]:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        return {r.run_id for r in session.query(DagRun).filter(DagRun.dag_id == "retrain_classifier")}


@pytest.mark.parametrize("choice", ["Approve", "Reject"])
def test_a_candidate_that_changes_many_decisions_waits_for_approval(
    loop: Loop, monkeypatch: pytest.MonkeyPatch, choice: str
) -> None:
    monkeypatch.setenv("NEWS_PROMOTION_MAX_CHANGED_ALERTS", "0")  # any changed decision needs a human
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "True")
    loop.react("UALICE", "rumour", "x")
    assert set(_states(_dag("collect_feedback").test()).values()) == {"success"}
    operator = Operator(loop, choice)
    operator.start(_runs())
    dag_run = _dag("retrain_classifier").test()  # returns once the operator has answered
    assert operator.thread is not None
    operator.thread.join(30)
    assert "error" not in operator.seen, operator.seen
    states = _states(dag_run)

    # while the run waited, the current model stayed, and the page showed the report
    assert operator.seen["current_while_waiting"] == loop.base_version
    detail = operator.seen["detail"]
    assert detail["options"] == ["Approve", "Reject"] and detail["defaults"] == ["Reject"]
    assert detail["subject"].startswith("Promote model clf-") and loop.base_version in detail["subject"]
    assert "**Decision: needs approval.**" in detail["body"]
    assert "Alerts the candidate would not have sent" in detail["body"]
    (report,) = loop.store.promotion_reports()
    assert report.decision == "approve" and report.markdown == detail["body"]
    assert states["approve"] == "success" and states["promote_now"] == "skipped"
    if choice == "Approve":
        assert states["promote"] == "success"
        assert loop.current() == report.candidate_version
        assert loop.store.promotions()[-1].promoted_by == f"{APPROVER} (approved in Airflow)"
        assert loop.store.promotion_reports()[0].outcome == "promoted"
    else:
        assert states["promote"] == "skipped"
        assert loop.current() == loop.base_version
        decided = loop.store.promotion_reports()[0]
        assert (decided.outcome, decided.decided_by) == ("rejected", APPROVER)
        outcome = [m["text"] for m in loop.slack.messages_for(OPS) if m["thread_ts"]]
        assert outcome == [f"Rejected by {APPROVER}: {loop.base_version} stays."]
