"""Bytes to text for feeds and pages, with the fixes Chinese sites need.

Order of evidence: a byte-order mark; for XML without one, the first bytes (UTF-16, UTF-32 and EBCDIC
show themselves there, as the XML spec's appendix F describes); then the XML declaration, (for HTML) the
``<meta>`` charset, and the HTTP ``Content-Type`` charset. Every declared encoding is checked: a strict
decode must succeed and must not yield mojibake, and bytes that are valid UTF-8 are read as UTF-8
whatever the label says (a GBK or Latin-1 document is practically never valid UTF-8 once it has a few
non-ASCII characters). A document declared UTF-8 (or, for XML, declaring nothing) that carries a few
invalid bytes among more valid UTF-8 sequences stays UTF-8: the bad bytes become U+FFFD, the rest of the
text is untouched. Only when nothing declared fits is charset-normalizer asked to rank candidates, so the
common case costs one decode; GB18030 goes first only for a Chinese-language feed whose bytes it fits.

GB2312/GBK labels are read as GB18030 (a strict superset), Latin-1 and ASCII labels as windows-1252
(as browsers do), and double-encoded UTF-8 (``Ã©``, ``â€™``) is repaired. ``encoding`` in the result is
a Python codec name, usable with ``bytes.decode``.
"""

from __future__ import annotations

import codecs
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pipeline.text import HAN, HAN_RE

logger = logging.getLogger(__name__)

Source = Literal["bom", "xml-declaration", "http-header", "html-meta", "detected", "default"]
# Feed languages (pipeline.models.LANGUAGES) whose feeds may be GBK/GB18030 without saying so.
_CHINESE_LANGUAGES = frozenset({"zh", "mixed"})


@dataclass(frozen=True)
class DecodedText:
    """A decoded document; ``source`` tells which evidence chose ``encoding``."""

    text: str
    encoding: str
    source: str
    repaired: bool = False  # double-encoded UTF-8 was found and undone
    replaced: int = 0  # invalid bytes of a UTF-8 document that became U+FFFD


# Labels whose Python codec is wrong or missing for what the web actually sends.
_ALIASES: dict[str, str] = {
    **dict.fromkeys(
        (
            "gb2312", "gbk", "x-gbk", "cp936", "ms936", "windows-936", "csgb2312", "chinese", "gb_2312",
            "gb_2312-80", "euc-cn", "x-euc-cn", "iso-ir-58", "csiso58gb231280", "gb18030", "gb-18030",
        ),
        "gb18030",
    ),
    **dict.fromkeys(
        ("big5", "big5-hkscs", "big5hkscs", "x-x-big5", "cn-big5", "csbig5", "x-big5"), "big5hkscs"
    ),
    **dict.fromkeys(
        ("shift_jis", "shift-jis", "sjis", "x-sjis", "ms_kanji", "csshiftjis", "windows-31j", "cp932"),
        "cp932",
    ),
    **dict.fromkeys(("euc-kr", "ks_c_5601-1987", "windows-949", "cp949", "cseuckr"), "cp949"),
    **dict.fromkeys(
        (
            "iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1", "cp819", "ibm819",
            "us-ascii", "ascii", "windows-1252", "cp1252", "x-cp1252",
        ),
        "cp1252",
    ),
    **dict.fromkeys(("utf8", "utf-8", "unicode-1-1-utf-8", "x-unicode20utf8"), "utf-8"),
    **dict.fromkeys(("mac", "csmacintosh", "x-mac-roman"), "mac-roman"),
    # Microsoft's own names for its code pages (feedparser's corpus uses them).
    **{"ms-ansi": "cp1252", "ms-ee": "cp1250", "ms-cyrl": "cp1251", "x-cp1251": "cp1251", "ms-greek": "cp1253",
       "ms-turk": "cp1254", "ms-hebr": "cp1255", "ms-arab": "cp1256", "winbaltrim": "cp1257"},
    "windows-874": "cp874",
    "x-mac-cyrillic": "mac-cyrillic",
    # UCS-2 and UCS-4 are UTF-16 and UTF-32 without the characters outside the BMP.
    **dict.fromkeys(("ucs-2", "iso-10646-ucs-2", "csunicode"), "utf-16"),
    **dict.fromkeys(("ucs-4", "iso-10646-ucs-4", "csucs4"), "utf-32"),
}  # fmt: skip

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

_XML_DECL_RE = re.compile(rb"""^\s*<\?xml[^>]{0,200}?encoding\s*=\s*["']([A-Za-z0-9._:-]{1,40})["']""")
_META_RE = re.compile(rb"""<meta\b[^>]{0,500}?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]{1,40})""", re.I)
_HEADER_CHARSET_RE = re.compile(r"""charset\s*=\s*["']?\s*([A-Za-z0-9._:-]{1,40})""", re.I)
_META_SCAN_BYTES = 8192
# What charset-normalizer may propose: the legacy encodings news sites still send undeclared (the WHATWG
# list, less those that read Western text as well as windows-1252 does: left open, charset-normalizer
# reads undeclared Portuguese as Baltic cp1257).
_DETECTABLE = (
    "utf_8", "cp1252", "cp1250", "iso8859_2", "cp1251", "koi8_r", "koi8_u", "cp1253", "cp1254", "cp1255",
    "cp1256", "cp874", "gb18030", "big5", "shift_jis", "euc_jp", "euc_kr",
)  # fmt: skip
_MULTI_BYTE = frozenset({"gb18030", "big5hkscs", "cp932", "euc_jp", "cp949"})
# When charset-normalizer scores candidates equally (Portuguese reads as well in windows-1252 as in
# cp1250), the encodings the web uses most win, in this order.
_COMMON_CODECS = ("utf-8", "cp1252", "gb18030", "big5hkscs", "cp1251", "cp932", "cp949", "euc_jp")
# "<?xml" in the EBCDIC code pages (appendix F): the declaration then names the code page.
_EBCDIC_XML = b"\x4c\x6f\xa7\x94\x93"


def codec_for_label(label: str) -> str | None:
    """The Python codec to use for a charset label, or None when it is unknown."""
    key = label.strip().strip("\"'").lower()
    if not key:
        return None
    alias = _ALIASES.get(key) or _ALIASES.get(key.replace("_", "-"))  # charset-normalizer says "euc_kr"
    if alias:
        return alias
    try:
        return codecs.lookup(key).name
    except LookupError:
        return None


def sniff_xml_encoding(body: bytes) -> str | None:
    """The encoding family an XML document's first bytes show when it has no byte-order mark.

    XML starts with ``<`` or white space, both ASCII, so the NUL bytes around the first characters give
    UTF-16 or UTF-32 and their byte order (XML 1.0 appendix F); ``<?xml`` in EBCDIC gives ``"ebcdic"``.
    None for ASCII-compatible bytes.
    """
    head = body[:4]
    if len(head) < 4:
        return None
    if head.startswith(_EBCDIC_XML[:4]):
        return "ebcdic"
    if b"\x00" not in head:
        return None
    if head[:3] == b"\x00\x00\x00" and head[3]:
        return "utf-32-be"
    if head[0] and head[1:] == b"\x00\x00\x00":
        return "utf-32-le"
    if head[0] == 0 and head[1] and head[2] == 0:
        return "utf-16-be"
    if head[0] and head[1] == 0 and head[3] == 0:
        return "utf-16-le"
    return None


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    value = headers.get(name)
    if value is None:
        for key, val in headers.items():
            if key.lower() == name:
                return val
    return value


def _declared(body: bytes, headers: Mapping[str, str] | None, kind: str) -> list[tuple[str, str]]:
    """Declared encodings, best evidence first, without repeats: [(codec, source)]."""
    found: list[tuple[str, str]] = []
    match = _XML_DECL_RE.match(body, 0, 300)
    if match:
        found.append((match.group(1).decode("ascii"), "xml-declaration"))
    if kind == "html":
        match = _META_RE.search(body, 0, _META_SCAN_BYTES)
        if match:
            found.append((match.group(1).decode("ascii"), "html-meta"))
    content_type = _header(headers, "content-type")
    if content_type:
        header_match = _HEADER_CHARSET_RE.search(content_type)
        if header_match:
            found.append((header_match.group(1), "http-header"))
    result: list[tuple[str, str]] = []
    for label, source in found:
        codec = codec_for_label(label)
        if codec and all(codec != c for c, _ in result):
            result.append((codec, source))
    return result


def _ascii_compatible(codec: str) -> bool:
    probe = b"<?xml version='1.0'?>"
    try:
        return probe.decode(codec) == probe.decode("ascii")
    except (UnicodeDecodeError, LookupError):
        return False


def _strict(body: bytes, codec: str) -> tuple[str, str] | None:
    """(text, codec used) when ``body`` decodes without error, else None."""
    if codec.startswith(("utf-16", "utf-32")):
        # A UTF-16/32 label read from ASCII-compatible bytes cannot be true (browsers ignore it too).
        if b"\x00" not in body[:4]:
            return None
        if codec in ("utf-16", "utf-32"):
            codec = f"{codec}-be" if body[0] == 0 else f"{codec}-le"
    try:
        return body.decode(codec), codec
    except UnicodeDecodeError:
        if codec == "cp1252":
            # Five bytes are undefined in windows-1252; ISO-8859-1 maps every byte.
            return body.decode("latin-1"), "iso8859-1"
        return None
    except LookupError:
        return None


# --- mojibake ---------------------------------------------------------------------------------------

# Each byte as windows-1252 shows it, the five undefined bytes as the C1 controls Latin-1 gives.
_BYTE_CHARS = [bytes([b]).decode("cp1252", "ignore") or chr(b) for b in range(256)]
_C1_TO_CP1252 = {chr(b): ch for b, ch in enumerate(_BYTE_CHARS) if ord(ch) != b}
_SLOPPY_ERRORS = "pipeline.ingest.encoding.latin1-c1"


def _c1_as_bytes(error: UnicodeError) -> tuple[bytes, int]:
    """Encoding error handler: windows-1252 lacks the C1 controls that Latin-1 decoding produced."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    chunk = error.object[error.start : error.end]
    if any(ord(ch) > 0xFF for ch in chunk):
        raise error
    return chunk.encode("latin-1"), error.end


codecs.register_error(_SLOPPY_ERRORS, _c1_as_bytes)


def _char_class(byte_values: range) -> str:
    chars = {_BYTE_CHARS[b] for b in byte_values} | {chr(b) for b in byte_values}
    return "[" + "".join(re.escape(c) for c in sorted(chars)) + "]"


_CONT = _char_class(range(0x80, 0xC0))  # UTF-8 continuation bytes as windows-1252/Latin-1 shows them
_HIGH = _char_class(range(0x80, 0x100))
# UTF-8 read as windows-1252: a lead (Â..ô) and continuation characters: "Ã©" (é), "â€™" (’), "Ð¯" (Я).
# One character class first keeps the scan fast; the candidates are checked in Python.
_UTF8_CANDIDATE_RE = re.compile(f"[\u00c2-\u00f4]{_CONT}+")
_UTF8_SEQ = f"(?:[\u00c2-\u00df]{_CONT}|[\u00e0-\u00ef]{_CONT}{{2}}|[\u00f0-\u00f4]{_CONT}{{3}})"
_UTF8_RUN_RE = re.compile(f"{_UTF8_SEQ}+")
# GBK/GB18030 (or Big5) read as Latin-1: long runs of accented letters and symbols. Six at least: four
# occur in real text ("[äüöß]" in a page's script) and happen to be two valid GBK characters.
_LATIN_HIGH_RE = re.compile("[\u00a0-\u00ff]")
# Written "XX{5,}", not "X{6,}": a pattern that starts with a character class gets a fast scan.
_HIGH_RUN_RE = re.compile(f"{_HIGH}{_HIGH}{{5,}}")
_C1_RE = re.compile("[\u0080-\u009f]")
# Han plus CJK punctuation and full-width forms: what a Chinese text is made of.
_CJK_TEXT_RE = re.compile(f"[\u3000-\u303f{HAN}\uff00-\uffef]")
# UTF-8 Chinese read as GBK: the first two bytes of 的 是 在 一/中 了 国 ， 。 “ and of U+FFFD (锟斤拷),
# and private-use characters right after a Han one (GB18030 gives them for byte pairs no text has; alone,
# they are icon-font glyphs in a page's CSS).
# Two patterns, counted separately: one pattern with a look-behind is four times slower on a whole feed.
_GBK_MARKERS_RE = re.compile("[锟鐨鏄鍦涓浜鍥锛銆鈥]")
_PRIVATE_AFTER_HAN_RE = re.compile(f"[{HAN}][\ue000-\uf8ff]")


def _as_bytes(text: str) -> bytes | None:
    """The bytes a windows-1252/Latin-1 decoder turned into ``text``, or None if it cannot have."""
    try:
        return text.encode("cp1252", _SLOPPY_ERRORS)
    except UnicodeEncodeError:
        return None


def _utf8_of(run: str) -> str | None:
    raw = _as_bytes(run)
    if raw is None:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _gbk_of(run: str) -> str | None:
    """The Chinese text a Latin-1 run was decoded from, if it was."""
    raw = _as_bytes(run)
    if raw is None:
        return None
    try:
        text = raw.decode("gb18030")
    except UnicodeDecodeError:
        return None
    if len(HAN_RE.findall(text)) >= 3 and len(_CJK_TEXT_RE.findall(text)) * 10 >= len(text) * 9:
        return text
    return None


def _utf8_evidence(text: str) -> tuple[int, int]:
    """(strong, weak) counts of windows-1252-read UTF-8 sequences in ``text``."""
    strong = weak = 0
    for match in _UTF8_CANDIDATE_RE.finditer(text):
        run = match.group()
        lead = ord(run[0])
        need = 1 if lead < 0xE0 else 2 if lead < 0xF0 else 3
        if len(run) <= need or _utf8_of(run[: need + 1]) is None:
            continue
        # Before a continuation character, Â Ã Ð Ñ and the 3/4-byte leads almost never occur in real text;
        # "É»" or "Ó”" can (an upper-case word before a closing quote).
        if need > 1 or run[0] in "\u00c2\u00c3\u00d0\u00d1":
            strong += 1
        else:
            weak += 1
    return strong, weak


def looks_like_mojibake(text: str) -> bool:
    """True when ``text`` shows the marks of a wrong decode.

    Caught: UTF-8 read as windows-1252/Latin-1 (``Ã©``, ``â€™``, ``å¤§``), GBK read as Latin-1
    (``ÖÐ¹ú``), C1 control characters, and UTF-8 Chinese read as GBK (``锟斤拷``, ``鐨`` ``銆``).
    """
    if text.isascii():
        return False
    if _C1_RE.search(text):
        return True
    strong, weak = _utf8_evidence(text)
    if strong or weak >= 3:
        return True
    if _LATIN_HIGH_RE.search(text) and any(_gbk_of(m.group()) for m in _HIGH_RUN_RE.finditer(text)):
        return True
    if not HAN_RE.search(text):  # every marker is (or follows) a Han character
        return False
    markers = len(_GBK_MARKERS_RE.findall(text)) + len(_PRIVATE_AFTER_HAN_RE.findall(text))
    if markers >= 3:
        # Real Chinese uses these characters rarely; text that went UTF-8 -> GBK is full of them.
        non_ascii = len(text) - len(text.encode("ascii", "ignore"))
        return markers * 30 >= non_ascii
    return False


def _repair_once(text: str) -> str:
    whole = _utf8_of(text)
    if whole is not None:
        return whole

    def fix_gbk(match: re.Match[str]) -> str:
        run = match.group()
        if _utf8_of(run) is not None:  # valid UTF-8 is the likelier story; the next pass takes it
            return run
        return _gbk_of(run) or run

    def fix_utf8(match: re.Match[str]) -> str:
        return _utf8_of(match.group()) or match.group()

    return _UTF8_RUN_RE.sub(fix_utf8, _HIGH_RUN_RE.sub(fix_gbk, text))


def repair_mojibake(text: str) -> str:
    """Undo UTF-8 (or GBK) read as windows-1252/Latin-1, for the whole text or the damaged stretches.

    Text that does not look like mojibake is returned unchanged. Callers holding the original bytes
    should rather decode them again (as :func:`decode_document` does for GBK).
    """
    for _ in range(3):  # some documents went through the wrong decode twice
        if not looks_like_mojibake(text):
            return text
        fixed = _repair_once(text)
        if fixed == text:
            break
        text = fixed
    # Left-over C1 controls are windows-1252 punctuation that went through Latin-1 (\x96 for "–").
    return _C1_RE.sub(lambda m: _C1_TO_CP1252.get(m.group(), m.group()), text)


# --- decoding ---------------------------------------------------------------------------------------


def _finish(text: str, codec: str, source: str, replaced: int = 0) -> DecodedText:
    if codec == "utf-8":
        fixed = repair_mojibake(text)
        if fixed is not text:
            logger.debug("repaired double-encoded UTF-8 (%d -> %d chars)", len(text), len(fixed))
            return DecodedText(fixed, codec, source, repaired=True, replaced=replaced)
    return DecodedText(text, codec, source, replaced=replaced)


def _decode_by_pattern(body: bytes, family: str, headers: Mapping[str, str] | None) -> DecodedText:
    """Decode an XML document whose first bytes showed UTF-16, UTF-32 or EBCDIC (no byte-order mark)."""
    if family == "ebcdic":
        # The declaration is readable in any EBCDIC code page; it names the one the rest is in.
        head = body[:300].decode("cp037", "replace")
        match = _XML_DECL_RE.match(head.encode("ascii", "replace"))
        codec = codec_for_label(match.group(1).decode("ascii")) if match else None
        if codec is None or not _is_ebcdic(codec):
            codec = "cp037"
        return DecodedText(body.decode(codec, "replace"), codec, "xml-declaration" if match else "detected")
    text = body.decode(family, "replace")
    width = family[:6]  # "utf-16" or "utf-32"
    match = _XML_DECL_RE.match(text[:300].encode("ascii", "replace"))
    declared = codec_for_label(match.group(1).decode("ascii")) if match else None
    charset = _HEADER_CHARSET_RE.search(_header(headers, "content-type") or "")
    from_header = codec_for_label(charset.group(1)) if charset else None
    # The bytes fix the width and the byte order; a label only says where the evidence was.
    if declared is not None and declared.startswith(width):
        return DecodedText(text, family, "xml-declaration")
    if from_header is not None and from_header.startswith(width):
        return DecodedText(text, family, "http-header")
    return DecodedText(text, family, "detected")


def _is_ebcdic(codec: str) -> bool:
    try:
        return "<?xml".encode(codec) == _EBCDIC_XML
    except (UnicodeEncodeError, LookupError):
        return False


def _mostly_utf8(body: bytes) -> tuple[str, int] | None:
    """(``body`` decoded as UTF-8 with U+FFFD for its invalid bytes, how many were replaced) when its
    valid multi-byte sequences are at least as many (a stray Latin-1 byte or a cut character in a UTF-8
    document), else None.

    A document in a legacy encoding has next to no valid UTF-8 sequences: GBK or Latin-1 text comes out
    mostly invalid, so it is left to the other evidence.
    """
    text = body.decode("utf-8", "replace")
    invalid = text.count("\ufffd") - body.count("\ufffd".encode())
    valid = len(text) - len(text.encode("ascii", "ignore")) - invalid
    return (text, invalid) if 0 < invalid <= valid else None


def _reads_as_chinese(text: str) -> bool:
    """Whether GB18030-decoded text is Chinese: Han characters and next to no kana (EUC-JP bytes decode
    as GB18030 too, kana included, since GB2312 placed its kana where EUC-JP has them)."""
    han = len(HAN_RE.findall(text))
    kana = len(_KANA_RE.findall(text))
    return han > 0 and kana * 20 <= han and not looks_like_mojibake(text)


_KANA_RE = re.compile("[\u3040-\u30ff]")


def _ranked_codecs(body: bytes) -> list[tuple[str, float]]:
    """(codec, chaos) for ``body``, best first, by charset-normalizer's scores: less chaos first; then a
    multi-byte encoding before a single-byte one (random bytes seldom form valid GBK or EUC pairs, while
    every byte is some Thai or Greek letter); then more coherence; then ``_COMMON_CODECS`` order."""
    import charset_normalizer

    scored: dict[str, tuple[float, bool, float, int]] = {}
    for match in charset_normalizer.from_bytes(body, cp_isolation=list(_DETECTABLE)):
        for label in match.could_be_from_charset:
            codec = codec_for_label(label)
            if codec is None or codec in scored:
                continue
            common = _COMMON_CODECS.index(codec) if codec in _COMMON_CODECS else len(_COMMON_CODECS)
            chaos, coherence = round(match.chaos, 2), round(match.coherence, 2)
            scored[codec] = (chaos, codec not in _MULTI_BYTE, -coherence, common)
    return [(codec, scored[codec][0]) for codec in sorted(scored, key=scored.__getitem__)]


def _detect(body: bytes, language: str | None) -> DecodedText | None:
    """Ask charset-normalizer; accept the first candidate whose text is clean.

    For a Chinese-language feed, GB18030 goes first when charset-normalizer finds it as orderly as its
    best candidate; it is a last resort (with Big5) only when the language is Chinese or unknown.
    """
    chinese = language is None or language in _CHINESE_LANGUAGES
    scored = _ranked_codecs(body)
    ranked = [codec for codec, _ in scored]
    if language in _CHINESE_LANGUAGES and ("gb18030", scored[0][1]) in scored:
        ranked.remove("gb18030")
        ranked.insert(0, "gb18030")
    last_resort = [c for c in ("gb18030", "big5hkscs") if chinese and c not in ranked]
    for codec in ranked + last_resort:
        decoded = _strict(body, codec)
        if decoded is None:
            continue
        text, used = decoded
        if _reads_as_chinese(text) if used == "gb18030" else not looks_like_mojibake(text):
            return DecodedText(text, used, "detected")
    return None


def decode_document(
    body: bytes,
    headers: Mapping[str, str] | None = None,
    *,
    kind: Literal["xml", "html"] = "xml",
    language: str | None = None,
) -> DecodedText:
    """Decode a fetched feed (``kind="xml"``) or page (``kind="html"``) to text, never to mojibake.

    ``language`` is the feed's configured language (``zh``, ``en``, ``mixed``; None when unknown): it
    decides whether undeclared bytes may be guessed as GB18030. A byte-order mark is stripped; the text
    keeps its XML declaration or meta tag as they were.
    """
    if not body:
        return DecodedText("", "utf-8", "default")
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return _finish(body[len(bom) :].decode(codec, "replace"), codec, "bom")
    if kind == "xml":
        family = sniff_xml_encoding(body)
        if family is not None:
            return _decode_by_pattern(body, family, headers)

    declared = _declared(body, headers, kind)
    if body.isascii():
        for codec, source in declared:
            if _ascii_compatible(codec):
                return DecodedText(body.decode("ascii"), codec, source)
        return DecodedText(body.decode("ascii"), "utf-8", "default")

    try:
        utf8_text: str | None = body.decode("utf-8")
    except UnicodeDecodeError:
        utf8_text = None
    if utf8_text is not None:
        source = next((s for c, s in declared if c == "utf-8"), "detected" if declared else "default")
        if declared and source == "detected":
            logger.debug("bytes declared %s are valid UTF-8; reading them as UTF-8", declared[0][0])
        return _finish(utf8_text, "utf-8", source)

    # XML without any declaration is UTF-8 by definition; HTML's default is windows-1252, so an
    # undeclared page is only kept as UTF-8 on the same evidence.
    utf8_source = next((s for c, s in declared if c == "utf-8"), None if declared else "default")
    if utf8_source is not None:
        damaged = _mostly_utf8(body)
        if damaged is not None:
            logger.debug("UTF-8 document with %d invalid byte sequence(s); replaced", damaged[1])
            return _finish(damaged[0], "utf-8", utf8_source, replaced=damaged[1])

    for codec, source in declared:
        if codec == "utf-8":
            continue
        decoded = _strict(body, codec)
        if decoded is None:
            logger.debug("declared encoding %s (%s) does not decode the bytes", codec, source)
            continue
        if looks_like_mojibake(decoded[0]):
            logger.debug("declared encoding %s (%s) gives mojibake", codec, source)
            continue
        return DecodedText(decoded[0], decoded[1], source)

    detected = _detect(body, language)
    if detected is not None:
        return detected
    codec, source = declared[0] if declared else ("utf-8", "default")
    logger.debug("no encoding decodes the bytes cleanly; %s with replacement characters", codec)
    return DecodedText(body.decode(codec, "replace"), codec, source)
