"""Text hygiene and script: invisible and control characters out, HTML to plain text, entities unescaped
once; the one definition of CJK characters, language detection, and ``Guarded`` (faster regex searches).

Everything the pipeline stores or shows as text goes through :func:`clean_text`, so a title cannot carry
a right-to-left override, a zero-width joiner between letters of a company name, or a NUL byte.
The HTML handling is deliberately regex-based and linear: feed summaries are small, and a real parser
per item would cost more than parsing the feed.
"""

from __future__ import annotations

import html.entities
import importlib
import re
import unicodedata
from collections.abc import Iterator
from typing import Any

# --- scripts ------------------------------------------------------------------------------------------

# Han ideographs: extension A, the unified block and the compatibility block.
HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# CJK as a tokenizer sees it: kana and Han, each character a token of its own.
CJK = "\u3040-\u30ff" + HAN
HAN_RE = re.compile(f"[{HAN}]")
CJK_RE = re.compile(f"[{CJK}]")
# Weight of one CJK character against one Latin character in "dense" lengths (a Chinese character carries
# about as much as 2-3 letters of English).
CJK_CHAR_WEIGHT = 2.5


def is_han(ch: str) -> bool:
    """Whether one character is a Han ideograph (``HAN``)."""
    return "\u3400" <= ch <= "\u4dbf" or "\u4e00" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


def dense_length(text: str) -> float:
    """Length in English-character equivalents: runs of whitespace count 1, CJK characters 2.5."""
    cjk = len(CJK_RE.findall(text))
    return len(" ".join(text.split())) + cjk * (CJK_CHAR_WEIGHT - 1)


def _script(text: str) -> str | None:
    """ "zh", "en" or None (no letters) for one piece of text; counts are estimates, for speed."""
    n = len(text)
    # Chinese characters take three bytes in UTF-8, Latin letters one: the byte excess counts them
    # (curly quotes and dashes count too, which only matters for texts with almost no letters).
    cjk = (len(text.encode("utf-8", "surrogatepass")) - n) // 2
    latin = n - cjk - text.count(" ")
    if cjk <= 0 and latin <= 0:
        return None
    # A Chinese character carries about as much as a short English word (~4 letters).
    return "zh" if cjk >= 0.2 * (cjk + latin) else "en"


def detect_language(text: str) -> str:
    """ "zh", "en" or "mixed": mixed when the headline (first line) is Chinese and the rest English or the
    reverse, or when a mostly English text carries a long run of Chinese."""
    sample = text[:4000]
    head, sep, rest = sample.strip().partition("\n")
    if sep and len(rest.strip()) >= 20:
        first, second = _script(head), _script(rest)
        if first and second and first != second:
            return "mixed"
    overall = _script(sample)
    if overall is None:
        return "en"
    if overall == "zh":
        return "zh"
    return "mixed" if len(HAN_RE.findall(sample)) >= 40 else "en"


# --- faster regular-expression searches ---------------------------------------------------------------


class Guarded:
    """A compiled regular expression searched faster, with the same results: a guard finds the next
    position where a match can begin (one of the characters matches begin with, found in C) and where
    the expression does match, and the expression is matched there.

    Python's engine skips ahead by the first character on its own only when an expression starts with
    a literal or a character set; one that starts with a look-behind (``(?<![A-Za-z0-9])A...``), an
    alternation of groups, or a case-insensitive word is tried at every position. Expressions whose
    first characters cannot be listed (``\\d``, ``.``, a large range) or that can match the empty string
    are searched as they are.
    """

    __slots__ = ("guard", "regex")

    def __init__(self, regex: re.Pattern[str]) -> None:
        self.regex = regex
        self.guard = _first_char_guard(regex)

    def search(self, text: str) -> re.Match[str] | None:
        """``regex.search(text)``."""
        if self.guard is None:
            return self.regex.search(text)
        at = self.guard.search(text)
        return None if at is None else self.regex.match(text, at.start())

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        """``regex.finditer(text)`` (never an empty match: a guarded expression cannot match empty)."""
        if self.guard is None:
            yield from self.regex.finditer(text)
            return
        pos = 0
        while (at := self.guard.search(text, pos)) is not None:
            match = self.regex.match(text, at.start())
            if match is None:  # cannot happen: the guard matched the expression there
                pos = at.start() + 1
                continue
            yield match
            pos = match.end()


_MAX_GUARD_CHARS = 4096


def _first_char_guard(regex: re.Pattern[str]) -> re.Pattern[str] | None:
    """``[first characters](?<=(?=regex).)``: where ``regex`` matches, found by the engine's fast scan
    for a character set; None when the first characters are unknown or ``regex`` can match empty."""
    try:
        sre_c: Any = importlib.import_module("re._constants")
        sre_p: Any = importlib.import_module("re._parser")
        parsed = sre_p.parse(regex.pattern, regex.flags)
        if parsed.getwidth()[0] < 1:
            return None
        first_op = parsed.data[0][0] if parsed.data else None
        if first_op in (sre_c.LITERAL, sre_c.IN) and not regex.flags & re.IGNORECASE:
            return None  # the engine already skips ahead by this first character
        chars, nullable = _first_chars(list(parsed.data), sre_c)
        if chars is None or nullable or not chars:
            return None
        if regex.flags & re.IGNORECASE:
            chars |= {v for c in chars for v in (c.lower(), c.upper(), c.swapcase()) if len(v) == 1}
        if len(chars) > _MAX_GUARD_CHARS:
            return None
        first = "".join(re.escape(c) for c in sorted(chars))
        return re.compile(f"[{first}](?<=(?={regex.pattern})(?s:.))", regex.flags)
    except Exception:  # private modules, or a pattern this wrapping cannot hold: search as it is
        return None


def _first_chars(items: list[Any], sre_c: Any) -> tuple[set[str] | None, bool]:
    """(characters a match of the sequence ``items`` can begin with, or None if unknown; whether the
    sequence can match without consuming a character)."""
    out: set[str] = set()
    for op, av in items:
        if op in (sre_c.AT, sre_c.ASSERT, sre_c.ASSERT_NOT):
            continue  # zero width: the first character comes later
        chars, nullable = _first_chars_of(op, av, sre_c)
        if chars is None:
            return None, False
        out |= chars
        if not nullable:
            return out, False
    return out, True


def _first_chars_of(op: Any, av: Any, sre_c: Any) -> tuple[set[str] | None, bool]:
    if op is sre_c.LITERAL:
        return {chr(av)}, False
    if op is sre_c.IN:
        chars: set[str] = set()
        for o, a in av:
            if o is sre_c.LITERAL:
                chars.add(chr(a))
            elif o is sre_c.RANGE and a[1] - a[0] < _MAX_GUARD_CHARS:
                chars.update(map(chr, range(a[0], a[1] + 1)))
            else:  # a negated set, a category (\\d, \\w), a large range
                return None, False
        return chars, False
    if op is sre_c.SUBPATTERN:
        return _first_chars(list(av[-1]), sre_c)
    if op is sre_c.ATOMIC_GROUP:
        return _first_chars(list(av), sre_c)
    if op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, sre_c.POSSESSIVE_REPEAT):
        chars_r, nullable = _first_chars(list(av[2]), sre_c)
        return chars_r, nullable or av[0] == 0
    if op is sre_c.BRANCH:
        union: set[str] = set()
        any_nullable = False
        for alternative in av[1]:
            chars_b, nullable = _first_chars(list(alternative), sre_c)
            if chars_b is None:
                return None, False
            union |= chars_b
            any_nullable = any_nullable or nullable
        return union, any_nullable
    return None, False


# --- cleaning -----------------------------------------------------------------------------------------

# Characters removed outright: C0 controls except \t and \n, DEL, C1 controls, bidi embeddings,
# overrides, isolates and marks, zero-width characters and the BOM, and the soft hyphen (invisible,
# and it splits words a search would want whole).
_REMOVED = (
    [c for c in range(0x20) if c not in (0x09, 0x0A)]
    + list(range(0x7F, 0xA0))
    + [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
    + [0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x00AD]
)
_DELETE_TABLE: dict[int, str | None] = dict.fromkeys(_REMOVED)
# Line breaks other than \n become \n before the controls go (\r, NEL, LINE/PARAGRAPH SEPARATOR).
_DELETE_TABLE.update({0x0D: "\n", 0x85: "\n", 0x2028: "\n", 0x2029: "\n"})
# Exactly the characters of _DELETE_TABLE; sub() with a lookup beats translate() on long texts that hold
# only a few of them.
_TRANSLATED_RE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\xad\u061c\u200b-\u200f\u2028-\u202e\u2060\u2066-\u2069\ufeff]"
)
_SPACES = "\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000"
_SPACE_RUN_RE = re.compile(f"[ \t{_SPACES}]{{2,}}|[{_SPACES}]")
_SPECIAL_SPACE_RE = re.compile(f"[{_SPACES}]")
_SPACE_AROUND_NEWLINE_RE = re.compile(r"[ \t]*\n[ \t]*")
_BLANK_LINES_RE = re.compile(r"\n\n\n+")  # not \n{3,}: a literal first character gets a fast scan


def _translated(match: re.Match[str]) -> str:
    return _DELETE_TABLE[ord(match.group())] or ""


def clean_text(value: str) -> str:
    """NFC text without controls (``\\n`` and ``\\t`` stay), bidi controls or zero-width characters.

    Runs of spaces (including no-break and ideographic spaces) become one space, spaces around line
    breaks go, more than one blank line becomes one, and the ends are stripped.
    """
    if not value:
        return ""
    text = value.replace("\r\n", "\n")
    if _TRANSLATED_RE.search(text):
        text = _TRANSLATED_RE.sub(_translated, text)
    if not text.isascii() and not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    if "  " in text or "\t" in text or _SPECIAL_SPACE_RE.search(text):  # else there is nothing to collapse
        text = _SPACE_RUN_RE.sub(" ", text)
    if "\n" in text:
        if " \n" in text or "\n " in text or "\t\n" in text or "\n\t" in text:  # the sub is slow: skip it
            text = _SPACE_AROUND_NEWLINE_RE.sub("\n", text)
        text = _BLANK_LINES_RE.sub("\n\n", text)
    return text.strip()


# --- entities -----------------------------------------------------------------------------------------

_ENTITY_RE = re.compile(r"&(?:#([0-9]{1,8})|#[xX]([0-9a-fA-F]{1,8})|([A-Za-z][A-Za-z0-9]{1,31}));")
_HTML5 = html.entities.html5
# HTML maps numeric references in the C1 range to windows-1252 (&#146; is a right single quote).
_CP1252_REFS = {
    b: bytes([b]).decode("cp1252") for b in range(0x80, 0xA0) if b not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)
}


def _entity(match: re.Match[str]) -> str:
    decimal, hexadecimal, name = match.groups()
    if name is not None:
        return _HTML5.get(name + ";", match.group())
    code = int(decimal) if decimal is not None else int(hexadecimal, 16)
    if code in _CP1252_REFS:
        return _CP1252_REFS[code]
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return "\ufffd"
    return chr(code)


def unescape_entities(value: str) -> str:
    """Replace HTML character references, once; only references ending in ``;`` count.

    Unlike :func:`html.unescape`, ``AT&T`` or ``?a=1&copy=2`` stay as they are, which is what titles
    and plain text written by people need.
    """
    if "&" not in value:
        return value
    return _ENTITY_RE.sub(_entity, value)


# --- HTML ---------------------------------------------------------------------------------------------

# Elements whose content is never text a reader sees. MathML is text (a formula reads "a+b"), but its
# <annotation> repeats the formula as TeX or another markup.
_HIDDEN_OPEN_RE = re.compile(r"<(script|style|noscript|template|svg|iframe|object|head|annotation)\b", re.I)
_BLOCK_TAG_RE = re.compile(
    r"<(?:br|hr|/?(?:p|div|li|ul|ol|dl|dt|dd|h[1-6]|tr|table|thead|tbody|tfoot|caption|blockquote|pre"
    r"|section|article|header|footer|aside|nav|figure|figcaption|address|main|details|summary|form"
    r"|fieldset|center|body|html))\b[^<>]*>",
    re.I,
)
_CELL_TAG_RE = re.compile(r"</?t[dh]\b[^<>]*>", re.I)
# Any other tag, declaration or processing instruction. Attribute values may hold ">" when quoted; a
# quote may not run past the next "<", which keeps every scan short (no quadratic backtracking). A tag
# whose quotes do not pair up (<a href=http://x/">) ends at its first ">", as a browser reads it.
_TAG_RE = re.compile(
    r"""</?[A-Za-z][^<>"']*(?:(?:"[^"<]*"|'[^'<]*')[^<>"']*)*>|</?[A-Za-z][^<>]*>|<[!?][^<>]*>"""
)


_DOUBLE_SPACES_RE = re.compile(" {2,}")
_NEWLINES_RE = re.compile(r"\n[\s]*\n")


def _drop_hidden(value: str) -> str:
    """Remove comments and script-like elements with their content, in one linear pass."""
    if "<!--" in value:
        parts = []
        pos = 0
        while (start := value.find("<!--", pos)) != -1:
            parts.append(value[pos:start])
            end = value.find("-->", start + 4)
            if end == -1:
                pos = len(value)
                break
            pos = end + 3
        parts.append(value[pos:])
        value = "".join(parts)
    if not _HIDDEN_OPEN_RE.search(value):
        return value
    lower = value.lower()
    parts = []
    pos = 0
    while match := _HIDDEN_OPEN_RE.search(value, pos):
        parts.append(value[pos : match.start()])
        name = match.group(1).lower()
        open_end = value.find(">", match.end())
        if open_end == -1:
            pos = len(value)
            break
        close = -1 if value[open_end - 1] == "/" else lower.find(f"</{name}", open_end)
        if close == -1:
            # Self-closed, or never closed: an unclosed script or style hides the rest, as in a browser.
            pos = len(value) if name in ("script", "style") and value[open_end - 1] != "/" else open_end + 1
            continue
        close_end = value.find(">", close)
        pos = len(value) if close_end == -1 else close_end + 1
    parts.append(value[pos:])
    return "".join(parts)


def html_to_text(value: str) -> str:
    """Plain text of an HTML fragment: each block element starts a line, script/style content goes,
    entities are unescaped once, then :func:`clean_text`. Text without any tag keeps its line breaks."""
    if not value:
        return ""
    if "<" in value:
        # Markup: source line breaks are spaces, as a browser shows them; each block starts a line.
        text = _drop_hidden(value)
        # [\r\n\t ]+ to one space, done as replace() calls: a regex that matches every space is slow.
        text = _DOUBLE_SPACES_RE.sub(" ", text.replace("\r", " ").replace("\n", " ").replace("\t", " "))
        text = _BLOCK_TAG_RE.sub("\n", text)
        text = _CELL_TAG_RE.sub(" ", text)
        text = _TAG_RE.sub("", text)
        text = _NEWLINES_RE.sub("\n", text)
    else:
        text = value
    return clean_text(unescape_entities(text))


_LINE_BREAKS_RE = re.compile(r"\s*\n\s*|\t")


def clean_title(value: str) -> str:
    """A title as one line of plain text: tags removed, entities unescaped once, :func:`clean_text`.

    ``<b>Alibaba</b> &amp;amp; T-Head`` becomes ``Alibaba &amp; T-Head``.
    """
    text = html_to_text(value)
    if "\n" in text or "\t" in text:
        text = _LINE_BREAKS_RE.sub(" ", text)
    return text
