"""Novelty of a story: is it new, a follow-up of an earlier story, or a rehash of one?

Rules (``decide_novelty``), applied to a story before its first alert:

- **related** earlier stories are those with the same primary company and event type that share a chip or
  a counterparty with it, first reported at most ``window`` before it (and not after it);
- no related story: ``new``;
- a related story, and the new story brings something **material** beyond all of them: ``follow-up``,
  linked to the most recent related story. Material: a company, chip, counterparty or amount they did not
  name, or a figure (an amount, a quantity with its unit, a percentage, a process node, a year) that none
  of their texts carried;
- a related story and nothing material: ``rehash`` (not posted; counted in the daily digest).

The first source is the story's earliest article by publish time (first-seen time when undated).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from pipeline.models import FOLLOW_UP, NEW, REHASH, Novelty

# Figures that carry news: amounts and quantities with a unit, percentages, process nodes, years.
_FIGURE_RX = re.compile(
    r"(?:[$€¥£]\s?)?\d+(?:[.,]\d+)*\s*"
    r"(?:亿元|亿美元|亿|万亿|万|billion|million|bn|mn|trillion|%|percent|nm|纳米|gw|gigawatts?|吉瓦|"
    r"颗|张|卡|台|chips|cards|units|yuan|dollars)"
    r"|(?<!\d)20[2-4]\d(?!\d)",
    re.IGNORECASE,
)


def figures(text: str) -> frozenset[str]:
    """The figures of a text, normalised (``$10 billion`` and ``$10billion`` are one figure)."""
    return frozenset(re.sub(r"[\s,]", "", m.group()).casefold() for m in _FIGURE_RX.finditer(text))


@dataclass(frozen=True)
class StoryItem:
    """One relevant article of a story, as novelty needs it (``amount`` normalised, e.g. ``1e+10 USD``)."""

    article_id: str
    source: str
    published_at: datetime
    title: str
    text: str
    companies: tuple[str, ...] = ()
    event_type: str | None = None
    chips: tuple[str, ...] = ()
    counterparties: tuple[str, ...] = ()
    amount: str | None = None


@dataclass(frozen=True)
class StoryDigest:
    """What novelty compares of a story: its facts, its figures and its first report."""

    story_id: str
    company: str | None
    event_type: str | None
    companies: frozenset[str]
    chips: frozenset[str]
    counterparties: frozenset[str]
    amounts: frozenset[str]
    figures: frozenset[str]
    first_article_id: str
    first_source: str
    first_published_at: datetime
    headline: str

    @classmethod
    def of(cls, story_id: str, items: Sequence[StoryItem]) -> StoryDigest:
        """The digest of a story from its relevant articles (at least one)."""
        ordered = sorted(items, key=lambda i: (i.published_at, i.article_id))
        first = ordered[0]
        company = next((i.companies[0] for i in ordered if i.companies), None)
        event_type = next((i.event_type for i in ordered if i.event_type), None)
        return cls(
            story_id=story_id,
            company=company,
            event_type=event_type,
            companies=frozenset(c.casefold() for i in ordered for c in i.companies),
            chips=frozenset(c.casefold() for i in ordered for c in i.chips),
            counterparties=frozenset(c.casefold() for i in ordered for c in i.counterparties),
            amounts=frozenset(i.amount for i in ordered if i.amount),
            figures=frozenset().union(*(figures(i.text) for i in ordered)),
            first_article_id=first.article_id,
            first_source=first.source,
            first_published_at=first.published_at,
            headline=first.title,
        )


def related(story: StoryDigest, earlier: StoryDigest, window: timedelta) -> bool:
    """Same primary company and event type, a shared chip or counterparty, first reported within
    ``window`` before ``story``."""
    if earlier.story_id == story.story_id or not story.company or earlier.company != story.company:
        return False
    if earlier.event_type != story.event_type:
        return False
    if not (story.chips & earlier.chips or story.counterparties & earlier.counterparties):
        return False
    gap = story.first_published_at - earlier.first_published_at
    return timedelta(0) <= gap <= window


def material(story: StoryDigest, before: Sequence[StoryDigest]) -> list[str]:
    """What ``story`` says that none of ``before`` said: new companies, chips, counterparties, amounts,
    figures (empty: nothing material)."""
    said_companies = frozenset().union(*(b.companies for b in before))
    said_chips = frozenset().union(*(b.chips for b in before))
    said_partners = frozenset().union(*(b.counterparties for b in before))
    said_amounts = frozenset().union(*(b.amounts for b in before))
    said_figures = frozenset().union(*(b.figures for b in before))
    news: list[str] = []
    news += [f"company {c}" for c in sorted(story.companies - said_companies)]
    news += [f"chip {c}" for c in sorted(story.chips - said_chips)]
    news += [f"counterparty {c}" for c in sorted(story.counterparties - said_partners)]
    news += [f"amount {a}" for a in sorted(story.amounts - said_amounts)]
    news += [f"figure {f}" for f in sorted(story.figures - said_figures)]
    return news


def decide_novelty(story: StoryDigest, earlier: Sequence[StoryDigest], *, window: timedelta) -> Novelty:
    """``new``, ``follow-up`` or ``rehash`` for ``story`` against the stories alerted before it."""
    matches = sorted(
        (e for e in earlier if related(story, e, window)),
        key=lambda e: (e.first_published_at, e.story_id),
    )
    new = Novelty(
        story_id=story.story_id,
        tag=NEW,
        first_article_id=story.first_article_id,
        first_source=story.first_source,
        first_published_at=story.first_published_at,
    )
    if not matches:
        return new
    latest = matches[-1]
    news = material(story, matches)
    return replace(
        new,
        tag=FOLLOW_UP if news else REHASH,
        earlier_story_id=latest.story_id,
        earlier_headline=latest.headline,
        reason="new: " + ", ".join(news[:8])
        if news
        else f"nothing material beyond {len(matches)} earlier story(ies)",
    )
