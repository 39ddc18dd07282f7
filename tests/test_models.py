"""How analysts' votes on an article combine into its label (FeedbackLabel.combine)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipeline.models import DISPUTED, NOT_RELEVANT, RELEVANT, FeedbackLabel, FeedbackVote

T0 = datetime(2025, 9, 15, 8, 0, tzinfo=UTC)


def vote(
    voter: str, label: str | None, minutes: int = 0, *, event_type: str | None = None, alert: str = "a1"
) -> FeedbackVote:
    return FeedbackVote(
        vote_id=f"{alert}-{voter}",
        article_id="art",
        voter=voter,
        label=label,
        event_type=event_type,
        voted_at=T0 + timedelta(minutes=minutes),
        alert_id=alert,
    )


def test_the_majority_wins_and_the_disagreement_is_kept() -> None:
    label = FeedbackLabel.combine(
        "art",
        [vote("slack:U1", NOT_RELEVANT), vote("slack:U2", NOT_RELEVANT, 1), vote("slack:U3", RELEVANT, 2)],
    )
    assert label is not None
    assert (label.label, label.relevant_votes, label.not_relevant_votes) == (NOT_RELEVANT, 1, 2)
    assert label.disagreement and label.trainable and label.event_type is None
    assert label.latest_at == T0 + timedelta(minutes=2)


def test_an_even_split_is_disputed_and_not_trained_on() -> None:
    label = FeedbackLabel.combine("art", [vote("slack:U1", RELEVANT), vote("slack:U2", NOT_RELEVANT, 5)])
    assert label is not None and label.label == DISPUTED
    assert not label.trainable and label.disagreement and len(label.votes) == 2


def test_a_voter_counts_once_with_their_latest_vote() -> None:
    # the same analyst on two alerts of one article (two channels): the later vote is theirs
    label = FeedbackLabel.combine(
        "art", [vote("slack:U1", RELEVANT, 0, alert="a1"), vote("slack:U1", NOT_RELEVANT, 9, alert="a2")]
    )
    assert label is not None and label.label == NOT_RELEVANT
    assert (label.relevant_votes, label.not_relevant_votes) == (0, 1) and not label.disagreement


def test_withdrawn_votes_do_not_count() -> None:
    assert FeedbackLabel.combine("art", [vote("slack:U1", None)]) is None
    label = FeedbackLabel.combine("art", [vote("slack:U1", None, 3), vote("slack:U2", RELEVANT, 1)])
    assert label is not None and label.label == RELEVANT and len(label.votes) == 1


def test_a_manual_label_settles_the_article() -> None:
    label = FeedbackLabel.combine(
        "art",
        [
            vote("slack:U1", RELEVANT),
            vote("slack:U2", RELEVANT, 1),
            vote("manual:lead", NOT_RELEVANT, 2),
        ],
    )
    assert label is not None and label.label == NOT_RELEVANT and label.settled_by == "manual:lead"
    assert label.disagreement  # still shown


def test_event_type_by_majority_of_the_relevant_voters() -> None:
    label = FeedbackLabel.combine(
        "art",
        [
            vote("slack:U1", RELEVANT, event_type="self_development"),
            vote("slack:U2", RELEVANT, 1, event_type="self_development"),
            vote("slack:U3", RELEVANT, 2, event_type="chip_investment"),
        ],
    )
    assert label is not None and label.event_type == "self_development"
    tied = FeedbackLabel.combine(
        "art",
        [
            vote("slack:U1", RELEVANT, event_type="self_development"),
            vote("slack:U2", RELEVANT, 1, event_type="chip_investment"),
        ],
    )
    assert tied is not None and tied.label == RELEVANT and tied.event_type is None
