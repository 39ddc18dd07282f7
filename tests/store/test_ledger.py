"""The alert ledger on SQLite and PostgreSQL: rows are created once, claims are exclusive, states move on."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from pipeline.store import FAILED, PENDING, POSTED, POSTING, AlertRecord, NewAlert, Store


def test_alert_claim_is_exclusive_and_states_move_forward(any_store: Store) -> None:
    assert any_store.ensure_alerts([NewAlert("x", "#c", "story", payload={"k": 1})]) == ["x"]
    assert any_store.ensure_alerts([NewAlert("x", "#c", "story")]) == []
    claimed = any_store.claim_alert("x", "t1", stale_after=timedelta(minutes=5))
    assert claimed is not None and claimed.state == POSTING and claimed.attempts == 1
    assert claimed.payload == {"k": 1}
    assert any_store.claim_alert("x", "t2", stale_after=timedelta(minutes=5)) is None
    assert not any_store.mark_alert_posted("x", "t2", ts="1.0")  # not the claimant
    assert any_store.release_alert("x", "t1", error="slack down")
    assert any_store.get_alert("x").state == PENDING  # type: ignore[union-attr]
    assert any_store.claim_alert("x", "t3", stale_after=timedelta(minutes=5)) is not None
    assert any_store.mark_alert_posted("x", "t3", ts="1.5", permalink="https://slack/x")
    record = any_store.get_alert("x")
    assert record is not None and record.state == POSTED and record.ts == "1.5"
    assert any_store.claim_alert("x", "t4", stale_after=timedelta(0)) is None  # posted is final


def test_the_same_new_alert_twice_in_one_call_is_one_row(any_store: Store) -> None:
    assert any_store.ensure_alerts([NewAlert("d", "#c", "story"), NewAlert("d", "#c", "story")]) == ["d"]
    assert [r.alert_id for r in any_store.alerts()] == ["d"]


def test_stale_posting_claim_can_be_taken_over(any_store: Store) -> None:
    any_store.ensure_alerts([NewAlert("y", "#c", "story")])
    assert any_store.claim_alert("y", "t1", stale_after=timedelta(minutes=5)) is not None
    assert any_store.claim_alert("y", "t2", stale_after=timedelta(minutes=5)) is None
    taken = any_store.claim_alert("y", "t2", stale_after=timedelta(seconds=-1))
    assert taken is not None and taken.attempts == 2
    assert any_store.mark_alert_failed("y", "t2", error="channel_not_found")
    assert any_store.get_alert("y").state == FAILED  # type: ignore[union-attr]


def test_concurrent_claims_have_one_winner(any_store: Store) -> None:
    """Eight workers claim at once; each one's own answer is collected, so a crash cannot pass as a loss."""
    any_store.ensure_alerts([NewAlert("z", "#c", "story")])

    def claim(token: str) -> AlertRecord | None:
        return any_store.claim_alert("z", token, stale_after=timedelta(minutes=5))

    tokens = [f"t{i}" for i in range(8)]
    with ThreadPoolExecutor(len(tokens)) as pool:
        futures = [pool.submit(claim, token) for token in tokens]
        results = [f.result() for f in futures]  # re-raises any worker's exception
    winners = [(token, r) for token, r in zip(tokens, results, strict=True) if r is not None]
    assert len(winners) == 1 and results.count(None) == 7
    token, record = winners[0]
    assert record.claim_token == token and record.state == POSTING and record.attempts == 1
    assert any_store.get_alert("z").claim_token == token  # type: ignore[union-attr]


def test_alerted_story_ids_counts_posted_and_posting_only(any_store: Store) -> None:
    any_store.ensure_alerts(
        [NewAlert("a", "#c", "story", story_id="s1"), NewAlert("b", "#c", "story", story_id="s2")]
    )
    assert any_store.alerted_story_ids(["s1", "s2"]) == set()
    any_store.claim_alert("a", "t", stale_after=timedelta(minutes=5))
    assert any_store.alerted_story_ids(["s1", "s2", "s3"]) == {"s1"}


def test_alerted_articles_are_those_with_a_posted_message(any_store: Store) -> None:
    any_store.ensure_alerts(
        [
            NewAlert("s1", "#c", "story", article_id="a1"),
            NewAlert("u1", "#d", "update", article_id="a1"),
            NewAlert("s2", "#c", "story", article_id="a2"),
            NewAlert("g", "#c", "digest"),
        ]
    )
    for aid in ("s1", "u1", "g"):
        assert any_store.claim_alert(aid, "t", stale_after=timedelta(minutes=5)) is not None
        assert any_store.mark_alert_posted(aid, "t", ts="1.0")
    # a2's alert is still pending: not alerted
    assert any_store.alerted_articles(["a1", "a2", "a3"]) == {"a1": ["s1", "u1"]}
