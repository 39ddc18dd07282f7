"""Story briefs: one story's sources pulled together in the analysts' register (``story-brief.md``).

``build_brief`` takes the articles of a story and returns a ``Brief``: a core viewpoint, up to five groups
of points, and the numbered sources. Pure: no I/O; the sentence grouper is passed in.

How a brief is assembled:

1. Sources are numbered by publish time (the first reporter is [1]). Each gives its article body when its
   page was fetched, else its feed summary (else its headline).
2. The text is split into sentences (``sentences.split_sentences``); datelines ("BEIJING, Sept 15
   (Reuters) -", "【财联社9月15日电】") are removed; fragments are dropped and an over-long sentence is
   cut back to its last clause boundary ("a clean clause").
3. The grouper assigns each sentence a group; ``other`` sentences (boilerplate, unrelated news) go.
4. Near-duplicates are merged across sources: two sentences in one language whose word (English) or
   character-pair (Chinese) sets overlap by Jaccard >= ``DUPLICATE_JACCARD``, or one of which is
   contained in the other >= ``DUPLICATE_CONTAINMENT``, are one point citing both sources. Sentences keep
   their language; a point shows the wording of its earliest source in the story's main language.
5. Points are ranked (``point_score``) and the core viewpoint is chosen by ``CORE_RULE``.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from pipeline.analysis.brief_groups import DEVELOPMENTS, GROUPS, INVESTMENT, MOTIVATION, OTHER
from pipeline.analysis.sentences import split_sentences
from pipeline.analysis.stories import tokens
from pipeline.config.watchlist import Watchlist
from pipeline.models import CHIP_INVESTMENT, Article, Brief, BriefGroup, BriefPoint, BriefSource
from pipeline.text import HAN_RE, detect_language

DUPLICATE_JACCARD = 0.5
DUPLICATE_CONTAINMENT = 0.8
# Sentences shorter than this are fragments (datelines, captions); longer ones are cut to a clause.
MIN_CHARS = {"zh": 8, "en": 30}
MAX_CHARS = {"zh": 150, "en": 320}
MAX_SENTENCES_PER_SOURCE = 60
MAX_TEXT_CHARS = 12_000

CORE_RULE = (
    "The core viewpoint is the sentence with the highest 0.40 × salience + 0.35 × agreement + 0.25 × "
    "position, among sentences in the story's main language grouped as a development, investment or "
    "motivation (any sentence when there is none). Salience: 0.5 if it names one of the story's "
    "companies (or their units), 0.25 if it names its chip or counterparty, 0.25 if it uses a word of "
    "the story's event type (own chip / investment). Agreement: how much the other sources say the same, "
    "the mean over the other sources of the share of the sentence's words (Chinese: character pairs) "
    "that the source also uses anywhere in its text; across languages only names and figures written in Latin "
    "letters or digits can match, at half weight. Position: 1 for a source's first sentence, 1/2 for "
    "its second, and so on. Ties go to the earlier source."
)
CORE_WEIGHTS = (0.40, 0.35, 0.25)  # salience, agreement, position
CORE_GROUPS = (DEVELOPMENTS, INVESTMENT, MOTIVATION)

_EVENT_WORDS = {
    "self_development": re.compile(
        r"自研|研发|芯片|处理器|加速器|流片|量产|in-house|own chip|develop|design|chip|processor|accelerator",
        re.IGNORECASE,
    ),
    CHIP_INVESTMENT: re.compile(
        r"投资|入股|融资|收购|领投|股东|invest|stake|funding|acqui|backed|shareholder", re.IGNORECASE
    ),
}
_DATELINE_RX = re.compile(
    r"^(?:【[^】]{1,40}】\s*"
    r"|[A-Z][A-Za-z .'-]{1,40},?\s+(?:[A-Z][a-z]{2,8}\.?\s+\d{1,2}\s+)?\([A-Za-z .&-]{2,40}\)\s*[-–—]+\s*"
    r"|(?:[^\s，。：:]{2,12}?)?\d{1,2}月\d{1,2}日(?:电|讯|消息)[，,：:\s]*)"
)
# Model numbers inside chip names ("Kunlun P800" -> P800), which Chinese text writes the same way.
_MODEL_RX = re.compile(r"[A-Za-z]*\d[A-Za-z0-9]*")
_CLAUSE_END_RX = re.compile(r"[，,；;：:、]")
_LATIN_WORD_RX = re.compile(r"[A-Za-z0-9]+")
_STOPWORDS = frozenset(
    "a an the of to in on for and or with by from at as is are was were be been its it that this these "
    "those has have had will would can could may its their his her they he she we said says say also "
    "than more about into over after before".split()
)


class Grouper(Protocol):
    """What ``build_brief`` needs from a sentence classifier (``brief_groups.SentenceGrouper``)."""

    def predict(self, texts: Sequence[str]) -> list[tuple[str, float]]: ...


@dataclass(frozen=True)
class StoryFacts:
    """What the story is about: its companies, event type, chips and counterparties, and every name that
    means one of them (aliases, units), for salience."""

    story_id: str
    companies: tuple[str, ...] = ()
    event_type: str | None = None
    chips: tuple[str, ...] = ()
    counterparties: tuple[str, ...] = ()
    company_names: tuple[str, ...] = ()
    object_names: tuple[str, ...] = ()


def story_facts(
    story_id: str,
    *,
    companies: Sequence[str],
    event_type: str | None,
    chips: Sequence[str] = (),
    counterparties: Sequence[str] = (),
    watchlist: Watchlist | None = None,
) -> StoryFacts:
    """Facts of a story with the names that mean them: the watch-list's aliases, subsidiaries and chip
    units of its companies; the aliases of its chip families and counterparties, and model numbers."""
    names: list[str] = list(companies)
    objects: list[str] = [*chips, *counterparties]
    objects += [t for chip in chips for t in _MODEL_RX.findall(chip)]
    if watchlist is not None:
        for name in companies:
            company = watchlist.company(name)
            if company is not None:
                names += [company.name, *company.aliases, *company.subsidiaries, *company.chip_units]
        for chip in chips:
            for product in watchlist.chips:
                if chip.casefold().startswith(product.name.casefold()):
                    objects += [product.name, *product.aliases]
        for name in counterparties:
            partner = watchlist.chip_company(name)
            if partner is not None:
                objects += [partner.name, *partner.aliases]
    return StoryFacts(
        story_id=story_id,
        companies=tuple(companies),
        event_type=event_type,
        chips=tuple(chips),
        counterparties=tuple(counterparties),
        company_names=tuple(dict.fromkeys(n for n in names if n)),
        object_names=tuple(dict.fromkeys(n for n in objects if n)),
    )


@dataclass
class _Sentence:
    text: str
    language: str
    source: int  # the source's number
    position: int  # 0 for the first sentence of its source
    group: str = OTHER
    confidence: float = 0.0
    shingles: frozenset[str] = frozenset()


@dataclass
class _Cluster:
    members: list[_Sentence] = field(default_factory=list)

    @property
    def language(self) -> str:
        return self.members[0].language

    @property
    def citations(self) -> tuple[int, ...]:
        return tuple(sorted({m.source for m in self.members}))

    @property
    def position(self) -> int:
        return min(m.position for m in self.members)

    @property
    def group(self) -> str:
        votes: dict[str, float] = {}
        for m in self.members:
            votes[m.group] = votes.get(m.group, 0.0) + 1.0 + max(m.confidence, 0.0)
        best = max(votes.values())
        # Ties go to the earliest source's group.
        return next(m.group for m in self.members if votes[m.group] == best)

    def text(self, main_language: str) -> str:
        preferred = [m for m in self.members if m.language == main_language] or self.members
        return min(preferred, key=lambda m: (m.source, m.position)).text


def brief_eligible(articles: Sequence[Article]) -> bool:
    """A brief is written for at least two sources, or one whose full article body was fetched."""
    return len(articles) >= 2 or any(_has_body(a) for a in articles)


def _has_body(article: Article) -> bool:
    return bool(article.body) and article.page_status == "ok"


def source_text(article: Article) -> str:
    """What a brief reads of an article: the page body when fetched, else the feed summary, else the title."""
    if _has_body(article):
        return article.body or ""
    return article.summary or article.title


def sentence_language(text: str) -> str:
    """``zh`` or ``en`` for one sentence (mixed text counts as Chinese when it has Han characters)."""
    detected = detect_language(text)
    if detected == "mixed":
        return "zh" if HAN_RE.search(text) else "en"
    return detected


def clean_sentence(text: str) -> str | None:
    """A sentence fit to be a point: dateline removed, fragments refused (None), long ones cut to a clause."""
    text = _DATELINE_RX.sub("", text.strip(), count=1).strip()
    if not text:
        return None
    language = sentence_language(text)
    if language == "zh":
        if len(HAN_RE.findall(text)) + len(_LATIN_WORD_RX.findall(text)) < MIN_CHARS["zh"]:
            return None
    elif len(text) < MIN_CHARS["en"] or len(text.split()) < 5:
        return None
    limit = MAX_CHARS[language]
    if len(text) <= limit:
        return text
    head = text[:limit]
    cuts = [m.start() for m in _CLAUSE_END_RX.finditer(head)]
    cut = cuts[-1] if cuts and cuts[-1] >= limit * 0.4 else None
    if cut is None:
        return None  # no clean clause: a run-on text (a table, a list flattened into one line)
    return head[:cut].rstrip() + "…"


def _shingles(text: str, language: str) -> frozenset[str]:
    words = tokens(text)
    if language == "zh":
        han = [w for w in words if len(w) == 1 and HAN_RE.match(w)]
        latin = [w for w in words if not (len(w) == 1 and HAN_RE.match(w))]
        return frozenset([a + b for a, b in itertools.pairwise(han)] + latin)
    return frozenset(w.rstrip("s") if len(w) > 3 else w for w in words if w not in _STOPWORDS)


def near_duplicates(a: frozenset[str], b: frozenset[str]) -> bool:
    """Whether two sentences' shingle sets overlap enough to be the same statement."""
    if not a or not b:
        return False
    common = len(a & b)
    if common / len(a | b) >= DUPLICATE_JACCARD:
        return True
    return min(len(a), len(b)) >= 4 and common / min(len(a), len(b)) >= DUPLICATE_CONTAINMENT


def _number_sources(articles: Sequence[Article]) -> list[tuple[BriefSource, Article]]:
    ordered = sorted(articles, key=lambda a: (a.published_at or a.event_at, a.article_id))
    out: list[tuple[BriefSource, Article]] = []
    for number, article in enumerate(ordered, start=1):
        url = article.canonical_url if (article.canonical_url or "").startswith("http") else article.url
        out.append(
            (
                BriefSource(
                    number=number,
                    article_id=article.article_id,
                    outlet=article.source_name or article.feed_id,
                    url=url,
                    published_at=article.published_at or article.event_at,
                    language=sentence_language(source_text(article)[:2000] or article.title),
                    full_text=_has_body(article),
                ),
                article,
            )
        )
    return out


def main_language(sources: Sequence[BriefSource]) -> str:
    """The language most sources are written in; a tie goes to the first source's."""
    counts = Counter(s.language for s in sources)
    if not counts:
        return "en"
    best = max(counts.values())
    return next(s.language for s in sources if counts[s.language] == best)


def _sentences(numbered: Sequence[tuple[BriefSource, Article]]) -> list[_Sentence]:
    out: list[_Sentence] = []
    for source, article in numbered:
        text = source_text(article)[:MAX_TEXT_CHARS]
        position = 0
        seen: set[str] = set()
        for raw in split_sentences(text, limit=MAX_SENTENCES_PER_SOURCE, max_chars=MAX_TEXT_CHARS):
            cleaned = clean_sentence(raw)
            if cleaned is None or cleaned in seen:
                continue
            seen.add(cleaned)
            language = sentence_language(cleaned)
            out.append(
                _Sentence(
                    text=cleaned,
                    language=language,
                    source=source.number,
                    position=position,
                    shingles=_shingles(cleaned, language),
                )
            )
            position += 1
    return out


def _cluster(sentences: Sequence[_Sentence]) -> list[_Cluster]:
    clusters: list[_Cluster] = []
    for sentence in sentences:
        home = next(
            (
                c
                for c in clusters
                if c.language == sentence.language
                and sentence.source not in {m.source for m in c.members}
                and any(near_duplicates(sentence.shingles, m.shingles) for m in c.members)
            ),
            None,
        )
        if home is None:
            clusters.append(_Cluster([sentence]))
        else:
            home.members.append(sentence)
    return clusters


def salience(text: str, facts: StoryFacts) -> float:
    """How much a sentence is about the story: its companies, its chip or counterparty, its event type."""
    folded = text.casefold()
    names = {n.casefold() for n in (*facts.companies, *facts.company_names) if n}
    objects = {n.casefold() for n in (*facts.chips, *facts.counterparties, *facts.object_names) if n}
    score = 0.0
    if any(n in folded for n in names):
        score += 0.5
    if any(n in folded for n in objects):
        score += 0.25
    event = _EVENT_WORDS.get(facts.event_type or "")
    if event is not None and event.search(text):
        score += 0.25
    return score


_ANCHOR_RX = re.compile(r"[A-Za-z][A-Za-z0-9-]*\d[A-Za-z0-9-]*|\d[\d.,]*\d|[A-Z][A-Za-z]{2,}")


def _anchors(text: str) -> frozenset[str]:
    """Names and figures written in Latin letters or digits: all that a Chinese and an English sentence
    can share word for word (P800, TPU, Ironwood, 9216)."""
    return frozenset(a.casefold().replace(",", "") for a in _ANCHOR_RX.findall(text))


def soft_agreement(sentence: _Sentence, others: dict[int, list[_Sentence]], n_sources: int) -> float:
    """Mean, over the other sources, of the share of ``sentence`` that the source also says anywhere in
    its text (same language: shingles; another language: Latin names and figures, at half weight)."""
    if n_sources <= 1:
        return 0.0
    anchors = _anchors(sentence.text)
    total = 0.0
    for source, sentences in others.items():
        if source == sentence.source:
            continue
        same = [o for o in sentences if o.language == sentence.language]
        if same and sentence.shingles:
            said = frozenset().union(*(o.shingles for o in same))
            total += len(sentence.shingles & said) / len(sentence.shingles)
        elif anchors:
            said = frozenset().union(*(_anchors(o.text) for o in sentences))
            total += 0.5 * len(anchors & said) / len(anchors)
    return total / (n_sources - 1)


def _agreement(cluster: _Cluster, n_sources: int) -> float:
    return (len(cluster.citations) - 1) / max(n_sources - 1, 1)


def _position(cluster: _Cluster) -> float:
    return 1.0 / (1 + cluster.position)


def core_score(text: str, agreement: float, position: int, facts: StoryFacts) -> float:
    """``CORE_RULE`` as a number, from a sentence's text, its agreement (0..1) and its position."""
    w_salience, w_agreement, w_position = CORE_WEIGHTS
    return w_salience * salience(text, facts) + w_agreement * agreement + w_position / (1 + position)


def point_score(cluster: _Cluster, text: str, n_sources: int, facts: StoryFacts) -> float:
    """Rank of a point within its group: agreement first, then salience, position and the model's margin."""
    confidence = max(m.confidence for m in cluster.members)
    return (
        0.4 * _agreement(cluster, n_sources)
        + 0.3 * salience(text, facts)
        + 0.2 * _position(cluster)
        + 0.1 * min(max(confidence, 0.0), 1.0)
    )


def build_brief(articles: Sequence[Article], facts: StoryFacts, *, grouper: Grouper) -> Brief:
    """The brief of a story from its articles (any order; muted or irrelevant ones already left out)."""
    numbered = _number_sources(articles)
    sources = tuple(s for s, _ in numbered)
    language = main_language(sources)
    sentences = _sentences(numbered)
    for sentence, (group, confidence) in zip(
        sentences, grouper.predict([s.text for s in sentences]), strict=True
    ):
        sentence.group, sentence.confidence = group, confidence
    clusters = [c for c in _cluster([s for s in sentences if s.group != OTHER]) if c.group in GROUPS]
    n_sources = len(sources)

    core: BriefPoint | None = None
    core_cluster: _Cluster | None = None
    candidates = (
        [c for c in clusters if c.language == language and c.group in CORE_GROUPS]
        or [c for c in clusters if c.language == language]
        or clusters
    )
    if candidates:
        by_source: dict[int, list[_Sentence]] = {}
        for sentence in sentences:
            by_source.setdefault(sentence.source, []).append(sentence)

        def rank(cluster: _Cluster) -> float:
            return max(
                core_score(m.text, soft_agreement(m, by_source, n_sources), m.position, facts)
                for m in cluster.members
            )

        scored = [(rank(c), c) for c in candidates]
        best_score, core_cluster = max(
            scored, key=lambda sc: (sc[0], -sc[1].members[0].source, -sc[1].position)
        )
        text = core_cluster.text(language)
        core = BriefPoint(
            text=text, citations=core_cluster.citations, language=sentence_language(text), score=best_score
        )

    groups: list[BriefGroup] = []
    for key in GROUPS:
        points = []
        for cluster in clusters:
            if cluster is core_cluster or cluster.group != key:
                continue
            text = cluster.text(language)
            points.append(
                BriefPoint(
                    text=text,
                    citations=cluster.citations,
                    language=sentence_language(text),
                    score=point_score(cluster, text, n_sources, facts),
                )
            )
        if points:
            points.sort(key=lambda p: (-p.score, p.citations[0]))
            groups.append(BriefGroup(key=key, points=tuple(points)))
    # The headline of the first report in the main language, as the labels are in that language.
    headline = next(
        (a.title for s, a in numbered if s.language == language), numbered[0][1].title if numbered else ""
    )
    return Brief(
        story_id=facts.story_id,
        language=language,
        headline=headline,
        core=core,
        groups=tuple(groups),
        sources=sources,
    )
