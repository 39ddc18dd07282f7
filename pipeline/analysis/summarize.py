"""Extractive summaries: two or three sentences taken from the article itself, in its own language.

Deterministic and bounded: sentences come from ``pipeline.analysis.sentences`` (which reads only the start of
the text), and the result is cut to ``MAX_SUMMARY_CHARS`` (Chinese) or ``MAX_SUMMARY_CHARS_EN`` (other
languages) characters.
"""

from __future__ import annotations

import itertools
import re

from pipeline.analysis.sentences import split_sentences
from pipeline.text import HAN_RE, Guarded

__all__ = ["MAX_SUMMARY_CHARS", "MAX_SUMMARY_CHARS_EN", "extractive_summary", "split_sentences"]

MAX_SUMMARY_CHARS = 220
MAX_SUMMARY_CHARS_EN = 520

_EN_WORD_RX = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset(
    "a an the of to in on for and or with by from at as is are was were be its it that this says said "
    "new will has have after over into than more about up out".split()
)
# Sentences that say what happened to a chip or a deal are worth more than background.
_KEY_RX = re.compile(
    r"芯片|晶片|处理器|加速器|自研|流片|量产|发布|推出|投资|领投|融资|收购|入股|chip|processor|accelerator|"
    r"in-house|custom|unveil|launch|invest|stake|acquire|funding|tape",
    re.IGNORECASE,
)

_KEY = Guarded(_KEY_RX)  # the same searches, faster


def _terms(text: str, chinese: bool) -> set[str]:
    if chinese:
        chars = HAN_RE.findall(text)
        return {a + b for a, b in itertools.pairwise(chars)} | set(_EN_WORD_RX.findall(text.lower()))
    return {w for w in _EN_WORD_RX.findall(text.lower()) if w not in _STOPWORDS}


def extractive_summary(title: str, text: str, *, language: str, max_sentences: int = 3) -> str:
    """2-``max_sentences`` sentences chosen from ``text`` (article order kept); the title when text is empty."""
    chinese = language == "zh" or (language == "mixed" and len(HAN_RE.findall(text[:2000])) > 50)
    limit = MAX_SUMMARY_CHARS if chinese else MAX_SUMMARY_CHARS_EN
    sentences = split_sentences(text)
    title_clean = " ".join(title.split())  # re.sub(r"\s+", " ", title).strip(): split() splits at \s
    sentences = [s for s in sentences if s != title_clean]
    if not sentences:
        return _cut(title_clean, limit)
    if len(sentences) <= max_sentences and sum(len(s) for s in sentences) <= limit:
        return _join(sentences, chinese)

    title_terms = _terms(title, chinese)
    scored: list[tuple[float, int]] = []
    for i, sentence in enumerate(sentences):
        terms = _terms(sentence, chinese)
        overlap = len(terms & title_terms) / (len(title_terms) or 1)
        score = 2.0 * overlap + 1.0 / (1 + i) + (0.5 if _KEY.search(sentence) else 0.0)
        length = len(sentence)
        if length < (8 if chinese else 30):
            score -= 1.0  # fragments: datelines, captions, "Read more".
        elif length > (limit * 0.8):
            score -= 0.5
        scored.append((score, i))
    scored.sort(key=lambda pair: (-pair[0], pair[1]))

    chosen: list[int] = []
    total = 0
    for _score, i in scored:
        if len(chosen) >= max_sentences:
            break
        if chosen and total + len(sentences[i]) > limit:
            continue
        chosen.append(i)
        total += len(sentences[i])
    return _cut(_join([sentences[i] for i in sorted(chosen)], chinese), limit)


def _join(sentences: list[str], chinese: bool) -> str:
    return ("" if chinese else " ").join(sentences)


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[-40:]:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip() + "…"
