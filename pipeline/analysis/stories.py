"""Story grouping: near-duplicate articles (syndicated copies, re-published items) share one story id.

Each article gets a MinHash over shingles of its normalised title and the lede of its text (word
3-grams for English, character 3-grams for Chinese). Articles whose estimated Jaccard similarity reaches
the threshold are the same story. This catches copies and light edits, not two outlets' independent
write-ups of the same event.
"""

from __future__ import annotations

import functools
import logging
import re
import struct
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np
from datasketch import LeanMinHash, MinHash, MinHashLSH

from pipeline.models import Article
from pipeline.text import CJK, CJK_CHAR_WEIGHT, CJK_RE, dense_length

logger = logging.getLogger(__name__)

# Tuned on the paired examples in tests/test_stories.py (exact Jaccard of the shingle sets): copies,
# syndicated versions and re-publications with edited titles score 0.62-0.92; different stories about
# the same company 0.0-0.07, templated headlines about different events ("Nvidia shares rise 3% after
# ...") up to 0.34. 0.45 sits between, about 3 standard errors of a 128-permutation estimate from each.
DEFAULT_THRESHOLD = 0.45
DEFAULT_NUM_PERM = 128
# How many members of a story a new article is compared with (see ``StoryGrouper.assign``).
MEMBERS_COMPARED = 16
SHINGLE_SIZE = 3
# Only the lede takes part: a feed summary is usually the first paragraph, so comparing the first
# ~50 English words (~120 Chinese characters) lets a summary-only copy match a full-body one.
LEDE_CHARS = 300

# A signature is this version byte, then datasketch's LeanMinHash serialisation (little-endian). Bump
# the version whenever shingling changes: older signatures are then ignored instead of mis-compared.
SIGNATURE_VERSION = 1
_SEED = 1
_SCHEME = "affine32"
_BYTEORDER = "<"

_TOKEN_RE = re.compile(f"[{CJK}]|[^\\W_{CJK}]+")
# " - Reuters", " | 36氪", "_新浪科技_新浪网": a short trailing segment after a separator names the source.
_SOURCE_SUFFIX_RE = re.compile(r"\s*(?:\s[-–—|·•]|[|｜_·•—–]|\s-)\s*([^-–—|｜_·•]{1,40})$")
_TITLE_PREFIX_RE = re.compile(
    r"^\s*(?:(?:update|updated|corrected|refile|exclusive|breaking|analysis|factbox|insight)(?:\s*\d+)?"
    r"\s*[-:|]\s*|【[^】]{1,12}】\s*|(?:快讯|独家|突发|重磅|最新)\s*[:：|｜]\s*)",
    re.IGNORECASE,
)


def normalise_title(title: str) -> str:
    """Title without source suffixes ("... - Reuters", "...| 36氪") and wire prefixes ("UPDATE 1-")."""
    text = unicodedata.normalize("NFKC", title or "").strip()
    for _ in range(3):
        stripped = _TITLE_PREFIX_RE.sub("", text, count=1)
        if stripped == text:
            break
        text = stripped
    for _ in range(3):
        match = _SOURCE_SUFFIX_RE.search(text)
        if not match:
            break
        head, tail = text[: match.start()], match.group(1).strip()
        # Only a short tail after a longer head is a source name, not half of the headline.
        if len(tail.split()) > 4 or dense_length(tail) > 30 or dense_length(head) <= dense_length(tail):
            break
        text = head.strip()
    return text


def tokens(text: str) -> list[str]:
    """Lower-cased, punctuation-free tokens: words, and single characters for Chinese and Japanese."""
    return _TOKEN_RE.findall(unicodedata.normalize("NFKC", text).lower())


def _lede(title_tokens: list[str], text: str) -> list[str]:
    """The first ``LEDE_CHARS`` (dense) of the text's tokens, minus a leading copy of the title."""
    body = tokens(text)
    if title_tokens and body[: len(title_tokens)] == title_tokens:
        body = body[len(title_tokens) :]
    budget = float(LEDE_CHARS)
    for i, token in enumerate(body):
        budget -= CJK_CHAR_WEIGHT if len(token) == 1 and CJK_RE.match(token) else len(token) + 1
        if budget <= 0:
            return body[: i + 1]
    return body


def shingles(title: str, text: str) -> set[bytes]:
    """The set a signature is computed over: token 3-grams of the title and of the text's lede."""
    title_tokens = tokens(normalise_title(title))
    grams: set[bytes] = set()
    for seq in (title_tokens, _lede(title_tokens, text)):
        if 0 < len(seq) < SHINGLE_SIZE:
            grams.add(" ".join(seq).encode("utf-8"))
        for i in range(len(seq) - SHINGLE_SIZE + 1):
            grams.add(" ".join(seq[i : i + SHINGLE_SIZE]).encode("utf-8"))
    return grams


@functools.lru_cache(maxsize=8)
def _lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    # The index only proposes candidates, each then checked against the threshold, so a false positive
    # costs one comparison while a false negative splits a story: weigh misses 9:1. With the default
    # 1:1, a pair at Jaccard 0.55 was missed 27% of the time (b=25, r=5); now 0.5% (b=29, r=3).
    # Cached because MinHashLSH searches (bands, rows) on every construction.
    probe = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=(0.1, 0.9))
    return probe.b, probe.r


def _story_text(article: Article) -> str:
    """Summary when it carries the news, otherwise the fetched body (whose lede it then stands for)."""
    summary = article.summary or ""
    if article.body and dense_length(summary) < LEDE_CHARS:
        return article.body
    return summary


def _serialise(lean: LeanMinHash) -> bytes:
    buf = bytearray(lean.bytesize(_BYTEORDER))
    lean.serialize(buf, _BYTEORDER)
    return bytes([SIGNATURE_VERSION]) + bytes(buf)


class StoryGrouper:
    """Assigns story ids: an article joins the story of its most similar near-duplicate, or starts one."""

    def __init__(self, *, threshold: float = DEFAULT_THRESHOLD, num_perm: int = DEFAULT_NUM_PERM) -> None:
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold must be in (0, 1), not {threshold!r}")
        if num_perm < 16:
            raise ValueError(f"num_perm must be at least 16, not {num_perm!r}")
        self.threshold = threshold
        self.num_perm = num_perm
        # Copies share the permutations: building them anew for each MinHash was half of its cost.
        self._empty = MinHash(num_perm=num_perm, seed=_SEED, scheme=_SCHEME)

    def minhash(self, title: str, text: str) -> LeanMinHash:
        """The MinHash of an article's title and lede."""
        m = self._empty.copy()
        grams = shingles(title, text)
        if grams:
            m.update_batch(list(grams))
        return LeanMinHash(m)

    def signature(self, title: str, text: str, language: str) -> bytes:
        """Serialised MinHash of title and lede, as stored in the articles table.

        ``language`` is accepted for the caller's convenience; shingling follows the script of the text
        itself, so a Chinese feed's English item (and mixed text) is handled the same way.
        """
        del language
        return _serialise(self.minhash(title, text))

    def load(self, signature: bytes | None) -> LeanMinHash | None:
        """The MinHash in a stored signature, or None when it is missing, corrupt or incompatible."""
        if not signature or signature[0] != SIGNATURE_VERSION:
            return None
        try:
            lean = LeanMinHash.deserialize(signature[1:], _BYTEORDER)
        except (struct.error, ValueError, TypeError, OverflowError, IndexError) as e:
            logger.debug("unreadable story signature: %s", e)
            return None
        if len(lean) != self.num_perm or lean.seed != _SEED or lean.scheme != _SCHEME:
            return None
        return lean

    def assign(
        self, new: Sequence[Article], recent: Sequence[tuple[str, str, bytes]]
    ) -> list[tuple[str, str, bytes]]:
        """(article_id, story_id, signature) for every article of ``new``, in order.

        An article joins the story of its most similar near-duplicate among ``recent`` (already grouped:
        article_id, story_id, signature) and the articles of ``new`` before it; otherwise it starts a
        story ``"s" + article_id[:31]``. Ties go to the smallest article id, so the result depends only
        on the input order.

        A story is compared through its first ``MEMBERS_COMPARED`` members only: they are near-copies of
        one another, and comparing a new copy with every earlier one would make a widely syndicated
        story cost the square of its size.
        """
        index = _BandIndex(*_lsh_params(self.threshold, self.num_perm), num_perm=self.num_perm)
        story_of: dict[str, str] = {}
        members: Counter[str] = Counter()

        def remember(article_id: str, story_id: str, lean: LeanMinHash) -> None:
            story_of[article_id] = story_id
            if members[story_id] < MEMBERS_COMPARED:
                members[story_id] += 1
                index.insert(article_id, lean.hashvalues)

        skipped = 0
        for article_id, story_id, blob in recent:
            lean = self.load(blob)
            if lean is None or lean.is_empty() or article_id in story_of:
                skipped += lean is None
                continue
            remember(article_id, story_id, lean)
        if skipped:
            logger.info("%d recent story signatures unreadable or from another version; ignored", skipped)

        assignments: list[tuple[str, str, bytes]] = []
        for article in new:
            lean = self.minhash(article.title, _story_text(article))
            blob = _serialise(lean)
            if article.article_id in story_of:
                # Already grouped (it was also among ``recent``): keep its story, never split it.
                assignments.append((article.article_id, story_of[article.article_id], blob))
                continue
            # An article with no words at all (empty title and text) resembles every other empty one:
            # it must stand alone rather than merge with them.
            match = None if lean.is_empty() else index.most_similar(lean.hashvalues, self.threshold)
            story_id = story_of[match] if match is not None else "s" + article.article_id[:31]
            if lean.is_empty():
                story_of[article.article_id] = story_id
            else:
                remember(article.article_id, story_id, lean)
            assignments.append((article.article_id, story_id, blob))
        return assignments


class _BandIndex:
    """Locality-sensitive hashing over MinHash signatures, as datasketch's ``MinHashLSH`` bands them.

    ``bands`` bands of ``rows`` hash values each: two signatures are candidates when one band is equal
    throughout. Each band is a plain dict from the band's bytes to row numbers, and the members' hash
    values are rows of one matrix, so a query costs one dict lookup per band and one numpy comparison
    of all its candidates at once (with datasketch, slicing and byte-swapping each band was most of
    the grouping's cost).
    """

    def __init__(self, bands: int, rows: int, *, num_perm: int) -> None:
        if bands * rows > num_perm:
            raise ValueError(f"{bands} bands of {rows} rows need {bands * rows} hash values, not {num_perm}")
        self._used = bands * rows
        self._band = np.dtype((np.void, rows * np.dtype(np.uint64).itemsize))
        self._tables: list[dict[bytes, list[int]]] = [{} for _ in range(bands)]
        self._keys: list[str] = []
        self._values = np.empty((64, num_perm), dtype=np.uint64)

    def _band_keys(self, hashvalues: np.ndarray) -> list[bytes]:
        used = np.ascontiguousarray(hashvalues[: self._used], dtype=np.uint64)
        return used.view(self._band).tolist()

    def insert(self, key: str, hashvalues: np.ndarray) -> None:
        row = len(self._keys)
        if row == len(self._values):
            self._values = np.concatenate([self._values, np.empty_like(self._values)])
        self._values[row] = hashvalues
        self._keys.append(key)
        for table, band in zip(self._tables, self._band_keys(hashvalues), strict=True):
            table.setdefault(band, []).append(row)

    def candidates(self, hashvalues: np.ndarray) -> list[int]:
        """Rows sharing at least one band with ``hashvalues``, in the order of their keys."""
        found: set[int] = set()
        for table, band in zip(self._tables, self._band_keys(hashvalues), strict=True):
            hit = table.get(band)
            if hit:
                found.update(hit)
        return sorted(found, key=self._keys.__getitem__)

    def most_similar(self, hashvalues: np.ndarray, threshold: float) -> str | None:
        """Key of the most similar candidate whose estimated Jaccard similarity (equal hash values over
        all permutations, as ``LeanMinHash.jaccard``) reaches ``threshold``; among equals the smallest
        key wins. LSH candidates are approximate: each is checked."""
        rows = self.candidates(hashvalues)
        if not rows:
            return None
        equal = np.count_nonzero(self._values[rows] == hashvalues, axis=1)
        similarity = equal / np.float64(len(hashvalues))
        best = int(np.argmax(similarity))  # the first of the largest: the smallest key
        return self._keys[rows[best]] if similarity[best] >= threshold else None


# --- grouping by event --------------------------------------------------------------------------------
# MinHash finds copies and light edits. Two outlets writing the same news independently — often in
# different languages — share no shingles but the same facts: who did it, what kind of event, which chip
# or partner. Relevant articles are merged on those facts, within a short time.

EVENT_MERGE_WINDOW = timedelta(hours=72)
EVENT_MERGE_WINDOW_NO_NAMES = timedelta(hours=24)


@dataclass(frozen=True)
class EventFacts:
    """The extracted facts of a relevant article, for grouping by event."""

    article_id: str
    story_id: str
    event_at: datetime
    company: str | None
    event_type: str | None
    chips: frozenset[str] = frozenset()
    counterparties: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls,
        *,
        article_id: str,
        story_id: str,
        event_at: datetime,
        companies: Sequence[str],
        event_type: str | None,
        chips: Sequence[str],
        counterparties: Sequence[str],
    ) -> EventFacts:
        """The facts of an article's extraction: its primary company, names compared case-blind."""
        return cls(
            article_id=article_id,
            story_id=story_id,
            event_at=event_at,
            company=companies[0] if companies else None,
            event_type=event_type,
            chips=frozenset(x.casefold() for x in chips),
            counterparties=frozenset(x.casefold() for x in counterparties),
        )


def _same_event(a: EventFacts, b: EventFacts) -> bool:
    if not a.company or a.company != b.company or a.event_type != b.event_type:
        return False
    gap = abs(a.event_at - b.event_at)
    if (a.chips & b.chips) or (a.counterparties & b.counterparties):
        return gap <= EVENT_MERGE_WINDOW
    # Neither names a chip or a partner: only same-day reports of the same company and event type.
    named = a.chips or b.chips or a.counterparties or b.counterparties
    return not named and gap <= EVENT_MERGE_WINDOW_NO_NAMES


def merge_by_event(new: Sequence[EventFacts], recent: Sequence[EventFacts]) -> dict[str, str]:
    """``{article_id: story_id}`` for new articles that report the same event as an earlier story.

    The earliest matching story wins, so every report of an event lands in the thread of its first one.
    Deterministic for the same input.
    """
    pool = sorted(recent, key=lambda f: (f.event_at, f.article_id))
    moves: dict[str, str] = {}
    for facts in sorted(new, key=lambda f: (f.event_at, f.article_id)):
        match = next((f for f in pool if f.story_id != facts.story_id and _same_event(facts, f)), None)
        if match is not None:
            moves[facts.article_id] = match.story_id
        pool.append(replace(facts, story_id=match.story_id) if match is not None else facts)
    return moves
