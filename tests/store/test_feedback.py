"""Feedback and promotion records on SQLite and PostgreSQL: reactions remembered once, votes versioned with
their history, the feedback as it was at a version, promotions logged with who made them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipeline.models import NOT_RELEVANT, RELEVANT, FeedbackVote
from pipeline.store import AlertReactions, Store

T0 = datetime(2025, 9, 15, 8, 0, tzinfo=UTC)
T1, T2, T3 = (T0 + timedelta(minutes=15 * n) for n in (1, 2, 3))


def _vote(label: str | None, *, voter: str = "slack:U1", event_type: str | None = None) -> FeedbackVote:
    return FeedbackVote(
        vote_id=f"v-{voter}",
        article_id="art-1",
        voter=voter,
        label=label,
        event_type=event_type,
        voted_at=T0,
        emoji="x" if label == NOT_RELEVANT else "white_check_mark",
        alert_id="story-1",
        story_id="s1",
        model_version="clf-1",
        channel="#chip-alerts",
        message_ts="1757923200.000100",
    )


def test_reactions_are_remembered_once_and_their_removal_is_recorded(any_store: Store) -> None:
    snap = AlertReactions("story-1", "#chip-alerts", "1.0", frozenset({("U1", "x"), ("U2", "+1")}))
    assert any_store.record_reactions([snap], now=T0) == 2
    assert any_store.record_reactions([snap], now=T1) == 0  # the same state again: nothing written
    seen = any_store.seen_reactions(["story-1"])
    assert {(r.user_id, r.emoji, r.first_seen_at, r.present) for r in seen} == {
        ("U1", "x", T0, True),
        ("U2", "+1", T0, True),
    }
    # U1 takes back x and reacts white_check_mark
    changed = AlertReactions(
        "story-1", "#chip-alerts", "1.0", frozenset({("U1", "white_check_mark"), ("U2", "+1")})
    )
    assert any_store.record_reactions([changed], now=T2) == 2
    state = {(r.user_id, r.emoji): r for r in any_store.seen_reactions(["story-1"])}
    assert state[("U1", "x")].removed_at == T2 and not state[("U1", "x")].present
    assert state[("U1", "white_check_mark")].first_seen_at == T2
    # x again: seen anew from now
    again = AlertReactions("story-1", "#chip-alerts", "1.0", frozenset({("U1", "x"), ("U2", "+1")}))
    assert any_store.record_reactions([again], now=T3) == 2
    state = {(r.user_id, r.emoji): r for r in any_store.seen_reactions(["story-1"])}
    assert state[("U1", "x")].present and state[("U1", "x")].first_seen_at == T3
    # an alert not read this time keeps its reactions
    assert any_store.record_reactions([], now=T3) == 0
    assert len(any_store.seen_reactions(["story-1"])) == 3


def test_votes_are_versioned_and_unchanged_votes_write_nothing(any_store: Store) -> None:
    assert any_store.feedback_version() == 0
    first = any_store.save_votes([_vote(NOT_RELEVANT)], now=T0)
    assert first.new == ("v-slack:U1",) and not first.changed
    assert any_store.save_votes([_vote(NOT_RELEVANT)], now=T1).unchanged == 1
    assert any_store.feedback_version() == 1
    changed = any_store.save_votes([_vote(RELEVANT, event_type="self_development")], now=T2)
    assert changed.changed == ("v-slack:U1",)
    (current,) = any_store.feedback_votes()
    assert (current.label, current.event_type, current.revision, current.voted_at) == (
        RELEVANT,
        "self_development",
        2,
        T2,
    )
    assert (
        current.alert_id == "story-1"
        and current.model_version == "clf-1"
        and current.channel == "#chip-alerts"
    )
    assert any_store.feedback_version() == 2
    # the feedback as it was at version 1: the first vote
    (then,) = any_store.feedback_votes(as_of=1)
    assert (then.label, then.event_type, then.revision, then.voted_at) == (NOT_RELEVANT, None, 1, T0)
    assert any_store.feedback_votes(as_of=0) == []
    assert [v.vote_id for v in any_store.feedback_votes(article_ids=["art-1"])] == ["v-slack:U1"]
    assert any_store.feedback_votes(alert_ids=["other"]) == []


def test_promotions_are_logged_with_who_and_the_previous_version(any_store: Store) -> None:
    for version in ("m1", "m2"):
        any_store.register_model(version, data_hash="h", metrics={}, card={}, artifact=version.encode())
    assert any_store.promote_model("m1", promoted_by="train (gate)", reason="first model") is None
    assert any_store.promote_model("m2", promoted_by="alice (approved in Airflow)", reason="better") == "m1"
    assert any_store.promote_model("m1", promoted_by="bob", reason="rollback") == "m2"
    history = [(p.version, p.previous_version, p.promoted_by, p.reason) for p in any_store.promotions()]
    assert history == [
        ("m1", None, "train (gate)", "first model"),
        ("m2", "m1", "alice (approved in Airflow)", "better"),
        ("m1", "m2", "bob", "rollback"),
    ]
    current = any_store.current_model()
    assert current is not None and current.version == "m1"


def test_promotion_reports_are_kept_and_decided(any_store: Store) -> None:
    args = {
        "candidate_version": "m2",
        "current_version": "m1",
        "decision": "approve",
        "reason": "many changes",
        "report": {"replay": {"summary": {"changed": 12}}},
        "markdown": "## report",
        "chart": b"\x89PNG",
    }
    any_store.save_promotion_report("m2~m1", **args, run_id="r1")  # type: ignore[arg-type]
    any_store.decide_promotion("m2~m1", outcome="rejected", decided_by="alice")
    record = any_store.promotion_report("m2~m1")
    assert record is not None and record.outcome == "rejected" and record.decided_by == "alice"
    assert record.report == {"replay": {"summary": {"changed": 12}}} and record.chart == b"\x89PNG"
    # evaluating the same pair again replaces the report, undecided
    any_store.save_promotion_report("m2~m1", **{**args, "decision": "promote"}, run_id="r2")  # type: ignore[arg-type]
    again = any_store.promotion_report("m2~m1")
    assert (
        again is not None and again.decision == "promote" and again.outcome is None and again.run_id == "r2"
    )
    assert [r.report_id for r in any_store.promotion_reports(candidate_version="m2")] == ["m2~m1"]
    assert any_store.promotion_report("nope") is None
