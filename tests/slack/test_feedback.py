"""Feedback from Slack reactions against the fake Web API (the real slack_sdk): votes with provenance,
recorded once, updated when an analyst changes their mind, acknowledged once per alert."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk import WebClient
from support.articles import add_classified
from support.fake_slack import FakeSlack

from pipeline.errors import SlackConfigError
from pipeline.models import DISPUTED, NOT_RELEVANT, RELEVANT, FeedbackLabel, FeedbackVote, RunInfo
from pipeline.settings import Settings
from pipeline.slack.alerts import send_alerts
from pipeline.slack.client import DryRunPoster, SlackUnavailableError, WebApiPoster
from pipeline.slack.feedback import FEEDBACK_ACK, ack_text, acknowledge_feedback, collect_feedback
from pipeline.store import Store, utcnow

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
RUN = RunInfo(
    run_id="scheduled__1", run_type="scheduled", window_start=T0, window_end=T0 + timedelta(minutes=15)
)


def _alert(
    store: Store, cfg: Settings, poster: WebApiPoster, *ids: str, event_type: str = "self_development"
) -> None:
    articles = [
        add_classified(store, i, at=T0 + timedelta(minutes=n), story=f"s-{i}", event_type=event_type)
        for n, i in enumerate(ids)
    ]
    send_alerts(store, cfg, article_ids=articles, run=RUN, poster=poster)


def _ts(store: Store, article_id: str, channel: str = "#chip-alerts") -> str:
    (alert,) = [
        a
        for a in store.alerts(kinds=["story", "update"])
        if a.article_id == article_id and a.channel == channel
    ]
    assert alert.ts
    return alert.ts


def _analyst(slack: FakeSlack, user: str) -> WebClient:
    return WebClient(token=slack.user_token(user), base_url=slack.base_url)


def _react(
    slack: FakeSlack, user: str, ts: str, name: str, channel: str = "#chip-alerts", *, remove: bool = False
) -> None:
    client = _analyst(slack, user)
    call = client.reactions_remove if remove else client.reactions_add
    call(channel=slack.channel_id(channel), timestamp=ts, name=name)


def _labels(store: Store) -> dict[str, FeedbackLabel]:
    votes: dict[str, list[FeedbackVote]] = {}
    for v in store.feedback_votes():
        votes.setdefault(v.article_id, []).append(v)
    out = {a: FeedbackLabel.combine(a, vs) for a, vs in votes.items()}
    return {a: lb for a, lb in out.items() if lb is not None}


def _acks(slack: FakeSlack) -> list[dict[str, object]]:
    return [m for m in slack.messages if m["thread_ts"] and "the next retrain" in str(m["text"])]


def test_reactions_become_votes_once_with_their_provenance(
    store: Store, cfg: Settings, poster: WebApiPoster, slack: FakeSlack
) -> None:
    _alert(store, cfg, poster, "a1", "a2")
    _react(slack, "UALICE", _ts(store, "a1"), "x")
    _react(slack, "UBOB", _ts(store, "a2"), "+1")
    _react(slack, "UBOB", _ts(store, "a2"), "tada")  # not a label

    report = collect_feedback(store, cfg, poster, now=utcnow())
    assert (report.alerts, report.read, report.new_votes, report.changed_votes, report.acks_planned) == (
        2,
        2,
        2,
        0,
        2,
    )
    votes = {v.article_id: v for v in store.feedback_votes()}
    alice = votes["a1"]
    (alert,) = [a for a in store.alerts(kinds=["story"]) if a.article_id == "a1"]
    assert (alice.voter, alice.label, alice.emoji, alice.alert_id, alice.story_id) == (
        "slack:UALICE",
        NOT_RELEVANT,
        "x",
        alert.alert_id,
        "s-a1",
    )
    assert alice.model_version == "m1" and alice.channel == "#chip-alerts" and alice.message_ts == alert.ts
    assert votes["a2"].label == RELEVANT and votes["a2"].emoji == "+1"

    assert acknowledge_feedback(store, cfg, poster, now=utcnow())["posted"] == 2
    acks = {m["thread_ts"]: m["text"] for m in _acks(slack)}
    assert acks == {
        _ts(store, "a1"): "Recorded as not relevant; the next retrain will learn from it.",
        _ts(store, "a2"): "Recorded as relevant; the next retrain will learn from it.",
    }

    # reading again records nothing new and acknowledges nothing twice
    version = store.feedback_version()
    again = collect_feedback(store, cfg, poster, now=utcnow())
    assert (again.new_votes, again.changed_votes, again.reactions_changed, again.acks_planned) == (0, 0, 0, 0)
    assert acknowledge_feedback(store, cfg, poster, now=utcnow())["posted"] == 0
    assert store.feedback_version() == version and len(_acks(slack)) == 2


def test_a_changed_vote_updates_the_label_and_is_not_acknowledged_again(
    store: Store, cfg: Settings, poster: WebApiPoster, slack: FakeSlack
) -> None:
    _alert(store, cfg, poster, "a1")
    ts = _ts(store, "a1")
    _react(slack, "UALICE", ts, "x")
    collect_feedback(store, cfg, poster, now=utcnow())
    acknowledge_feedback(store, cfg, poster, now=utcnow())
    assert _labels(store)["a1"].label == NOT_RELEVANT

    _react(slack, "UALICE", ts, "x", remove=True)
    _react(slack, "UALICE", ts, "white_check_mark")
    report = collect_feedback(store, cfg, poster, now=utcnow())
    assert (report.new_votes, report.changed_votes, report.acks_planned) == (0, 1, 0)
    (vote,) = store.feedback_votes()
    assert (vote.label, vote.emoji, vote.revision) == (RELEVANT, "white_check_mark", 2)
    assert _labels(store)["a1"].label == RELEVANT
    acknowledge_feedback(store, cfg, poster, now=utcnow())
    assert len(_acks(slack)) == 1

    # every reaction taken back: the vote is withdrawn, the article has no label
    _react(slack, "UALICE", ts, "white_check_mark", remove=True)
    collect_feedback(store, cfg, poster, now=utcnow())
    (vote,) = store.feedback_votes()
    assert vote.label is None and "a1" not in _labels(store)


def test_disagreement_is_kept_and_shown(
    store: Store, cfg: Settings, poster: WebApiPoster, slack: FakeSlack
) -> None:
    _alert(store, cfg, poster, "a1")
    ts = _ts(store, "a1")
    _react(slack, "UALICE", ts, "x")
    _react(slack, "UBOB", ts, "white_check_mark")
    collect_feedback(store, cfg, poster, now=utcnow())
    label = _labels(store)["a1"]
    assert label.label == DISPUTED and (label.relevant_votes, label.not_relevant_votes) == (1, 1)
    acknowledge_feedback(store, cfg, poster, now=utcnow())
    (ack,) = [m for m in slack.messages if m["thread_ts"] == ts]
    assert "analysts disagree (1 relevant, 1 not relevant)" in str(ack["text"])


def test_event_type_emoji_and_contradicting_reactions(
    store: Store, cfg: Settings, poster: WebApiPoster, slack: FakeSlack
) -> None:
    _alert(store, cfg, poster, "a1", event_type="chip_investment")
    ts = _ts(store, "a1")
    _react(slack, "UALICE", ts, "hammer_and_wrench")  # relevant, and it is self-development
    _react(slack, "UBOB", ts, "x")
    _react(slack, "UBOB", ts, "white_check_mark")  # both at once: Bob's vote is unclear
    collect_feedback(store, cfg, poster, now=utcnow())
    votes = {v.voter: v for v in store.feedback_votes()}
    assert (votes["slack:UALICE"].label, votes["slack:UALICE"].event_type) == (RELEVANT, "self_development")
    assert votes["slack:UBOB"].label is None
    label = _labels(store)["a1"]
    assert (label.label, label.event_type, label.relevant_votes) == (RELEVANT, "self_development", 1)
    # Bob makes up his mind: he takes back the check mark, the cross is his vote
    _react(slack, "UBOB", ts, "white_check_mark", remove=True)
    collect_feedback(store, cfg, poster, now=utcnow())
    assert {v.voter: v.label for v in store.feedback_votes()}["slack:UBOB"] == NOT_RELEVANT
    assert _labels(store)["a1"].label == DISPUTED


def test_reactions_on_thread_replies_count_and_on_digest_parents_do_not(
    store: Store, cfg: Settings, poster: WebApiPoster, slack: FakeSlack
) -> None:
    _alert(store, cfg, poster, "a1", "a2", "a3", "a4")  # more than digest_threshold (3): one digest
    (digest,) = store.alerts(kinds=["digest"])
    assert digest.ts
    _react(slack, "UALICE", _ts(store, "a3"), "x")  # a story in the digest's thread
    _react(slack, "UALICE", digest.ts, "x")  # the digest lists four articles: says nothing about one
    report = collect_feedback(store, cfg, poster, now=utcnow())
    assert report.read == 4 and report.new_votes == 1
    (vote,) = store.feedback_votes()
    assert vote.article_id == "a3" and vote.label == NOT_RELEVANT
    assert slack.calls_of("conversations.replies"), "thread replies are read through conversations.replies"
    acknowledge_feedback(store, cfg, poster, now=utcnow())
    (ack,) = _acks(slack)
    assert ack["thread_ts"] == digest.ts  # Slack threads do not nest: the ack joins the digest's thread


def test_acknowledgements_can_be_switched_off(
    store: Store, cfg: Settings, poster: WebApiPoster, slack: FakeSlack
) -> None:
    silent = dataclasses.replace(cfg, feedback_ack=False)
    _alert(store, silent, poster, "a1")
    _react(slack, "UALICE", _ts(store, "a1"), "x")
    report = collect_feedback(store, silent, poster, now=utcnow())
    assert report.new_votes == 1 and report.acks_planned == 0
    assert acknowledge_feedback(store, silent, poster, now=utcnow())["posted"] == 0
    assert store.alerts(kinds=[FEEDBACK_ACK]) == [] and _acks(slack) == []


def test_a_channel_that_cannot_be_read_does_not_stop_the_others(
    store: Store, cfg: Settings, poster: WebApiPoster, slack: FakeSlack
) -> None:
    _alert(store, cfg, poster, "a1", event_type="chip_investment")  # #chip-alerts and #chip-investments
    _react(slack, "UALICE", _ts(store, "a1", "#chip-investments"), "x", "#chip-investments")
    slack.fail_next("conversations.history", "not_in_channel")  # the first channel read: #chip-alerts
    with pytest.raises(SlackConfigError, match="invite the bot") as info:
        collect_feedback(store, cfg, poster, now=utcnow())
    report = info.value.report  # type: ignore[attr-defined]
    assert report.read == 1 and report.new_votes == 1
    assert [v.channel for v in store.feedback_votes()] == ["#chip-investments"]


def test_an_outage_keeps_what_was_read_and_forgets_nothing(
    store: Store, cfg: Settings, poster: WebApiPoster, slack: FakeSlack
) -> None:
    _alert(store, cfg, poster, "a1")
    _react(slack, "UALICE", _ts(store, "a1"), "x")
    collect_feedback(store, cfg, poster, now=utcnow())
    slack.fail_next("conversations.history", "server_error", times=5)
    with pytest.raises(SlackUnavailableError):
        collect_feedback(store, cfg, poster, now=utcnow())
    # an unread alert is not taken for one whose reactions went away
    (vote,) = store.feedback_votes()
    assert vote.label == NOT_RELEVANT and vote.revision == 1
    assert all(r.present for r in store.seen_reactions([str(vote.alert_id)]))


def test_a_dry_run_has_nothing_to_read(store: Store, cfg: Settings, tmp_path: object) -> None:
    dry = DryRunPoster(cfg.dry_run_file)
    _alert(store, cfg, dry, "a1")  # type: ignore[arg-type]
    assert collect_feedback(store, cfg, dry, now=utcnow()).read == 0


@pytest.mark.parametrize(
    ("votes", "text"),
    [
        (
            [("slack:U1", NOT_RELEVANT, None)],
            "Recorded as not relevant; the next retrain will learn from it.",
        ),
        ([("slack:U1", RELEVANT, "chip_investment")], "Recorded as relevant (investing in chip companies);"),
        ([("slack:U1", RELEVANT, None), ("slack:U2", NOT_RELEVANT, None)], "analysts disagree"),
    ],
)
def test_ack_text(votes: list[tuple[str, str, str | None]], text: str) -> None:
    label = FeedbackLabel.combine(
        "a",
        [FeedbackVote(f"v{n}", "a", voter, lb, et, T0) for n, (voter, lb, et) in enumerate(votes)],
    )
    assert text in ack_text(label)
