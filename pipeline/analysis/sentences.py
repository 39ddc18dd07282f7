"""Sentence splitting for Chinese and English text, and for the two mixed in one paragraph.

One splitter serves the extractive summary and the story brief. Rules:

- A line break ends a sentence (a headline or a list item inside a body has no final punctuation).
- Chinese ends at 。！？ and ； (a Chinese semicolon separates full statements in news copy) and at an
  ellipsis (…), with closing quotes and brackets kept on the sentence they close.
- ASCII ``!`` and ``?`` end a sentence before a space, a Chinese character or the end of the text
  ("Yahoo!Japan" and "what?!" inside a word do not).
- A full stop ends a sentence before a space, a Chinese character or the end, except after a title
  ("Mr.", "Dr.", "No.", "e.g.", month names), a single initial ("J. P. Morgan"), before a lower-case word,
  and after a company or country abbreviation ("Inc.", "Co.", "U.S.") unless the next word is one that
  starts sentences ("... made in the U.S. The company said ...").
- Decimals ("3.5", "2.5亿") and dotted names ("Node.js", "36kr.com") have no space after the dot and are
  never boundaries.

Deterministic and linear in the length of the text; only the first ``max_chars`` characters are read.
"""

from __future__ import annotations

import re

from pipeline.text import Guarded

MAX_SCAN_CHARS = 8_000
MAX_SCAN_SENTENCES = 40

_CLOSERS = "”’」』)）\"'》】"
_CJK_CLASS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# Candidate boundaries; each is checked by ``_is_boundary``.
_BOUNDARY_RX = re.compile(
    f"[。！？；]+[{_CLOSERS}]*|…+[{_CLOSERS}]*|[!?]+[{_CLOSERS}]*(?=\\s|$|[{_CJK_CLASS}])"
    f"|\\.+[{_CLOSERS}]*(?=\\s|$|[{_CJK_CLASS}])"
)
# The same matches, found from the characters a boundary starts with (``Guarded``).
_BOUNDARIES = Guarded(_BOUNDARY_RX)
_SPACE_RX = re.compile(r"[ \t\u00a0\u3000]+")
# Never the end of a sentence: titles, Latin shorthand, months, units written with a dot.
_TITLES = frozenset(
    "mr mrs ms dr prof sr jr st no nos vs v etc e.g i.e cf approx est fig figs al ca jan feb mar apr jun "
    "jul aug sep sept oct nov dec mon tue wed thu fri sat sun gen gov sen rep rev hon pp vol ed".split()
)
# The end of a sentence only when a sentence-starting word follows: company suffixes, place abbreviations.
_NAME_ABBREVIATIONS = frozenset(
    "inc corp co ltd plc llc bhd ag sa nv bv u.s u.k e.u u.n u.s.a p.r.c h.k bn mn mln".split()
)
# Words that begin sentences in news copy (and rarely follow "Inc." or "U.S." inside a sentence).
_SENTENCE_STARTERS = frozenset(
    "the a an it its this that these those he she they we i in on at as after before but and however "
    "meanwhile while since if when separately also still yet so according earlier later last next there "
    "here both such some many most".split()
)
_WORD_BEFORE_RX = re.compile(r"([A-Za-z][A-Za-z.]*)$")
_WORD_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz."


def _word_before(text: str, start: int, end: int) -> str:
    """``_WORD_BEFORE_RX.search(text, start, end)``'s word, or "": the letters and dots that end at ``end``,
    from their first letter. Read from the end, not searched for from ``start``."""
    window = text[start:end]
    return window[len(window.rstrip(_WORD_CHARS)) :].lstrip(".")


def _collapse_blanks(line: str) -> str:
    """``_SPACE_RX.sub(" ", line).strip()``; a line without a tab, a wide space or two blanks in a row
    (most lines) is only stripped."""
    if "  " in line or "\t" in line or "\u00a0" in line or "\u3000" in line:
        return _SPACE_RX.sub(" ", line).strip()
    return line.strip()


_NEXT_WORD_RX = re.compile(r"\s*[\"'“‘(]?([A-Za-z]+)")


def _is_boundary(text: str, start: int, match: re.Match[str]) -> bool:
    """Whether a full stop at ``match`` ends the sentence that began at ``start`` (other marks always do)."""
    mark = match.group()
    if not mark.startswith("."):
        return True
    if mark.startswith("..."):
        # An ellipsis ends a sentence unless the text runs on in lower case.
        following = text[match.end() : match.end() + 2].strip()
        return not (following and following[0].islower())
    word = _word_before(text, start, match.start()).lower()
    if word in _TITLES or (len(word) == 1 and word.isalpha()):
        return False
    following = text[match.end() : match.end() + 2].strip()
    if following and following[0].islower():
        return False
    if word in _NAME_ABBREVIATIONS:
        nxt = _NEXT_WORD_RX.match(text, match.end())
        return nxt is not None and nxt.group(1).lower() in _SENTENCE_STARTERS
    return True


def _split_line(line: str, out: list[str], limit: int) -> None:
    start = 0
    for match in _BOUNDARIES.finditer(line):
        if match.start() < start or not _is_boundary(line, start, match):
            continue
        piece = line[start : match.end()].strip()
        if piece:
            out.append(piece)
            if len(out) >= limit:
                return
        start = match.end()
    tail = line[start:].strip()
    if tail:
        out.append(tail)


def split_sentences(
    text: str, *, limit: int = MAX_SCAN_SENTENCES, max_chars: int = MAX_SCAN_CHARS
) -> list[str]:
    """The sentences of ``text`` (at most ``limit``, from its first ``max_chars`` characters), in order."""
    sentences: list[str] = []
    for raw_line in text[:max_chars].split("\n"):
        line = _collapse_blanks(raw_line)
        if line:
            _split_line(line, sentences, limit)
            if len(sentences) >= limit:
                break
    return sentences[:limit]
