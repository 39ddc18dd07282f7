"""Analysts' feedback: the reactions seen on alerts, each voter's current vote, and every change of a vote.

Feedback is its own versioned source, never written into the training files: ``feedback_history`` gets a
row for every vote that appears or changes, and its last ``seq`` is the feedback version a model was
trained on (``feedback_votes(as_of=...)`` gives the votes as they were at that version).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from pipeline.models import FeedbackVote
from pipeline.store.base import StoreBase, chunks, dumps
from pipeline.store.schema import feedback_history, feedback_reactions, feedback_votes


@dataclass(frozen=True)
class AlertReactions:
    """Every reaction (user, emoji) one read found on one alert's message: its complete current state."""

    alert_id: str
    channel: str
    message_ts: str
    reactions: frozenset[tuple[str, str]]


@dataclass(frozen=True)
class SeenReaction:
    """A reaction as the store remembers it: when it was first seen, and when it went away (if it did)."""

    alert_id: str
    user_id: str
    emoji: str
    first_seen_at: datetime
    removed_at: datetime | None

    @property
    def present(self) -> bool:
        return self.removed_at is None


@dataclass(frozen=True)
class VoteChanges:
    """What ``save_votes`` wrote: votes new to the store, votes that changed, and the rest (unchanged)."""

    new: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    unchanged: int = 0

    @property
    def written(self) -> int:
        return len(self.new) + len(self.changed)


# The fields of a vote that make up its content: a change in any of them is a new version of the vote.
_CONTENT = ("label", "event_type", "emoji", "companies", "note")


def _vote_row(vote: FeedbackVote) -> dict[str, Any]:
    return {
        "vote_id": vote.vote_id,
        "article_id": vote.article_id,
        "voter": vote.voter,
        "label": vote.label,
        "event_type": vote.event_type,
        "emoji": vote.emoji,
        "alert_id": vote.alert_id,
        "story_id": vote.story_id,
        "model_version": vote.model_version,
        "channel": vote.channel,
        "message_ts": vote.message_ts,
        "companies": dumps(list(vote.companies)),
        "note": vote.note,
    }


def _vote_from_row(m: Any) -> FeedbackVote:
    return FeedbackVote(
        vote_id=m["vote_id"],
        article_id=m["article_id"],
        voter=m["voter"],
        label=m["label"],
        event_type=m["event_type"],
        voted_at=m["voted_at"],
        emoji=m["emoji"] or "",
        alert_id=m["alert_id"],
        story_id=m["story_id"],
        model_version=m["model_version"],
        channel=m["channel"],
        message_ts=m["message_ts"],
        companies=tuple(json.loads(m["companies"] or "[]")),
        note=m["note"],
        revision=int(m["revision"]),
    )


class FeedbackStore(StoreBase):
    """Reads and writes of ``feedback_reactions``, ``feedback_votes`` and ``feedback_history``."""

    def record_reactions(self, snapshots: Sequence[AlertReactions], *, now: datetime) -> int:
        """Bring the remembered reactions of these alerts to what a read found; return the rows changed.

        A reaction seen for the first time (or again after it went away) is remembered from ``now``; one no
        longer there is marked removed at ``now``. Reading the same state again writes nothing. Alerts not
        in ``snapshots`` (not read this time) are left as they were.
        """
        c = feedback_reactions.c
        changed = 0
        with self.engine.begin() as conn:
            for snap in snapshots:
                stored = {
                    (r.user_id, r.emoji): r.removed_at
                    for r in conn.execute(
                        sa.select(c.user_id, c.emoji, c.removed_at).where(c.alert_id == snap.alert_id)
                    )
                }
                for user, emoji in sorted(snap.reactions - {k for k, gone in stored.items() if gone is None}):
                    if (user, emoji) in stored:
                        conn.execute(
                            sa.update(feedback_reactions)
                            .where(c.alert_id == snap.alert_id, c.user_id == user, c.emoji == emoji)
                            .values(first_seen_at=now, removed_at=None)
                        )
                    else:
                        self._upsert(
                            conn,
                            feedback_reactions,
                            [
                                {
                                    "alert_id": snap.alert_id,
                                    "user_id": user,
                                    "emoji": emoji,
                                    "channel": snap.channel,
                                    "message_ts": snap.message_ts,
                                    "first_seen_at": now,
                                    "removed_at": None,
                                }
                            ],
                            ["alert_id", "user_id", "emoji"],
                            None,
                        )
                    changed += 1
                for user, emoji in sorted(
                    k for k, gone in stored.items() if gone is None and k not in snap.reactions
                ):
                    conn.execute(
                        sa.update(feedback_reactions)
                        .where(c.alert_id == snap.alert_id, c.user_id == user, c.emoji == emoji)
                        .values(removed_at=now)
                    )
                    changed += 1
        return changed

    def seen_reactions(self, alert_ids: Sequence[str]) -> list[SeenReaction]:
        """Every remembered reaction of these alerts (present and removed), oldest first."""
        c = feedback_reactions.c
        out: list[SeenReaction] = []
        with self.engine.connect() as conn:
            for chunk in chunks(sorted(set(alert_ids))):
                q = sa.select(feedback_reactions).where(c.alert_id.in_(chunk))
                out.extend(
                    SeenReaction(r.alert_id, r.user_id, r.emoji, r.first_seen_at, r.removed_at)
                    for r in conn.execute(q)
                )
        out.sort(key=lambda r: (r.first_seen_at, r.alert_id, r.user_id, r.emoji))
        return out

    def save_votes(self, votes: Sequence[FeedbackVote], *, now: datetime) -> VoteChanges:
        """Store votes; a vote whose content differs from the stored one is a new version of it.

        New and changed votes get ``voted_at = now`` and a ``feedback_history`` row; a vote equal to the
        stored one writes nothing (reading Slack again changes nothing).
        """
        c = feedback_votes.c
        new: list[str] = []
        changed: list[str] = []
        unchanged = 0
        with self.engine.begin() as conn:
            for vote in votes:
                row = _vote_row(vote)
                stored = conn.execute(sa.select(feedback_votes).where(c.vote_id == vote.vote_id)).first()
                if stored is not None and all(stored._mapping[k] == row[k] for k in _CONTENT):
                    unchanged += 1
                    continue
                if stored is None:
                    conn.execute(
                        sa.insert(feedback_votes).values(**row, revision=1, first_voted_at=now, voted_at=now)
                    )
                    new.append(vote.vote_id)
                else:
                    conn.execute(
                        sa.update(feedback_votes)
                        .where(c.vote_id == vote.vote_id)
                        .values(**row, revision=c.revision + 1, voted_at=now)
                    )
                    changed.append(vote.vote_id)
                conn.execute(
                    sa.insert(feedback_history).values(
                        vote_id=vote.vote_id,
                        article_id=vote.article_id,
                        voter=vote.voter,
                        label=vote.label,
                        event_type=vote.event_type,
                        emoji=vote.emoji,
                        companies=row["companies"],
                        note=vote.note,
                        recorded_at=now,
                    )
                )
        return VoteChanges(tuple(new), tuple(changed), unchanged)

    def feedback_votes(
        self,
        *,
        article_ids: Sequence[str] | None = None,
        alert_ids: Sequence[str] | None = None,
        as_of: int | None = None,
    ) -> list[FeedbackVote]:
        """Current votes (or, with ``as_of``, the votes as they were at that feedback version), oldest first."""
        c = feedback_votes.c
        q = sa.select(feedback_votes)
        if article_ids is not None:
            q = q.where(c.article_id.in_(sorted(set(article_ids))))
        if alert_ids is not None:
            q = q.where(c.alert_id.in_(sorted(set(alert_ids))))
        with self.engine.connect() as conn:
            votes = {r.vote_id: _vote_from_row(r._mapping) for r in conn.execute(q)}
            if as_of is not None:
                votes = self._as_of(conn, votes, as_of)
        return sorted(votes.values(), key=lambda v: (v.voted_at, v.vote_id))

    @staticmethod
    def _as_of(conn: Any, votes: dict[str, FeedbackVote], as_of: int) -> dict[str, FeedbackVote]:
        h = feedback_history.c
        latest = (
            sa.select(h.vote_id, sa.func.max(h.seq).label("seq"), sa.func.count().label("revision"))
            .where(h.seq <= as_of)
            .group_by(h.vote_id)
            .subquery()
        )
        q = sa.select(feedback_history, latest.c.revision).join(latest, h.seq == latest.c.seq)
        out: dict[str, FeedbackVote] = {}
        for r in conn.execute(q):
            vote = votes.get(r.vote_id)
            if vote is None:
                continue
            out[r.vote_id] = replace(
                vote,
                label=r.label,
                event_type=r.event_type,
                emoji=r.emoji or "",
                companies=tuple(json.loads(r.companies or "[]")),
                note=r.note,
                voted_at=r.recorded_at,
                revision=int(r.revision),
            )
        return out

    def feedback_version(self) -> int:
        """The number of vote changes ever recorded: the version of the feedback as a training source."""
        with self.engine.connect() as conn:
            return int(
                conn.execute(sa.select(sa.func.coalesce(sa.func.max(feedback_history.c.seq), 0))).scalar_one()
            )
