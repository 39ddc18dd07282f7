"""Frozen dataclasses passed between the pipeline's stages.

Edges (HTTP, store, Slack) produce and consume these; the middle (parse, extract, classify, build
messages) takes them and returns new ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Language = Literal["zh", "en", "mixed"]
# The languages a feed, an article or a labelled item can have ("mixed": Chinese and English in one).
LANGUAGES: tuple[str, ...] = ("zh", "en", "mixed")
EventType = Literal["self_development", "chip_investment"]
SELF_DEVELOPMENT, CHIP_INVESTMENT = "self_development", "chip_investment"
# The event types of the labelling guide, in the order reports list them.
EVENT_TYPES: tuple[str, ...] = (SELF_DEVELOPMENT, CHIP_INVESTMENT)


@dataclass(frozen=True)
class FeedSpec:
    """One feed from the feed list (``config/feeds.yaml``)."""

    id: str
    url: str
    language: str
    name: str | None = None
    category: str | None = None
    enabled: bool = True
    poll_minutes: int = 15
    fetch_pages: bool = True

    @property
    def display_name(self) -> str:
        return self.name or self.id


@dataclass(frozen=True)
class HttpResult:
    """A completed HTTP exchange; ``body`` is empty when ``not_modified``."""

    url: str
    final_url: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    elapsed_s: float
    not_modified: bool = False

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")


@dataclass(frozen=True)
class FeedEntry:
    """One item of a parsed feed, already cleaned: plain-text title and summary, UTC dates."""

    guid: str | None
    url: str | None
    title: str
    summary: str
    published: datetime | None = None
    author: str | None = None


@dataclass(frozen=True)
class ParsedFeed:
    entries: tuple[FeedEntry, ...]
    encoding: str
    title: str | None = None
    warnings: tuple[str, ...] = ()
    parser: str = "feedparser"  # "lxml" when the fast path read it (pipeline.ingest.fastparse)


@dataclass(frozen=True)
class PageContent:
    """What was extracted from an article page."""

    url: str
    canonical_url: str | None
    title: str | None
    description: str | None
    published: datetime | None
    main_text: str
    encoding: str
    paywalled: bool = False
    site_name: str | None = None
    extractor: str = ""


@dataclass(frozen=True)
class Article:
    """An archived item as the store holds it."""

    article_id: str
    feed_id: str
    url: str | None
    canonical_url: str | None
    guid: str | None
    title: str
    summary: str
    language: str
    first_seen_at: datetime
    event_at: datetime
    published_at: datetime | None = None
    body: str | None = None
    story_id: str | None = None
    source_name: str | None = None
    page_status: str | None = None

    @property
    def model_summary(self) -> str:
        """What the classifier reads besides the title: the summary plus the start of the page text (the
        lead of an article carries its news)."""
        if self.body and self.body not in self.summary:
            return f"{self.summary}\n{self.body[:4000]}" if self.summary else self.body[:4000]
        return self.summary

    @property
    def text(self) -> str:
        """Title, summary and body as one string, for classification and extraction."""
        parts = [self.title, self.summary]
        if self.body and self.body not in self.summary:
            parts.append(self.body)
        return "\n".join(p for p in parts if p)


@dataclass(frozen=True)
class Amount:
    value: float
    currency: str
    text: str

    def as_dict(self) -> dict[str, Any]:
        return {"value": self.value, "currency": self.currency, "text": self.text}


@dataclass(frozen=True)
class Extraction:
    companies: tuple[str, ...] = ()
    chips: tuple[str, ...] = ()
    counterparties: tuple[str, ...] = ()
    amount: Amount | None = None
    summary: str = ""


@dataclass(frozen=True)
class Classification:
    """The classifier's verdict and the structured fields of one article."""

    article_id: str
    relevant: bool
    score: float
    event_type: str | None
    model_version: str
    extraction: Extraction = field(default_factory=Extraction)
    error: str | None = None


@dataclass(frozen=True)
class RunInfo:
    """What a pipeline cycle needs to know about the Airflow run (or CLI run) it belongs to.

    ``run_type`` is ``scheduled``, ``manual`` or ``backfill``; the window is [start, end) in UTC.
    """

    run_id: str
    run_type: str
    window_start: datetime
    window_end: datetime
    dry_run: bool = False
    # A window the operator gave explicitly (manual since/until): exactly that window, no late arrivals.
    explicit_window: bool = False

    @property
    def is_backfill(self) -> bool:
        return self.run_type == "backfill"

    @property
    def interval_label(self) -> str:
        """``2025-09-14 06:00–06:15 UTC``; the end's date is shown when it differs from the start's."""
        end_format = "%H:%M" if self.window_end.date() == self.window_start.date() else "%Y-%m-%d %H:%M"
        return f"{self.window_start:%Y-%m-%d %H:%M}–{self.window_end.strftime(end_format)} UTC"


# --- analysts' feedback -----------------------------------------------------------------------------------

RELEVANT, NOT_RELEVANT = "relevant", "not_relevant"
# What a reaction can say about an alert: its relevance, or (implying relevant) its event type.
VOTE_CLASSES: tuple[str, ...] = (RELEVANT, NOT_RELEVANT, *EVENT_TYPES)
# The label of an article whose voters are split evenly: shown, never trained on until settled.
DISPUTED = "disputed"


@dataclass(frozen=True)
class FeedbackVote:
    """One voter's current opinion of one article, with where it came from.

    ``label`` is ``relevant``, ``not_relevant`` or None (the voter withdrew, or their own reactions
    contradict each other); ``event_type`` is given only with ``relevant``. ``voter`` is ``slack:<user>``
    for a reaction in Slack, ``manual:<name>`` for a label added with ``python -m pipeline feedback add``.
    """

    vote_id: str
    article_id: str
    voter: str
    label: str | None
    event_type: str | None
    voted_at: datetime
    emoji: str = ""
    alert_id: str | None = None
    story_id: str | None = None
    model_version: str | None = None
    channel: str | None = None
    message_ts: str | None = None
    companies: tuple[str, ...] = ()
    note: str | None = None
    revision: int = 1

    @property
    def manual(self) -> bool:
        return self.voter.startswith("manual:")


@dataclass(frozen=True)
class FeedbackLabel:
    """The label analysts gave an article, from all their current votes, and how they voted.

    The latest ``feedback add`` label settles an article; otherwise each voter counts once (their latest
    vote) and the majority wins. An even split is ``disputed``: kept and shown, never trained on.
    """

    article_id: str
    label: str  # relevant | not_relevant | disputed
    event_type: str | None
    votes: tuple[FeedbackVote, ...]
    relevant_votes: int
    not_relevant_votes: int
    settled_by: str | None = None  # the manual voter whose label decided

    @property
    def disagreement(self) -> bool:
        return self.relevant_votes > 0 and self.not_relevant_votes > 0

    @property
    def trainable(self) -> bool:
        return self.label in (RELEVANT, NOT_RELEVANT)

    @property
    def latest_at(self) -> datetime:
        return max(v.voted_at for v in self.votes)

    @classmethod
    def combine(cls, article_id: str, votes: Sequence[FeedbackVote]) -> FeedbackLabel | None:
        """The label of ``article_id`` from its votes; None when no vote says anything."""
        latest: dict[str, FeedbackVote] = {}
        for vote in sorted(votes, key=lambda v: (v.voted_at, v.vote_id)):
            if vote.label is not None:
                # Someone who voted on several alerts of the article (one per channel) counts once.
                latest[vote.voter] = vote
        counted = tuple(sorted(latest.values(), key=lambda v: (v.voted_at, v.vote_id)))
        if not counted:
            return None
        yes = sum(1 for v in counted if v.label == RELEVANT)
        no = sum(1 for v in counted if v.label == NOT_RELEVANT)
        manual = [v for v in counted if v.manual]
        settled_by = None
        if manual:
            decider = manual[-1]
            label, settled_by = str(decider.label), decider.voter
            event_type = decider.event_type if label == RELEVANT else None
        else:
            label = RELEVANT if yes > no else NOT_RELEVANT if no > yes else DISPUTED
            event_type = _majority([v.event_type for v in counted if v.label == RELEVANT and v.event_type])
        return cls(
            article_id=article_id,
            label=label,
            event_type=event_type if label == RELEVANT else None,
            votes=counted,
            relevant_votes=yes,
            not_relevant_votes=no,
            settled_by=settled_by,
        )


def _majority(values: Sequence[str]) -> str | None:
    """The most frequent value; None when there is none or the top is tied."""
    counts: dict[str, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])
    if not ranked or (len(ranked) > 1 and ranked[0][1] == ranked[1][1]):
        return None
    return ranked[0][0]


# --- story briefs and novelty -------------------------------------------------------------------------


@dataclass(frozen=True)
class BriefSource:
    """A numbered source of a brief: ``[number]`` in the points refers to it."""

    number: int
    article_id: str
    outlet: str
    url: str | None
    published_at: datetime | None
    language: str
    full_text: bool = False


@dataclass(frozen=True)
class BriefPoint:
    """One statement of a brief: a sentence (or clean clause) of a source, in its own language, with the
    numbers of every source that makes it."""

    text: str
    citations: tuple[int, ...]
    language: str
    score: float = 0.0


@dataclass(frozen=True)
class BriefGroup:
    """The points of one group (``pipeline.analysis.brief_groups.GROUPS``), best first."""

    key: str
    points: tuple[BriefPoint, ...]


@dataclass(frozen=True)
class Brief:
    """A story brief in the analysts' register: core viewpoint, grouped points, numbered sources.

    ``language`` is the story's main language (``zh`` or ``en``: group labels follow it); ``version`` grows
    with the sources (it is their number), so a later brief of a story replaces an earlier one.
    """

    story_id: str
    language: str
    headline: str
    core: BriefPoint | None
    groups: tuple[BriefGroup, ...]
    sources: tuple[BriefSource, ...]

    @property
    def version(self) -> int:
        return len(self.sources)

    @property
    def points(self) -> int:
        return sum(len(g.points) for g in self.groups) + (1 if self.core else 0)

    @property
    def cited(self) -> tuple[int, ...]:
        """The source numbers that at least one point cites, in order."""
        numbers = {n for g in self.groups for p in g.points for n in p.citations}
        if self.core:
            numbers.update(self.core.citations)
        return tuple(sorted(numbers))

    def as_record(self) -> dict[str, Any]:
        """The brief as JSON-ready data (times as ISO text), as the ledger keeps it with the brief's row
        for the console to show."""

        def point(p: BriefPoint) -> dict[str, Any]:
            return {"text": p.text, "citations": list(p.citations), "language": p.language}

        return {
            "language": self.language,
            "headline": self.headline,
            "core": point(self.core) if self.core else None,
            "groups": [{"key": g.key, "points": [point(p) for p in g.points]} for g in self.groups],
            "sources": [
                {
                    "number": s.number,
                    "article_id": s.article_id,
                    "outlet": s.outlet,
                    "url": s.url,
                    "published_at": s.published_at.isoformat() if s.published_at else None,
                    "language": s.language,
                }
                for s in self.sources
            ],
        }


NEW, FOLLOW_UP, REHASH = "new", "follow-up", "rehash"
# The novelty tags of an alert: a new story, a follow-up of an earlier one, or a rehash (not posted).
NOVELTY_TAGS: tuple[str, ...] = (NEW, FOLLOW_UP, REHASH)


@dataclass(frozen=True)
class Novelty:
    """Whether a story is new, a follow-up of an earlier story or a rehash of it, and who reported it first."""

    story_id: str
    tag: str
    first_article_id: str
    first_source: str
    first_published_at: datetime
    earlier_story_id: str | None = None
    earlier_headline: str | None = None
    reason: str = ""
