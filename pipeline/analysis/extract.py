"""Structured fields of an article: companies (primary actor first), chips, counterparties, amount, summary.

Pure functions over text. Every regular expression is compiled once per ``Watchlist`` (kept in its
``cache``); the aliases are compiled into a trie-shaped pattern so one scan finds them all, fast.

``analyze`` also returns what the classifier needs: the text with entity mentions replaced by marker
characters (``MARK_*``), so the model learns "a big-tech company unveils its own chip" rather than the
names seen in training, and generalises to companies a user adds to the watch-list.
"""

from __future__ import annotations

import importlib
import logging
import operator
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pipeline.analysis.summarize import extractive_summary
from pipeline.config.watchlist import Watchlist, alias_key
from pipeline.models import LANGUAGES, Amount, Extraction
from pipeline.text import Guarded, detect_language, is_han

log = logging.getLogger(__name__)

# Texts longer than this are cut before matching: alerts are driven by title and lead, and the cap keeps
# one pathological article from stalling a batch.
MAX_TEXT_CHARS = 20_000

MARK_BIGTECH = "⒝"  # a watch-list company (name, alias, subsidiary)
MARK_UNIT = "⒰"  # a watch-list company's chip unit (T-Head, Kunlunxin, HiSilicon ...)
MARK_CHIP = "⒞"  # a chip product of a watch-list company (TPU, Trainium, Kunlun P800 ...)
MARK_CHIPCO = "⒨"  # a chip company (Nvidia, TSMC, Enflame ...)
MARK_OTHER_CHIP = "⒳"  # a chip company's product (H20, Blackwell, Snapdragon ...)
MARK_AMOUNT = "⒜"  # an amount of money
TITLE_SEPARATOR = " ¶ "  # between title and summary in the masked text

_SEP_RX = re.compile(r"[\s\-]+")
_CN_NUMERALS = {
    "一": "1",
    "二": "2",
    "三": "3",
    "四": "4",
    "五": "5",
    "六": "6",
    "七": "7",
    "八": "8",
    "九": "9",
}

# --- kinds of mention -------------------------------------------------------------------------------
COMPANY, UNIT, CHIP, CHIPCO, OTHER_CHIP, IGNORE = "company", "unit", "chip", "chipco", "other_chip", "ignore"
_MARKS = {
    COMPANY: MARK_BIGTECH,
    UNIT: MARK_UNIT,
    CHIP: MARK_CHIP,
    CHIPCO: MARK_CHIPCO,
    OTHER_CHIP: MARK_OTHER_CHIP,
}
# At one place, the longer match wins; at equal length the more specific kind (lower number).
_PRIORITY = {IGNORE: 0, CHIP: 1, OTHER_CHIP: 1, UNIT: 2, COMPANY: 3, CHIPCO: 4}


@dataclass(frozen=True)
class Mention:
    """One entity found in the text; offsets are into ``title + "\\n" + summary``."""

    kind: str
    name: str  # canonical name (company, chip company or chip)
    owner: str | None  # chip owner / unit's company
    start: int
    end: int


@dataclass(frozen=True)
class Analysis:
    """Everything ``analyze`` found: the extraction, the language and the classifier's inputs."""

    extraction: Extraction
    language: str
    masked_text: str
    mentions: tuple[Mention, ...]
    title_length: int


# --- the compiled matcher --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Literal:
    kind: str
    name: str
    owner: str | None
    forms: frozenset[str] | None  # accepted surface forms (case-sensitive aliases) or None: any case


@dataclass(frozen=True)
class _Pattern:
    kind: str
    name: str  # template
    owner: str | None
    regex: re.Pattern[str]
    # Literals of which one must be in a text for the pattern to match (None: unknown, always run):
    # checking them with `in` is far cheaper than running the regular expression over every text.
    triggers: tuple[str, ...] | None
    ignorecase: bool
    scan: Guarded  # ``regex``, searched faster


def _pattern(kind: str, name: str, owner: str | None, regex: re.Pattern[str]) -> _Pattern:
    return _Pattern(kind, name, owner, regex, _required_literals(regex), _ignorecase(regex), Guarded(regex))


class _Matcher:
    """The aliases and patterns of one watch-list, compiled."""

    def __init__(self, watchlist: Watchlist) -> None:
        self.literals: dict[str, list[_Literal]] = {}
        self.literal_of: dict[str, _Literal | None] = {}  # matched spelling -> its entry (``_literal``)
        entries: list[tuple[str, str, str, str | None]] = []  # alias, kind, name, owner
        for c in watchlist.companies:
            units = set(c.chip_units)
            for alias in c.aliases:
                entries.append((alias, UNIT if alias in units else COMPANY, c.name, c.name))
        for cc in watchlist.chip_companies:
            entries.extend((alias, CHIPCO, cc.name, None) for alias in cc.aliases)
        company_names = {c.name for c in watchlist.companies}
        for chip in watchlist.chips:
            kind = CHIP if chip.owner in company_names else OTHER_CHIP
            entries.extend((alias, kind, chip.name, chip.owner) for alias in chip.aliases)
        entries.extend((phrase, IGNORE, "", None) for phrase in watchlist.ignore)

        grouped: dict[str, list[tuple[str, str, str, str | None]]] = {}
        for entry in entries:
            grouped.setdefault(alias_key(entry[0]), []).append(entry)
        for key, group in grouped.items():
            # Same key, several spellings: a lower-case spelling makes any case acceptable.
            any_case = any(alias == alias.lower() for alias, *_ in group)
            forms = None if any_case else frozenset(f for alias, *_ in group for f in (alias, alias.upper()))
            forms_norm = None if forms is None else frozenset(re.sub(r"[\s\-]+", "", f) for f in forms)
            self.literals[key] = [
                _Literal(kind, name, owner, forms_norm) for _alias, kind, name, owner in group
            ]
        forms_all = {_trie_form(alias) for alias, *_ in entries}
        ascii_words = [w for w in forms_all if w[:1].isascii()]
        other_words = [w for w in forms_all if not w[:1].isascii()]
        parts = []
        if ascii_words:
            parts.append(r"(?<![A-Za-z0-9])(?:" + _trie_regex(ascii_words) + ")")
        if other_words:
            parts.append(_trie_regex(other_words))
        self.literal_rx = re.compile("|".join(parts))
        self.literal_rx_ic = re.compile("|".join(parts), re.IGNORECASE)
        # The same matches as ``literal_rx.finditer`` on lower-cased text, found faster (group 1).
        self.literal_scan = skipping_scanner(forms_all, "A-Za-z0-9")

        self.patterns: list[_Pattern] = []
        for chip in watchlist.chips:
            kind = CHIP if chip.owner in company_names else OTHER_CHIP
            for p in chip.patterns:
                self.patterns.append(_pattern(kind, p.name, chip.owner, re.compile(p.regex)))
        for raw in watchlist.chip_company_patterns:
            self.patterns.append(_pattern(CHIPCO, r"\g<0>", None, re.compile(raw)))
        # Most patterns need a product name ("Trainium", "昇腾") that few texts hold: one search for any of
        # them (the gate) spares checking each pattern's triggers in turn. Patterns keep their order.
        rare = [
            p for p in self.patterns if p.triggers and not p.ignorecase and min(map(len, p.triggers)) >= 3
        ]
        triggers = sorted({t for p in rare for t in p.triggers or ()})
        self.rare_gate = re.compile(_trie_regex(triggers, separators=False)) if triggers else None
        self.common_patterns = [p for p in self.patterns if p not in rare]
        # Few texts hold a match of any common pattern: one search of their alternation (a match of it
        # anywhere is a match of one of them there) spares running each. Patterns with a back-reference
        # or flags of their own are not joined; they always run.
        joinable = [p for p in self.common_patterns if _joinable(p.regex)]
        self.common_gate: Guarded | None = None
        try:
            self.common_gate = Guarded(re.compile("|".join(f"(?:{p.regex.pattern})" for p in joinable)))
        except re.error:  # two patterns name a group alike
            joinable = []
        if not joinable:
            self.common_gate = None
        # The patterns to run, in their order, by (a rare trigger found, a common pattern matches).
        self.patterns_to_run = {
            (rare_found, common_found): [
                p
                for p in (self.patterns if rare_found else self.common_patterns)
                if common_found or p not in joinable
            ]
            for rare_found in (False, True)
            for common_found in (False, True)
        }

    def _literal(self, surface: str) -> _Literal | None:
        """The alias entry a matched spelling stands for (the first whose accepted forms allow it), or None;
        worked out once per spelling."""
        compact = _SEP_RX.sub("", surface)
        chosen = None
        for lit in self.literals.get(compact.lower(), ()):
            if lit.forms is None or compact in lit.forms:
                chosen = lit
                break
        if len(self.literal_of) < 50_000:  # spellings of a watch-list's aliases: a bound that never bites
            self.literal_of[surface] = chosen
        return chosen

    def find(self, text: str) -> list[Mention]:
        """Non-overlapping mentions in ``text``, in order; ignore-phrases are dropped."""
        found: list[tuple[int, int, int, Mention | None]] = []  # start, -length, priority, mention
        lowered = text.lower()
        # Lower-casing first is faster than an IGNORECASE scan; offsets hold unless lower() changed
        # the length (a handful of exotic letters), when the case-insensitive scan is used instead.
        same_length = len(lowered) == len(text)
        if same_length:
            scan = (
                _hits(self.literal_scan, lowered) if self.literal_scan else self.literal_rx.finditer(lowered)
            )
        else:
            scan = self.literal_rx_ic.finditer(text)
        for m in scan:
            start, end = m.span(1) if self.literal_scan and same_length else m.span()
            if end < len(text) and text[end - 1].isascii() and text[end - 1].isalnum():
                nxt = text[end]
                if nxt.isascii() and nxt.isalnum():
                    continue  # "Intel" inside "Intelligence"
            surface = text[start:end]
            lit = self.literal_of.get(surface, _UNSEEN)
            if lit is _UNSEEN:
                lit = self._literal(surface)
            if lit is not None:
                mention = None if lit.kind == IGNORE else Mention(lit.kind, lit.name, lit.owner, start, end)
                found.append((start, start - end, _PRIORITY[lit.kind], mention))
        gate = self.rare_gate
        common_gate = self.common_gate
        patterns = self.patterns_to_run[
            gate is None or gate.search(text) is not None,
            common_gate is None or common_gate.search(text) is not None,
        ]
        for pattern in patterns:
            if pattern.triggers is not None:
                haystack = lowered if pattern.ignorecase else text
                for trigger in pattern.triggers:
                    if trigger in haystack:
                        break
                else:
                    continue
            for own in pattern.scan.finditer(text):
                if own.end() == own.start():
                    continue
                name = _expand(own, pattern.name)
                mention = Mention(pattern.kind, name, pattern.owner, own.start(), own.end())
                found.append((own.start(), own.start() - own.end(), _PRIORITY[pattern.kind], mention))
        found.sort(key=_FOUND_ORDER)
        out: list[Mention] = []
        taken_until = -1
        for start, neg_len, _prio, mention in found:
            if start < taken_until:
                continue
            taken_until = start - neg_len
            if mention is not None:
                out.append(mention)
        return out


_UNSEEN = _Literal("", "", None, None)  # a spelling not yet looked up
_FOUND_ORDER = operator.itemgetter(0, 1, 2)  # start, -length, priority


def _joinable(regex: re.Pattern[str]) -> bool:
    """Whether ``regex`` matches as it does when it is one branch of an alternation of patterns: default
    flags, no inline flags, no group references (whose numbers would shift)."""
    source = regex.pattern
    return (
        regex.flags == re.UNICODE
        and not re.search(r"\(\?[aiLmsux]|\\[1-9]|\(\?P=|\\g<", source)
        and not re.search(r"\(\?\(", source)  # a conditional names a group by number too
    )


def _ignorecase(regex: re.Pattern[str]) -> bool:
    return bool(regex.flags & re.IGNORECASE)


def _required_literals(regex: re.Pattern[str]) -> tuple[str, ...] | None:
    """Strings of which one must occur in any text ``regex`` matches, or None when none can be derived."""
    try:
        sre_c: Any = importlib.import_module("re._constants")
        sre_p: Any = importlib.import_module("re._parser")
        items = list(sre_p.parse(regex.pattern, regex.flags).data)
    except Exception:  # a private module: if its shape changes, just skip the optimisation
        return None

    def leading_run(seq: list[Any]) -> str:
        run = []
        for op, arg in seq:
            if op is sre_c.LITERAL:
                run.append(chr(arg))
            elif op is sre_c.SUBPATTERN and not run:
                return leading_run(list(arg[-1]))
            else:
                break
        return "".join(run)

    candidates: list[tuple[str, ...]] = []
    run: list[str] = []
    for op, arg in items:
        if op is sre_c.LITERAL:
            run.append(chr(arg))
            continue
        if run:
            candidates.append(("".join(run),))
            run = []
        inner = list(arg[-1]) if op is sre_c.SUBPATTERN else None
        branch = arg if op is sre_c.BRANCH else None
        if inner is not None and len(inner) == 1 and inner[0][0] is sre_c.BRANCH:
            branch = inner[0][1]
        elif inner is not None:
            first = leading_run(inner)
            if first:
                candidates.append((first,))
            continue
        if branch is not None:
            alternatives = tuple(leading_run(list(alt)) for alt in branch[1])
            if all(alternatives):
                candidates.append(alternatives)
    if run:
        candidates.append(("".join(run),))
    if not candidates:
        return None
    best = max(candidates, key=lambda c: min(len(x) for x in c))
    if regex.flags & re.IGNORECASE:
        best = tuple(x.lower() for x in best)
    return best


def _expand(match: re.Match[str], template: str) -> str:
    """``template`` with its group references (``\\1``, ``\\g<0>``) replaced by the groups of ``match``
    (a one-character Chinese numeral as a digit), whitespace collapsed."""
    parts = _TEMPLATE_PARTS.get(template)
    if parts is None:
        parts = _TEMPLATE_PARTS[template] = _template_parts(template)
    pieces = []
    for k, part in enumerate(parts):
        if k % 2 == 0:
            pieces.append(part)  # literal text
            continue
        value = match.group(0) if part == "<0>" else (match.group(int(part)) or "")
        pieces.append(_CN_NUMERALS.get(value, value) if len(value) == 1 else value)
    return _WHITESPACE_RX.sub(" ", "".join(pieces)).strip()


_TEMPLATE_REF_RX = re.compile(r"\\g?(<0>|\d+)")
_WHITESPACE_RX = re.compile(r"\s+")
# A template split at its group references: literal text at even places, group names at odd ones.
_TEMPLATE_PARTS: dict[str, list[str]] = {}


def _template_parts(template: str) -> list[str]:
    parts: list[str] = []
    pos = 0
    for m in _TEMPLATE_REF_RX.finditer(template):
        parts.extend((template[pos : m.start()], m.group(1)))
        pos = m.end()
    parts.append(template[pos:])
    return parts


def _trie_form(alias: str) -> str:
    """``alias`` lower-cased, with separators (and Chinese/Latin boundaries) as one space."""
    out: list[str] = []
    for ch in alias.lower():
        if ch in " -\t":
            if out and out[-1] != " ":
                out.append(" ")
            continue
        if out and out[-1] != " " and is_han(out[-1]) != is_han(ch):
            out.append(" ")
        out.append(ch)
    return "".join(out).strip()


def _trie_regex(words: list[str], *, separators: bool = True) -> str:
    """One regular expression matching any of ``words`` (``_trie_form``), the longest first;
    ``separators=False``: a space in a word matches a space only, as a literal."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}
    return _emit(trie, separators)


def _emit(node: dict[str, Any], separators: bool = True) -> str:
    terminal = "" in node
    branches = []
    for ch in sorted(k for k in node if k):
        # A separator in an alias matches a space, a hyphen or nothing: "Maia 100", "Maia-100", "Maia100".
        head = r"[\s\-]{0,2}" if ch == " " and separators else re.escape(ch)
        branches.append(head + _emit(node[ch], separators))
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    return f"(?:{body})?" if terminal else body


def skipping_scanner(
    words: set[str], word_chars: str, *, overlapping: bool = False
) -> re.Pattern[str] | None:
    """A faster equivalent of ``finditer`` for the trie pattern of ``words`` (``_trie_form``) whose ASCII
    words start after ``(?<![word_chars])`` (as the matcher's and ``phrase_pattern``'s do).

    Each match's group 1 is a match of that pattern, found where it would find it; skipping matches
    (group 1 None) come in between and at the end. ``overlapping``: the pattern is tried at every
    position, as ``(?=(pattern))`` would be (group 1 then holds the hit inside the look-ahead).

    No match starts inside a run of ``word_chars`` (the look-behind) nor at a character no word
    starts with, so one regular expression skips those runs in C instead of trying the pattern at each
    of their positions, and each part of the pattern checks its first character against a set before
    walking the trie. None if a word is empty.
    """
    if not words or any(not w for w in words):
        return None
    ascii_words = [w for w in words if w[:1].isascii()]
    other_words = [w for w in words if not w[:1].isascii()]
    parts = []
    if ascii_words:
        parts.append(rf"(?=[{_firsts(ascii_words)}])(?<![{word_chars}])(?:{_trie_regex(ascii_words)})")
    if other_words:
        parts.append(rf"(?=[{_firsts(other_words)}])(?:{_trie_regex(other_words)})")
    pattern = "|".join(parts)
    firsts = _firsts(list(words))
    # A word with the characters after it that start no word, or such characters, or one character.
    skip = rf"(?>[{word_chars}]++[^{firsts}]*+|[^{firsts}]++|(?s:.))"
    hit = rf"(?=({pattern}))(?s:.)" if overlapping else f"({pattern})"
    # Lazy: the pattern is tried before each skip; the \Z branch means a search never fails part-way,
    # which would restart it one character later.
    return re.compile(rf"{skip}*?(?:{hit}|\Z)")


def _firsts(words: list[str]) -> str:
    """The first characters of ``words``, as the inside of a character class."""
    return "".join(sorted({re.escape(w[0]) for w in words}))


def _hits(scanner: re.Pattern[str], text: str) -> Iterator[re.Match[str]]:
    """The matches of ``scanner`` (``skipping_scanner``) that hold a hit."""
    return (m for m in scanner.finditer(text) if m.start(1) >= 0)


def phrase_scanner(phrases: list[str], *, overlapping: bool = False) -> re.Pattern[str] | None:
    """``phrase_pattern(phrases)`` as a ``skipping_scanner``: the same hits, in group 1, found faster."""
    return skipping_scanner({_trie_form(p) for p in phrases}, "a-z0-9", overlapping=overlapping)


def phrase_pattern(phrases: list[str]) -> re.Pattern[str]:
    """A fast matcher for many literal phrases (lower case): English ones start at a word boundary."""
    forms = {_trie_form(p) for p in phrases}
    ascii_words = [w for w in forms if w[:1].isascii()]
    other_words = [w for w in forms if not w[:1].isascii()]
    parts = []
    if ascii_words:
        parts.append(r"(?<![a-z0-9])(?:" + _trie_regex(ascii_words) + ")")
    if other_words:
        parts.append(_trie_regex(other_words))
    return re.compile("|".join(parts))


def _matcher(watchlist: Watchlist) -> _Matcher:
    matcher = watchlist.cache.get("extract_matcher")
    if matcher is None:
        matcher = _Matcher(watchlist)
        watchlist.cache["extract_matcher"] = matcher
    assert isinstance(matcher, _Matcher)
    return matcher


# --- amounts ---------------------------------------------------------------------------------------

_NUM = r"\d+(?:,\d{3})*(?:\.\d+)?"
_ZH_MULT = {"万亿": 1e12, "千亿": 1e11, "百亿": 1e10, "亿": 1e8, "千万": 1e7, "百万": 1e6, "万": 1e4, "": 1.0}
_ZH_MULT.update({k.replace("亿", "億").replace("万", "萬"): v for k, v in _ZH_MULT.items()})
_ZH_MULT_RX = "|".join(sorted((k for k in _ZH_MULT if k), key=len, reverse=True))
_ZH_CUR = {
    "元": "CNY",
    "元人民币": "CNY",
    "人民币": "CNY",
    "元人民幣": "CNY",
    "人民幣": "CNY",
    "美元": "USD",
    "美金": "USD",
    "港元": "HKD",
    "港币": "HKD",
    "港幣": "HKD",
    "欧元": "EUR",
    "歐元": "EUR",
    "日元": "JPY",
    "新台币": "TWD",
    "新台幣": "TWD",
}
_EN_MULT = {
    "trillion": 1e12,
    "tn": 1e12,
    "billion": 1e9,
    "bn": 1e9,
    "b": 1e9,
    "million": 1e6,
    "mn": 1e6,
    "mln": 1e6,
    "m": 1e6,
    "thousand": 1e3,
    "k": 1e3,
    "": 1.0,
}
_EN_PREFIX_CUR = {
    "us$": "USD",
    "usd": "USD",
    "$": "USD",
    "hk$": "HKD",
    "hkd": "HKD",
    "rmb": "CNY",
    "cny": "CNY",
    "¥": "CNY",
    "￥": "CNY",
    "€": "EUR",
    "eur": "EUR",
    "nt$": "TWD",
    "£": "GBP",
}
_EN_SUFFIX_CUR = {
    "yuan": "CNY",
    "renminbi": "CNY",
    "rmb": "CNY",
    "cny": "CNY",
    "dollars": "USD",
    "us dollars": "USD",
    "u.s. dollars": "USD",
    "usd": "USD",
    "hong kong dollars": "HKD",
    "hk dollars": "HKD",
    "hkd": "HKD",
    "euros": "EUR",
    "euro": "EUR",
    "eur": "EUR",
}
_ZH_CUR_RX = "元人民币|元人民幣|人民币|人民幣|元|美元|美金|港元|港币|港幣|欧元|歐元|日元|新台币|新台幣"
_ZH_AMOUNT_RX = re.compile(
    rf"(?P<pre>人民币|人民幣|美元|港元|港币|港幣)?\s?(?P<num>{_NUM})\s?(?P<mult>{_ZH_MULT_RX})?"
    rf"\s?(?P<cur>{_ZH_CUR_RX})"
)
_ZH_PRE_AMOUNT_RX = re.compile(
    rf"(?P<pre>人民币|人民幣|美元|港元|港币|港幣)\s?(?P<num>{_NUM})\s?(?P<mult>{_ZH_MULT_RX})"
)
_EN_PREFIX_RX = re.compile(
    rf"(?<![A-Za-z])(?P<cur>US\$|HK\$|NT\$|USD|HKD|RMB|CNY|EUR|\$|¥|￥|€|£)\s?(?P<num>{_NUM})"
    r"(?:\s?(?P<mult>trillion|billion|million|thousand|tn|bn|mln|mn|b|m|k|亿|万)(?![A-Za-z]))?",
    re.IGNORECASE,
)
_EN_SUFFIX_RX = re.compile(
    rf"(?<![\w.])(?P<num>{_NUM})\s?(?P<mult>trillion|billion|million|thousand|tn|bn|mln|mn)?\s"
    r"(?P<cur>U\.S\. dollars|US dollars|Hong Kong dollars|HK dollars|dollars|yuan|renminbi|RMB|CNY|USD|HKD|euros?|EUR)"
    r"(?![A-Za-z])",
    re.IGNORECASE,
)


def find_amounts(text: str) -> list[tuple[int, Amount]]:
    """Every amount of money in ``text`` with its offset, in order of appearance."""
    found: list[tuple[int, int, Amount]] = []
    if not _DIGIT_RX.search(text):
        return []  # every amount pattern needs a decimal digit (\d; str.isdigit also takes "²")
    if "元" in text or "美金" in text or "人民幣" in text or "人民币" in text:
        for m in _ZH_AMOUNT_RX.finditer(text):
            cur = _ZH_CUR[m.group("cur")]
            if m.group("cur") == "元" and m.group("pre"):
                cur = _ZH_CUR[m.group("pre")]
            value = _number(m.group("num")) * _ZH_MULT[m.group("mult") or ""]
            found.append((m.start(), m.end(), Amount(value, cur, m.group().strip())))
        for m in _ZH_PRE_AMOUNT_RX.finditer(text):
            value = _number(m.group("num")) * _ZH_MULT[m.group("mult")]
            found.append((m.start(), m.end(), Amount(value, _ZH_CUR[m.group("pre")], m.group().strip())))
    if _PREFIX_SIGN_RX.search(text):  # one of _PREFIX_SIGNS
        found.extend(_prefix_amounts(text))
    if _SUFFIX_WORD_RX.search(text.lower()):  # one of _SUFFIX_WORDS
        found.extend(_suffix_amounts(text))
    found.sort(key=lambda f: (f[0], f[0] - f[1]))
    out: list[tuple[int, Amount]] = []
    until = -1
    for start, end, amount in found:
        if start >= until:
            out.append((start, amount))
            until = end
    return out


_DIGIT_RX = re.compile(r"\d")
_PREFIX_SIGNS = ("$", "¥", "￥", "€", "£", "USD", "HKD", "RMB", "CNY", "EUR", "usd", "rmb")
_SUFFIX_WORDS = ("yuan", "dollar", "renminbi", "rmb", "cny", "usd", "hkd", "euro", "eur")
# Whether a text holds any of the signs, in one search (faster than an `in` per sign).
_PREFIX_SIGN_RX = re.compile("|".join(map(re.escape, _PREFIX_SIGNS)))
_SUFFIX_WORD_RX = re.compile("|".join(map(re.escape, _SUFFIX_WORDS)))


def _prefix_amounts(text: str) -> list[tuple[int, int, Amount]]:
    found: list[tuple[int, int, Amount]] = []
    for m in _EN_PREFIX_RX.finditer(text):
        mult = (m.group("mult") or "").lower()
        value = _number(m.group("num")) * (_ZH_MULT[mult] if mult in _ZH_MULT else _EN_MULT[mult])
        found.append((m.start(), m.end(), Amount(value, _EN_PREFIX_CUR[m.group("cur").lower()], m.group())))
    return found


def _suffix_amounts(text: str) -> list[tuple[int, int, Amount]]:
    found: list[tuple[int, int, Amount]] = []
    for m in _EN_SUFFIX_RX.finditer(text):
        mult = (m.group("mult") or "").lower()
        cur = _EN_SUFFIX_CUR[m.group("cur").lower()]
        found.append((m.start(), m.end(), Amount(_number(m.group("num")) * _EN_MULT[mult], cur, m.group())))
    return found


def _number(text: str) -> float:
    return float(text.replace(",", ""))


# --- primary actor ---------------------------------------------------------------------------------

# Words that make the company right before them the one acting: launching, designing or investing.
_ACTION_WORDS = (
    "自研", "自主研发", "研发", "发布", "推出", "亮相", "首发", "量产", "流片", "打造", "造芯", "设计", "投资", "投了",
    "领投", "参投", "入股", "收购", "注资", "加码", "布局", "芯片", "晶片", "unveil", "launch", "introduc", "debut",
    "design", "develop", "build", "test", "tap", "reveal", "announc", "roll", "deploy", "train", "invest", "lead",
    "led", "back", "acquir", "buy", "take", "join", "plan", "is ", "has ", "own", "custom", "in-house", "chip",
    "processor", "accelerator", "TPU", "silicon",
)  # fmt: skip
_ACTION_PREFIX = r"^[\s,'’s的]{0,3}(?:\S{0,12}?)"
_ACTION_AFTER_RX = re.compile(_ACTION_PREFIX + "(?:" + "|".join(_ACTION_WORDS) + ")", re.IGNORECASE)
# The same matches on lower-cased text, faster: no IGNORECASE, under which Python's engine compares
# characters one by one, and the words as a trie, one character-set test per position rather than one
# test per word. Exact unless the text holds a letter that IGNORECASE matches with an ASCII letter of
# another lower-case form (İ ı ſ K): ``_acts_after`` then uses ``_ACTION_AFTER_RX``.
_ACTION_AFTER_LOWER_RX = re.compile(
    _ACTION_PREFIX + "(?:" + _trie_regex([w.lower() for w in _ACTION_WORDS], separators=False) + ")"
)
# Words that make the company right after them a customer or an investee, not the actor.
_PASSIVE_BEFORE_RX = re.compile(
    r"(?:to|for|from|with|by|uses?|using|former|ex-|customers?(?: such as| including)?|clients?|including|like|"
    r"向|为|給|给|供应|客户|使用|采用|基于|搭载|前|继|繼|after|following)\s*$",
    re.IGNORECASE,
)

_PASSIVE_BEFORE = Guarded(_PASSIVE_BEFORE_RX)  # the same searches, faster

_COORDINATION_RX = re.compile(r"^\s*(?:,|，|、|and|&|和|与|與|及|以及|/)?\s*$", re.IGNORECASE)
# A chip named by a short code ("M2", "A4", "AI5") makes its owner a candidate only when the owner is
# also named: "A4 paper" is not Apple news.
_MIN_IMPLYING_CHIP_CHARS = 4


def _rank_companies(mentions: list[Mention], text: str, title_len: int) -> list[str]:
    """Watch-list companies, the one most likely doing the chip work or the investing first.

    Each company collects evidence once per kind: named in the title, named first, its own chip or chip
    unit named, a launch/investment verb right after it, a "customer"/"uses"-like word right before it.
    """
    named: set[str | None] | None = None  # the owners of company and unit mentions, when needed
    evidence: dict[str, dict[str, float]] = {}
    first_at: dict[str, int] = {}
    introduced: set[str] = set()
    k = 0
    while k < len(mentions):
        m = mentions[k]
        company = m.owner if m.kind in (COMPANY, UNIT, CHIP) else None
        if company is None:
            k += 1
            continue
        if m.kind == CHIP and m.end - m.start < _MIN_IMPLYING_CHIP_CHARS:
            if named is None:
                named = {n.owner for n in mentions if n.kind in (COMPANY, UNIT)}
            if company not in named:
                k += 1
                continue
        in_title = m.start < title_len
        if m.kind == CHIP:
            _add(evidence, first_at, [(company, m.start)], "chip", 1.0 if in_title else 0.5)
            k += 1
            continue
        # "Alibaba and Lenovo back Cambricon": a list of companies shares the words around it.
        run = [(company, m.start)]
        end = m.end
        j = k + 1
        while j < len(mentions):
            nxt = mentions[j]
            if nxt.kind in (COMPANY, UNIT) and _COORDINATION_RX.match(text[end : nxt.start]):
                run.append((str(nxt.owner), nxt.start))
                end = nxt.end
                j += 1
            else:
                break
        for kind_mention in mentions[k:j]:
            if kind_mention.kind == UNIT:
                _add(
                    evidence,
                    first_at,
                    [(str(kind_mention.owner), kind_mention.start)],
                    "unit",
                    1.5 if in_title else 0.75,
                )
        _add(evidence, first_at, run, "count", 0.0)
        if in_title:
            _add(evidence, first_at, run, "title", 1.0)
        if _acts_after(text[end : end + 40]):
            _add(evidence, first_at, run, "action", 1.0 if in_title else 0.5)
        # Only a company's first mention decides "passive": later ones are usually back-references.
        fresh = [(c, at) for c, at in run if c not in introduced]
        for c, _at in run:
            introduced.add(c)
        if fresh and _PASSIVE_BEFORE.search(text[max(0, m.start - 25) : m.start]):
            _add(evidence, first_at, fresh, "passive", -0.75)
        k = j
    if not evidence:
        return []
    scores = {
        c: sum(v for key, v in e.items() if key != "n") + min(e.get("n", 0), 4) * 0.15
        for c, e in evidence.items()
    }
    earliest = min(first_at.values())
    for company, at in first_at.items():
        if at == earliest and at < title_len:
            scores[company] += 0.5
    return sorted(scores, key=lambda c: (-scores[c], first_at[c]))


def _acts_after(window: str) -> bool:
    """``_ACTION_AFTER_RX.match(window)``, faster."""
    if not window.isascii() and (
        "\u0130" in window or "\u0131" in window or "\u017f" in window or "\u212a" in window
    ):
        return _ACTION_AFTER_RX.match(window) is not None
    return _ACTION_AFTER_LOWER_RX.match(window.lower()) is not None


def _add(
    evidence: dict[str, dict[str, float]],
    first_at: dict[str, int],
    run: list[tuple[str, int]],
    kind: str,
    value: float,
) -> None:
    """Record evidence ``kind`` for each company of ``run``; each kind counts once, at its strongest."""
    for company, start in run:
        e = evidence.setdefault(company, {})
        first_at.setdefault(company, start)
        if kind == "count":
            e["n"] = e.get("n", 0) + 1
        else:
            e[kind] = max(e.get(kind, value), value)


# --- public API ------------------------------------------------------------------------------------


def analyze(title: str, summary: str, *, language: str | None, watchlist: Watchlist) -> Analysis:
    """Extract the structured fields and build the classifier's masked text, in one pass."""
    title = _clean(title)[:2000]
    summary = _clean(summary)[:MAX_TEXT_CHARS]
    text = f"{title}\n{summary}"
    title_len = len(title)
    lang = language if language in LANGUAGES else detect_language(text)
    matcher = _matcher(watchlist)
    mentions = matcher.find(text)

    companies = _rank_companies(mentions, text, title_len)
    chips: list[str] = []
    counterparties: list[str] = []
    for m in mentions:
        if m.kind == CHIP and m.name not in chips and m.owner in companies:
            chips.append(m.name)
        elif m.kind == CHIPCO and m.name not in counterparties and m.name not in companies:
            counterparties.append(m.name)
    # "TPU" adds nothing when "TPU v7" is there.
    chips = [c for c in chips if not any(o != c and o.startswith(c) for o in chips)]

    amounts = find_amounts(text)
    amount = _pick_amount(amounts, text, title_len)
    extraction = Extraction(
        companies=tuple(companies),
        chips=tuple(chips),
        counterparties=tuple(counterparties),
        amount=amount,
        summary=extractive_summary(title, summary, language=lang) if (summary or title) else "",
    )
    masked = _mask(text, mentions, amounts)
    return Analysis(
        extraction=extraction,
        language=lang,
        masked_text=masked,
        mentions=tuple(mentions),
        title_length=title_len,
    )


def extract(title: str, summary: str, *, language: str | None, watchlist: Watchlist) -> Extraction:
    """Companies (primary actor first), chips, counterparties, amount and a short summary of one article."""
    return analyze(title, summary, language=language, watchlist=watchlist).extraction


_INVEST_NEAR_RX = re.compile(
    r"投资|投資|领投|領投|参投|融资|融資|入股|收购|收購|注资|基金|估值|募资|投入|交易|合同|订单|代工|"
    r"invest|stake|fund|raise|round|acqui|buy|bought|valu|deal|back|contract|worth|pay|paid",
    re.IGNORECASE,
)


_SENTENCE_END_RX = re.compile(r"[。！？；;!?]|\.(?:\s|$)|\n")


def _pick_amount(amounts: list[tuple[int, Amount]], text: str, title_len: int) -> Amount | None:
    """The deal's amount: the first one in a funding/investment context, else the first in the title."""
    if not amounts:
        return None
    for start, amount in amounts:
        # The clause around the amount: up to 40 characters each side, not past a sentence end.
        before = _SENTENCE_END_RX.split(text[max(0, start - 40) : start])[-1]
        after = _SENTENCE_END_RX.split(text[start + len(amount.text) : start + len(amount.text) + 40])[0]
        if _INVEST_NEAR_RX.search(before) or _INVEST_NEAR_RX.search(after):
            return amount
    for start, amount in amounts:
        if start < title_len:
            return amount
    return None


def _clean(text: str | None) -> str:
    if not text:
        return ""
    if "\x00" in text:
        text = text.replace("\x00", " ")
    return text.strip()


_SPACED_MARKS = {kind: f" {mark} " for kind, mark in _MARKS.items()}
_SPACED_AMOUNT = f" {MARK_AMOUNT} "


def _mask(text: str, mentions: list[Mention], amounts: list[tuple[int, Amount]]) -> str:
    """``text`` with mentions and amounts replaced by marker characters; title and summary split by ¶."""
    # Marks with their spaces (" ⒝ "): spans sort as they would by the bare marks.
    spans: list[tuple[int, int, str]] = [(m.start, m.end, _SPACED_MARKS[m.kind]) for m in mentions]
    spans.extend((start, start + len(a.text), _SPACED_AMOUNT) for start, a in amounts)
    spans.sort()
    parts: list[str] = []
    pos = 0
    for start, end, spaced_mark in spans:
        if start < pos:
            continue
        parts.append(text[pos:start])
        parts.append(spaced_mark)
        pos = end
    parts.append(text[pos:])
    return "".join(parts).replace("\n", TITLE_SEPARATOR, 1)
