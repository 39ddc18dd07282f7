"""Replay and promotion on a small archive: an analyst's ❌ on an alert, a candidate trained with it, the
replay showing that alert dropped, and the promotion decision (promote, ask, keep)."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support.environment import settings_env
from support.feedback import (
    RUMOUR,
    SMALL,
    WATCHLIST,
    archive_items,
    classify,
    mark_alerted,
    slack_vote,
    small_items,
)

from pipeline.model import registry
from pipeline.model.feedback import load_feedback
from pipeline.model.promotion import APPROVE, KEEP, PROMOTE, evaluate_for_promotion
from pipeline.model.replay import ReplayItem, ReplayReport, md_text, replay
from pipeline.model.training import TrainResult, train_and_save
from pipeline.settings import Settings
from pipeline.store import Store, open_store

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A store whose promoted model (trained on the small file) alerted the rumour; Alice voted ❌ on it;
    a candidate trained on the small file plus that feedback."""
    home = tmp_path_factory.mktemp("home")
    settings = Settings.from_env(settings_env(home))
    store = open_store(settings.db_url)
    base = train_and_save(train_paths=[SMALL], model_dir=settings.model_dir, store=store, feature_set="char")
    assert base.promoted
    current = registry.load_promoted(store, settings.model_dir)
    ids = archive_items(store, [RUMOUR, *small_items(30)], at=NOW - timedelta(days=2))
    flagged = classify(store, current, ids)
    assert "rumour" in flagged, "the small model alerts the rumour (the false alarm of this test)"
    mark_alerted(store, flagged, model_version=current.version)
    store.save_votes([slack_vote("rumour", "not_relevant", at=NOW)], now=NOW)
    feedback = load_feedback(store)
    candidate = train_and_save(
        train_paths=[SMALL],
        model_dir=settings.model_dir,
        store=store,
        promote=False,
        feature_set="char",
        feedback=feedback.labelled,
        feedback_version=feedback.version,
        feedback_hash=feedback.content_hash,
    )
    yield {
        "settings": settings,
        "store": store,
        "current": current,
        "candidate": candidate,
        "flagged": flagged,
    }
    store.dispose()


def test_the_candidate_trained_on_the_vote(world: dict[str, Any]) -> None:
    candidate: TrainResult = world["candidate"]
    card = world["store"].get_model(candidate.version).card
    assert card["feedback"]["version"] == 1 and card["feedback"]["train_ids"] == ["fb-rumour"]
    assert card["feedback"]["holdout_ids"] == []
    assert candidate.version != world["current"].version


def test_replay_shows_the_rejected_alert_as_dropped(world: dict[str, Any], tmp_path: Path) -> None:
    store: Store = world["store"]
    candidate = registry.load_version(store, world["candidate"].version, world["settings"].model_dir)
    report = replay(
        store,
        candidate=candidate,
        current=world["current"],
        since=NOW - timedelta(days=30),
        until=NOW,
        watchlist=WATCHLIST,
    )
    s = report.summary()
    assert s["articles"] == 31 and s["alerted"] == len(world["flagged"])
    dropped = {i.article_id: i for i in report.dropped_alerts}
    assert "rumour" in dropped and dropped["rumour"].feedback == "not_relevant"
    assert dropped["rumour"].alert_ids == ("story-rumour",) and dropped["rumour"].company == "Baidu"
    fb = s["feedback"]
    assert fb["labels"] == 1
    assert (fb["current"]["fp"], fb["candidate"]["fp"]) == (1, 0)  # the candidate agrees with Alice
    assert report.per_company()["Baidu"]["dropped"] >= 1
    files = report.write(tmp_path)
    js, md, png = (f.read_bytes() for f in files)
    assert json.loads(js)["alerts_dropped"][0]["article_id"] == "rumour" or "rumour" in js.decode()
    assert b"Alerts the candidate would not have sent" in md and b"rumour" in md
    assert png.startswith(b"\x89PNG\r\n\x1a\n")


def _item(article_id: str, company: str, current: bool, candidate: bool, **kw: Any) -> ReplayItem:
    fields: dict[str, Any] = {
        "article_id": article_id,
        "story_id": None,
        "title": f"title {article_id}",
        "company": company,
        "current": current,
        "candidate": candidate,
        "current_score": 0.9 if current else 0.1,
        "candidate_score": 0.9 if candidate else 0.1,
        "current_event_type": "self_development" if current else None,
        "candidate_event_type": "self_development" if candidate else None,
    }
    fields.update(kw)
    return ReplayItem(**fields)


def test_replay_figures() -> None:
    items = (
        _item("a", "Baidu", True, False, alert_ids=("story-a",), feedback="not_relevant"),
        _item("b", "Baidu", True, True, alert_ids=("story-b",), feedback="relevant"),
        _item("c", "Google", False, True, feedback="relevant"),
        _item("d", "Google", False, False),
        _item("e", "Google", True, True, candidate_event_type="chip_investment"),
    )
    report = ReplayReport("new", "old", NOW - timedelta(days=1), NOW, items)
    s = report.summary()
    assert (s["added"], s["dropped"], s["changed"], s["current_relevant"]) == (1, 1, 2, 3)
    assert s["agreement"] == pytest.approx(3 / 5, abs=1e-4) and s["changed_share"] == pytest.approx(
        2 / 3, abs=1e-4
    )
    assert (s["alerted"], s["alerts_dropped"], s["event_type_changed"]) == (2, 1, 1)
    # against the three feedback labels: current 1 fp (a) and 1 fn (c); candidate right on all three
    fb = s["feedback"]
    assert (fb["current"]["fp"], fb["current"]["fn"], fb["current"]["tp"]) == (1, 1, 1)
    assert (fb["candidate"]["precision"], fb["candidate"]["recall"]) == (1.0, 1.0)
    companies = report.per_company()
    assert companies["Baidu"] | {"feedback": None} == {
        "articles": 2, "current": 2, "candidate": 1, "added": 0, "dropped": 1, "agreement": 0.5, "feedback": None,
    }  # fmt: skip
    assert (
        companies["Google"]["added"] == 1 and companies["Google"]["articles"] == 2
    )  # d is flagged by neither
    events = report.per_event_type()
    assert events["chip_investment"]["candidate"] == 1 and events["self_development"]["dropped"] == 1


def test_feed_text_is_inert_in_the_markdown_report() -> None:
    hostile = "Alibaba ![pixel](http://evil.example/p.png) <img src=x onerror=alert(1)> [click](javascript:x) *bold*"
    report = ReplayReport(
        "new", "old", NOW - timedelta(days=1), NOW, (_item("a", "Alibaba", True, False, title=hostile),)
    )
    md = report.to_markdown()
    (line,) = [row for row in md.splitlines() if "evil" in row]
    shown = md_text(hostile)
    assert shown in line  # the title as listed: every Markdown and HTML character backslash-escaped
    assert re.search(r"(?<!\\)[!<>\[\]()*]", shown) is None
    assert shown.startswith(r"Alibaba \!\[pixel\]\(http://evil\.example/p\.png\) \<img")


def _evaluate(world: dict[str, Any], version: str, **overrides: Any) -> Any:
    settings = dataclasses.replace(world["settings"], **overrides)
    feedback = load_feedback(world["store"])
    return evaluate_for_promotion(
        world["store"],
        settings,
        candidate_version=version,
        train_paths=[SMALL],
        feedback=feedback.labelled,
        now=NOW,
    )


def test_promotion_needs_approval_when_the_candidate_changes_many_decisions(world: dict[str, Any]) -> None:
    version = world["candidate"].version
    asked = _evaluate(world, version, promotion_max_changed_alerts=0)
    assert asked.decision == APPROVE and "an operator decides" in asked.reason
    assert asked.replay is not None and asked.replay.changed >= 1
    free = _evaluate(world, version, promotion_max_changed_alerts=1000, promotion_max_changed_share=1.0)
    assert free.decision == PROMOTE
    md = asked.to_markdown()
    assert "**Decision: needs approval.**" in md and "Alerts the candidate would not have sent" in md
    assert f"python -m pipeline models promote {world['current'].version}" in md  # how to roll back


def test_a_worse_candidate_is_kept_out(world: dict[str, Any], tmp_path: Path) -> None:
    rows = [json.loads(line) for line in SMALL.read_text(encoding="utf-8").splitlines()]
    for r in rows:  # every label inverted: worse on the held-out split
        r["label"] = 1 - r["label"]
        r["event_type"] = "self_development" if r["label"] else None
        r["companies"] = r["companies"] or ["Google"]
    flipped = tmp_path / "flipped.jsonl"
    flipped.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    settings: Settings = world["settings"]
    worse = train_and_save(
        train_paths=[flipped],
        model_dir=settings.model_dir,
        store=world["store"],
        promote=False,
        feature_set="char",
    )
    evaluation = _evaluate(
        world, worse.version, promotion_max_changed_alerts=1000, promotion_max_changed_share=1.0
    )
    assert evaluation.decision == KEEP and "worse" in evaluation.reason
    evaluation.save(world["store"])
    record = world["store"].promotion_report(evaluation.report_id)
    assert (
        record is not None
        and record.decision == KEEP
        and record.chart
        and record.markdown.startswith("## Candidate")
    )
