"""The one adapter around feedparser: fetched bytes and headers in, a cleaned ``ParsedFeed`` out.

feedparser is never given a URL, a path or a str (it would fetch or open them): it gets a BytesIO of a
document this module prepared. A well-formed RSS 2.0, RSS 1.0 or Atom 1.0 document whose encoding was
not in doubt is read instead by the fast path (:mod:`pipeline.ingest.fastparse`: lxml, feedparser's rules
for the fields used here); feedparser reads everything else. The preparation does what feedparser gets
wrong or does dangerously, for both paths:

* decoding (:func:`pipeline.ingest.encoding.decode_document`), then UTF-8 with a matching XML declaration
  and Content-Type, so feedparser cannot decode the text a second time, wrongly;
* the DOCTYPE with its ENTITY declarations is removed (no entity expansion, no external entities), and
  references to undefined entities (HTML's ``&nbsp;``, a bomb's ``&lol9;``) become the HTML character or
  literal text, so the strict parser does not fail and hand over to a second, lenient pass;
* characters XML forbids (NUL and other C0 controls) are dropped for the same reason;
* documents that are not feeds (empty, HTML, JSON, binary, other XML) are refused with a reason.

HTML sanitising and relative-URI rewriting inside content are switched off in feedparser: summaries are
turned into plain text here (:func:`pipeline.text.html_to_text`), which drops scripts and all markup.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from html import escape
from html.entities import html5
from typing import Any
from urllib.parse import urljoin, urlsplit

from pipeline.errors import FeedParseError
from pipeline.ingest import fastparse
from pipeline.ingest.dates import parse_date
from pipeline.ingest.encoding import (
    decode_document,
    looks_like_mojibake,
    repair_mojibake,
    sniff_xml_encoding,
)
from pipeline.models import FeedEntry, ParsedFeed
from pipeline.text import clean_title, html_to_text

logger = logging.getLogger(__name__)

_FEED_ROOTS = frozenset({"rss", "feed", "rdf", "channel"})
_HTML_ROOTS = frozenset({"html", "head", "body", "div", "p", "span", "table", "script", "meta", "title"})
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG", "PNG image"),
    (b"GIF8", "GIF image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"%PDF", "PDF document"),
    (b"PK\x03\x04", "ZIP archive"),
    (b"\x1f\x8b", "gzip-compressed data"),
    (b"BZh", "bzip2-compressed data"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed data"),
    (b"OggS", "Ogg media"),
    (b"ID3", "MP3 audio"),
)
_UTF16_32_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")

_XML_DECL_RE = re.compile(r"<\?xml\b[^>]*\?>")
_PROLOG_SKIP_RE = re.compile(r"\s+|<!--.*?-->|<\?.*?\?>", re.S)
_NAME_RE = re.compile(r"<([A-Za-z_][\w.:-]*)")
# Tokens of a DOCTYPE: quoted strings and comments are opaque; brackets nest the internal subset.
_DOCTYPE_TOKEN_RE = re.compile(r"""[^"'\[\]<>]+|"[^"]*"|'[^']*'|<!--.*?-->|[\[\]<>]""", re.S)
_MARKUP_DECL_RE = re.compile(r"<!(?:DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION)\b", re.I)
_INVALID_XML_CHARS_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# "&" that does not start one of XML's five entities.
_AMP_RE = re.compile(
    r"&(?!(?:amp|lt|gt|quot|apos);)(?:#([0-9]{1,8});|#[xX]([0-9a-fA-F]{1,8});|([A-Za-z_][\w.-]{0,63});)?"
)
_SCHEMES = ("http", "https")
_URL_BREAKS_RE = re.compile(r"[\t\r\n]")
_EMAIL_AND_NAME_RE = re.compile(r"^\s*[^\s()<>]+@[^\s()<>]+\s*\((.+)\)\s*$")
# feedparser's dicts map old key names with a DeprecationWarning ("updated" falls back to "published");
# the canonical keys are read with plain dict access, which is also several times faster.
_get = dict.get


def _fail(reason: str, url: str, feed_id: str | None) -> FeedParseError:
    return FeedParseError(reason, url=url, feed_id=feed_id)


def _sniff_binary(body: bytes) -> str | None:
    """A name for ``body`` when it is plainly not text."""
    for magic, name in _MAGIC:
        if body.startswith(magic):
            return name
    if body[8:12] == b"WEBP" and body.startswith(b"RIFF"):
        return "WebP image"
    if b"\x00" in body[:1024] and not body.startswith(_UTF16_32_BOMS) and sniff_xml_encoding(body) is None:
        return "binary data"
    return None


def _valid_xml_char(code: int) -> bool:
    return (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )


def _fix_reference(match: re.Match[str]) -> str:
    decimal, hexadecimal, name = match.groups()
    if name is not None:
        replacement = html5.get(name + ";")
        if replacement is None:
            return "&amp;" + name + ";"  # undefined: keep it as the text it was written as
        return escape(replacement, quote=True)
    if decimal is None and hexadecimal is None:
        return "&amp;"  # a bare ampersand ("AT&T", "?a=1&b=2")
    code = int(decimal) if decimal is not None else int(hexadecimal, 16)
    return match.group() if _valid_xml_char(code) else ""


def _end_of_declaration(text: str, start: int) -> int:
    """Index just after the ``<!DOCTYPE ...>`` (or other ``<!...>``) that begins at ``start``."""
    depth = 0
    for token in _DOCTYPE_TOKEN_RE.finditer(text, start + 2):
        value = token.group()
        if value == "[":
            depth += 1
        elif value == "]":
            depth = max(0, depth - 1)
        elif value == ">" and depth == 0:
            return token.end()
    return len(text)


def _prepare(text: str) -> tuple[str, str | None, list[str]]:
    """(document ready for feedparser, root element name or None, notes about what was removed)."""
    notes: list[str] = []
    text = text.lstrip("\ufeff \t\r\n")
    decl = _XML_DECL_RE.match(text)
    if decl:
        text = text[decl.end() :]
    pieces: list[str] = []
    pos = 0
    root: str | None = None
    html_doctype = False
    while pos < len(text):
        skip = _PROLOG_SKIP_RE.match(text, pos)
        if skip:
            # A second XML declaration (feeds concatenated by a CMS) would be a fatal error; drop it.
            if not _XML_DECL_RE.match(skip.group()):
                pieces.append(skip.group())
            pos = skip.end()
            continue
        if _MARKUP_DECL_RE.match(text, pos):
            # Even an HTML doctype goes: the root element, not the doctype, says what the document is
            # (some feeds are served with an XHTML doctype in front of <rss>).
            end = _end_of_declaration(text, pos)
            declaration = text[pos:end]
            html_doctype = html_doctype or re.match(r"<!DOCTYPE\s+html\b", declaration, re.I) is not None
            if "<!ENTITY" in declaration.upper():
                notes.append("removed the DOCTYPE and its ENTITY declarations")
            pos = end
            continue
        name = _NAME_RE.match(text, pos)
        root = name.group(1) if name else None
        break
    if html_doctype and (root is None or _local_name(root) not in _FEED_ROOTS):
        root = "html"
    body = "".join(pieces) + text[pos:]
    if _INVALID_XML_CHARS_RE.search(body):
        body = _INVALID_XML_CHARS_RE.sub("", body)
    if "&" in body:
        body = _AMP_RE.sub(_fix_reference, body)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + body, root, notes


def _local_name(name: str) -> str:
    return name.rpartition(":")[2].lower()


def _link(entry: Any, base: str) -> str | None:
    link = _get(entry, "link")
    if not link:
        for candidate in _get(entry, "links") or ():
            if _get(candidate, "href") and _get(candidate, "rel", "alternate") == "alternate":
                link = candidate["href"]
                break
    if not link:
        return None
    # As a browser does: surrounding white space goes, and line breaks or tabs inside (a wrapped <link>).
    link = _URL_BREAKS_RE.sub("", str(link).strip())
    try:
        absolute = urljoin(base, link)
        scheme = urlsplit(absolute).scheme.lower()
    except ValueError:
        return None
    return absolute if scheme in _SCHEMES else None


def _text_of(value: str) -> str:
    text = html_to_text(value)
    return repair_mojibake(text) if looks_like_mojibake(text) else text


def _summary(entry: Any) -> str:
    summary = _get(entry, "summary") or ""
    contents = [_get(c, "value") or "" for c in _get(entry, "content") or ()]
    content = max(contents, key=len, default="")
    return _text_of(content if len(content) > len(summary) else summary)


def _title(value: str | None) -> str:
    if not value:
        return ""
    title = clean_title(value)
    return repair_mojibake(title) if looks_like_mojibake(title) else title


def _published(entry: Any, language: str) -> datetime | None:
    for key in ("published", "updated", "created"):
        raw = _get(entry, key)
        if raw:
            parsed = parse_date(raw, language=language)
            if parsed is not None:
                return parsed
    # Formats only feedparser knows (other languages' month names, odd W3C forms); its tuples are UTC.
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        moment = _get(entry, key)
        source = _get(entry, key + "_source")  # the fast path leaves the parsing to here, if it is needed
        if moment is None and source is not None:
            from feedparser.datetimes import _parse_date

            moment = _parse_date(source)
        if moment:
            try:
                return datetime(*moment[:6]).replace(tzinfo=UTC)
            except (TypeError, ValueError):
                continue
    return None


def _author(entry: Any) -> str | None:
    raw = _get(entry, "author") or _get(_get(entry, "author_detail") or {}, "name") or ""
    # RSS's "news@example.com (Jane Doe)": the name is what a reader wants (feedparser splits it badly).
    match = _EMAIL_AND_NAME_RE.match(raw)
    author = clean_title(match.group(1) if match else raw)
    return author or None


def _bozo_reason(parsed: Any) -> str:
    error = parsed.get("bozo_exception")
    if error is None:
        return "unknown error"
    line = getattr(error, "getLineNumber", None)
    where = f" at line {line()}" if callable(line) else ""
    return f"{type(error).__name__}{where}: {error}"


def parse_feed(
    body: bytes,
    headers: Mapping[str, str],
    *,
    url: str,
    language: str,
    feed_id: str | None = None,
    fast_path: bool = True,
) -> ParsedFeed:
    """Parse fetched feed bytes into cleaned entries; raise FeedParseError when they are not a feed.

    Entries get a plain-text title and summary, a link made absolute against ``url`` (not canonicalised),
    the GUID, a UTC ``published`` and the author. Entries with neither title nor link are dropped;
    repeated GUIDs (or links, for entries without one) keep their first entry. A well-formed RSS/Atom
    document is read by :mod:`pipeline.ingest.fastparse` (the same fields, several times faster), anything
    else by feedparser; ``fast_path=False`` forces feedparser (for comparisons).
    """
    if not body or not body.strip():
        raise _fail("empty document, not a feed", url, feed_id)
    binary = _sniff_binary(body)
    if binary:
        raise _fail(f"{binary}, not a feed", url, feed_id)

    decoded = decode_document(body, headers, kind="xml", language=language)
    warnings: list[str] = []
    if decoded.repaired:
        warnings.append("repaired double-encoded UTF-8 in the document")
    if decoded.replaced:
        warnings.append(f"replaced {decoded.replaced} invalid UTF-8 byte sequence(s) with U+FFFD")
    if decoded.source == "detected":
        warnings.append(f"encoding detected as {decoded.encoding}; the declared one was missing or wrong")

    head = decoded.text.lstrip("\ufeff \t\r\n")[:1]
    if head in ("{", "["):
        raise _fail("JSON document, not an RSS/Atom feed", url, feed_id)
    if head != "<":
        raise _fail("not XML (does not start with '<'), not a feed", url, feed_id)
    document, root, notes = _prepare(decoded.text)
    warnings.extend(notes)
    if root is None:
        raise _fail("XML without a root element, not a feed", url, feed_id)
    local = _local_name(root)
    if local in _HTML_ROOTS:
        raise _fail("HTML page, not a feed", url, feed_id)
    if local not in _FEED_ROOTS:
        raise _fail(f"XML document with root <{root}>, not RSS/Atom/RDF", url, feed_id)

    payload = document.encode("utf-8")
    # Doubtful documents go to feedparser: an encoding that had to be guessed, entity declarations.
    doubtful = decoded.source == "detected" or bool(notes)
    fast = fastparse.parse_document(payload) if fast_path and not doubtful else None
    parsed: Mapping[str, Any] = (
        {"version": fast.version, "feed": fast.feed, "entries": fast.entries}
        if fast is not None
        else _feedparser_parse(payload, url, feed_id)
    )

    raw_entries = parsed.get("entries") or []
    if parsed.get("bozo"):
        reason = _bozo_reason(parsed)
        if not raw_entries:
            # A broken document without items (often a truncated download) must not pass for a quiet feed.
            raise FeedParseError(f"malformed feed with no items ({reason})", url=url, feed_id=feed_id)
        warnings.append(f"not well-formed XML, parsed leniently ({reason})")
    # A channel feedparser cannot name a version for (CDF's <CHANNEL>) is still a feed if it says anything.
    if not parsed.get("version") and not raw_entries and not parsed.get("feed"):
        raise _fail("no RSS/Atom/RDF channel or items found", url, feed_id)

    entries: list[FeedEntry] = []
    seen: set[str] = set()
    dropped = duplicates = 0
    for raw in raw_entries:
        title = _title(_get(raw, "title"))
        link = _link(raw, url)
        if not title and not link:
            dropped += 1
            continue
        guid = (_get(raw, "id") or "").strip() or None
        key = f"guid:{guid}" if guid else f"link:{link}" if link else None
        if key is not None:
            if key in seen:
                duplicates += 1
                continue
            seen.add(key)
        entries.append(
            FeedEntry(
                guid=guid,
                url=link,
                title=title,
                summary=_summary(raw),
                published=_published(raw, language),
                author=_author(raw),
            )
        )
    if dropped:
        warnings.append(f"dropped {dropped} item(s) with neither title nor link")
    if duplicates:
        warnings.append(f"collapsed {duplicates} item(s) repeating an earlier GUID or link")
    for warning in warnings:
        logger.debug("feed %s (%s): %s", feed_id or "-", url, warning)
    feed_title = _title(_get(parsed.get("feed") or {}, "title")) or None
    return ParsedFeed(
        entries=tuple(entries),
        encoding=decoded.encoding,
        title=feed_title,
        warnings=tuple(warnings),
        parser="feedparser" if fast is None else "lxml",
    )


def _feedparser_parse(payload: bytes, url: str, feed_id: str | None) -> Any:
    """feedparser's result for a prepared document; its crashes become FeedParseError."""
    import feedparser

    # No Content-Location: feedparser would resolve GUIDs against it as if they were URLs ("h-1" would
    # become "https://site/h-1"). Links are made absolute here instead.
    response_headers = {"content-type": "application/xml; charset=utf-8"}
    try:
        return feedparser.parse(
            io.BytesIO(payload),
            response_headers=response_headers,
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except Exception as e:  # feedparser has no exception contract; anything it raises is a bad document
        raise FeedParseError(f"feedparser failed: {type(e).__name__}: {e}", url=url, feed_id=feed_id) from e
