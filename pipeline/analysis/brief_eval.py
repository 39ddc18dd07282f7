"""Measuring briefs: the core-viewpoint rule against reference viewpoints written for a handful of stories.

``data/briefs/stories.jsonl`` holds stories written for this project (our own words about public events,
several sources each, Chinese and English) with a reference core viewpoint per story, written before the
rule was run on them. A chosen viewpoint is compared with the reference by token-overlap F1: Chinese by
character pairs, English by content words. The rule is set against two baselines: the lead (the first
sentence of the first source) and the best candidate in hindsight (the upper bound of any extractive rule).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pipeline.analysis.brief import (
    Grouper,
    StoryFacts,
    build_brief,
    clean_sentence,
    source_text,
    story_facts,
)
from pipeline.analysis.brief_groups import DATA_DIR
from pipeline.analysis.sentences import split_sentences
from pipeline.analysis.stories import tokens
from pipeline.config.watchlist import Watchlist
from pipeline.errors import DatasetError
from pipeline.models import Article
from pipeline.text import HAN_RE

STORIES_FILE = DATA_DIR / "stories.jsonl"
_STOPWORDS = frozenset(
    "a an the of to in on for and or with by from at as is are was were be its it that this has have will "
    "said says".split()
)


@dataclass(frozen=True)
class EvalStory:
    facts: StoryFacts
    articles: tuple[Article, ...]
    reference: str
    language: str


def load_eval_stories(path: Path = STORIES_FILE, *, watchlist: Watchlist | None = None) -> list[EvalStory]:
    """The evaluation stories; a bad line raises ``DatasetError`` naming ``file:line``."""
    out: list[EvalStory] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            articles = []
            for k, source in enumerate(raw["sources"]):
                at = datetime.fromisoformat(source["published"].replace("Z", "+00:00"))
                aid = f"{raw['id']}-{k + 1}"
                articles.append(
                    Article(
                        article_id=aid,
                        feed_id=f"eval-{k + 1}",
                        url=f"https://eval.example.com/{aid}",
                        canonical_url=None,
                        guid=aid,
                        title=source["title"],
                        summary=source["text"],
                        language=source["lang"],
                        first_seen_at=at,
                        event_at=at,
                        published_at=at,
                        story_id=raw["id"],
                        source_name=source["outlet"],
                    )
                )
            facts = story_facts(
                raw["id"],
                companies=raw["companies"],
                event_type=raw["event_type"],
                chips=raw.get("chips") or (),
                counterparties=raw.get("counterparties") or (),
                watchlist=watchlist,
            )
            out.append(EvalStory(facts, tuple(articles), raw["reference_core"], raw["language"]))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            raise DatasetError(f"not an evaluation story: {e}", path=str(path), line=number) from e
    return out


def _units(text: str) -> list[str]:
    words = tokens(text)
    han = [w for w in words if len(w) == 1 and HAN_RE.match(w)]
    if len(han) * 2 >= len(words):
        return [a + b for a, b in itertools.pairwise(han)]
    return [w for w in words if w not in _STOPWORDS]


def overlap_f1(candidate: str, reference: str) -> float:
    """Token-overlap F1 of two sentences (Chinese: character pairs; English: content words)."""
    a, b = _units(candidate), _units(reference)
    if not a or not b:
        return 0.0
    common = sum(min(a.count(u), b.count(u)) for u in set(a))
    if not common:
        return 0.0
    precision, recall = common / len(a), common / len(b)
    return 2 * precision * recall / (precision + recall)


@dataclass(frozen=True)
class CoreResult:
    story_id: str
    chosen: str
    rule: float
    lead: float
    best: float


def evaluate_core(stories: Sequence[EvalStory], grouper: Grouper) -> list[CoreResult]:
    """Overlap with the reference of the rule's viewpoint, of the lead sentence, and of the best sentence."""
    results: list[CoreResult] = []
    for story in stories:
        brief = build_brief(story.articles, story.facts, grouper=grouper)
        chosen = brief.core.text if brief.core else ""
        first = min(story.articles, key=lambda a: (a.published_at or a.event_at, a.article_id))
        candidates = [
            c
            for a in story.articles
            for s in split_sentences(source_text(a))
            if (c := clean_sentence(s)) is not None
        ]
        lead = next((c for s in split_sentences(source_text(first)) if (c := clean_sentence(s))), "")
        results.append(
            CoreResult(
                story_id=story.facts.story_id,
                chosen=chosen,
                rule=overlap_f1(chosen, story.reference),
                lead=overlap_f1(lead, story.reference),
                best=max((overlap_f1(c, story.reference) for c in candidates), default=0.0),
            )
        )
    return results
