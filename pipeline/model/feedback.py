"""Analysts' feedback as labelled training items, each with its provenance.

The store keeps votes; this module turns the label of each voted article (``FeedbackLabel.combine``) into
a ``LabelledItem`` in the training format, with the article's archived text (what the classifier read)
and, for a relevant item, its event type and companies (the analysts' when they gave them, else the
model's extraction). A disputed article is shown, never trained on. Items are grouped by story, so the
held-out split keeps a story's articles together.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pipeline.model.dataset import LabelledItem
from pipeline.models import EVENT_TYPES, NOT_RELEVANT, RELEVANT, FeedbackLabel, FeedbackVote
from pipeline.store import Store, StoredClassification, VoteChanges

log = logging.getLogger(__name__)

FEEDBACK_ID_PREFIX = "fb-"


@dataclass(frozen=True)
class FeedbackItem:
    """One article's feedback label as a training item, with the votes behind it."""

    item: LabelledItem
    label: FeedbackLabel
    provenance: dict[str, Any] = field(compare=False)

    def as_training_line(self) -> dict[str, Any]:
        """The item in the training format (``data/train/*.jsonl``), plus its ``provenance``."""
        i = self.item
        return {
            "id": i.id,
            "lang": i.lang,
            "title": i.title,
            "summary": i.summary,
            "label": i.label,
            "event_type": i.event_type,
            "companies": list(i.companies),
            "chips": list(i.chips),
            "counterparties": list(i.counterparties),
            "amount": i.amount,
            "note": i.note,
            "event": i.event,
            "hard_negative_kind": None,
            "provenance": self.provenance,
        }


@dataclass(frozen=True)
class FeedbackSet:
    """The feedback at one version: trainable items, disputed labels, and labels that could not be used."""

    version: int
    items: tuple[FeedbackItem, ...]
    labels: tuple[FeedbackLabel, ...]
    skipped: tuple[tuple[str, str], ...] = ()  # (article_id, why)

    @property
    def labelled(self) -> list[LabelledItem]:
        return [f.item for f in self.items]

    @property
    def disputed(self) -> list[FeedbackLabel]:
        return [label for label in self.labels if not label.trainable]

    @property
    def content_hash(self) -> str:
        """sha256 of the items as trained on: a model's data hash changes when its feedback does."""
        digest = hashlib.sha256()
        for f in sorted(self.items, key=lambda f: f.item.id):
            line = {k: v for k, v in f.as_training_line().items() if k != "provenance"}
            digest.update(json.dumps(line, ensure_ascii=False, sort_keys=True).encode())
        return digest.hexdigest()


def feedback_labels(votes: list[FeedbackVote]) -> list[FeedbackLabel]:
    """The label of every article that has votes, oldest vote first."""
    by_article: dict[str, list[FeedbackVote]] = defaultdict(list)
    for v in votes:
        by_article[v.article_id].append(v)
    labels = [FeedbackLabel.combine(a, vs) for a, vs in by_article.items()]
    return sorted(
        (label for label in labels if label is not None), key=lambda lb: (lb.latest_at, lb.article_id)
    )


def _vote_provenance(v: FeedbackVote) -> dict[str, Any]:
    return {
        "voter": v.voter,
        "label": v.label,
        "event_type": v.event_type,
        "emoji": v.emoji or None,
        "alert_id": v.alert_id,
        "story_id": v.story_id,
        "model_version": v.model_version,
        "channel": v.channel,
        "message_ts": v.message_ts,
        "voted_at": v.voted_at.isoformat(),
        "revision": v.revision,
        "note": v.note,
    }


def load_feedback(store: Store, *, as_of: int | None = None) -> FeedbackSet:
    """The feedback of the store (at version ``as_of``, default the latest) as training items."""
    version = store.feedback_version() if as_of is None else as_of
    labels = feedback_labels(store.feedback_votes(as_of=version))
    ids = [label.article_id for label in labels]
    articles = {a.article_id: a for a in store.get_articles(ids)}
    classes = store.get_classifications(ids)
    items: list[FeedbackItem] = []
    skipped: list[tuple[str, str]] = []
    for label in labels:
        if not label.trainable:
            continue
        article = articles.get(label.article_id)
        if article is None:
            skipped.append((label.article_id, "the article is not in the archive"))
            continue
        cls = classes.get(label.article_id)
        relevant = label.label == RELEVANT
        decider = next((v for v in reversed(label.votes) if v.voter == label.settled_by), None)
        companies = (decider.companies if decider else ()) or (cls.companies if cls else ())
        event_type = label.event_type or _model_event_type(cls)
        if relevant and not event_type:
            skipped.append((label.article_id, "relevant, but no event type: add one with `feedback add`"))
            continue
        if relevant and not companies:
            skipped.append((label.article_id, "relevant, but no company: add one with `feedback add`"))
            continue
        story = article.story_id or article.article_id
        item = LabelledItem(
            id=f"{FEEDBACK_ID_PREFIX}{article.article_id}",
            lang=article.language,
            title=article.title,
            summary=article.model_summary,
            label=int(relevant),
            event_type=event_type if relevant else None,
            companies=tuple(companies),
            chips=cls.chips if cls else (),
            counterparties=cls.counterparties if cls else (),
            amount=cls.amount.text if cls and cls.amount else None,
            note=f"analysts' feedback (version {version}): {label.label}, "
            f"{label.relevant_votes} relevant / {label.not_relevant_votes} not relevant",
            event=f"story:{story}",
            source=f"feedback:{article.article_id}",
        )
        provenance = {
            "source": "feedback",
            "feedback_version": version,
            "article_id": article.article_id,
            "story_id": article.story_id,
            "url": article.canonical_url or article.url,
            "feed_id": article.feed_id,
            "event_type_from": "analysts" if label.event_type else ("model" if relevant else None),
            "settled_by": label.settled_by,
            "disagreement": label.disagreement,
            "votes": [_vote_provenance(v) for v in label.votes],
        }
        items.append(FeedbackItem(item, label, provenance))
    for article_id, why in skipped:
        log.warning("feedback on article %s not used for training: %s", article_id, why)
    return FeedbackSet(version, tuple(items), tuple(labels), tuple(skipped))


def _model_event_type(cls: StoredClassification | None) -> str | None:
    return cls.event_type if cls is not None else None


_MANUAL_LABELS: dict[Any, str] = {
    1: RELEVANT,
    0: NOT_RELEVANT,
    RELEVANT: RELEVANT,
    NOT_RELEVANT: NOT_RELEVANT,
}


def manual_vote_id(article_id: str, voter: str) -> str:
    return "manual-" + hashlib.sha256(f"{article_id}\x1f{voter}".encode()).hexdigest()[:24]


def parse_manual_label(obj: Any) -> dict[str, Any]:
    """Validate one label from elsewhere: ``article_id``, ``label`` (relevant | not_relevant | 1 | 0), and
    optional ``event_type``, ``companies``, ``note``. ``ValueError`` says what is wrong."""
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    article_id = obj.get("article_id")
    if not isinstance(article_id, str) or not article_id.strip():
        raise ValueError("'article_id' must be a non-empty string (see `python -m pipeline articles`)")
    raw = obj.get("label")
    # true/false are not labels (JSON booleans would compare equal to 1 and 0).
    label = None if isinstance(raw, bool) else _MANUAL_LABELS.get(raw)
    if label is None:
        raise ValueError(f"'label' must be relevant or not_relevant (or 1 / 0), not {raw!r}")
    event_type = obj.get("event_type")
    if event_type is not None and (label != RELEVANT or event_type not in EVENT_TYPES):
        raise ValueError(f"'event_type' must be one of {list(EVENT_TYPES)}, and only with label relevant")
    companies = obj.get("companies") or []
    if not isinstance(companies, list) or not all(isinstance(c, str) and c.strip() for c in companies):
        raise ValueError("'companies' must be a list of company names (primary actor first)")
    note = obj.get("note")
    if note is not None and not isinstance(note, str):
        raise ValueError("'note' must be a string")
    return {
        "article_id": article_id.strip(),
        "label": label,
        "event_type": event_type,
        "companies": tuple(c.strip() for c in companies),
        "note": note,
    }


def add_manual_labels(store: Store, labels: list[dict[str, Any]], *, by: str, now: datetime) -> VoteChanges:
    """Record labels from elsewhere (validated by ``parse_manual_label``) as ``manual:<by>`` votes.

    Every article must be in the archive (``ValueError`` names the missing ones; nothing is written then).
    A manual label settles its article: the latest one wins over the analysts' reactions.
    """
    ids = [lb["article_id"] for lb in labels]
    articles = {a.article_id: a for a in store.get_articles(ids)}
    missing = sorted(set(ids) - set(articles))
    if missing:
        raise ValueError(f"not in the archive: {missing[:10]}" + (" …" if len(missing) > 10 else ""))
    classes = store.get_classifications(ids)
    voter = f"manual:{by}"
    votes = []
    for lb in labels:
        article = articles[lb["article_id"]]
        cls = classes.get(article.article_id)
        votes.append(
            FeedbackVote(
                vote_id=manual_vote_id(article.article_id, voter),
                article_id=article.article_id,
                voter=voter,
                label=lb["label"],
                event_type=lb["event_type"],
                voted_at=now,
                story_id=article.story_id,
                model_version=cls.model_version if cls else None,
                companies=lb["companies"],
                note=lb["note"],
            )
        )
    return store.save_votes(votes, now=now)
