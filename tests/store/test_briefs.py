"""Story records on SQLite and PostgreSQL: brief rows only move to newer versions (also when runs race),
a version that arrived during a send leaves the row due, novelty decisions and story reads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from support.articles import T0, add_classified

from pipeline.models import FOLLOW_UP, NEW, REHASH, Novelty
from pipeline.store import FAILED, PENDING, POSTED, NewAlert, Store

STALE = timedelta(minutes=10)


def brief_row(version: int) -> NewAlert:
    return NewAlert(
        "brief-1", "#c", "brief", story_id="s1", parent_alert_id="story-1", payload={"version": version}
    )


def test_a_brief_row_only_moves_to_newer_versions(any_store: Store) -> None:
    assert any_store.upsert_brief(brief_row(2), 2) == "created"
    assert any_store.upsert_brief(brief_row(2), 2) == "unchanged"
    assert any_store.brief_versions("brief-1") == (2, None)
    # delivered: posted with its ts
    assert any_store.claim_alert("brief-1", "t1", stale_after=STALE) is not None
    assert any_store.mark_brief_sent("brief-1", "t1", ts="1.5", thread_ts="1.0", version=2) == POSTED
    # a newer version makes it due again, and keeps the message it edits
    assert any_store.upsert_brief(brief_row(3), 3) == "updated"
    record = any_store.get_alert("brief-1")
    assert record is not None and record.state == PENDING and record.ts == "1.5"
    assert record.payload == {"version": 3}
    # an older version never replaces a newer one
    assert any_store.upsert_brief(brief_row(2), 2) == "unchanged"
    assert any_store.get_alert("brief-1").payload == {"version": 3}  # type: ignore[union-attr]
    assert any_store.brief_versions("brief-1") == (3, 2)


def test_a_version_that_arrives_during_a_send_leaves_the_row_due(any_store: Store) -> None:
    any_store.upsert_brief(brief_row(2), 2)
    claim = any_store.claim_alert("brief-1", "t1", stale_after=STALE)
    assert claim is not None and claim.payload == {"version": 2}
    assert any_store.upsert_brief(brief_row(4), 4) == "updated"  # another run, while version 2 is sent
    assert any_store.get_alert("brief-1").state == "posting"  # type: ignore[union-attr]
    assert any_store.mark_brief_sent("brief-1", "t1", ts="2.0", thread_ts="1.0", version=2) == PENDING
    assert any_store.brief_versions("brief-1") == (4, 2)
    assert (
        any_store.mark_brief_sent("brief-1", "t1", ts="2.0", thread_ts="1.0", version=2) is None
    )  # claim gone
    assert any_store.claim_alert("brief-1", "t2", stale_after=STALE).payload == {"version": 4}  # type: ignore[union-attr]
    assert any_store.mark_brief_sent("brief-1", "t2", ts="2.0", thread_ts="1.0", version=4) == POSTED


def test_a_failed_brief_is_due_again_with_a_newer_version(any_store: Store) -> None:
    any_store.upsert_brief(brief_row(2), 2)
    any_store.claim_alert("brief-1", "t1", stale_after=STALE)
    any_store.mark_alert_failed("brief-1", "t1", error="rejected: invalid_blocks")
    assert any_store.get_alert("brief-1").state == FAILED  # type: ignore[union-attr]
    any_store.upsert_brief(brief_row(3), 3)
    record = any_store.get_alert("brief-1")
    assert record is not None and record.state == PENDING and record.error is None


def test_racing_runs_leave_the_newest_version(any_store: Store) -> None:
    versions = [2, 7, 3, 6, 4, 5, 7, 2]
    with ThreadPoolExecutor(4) as pool:
        outcomes = [
            f.result() for f in [pool.submit(any_store.upsert_brief, brief_row(v), v) for v in versions]
        ]
    assert outcomes.count("created") == 1
    assert any_store.brief_versions("brief-1")[0] == 7
    assert any_store.get_alert("brief-1").payload == {"version": 7}  # type: ignore[union-attr]
    assert len(any_store.alerts()) == 1


def test_novelty_decisions_and_story_reads(any_store: Store) -> None:
    first = Novelty("s1", REHASH, "a1", "Wire", T0, "s0", "Earlier headline", "nothing material")
    any_store.save_novelty([first, Novelty("s2", NEW, "b1", "Daily", T0)], at=T0)
    assert any_store.get_novelty(["s1", "s2", "s3"]) == {
        "s1": first,
        "s2": Novelty("s2", NEW, "b1", "Daily", T0),
    }
    # a later decision replaces the earlier one
    any_store.save_novelty(
        [Novelty("s1", FOLLOW_UP, "a1", "Wire", T0, "s0", "Earlier", "new: chip x")],
        at=T0 + timedelta(hours=1),
    )
    assert any_store.get_novelty(["s1"])["s1"].tag == FOLLOW_UP
    assert [n.story_id for n in any_store.novelty_since(T0 + timedelta(minutes=30))] == ["s1"]
    assert any_store.novelty_since(T0, tags=[REHASH]) == []

    add_classified(any_store, "a1", at=T0, story="s1")
    add_classified(any_store, "a2", at=T0 - timedelta(hours=1), story="s1", source="Caixin")
    add_classified(any_store, "a3", at=T0, story="s1", relevant=False)
    add_classified(any_store, "b1", at=T0, story="s2")
    items = any_store.story_items(["s1", "s2", "s9"])
    assert {k: [a.article_id for a, _ in v] for k, v in items.items()} == {"s1": ["a2", "a1"], "s2": ["b1"]}
    assert items["s1"][0][1].companies == ("Alibaba",)
