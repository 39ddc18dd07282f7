"""The fast parse path: well-formed RSS 2.0, RSS 1.0 and Atom 1.0 read with lxml instead of feedparser.

feedparser's strict parser runs a SAX state machine in Python for every element and every run of text;
that is most of a feed's parse time. Here libxml2 (through lxml) builds the tree in C, and only the
rules feedparser applies to the fields the pipeline reads are replayed in Python: the feed title, and
each entry's title, links, id, summary and content, dates and author. The rules kept are feedparser's
own (its version is pinned): which element fills a field when several could (element depth and order,
``media:title`` against ``title``, a second ``description`` that becomes content), the whitespace
stripping, the repair of UTF-8 read as Latin-1 and of windows-1252 C1 characters, the joins of links and
ids against ``xml:base`` (with feedparser's scoping), RSS ``<link>`` ampersand fixes, GUIDs that stand in
for links, and the author built from an Atom person. The result is dictionaries with feedparser's keys,
so :mod:`pipeline.ingest.feedparse` turns either parser's output into the same entries.

Whatever it does not reproduce exactly makes it give up (``None``) and the caller runs feedparser: a
document that is not well-formed, another format (Atom 0.3, RSS 0.90, CDF), markup inside a text element
other than Atom XHTML, base64 or XML-typed content, an element feedparser handles specially that this
module has not classified (see ``MODELLED`` and ``HARMLESS``), CDF attributes, or elements in an unknown
default namespace. ``tests/ingest/test_fastparse.py`` compares both paths field by field.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from html import escape
from typing import Any, NamedTuple

from lxml import etree

logger = logging.getLogger(__name__)

# feedparser's element names (namespace prefix + "_" + lower-case local name) with rules replayed here.
_TITLE = frozenset({"title", "dc_title", "media_title"})
_DESCRIPTION = frozenset({"description", "dc_description", "media_description"})
_SUMMARY = frozenset({"summary", "itunes_summary"})
_CONTENT_ENCODED = frozenset({"content_encoded", "fullitem"})
_BODY = frozenset({"body", "xhtml_body"})
# Text constructs whose values the pipeline does not read; their children are markup, not elements.
_OTHER_TEXT = frozenset(
    {"subtitle", "tagline", "itunes_subtitle", "rights", "copyright", "dc_rights", "info",
     "feedburner_browserfriendly"}
)  # fmt: skip
_PUBLISHED = frozenset({"published", "issued", "pubdate", "dcterms_issued"})
_UPDATED = frozenset({"updated", "modified", "lastbuilddate", "dc_date", "dcterms_modified"})
_CREATED = frozenset({"created", "dcterms_created"})
_AUTHOR = frozenset({"author", "managingeditor", "dc_author", "dc_creator", "itunes_author"})
_PERSON_PART = {"name": "name", "itunes_name": "name", "email": "email", "itunes_email": "email",
                "url": "href", "uri": "href", "homepage": "href"}  # fmt: skip
MODELLED = (
    _TITLE | _DESCRIPTION | _SUMMARY | _CONTENT_ENCODED | _BODY | _OTHER_TEXT | _PUBLISHED | _UPDATED | _CREATED
    | _AUTHOR | frozenset(_PERSON_PART)
    | {"abstract", "content", "link", "guid", "id", "item", "entry", "channel", "feed", "rss", "image",
       "textinput", "source", "enclosure", "itunes_image", "itunes_link", "contributor", "dc_contributor",
       "itunes_owner"}
)  # fmt: skip
# feedparser handlers that touch nothing this module reads (tags, media and geo metadata, licences,
# generator, cloud, language, publisher, expiry).
HARMLESS = frozenset(
    {"category", "keywords", "dc_subject", "media_category", "media_keywords", "itunes_keywords",
     "itunes_category", "tags", "cc_license", "creativecommons_license", "creativeCommons_license", "cloud",
     "dcterms_valid", "expirationdate", "dc_language", "language", "dc_publisher", "webmaster", "geom",
     "georss_box", "georss_line", "georss_point", "georss_polygon", "georss_where", "georssgeom",
     "gml_exterior", "gml_linearring", "gml_linestring", "gml_point", "gml_polygon", "gml_pos",
     "gml_poslist", "where", "generator", "height", "width", "itunes_block", "itunes_explicit",
     "media_content", "media_credit", "media_rating", "media_restriction", "media_license", "media_player",
     "media_group", "media_thumbnail", "newlocation", "psc_chapter", "psc_chapters", "textInput"}
)  # fmt: skip
# Keys an element with no handler would overwrite in feedparser's entry dictionary (it stores unknown
# elements under their own name): documents with such elements go to feedparser.
_RESERVED = frozenset(
    {"links", "authors", "author_detail", "guidislink", "published_parsed", "updated_parsed",
     "created_parsed", "title_detail", "summary_detail", "content_detail"}
)  # fmt: skip
_TEXT_TYPES = {"text": "text/plain", "plain": "text/plain", "html": "text/html", "xhtml": "application/xhtml+xml",
               "text/plain": "text/plain", "text/html": "text/html",
               "application/xhtml+xml": "application/xhtml+xml"}  # fmt: skip
_XHTML = "application/xhtml+xml"
_HTML_TYPES = frozenset({"text/html", _XHTML})
_ATOM10 = "http://www.w3.org/2005/Atom"
_XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
_BASE_ATTRIBUTE_RE = re.compile(rb"base\s*=")  # searched in the lower-cased document (faster than re.I)
_PREFIX_DECLARATION_RE = re.compile(rb"""(xmlns):([^\s=/>]+)\s*=\s*(["'])(.*?)\3""", re.S)
_C1_RE = re.compile("[\x80-\x9f]")
_LINK_REFERENCE_RE = re.compile("&([A-Za-z0-9_]+);")
_RSS10 = "http://purl.org/rss/1.0/"
_RSS090 = "http://my.netscape.com/rdf/simple/0.9/"
_RSS_VERSIONS = {"0.91": "rss091u", "0.92": "rss092", "0.93": "rss093", "0.94": "rss094"}


_Start = Callable[["_Reader", Any, str], bool]
_End = Callable[["_Reader", Any, str], None]


class _Kind(NamedTuple):
    name: str
    start: _Start | None
    end: _End | None
    ends_textinput: bool
    ends_image: bool


class _NotReplayedError(Exception):
    """The document needs feedparser: something here is not replayed exactly."""


@dataclass(frozen=True)
class FastFeed:
    """What :func:`parse_document` read: feedparser's ``version``, ``feed`` and ``entries`` keys."""

    version: str
    feed: dict[str, Any]
    entries: list[dict[str, Any]]


@dataclass(frozen=True)
class _Feedparser:
    """The pieces of the pinned feedparser whose exact behaviour is reused."""

    namespaces: dict[str, str]
    handlers: frozenset[str]  # element names feedparser has a _start_/_end_ method for
    cp1252: dict[int, str]
    urljoin: Callable[[str, str], str]
    safe_absolute_uri: Callable[[str, str], str]


@cache
def _feedparser() -> _Feedparser:
    from feedparser.html import _cp1252
    from feedparser.mixin import _FeedParserMixin
    from feedparser.urls import _urljoin, make_safe_absolute_uri

    namespaces = {uri.lower(): prefix.lower() for uri, prefix in _FeedParserMixin.namespaces.items()}
    handlers = frozenset(
        method.split("_", 2)[2] for method in dir(_FeedParserMixin) if method.startswith(("_start_", "_end_"))
    )
    return _Feedparser(namespaces, handlers, _cp1252, _urljoin, make_safe_absolute_uri)


def parse_document(document: bytes) -> FastFeed | None:
    """Read a prepared feed (UTF-8, no DOCTYPE: what ``feedparse`` hands feedparser) as feedparser would.

    None when the document is not well-formed or holds anything whose feedparser reading is not
    replayed here; the caller then runs feedparser.
    """
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(document, parser)
    except etree.XMLSyntaxError as e:
        logger.debug("fast path: not well-formed (%s); feedparser reads it", e)
        return None
    try:
        return _Reader(root, document).read()
    except _NotReplayedError as e:
        logger.debug("fast path: %s; feedparser reads it", e)
        return None
    except Exception:  # a defect here must not cost the feed its articles: feedparser still reads it
        logger.warning("fast path failed on a well-formed document; feedparser reads it", exc_info=True)
        return None


class _Entry(dict[str, Any]):
    """An entry being filled; remembers at which depth each field was set (feedparser's rule: a value
    from a deeper element never replaces one from a shallower element)."""

    def __init__(self) -> None:
        super().__init__()
        self.depths: dict[str, int] = {}
        self.authors: list[dict[str, str]] = []

    def store(self, key: str, value: str, depth: int) -> None:
        old = self.depths.get(key)
        if old is None or depth <= old:
            self.depths[key] = depth
            self[key] = value


class _Reader:
    """One pass over the tree, in document order, with the state feedparser keeps."""

    def __init__(self, root: Any, document: bytes) -> None:
        self.root = root
        self.document = document
        self.fp = _feedparser()
        # xml:base is rare: without any "base=" in the document, no base is tracked at all.
        self.track_base = _BASE_ATTRIBUTE_RE.search(document.lower()) is not None
        self.prefixes: dict[str, set[str]] | None = None
        self.version = ""
        self.feed: dict[str, Any] = {}
        self.entries: list[dict[str, Any]] = []
        self.entry: _Entry | None = None
        self.names: dict[str, str] = {}
        self.kinds: dict[str, _Kind] = {}
        self.unprefixed: set[str] = set()
        self.depth = 0
        self.title_depth = -1
        self.in_feed = self.in_image = self.in_textinput = self.in_source = False
        self.in_author = self.in_contributor = self.in_publisher = False
        self.has_content = False
        self.summary_key: str | None = None
        self.guid_is_link = False
        self.feed_has_image = self.feed_has_textinput = False
        self.base = ""
        self.base_stack: list[str] = []

    # --- names -------------------------------------------------------------------------------------

    def name(self, element: Any) -> str:
        """feedparser's name for an element: its namespace's standard prefix, "_", the local name."""
        tag = element.tag
        known = self.names.get(tag)
        if known is not None:
            return known
        namespace, _, local = tag[1:].partition("}") if tag[0] == "{" else ("", "", tag)
        lowered = namespace.lower()
        if "backend.userland.com/rss" in lowered:
            lowered = "http://backend.userland.com/rss"
        prefix = self.fp.namespaces.get(lowered)
        if prefix is None:
            # feedparser names an unknown namespace's elements with the prefix the document declared for
            # it (none: the bare local name).
            prefixes = self.declared_prefixes().get(namespace, set())
            if len(prefixes) > 1 or (element.prefix is None and prefixes):
                raise _NotReplayedError(f"namespace {namespace!r} declared with several prefixes")
            prefix = element.prefix.lower() if element.prefix else ""
        name = f"{prefix}_{local.lower()}" if prefix else local.lower()
        self.names[tag] = name
        if not prefix:
            self.unprefixed.add(name)
        return name

    def declared_prefixes(self) -> dict[str, set[str]]:
        """Namespace URI -> the prefixes the document declares for it anywhere."""
        if self.prefixes is None:
            self.prefixes = {}
            for _, prefix, _, uri in _PREFIX_DECLARATION_RE.findall(self.document):
                self.prefixes.setdefault(uri.decode("utf-8", "replace"), set()).add(prefix.decode())
        return self.prefixes

    # --- the walk ----------------------------------------------------------------------------------

    def read(self) -> FastFeed:
        root_name = self.name(self.root)
        # feedparser takes the version from the first namespace declaration it knows, then from <rss>.
        declared = {uri.lower() for uri in self.root.nsmap.values()}
        versioned = declared & {_RSS10, _ATOM10.lower(), _RSS090}
        if root_name == "rss":
            pass  # <rss version> decides, whatever was declared
        elif root_name == "rdf_rdf" and versioned == {_RSS10}:
            self.version = "rss10"
        elif root_name == "feed" and versioned == {_ATOM10.lower()} and self.root.nsmap.get(None) == _ATOM10:
            self.version = "atom10"
        else:
            raise _NotReplayedError(f"root <{root_name}> is not RSS 2.0, RSS 1.0 or Atom 1.0")
        self.visit(self.root)
        if not self.version:
            raise _NotReplayedError("no feed version")
        return FastFeed(self.version, self.feed, self.entries)

    def kind(self, element: Any) -> _Kind:
        """How an element is handled, worked out once per tag."""
        kind = self.kinds.get(element.tag)
        if kind is None:
            name = self.name(element)
            start, end = _START.get(name), _END.get(name)
            if start is None and (name in _RESERVED or (name in self.fp.handlers and name not in HARMLESS)):
                raise _NotReplayedError(f"<{name}> is handled by feedparser in ways not replayed here")
            # feedparser ends an <image> or <textinput> at the first un-prefixed element they cannot hold.
            unprefixed = name in self.unprefixed
            ends_textinput = unprefixed and name not in ("title", "link", "description", "name")
            ends_image = unprefixed and name not in (
                "title",
                "link",
                "description",
                "url",
                "href",
                "width",
                "height",
            )
            kind = _Kind(name, start, end, ends_textinput, ends_image)
            self.kinds[element.tag] = kind
        return kind

    def visit(self, element: Any) -> None:
        """Start, children, end, in document order (libxml2 refuses documents deeper than 256 levels,
        so the recursion stays shallow). A start handler that returns True has read the subtree."""
        kind = self.kind(element)
        self.depth += 1
        if self.track_base:
            self._enter_base(element)
        if kind.ends_textinput:
            self.in_textinput = False
        if kind.ends_image:
            self.in_image = False
        if kind.start is None or not kind.start(self, element, kind.name):
            for child in element.iterchildren(etree.Element):  # not comments, not processing instructions
                self.visit(child)
        if kind.end is not None:
            kind.end(self, element, kind.name)
        if self.track_base:
            self.base_stack.pop()
            if self.base_stack and self.base_stack[-1]:
                self.base = self.base_stack[-1]
        self.depth -= 1

    def _enter_base(self, element: Any) -> None:
        # feedparser lower-cases attribute names; xml:base wins over a plain "base".
        given = element.get(_XML_BASE)
        if given is None:
            given = next(
                (v for k, v in element.attrib.items() if k.rpartition("}")[2].lower() == "base"), None
            )
        given = given or self.base
        if self.base:
            self.base = self.fp.safe_absolute_uri(self.base, given) or self.base
        else:
            self.base = self.fp.urljoin(self.base, given)
        self.base_stack.append(self.base)

    # --- contexts ----------------------------------------------------------------------------------

    def context(self) -> str:
        """Where feedparser's ``_get_context`` puts a value: "entry", "feed", or "elsewhere"."""
        if self.in_source or (self.in_image and self.feed_has_image) or self.in_textinput:
            return "elsewhere"
        return "entry" if self.entry is not None else "feed"

    def expecting_text(self) -> bool:
        return self.in_feed or self.entry is not None or self.in_source

    def finish(self, output: str, *, resolve: bool = False) -> str:
        """feedparser's ``pop`` on a text value: strip, join URIs, undo UTF-8 read as Latin-1, C1 -> 1252."""
        output = output.strip()
        if resolve and output:
            output = self.join(output)
        if not output.isascii():
            try:
                output = output.encode("iso-8859-1").decode("utf-8")
            except (UnicodeEncodeError, UnicodeDecodeError):
                pass
            if _C1_RE.search(output):
                output = output.translate(self.fp.cp1252)
        return output

    def join(self, uri: str) -> str:
        """feedparser's ``resolve_uri``. Without a base it only squeezes "scheme:///" to "scheme://"."""
        if not self.base and ":///" not in uri:
            return uri
        return self.fp.urljoin(self.base, uri)

    def store(self, key: str, value: str) -> None:
        """Where feedparser's ``pop`` stores a text element's value."""
        if self.entry is not None and not self.in_source:
            self.entry.store("summary" if key == "description" else key, value, self.depth)
        elif self.in_feed or self.in_source:
            if self.context() == "feed":
                self.feed["subtitle" if key == "description" else key] = value

    def target(self) -> dict[str, Any] | None:
        """The dictionary behind ``context()``; None for the ones this module does not keep."""
        context = self.context()
        return self.entry if context == "entry" else self.feed if context == "feed" else None

    def save(self, key: str, value: Any, *, overwrite: bool = False) -> None:
        """feedparser's ``_save``: into the current context, by default only if the key is not there."""
        target = self.target()
        if target is not None and (overwrite or key not in target):
            target[key] = value

    # --- text --------------------------------------------------------------------------------------

    def leaf_text(self, element: Any, name: str) -> str:
        """The text of an element that should hold only text (comments and processing instructions
        inside are dropped, as feedparser's SAX handler drops them)."""
        text = element.text or ""
        for child in element:
            if isinstance(child.tag, str):
                raise _NotReplayedError(f"<{name}> holds an element")
            text += child.tail or ""
        return text

    def construct_text(self, element: Any, name: str, content_type: str) -> str:
        """A text construct's value before ``pop``: its text, or its XHTML serialised as feedparser does."""
        children = [child for child in element if isinstance(child.tag, str)]
        if not children:
            return self.leaf_text(element, name)
        if self.track_base and any(e.get(_XML_BASE) or e.get("base") for e in element.iterdescendants()):
            raise _NotReplayedError(f"xml:base inside <{name}>")
        if content_type != _XHTML:
            # Markup in a text or HTML construct: feedparser switches to XHTML at the first element (the
            # text before it stays as it was); a <div> there would be skipped and unbalance its depth count.
            if _local(children[0].tag) == "div":
                raise _NotReplayedError(f"<div> inside <{name}> of type {content_type}")
            return "".join(_xhtml_pieces(element, raw_head=True))
        wrapper = children[0]
        if (
            self.version == "atom10"
            and len(children) == 1
            and _local(wrapper.tag) == "div"
            and not (element.text or "").strip()
            and all(not (child.tail or "").strip() for child in element)
        ):
            return "".join(_xhtml_pieces(wrapper))  # feedparser drops a <div> that wraps all the content
        return "".join(_xhtml_pieces(element))

    def content_type(self, element: Any, default: str, name: str) -> str:
        attributes = element.attrib
        if "mode" in attributes:
            raise _NotReplayedError(f"<{name} mode=...>")
        given = attributes.get("type")
        if given is None:
            return default
        content_type = _TEXT_TYPES.get(given.lower())
        if content_type is None:
            raise _NotReplayedError(f"<{name} type={given!r}>")
        return content_type


def _local(tag: str) -> str:
    return tag.rpartition("}")[2].lower()


def _xhtml_pieces(element: Any, *, raw_head: bool = False) -> list[str]:
    """Markup of ``element``'s content as feedparser rebuilds it: escaped text, bare tags (attributes
    left out: the pipeline keeps only text). ``raw_head``: text before the first element is not escaped."""
    raw = raw_head
    pieces = [element.text if raw else escape(element.text, quote=False)] if element.text else []
    for child in element:
        if isinstance(child.tag, str):
            raw = False
            local = _local(child.tag)
            pieces.append(f"<{local}>")
            pieces.extend(_xhtml_pieces(child))
            pieces.append(f"</{local}>")
        if child.tail:
            pieces.append(child.tail if raw else escape(child.tail, quote=False))
    return pieces


def _attributes(element: Any) -> dict[str, str]:
    """An element's attributes as feedparser's handlers see them: lower-case names, lower-case rel and
    type values (namespaced attributes only matter here for rdf:about, read directly)."""
    attributes = {}
    for key, value in element.attrib.items():
        local = key.rpartition("}")[2].lower()
        attributes[local] = value.lower() if local in ("rel", "type") else value
    return attributes


def _href_attributes(element: Any) -> dict[str, str]:
    """feedparser's ``_enforce_href``: "url", then "uri", then "href" gives the link."""
    attributes = _attributes(element)
    href = attributes.get("url", attributes.get("uri", attributes.get("href")))
    if href:
        attributes.pop("url", None)
        attributes.pop("uri", None)
        attributes["href"] = href
    return attributes


def _map_content_type(content_type: str | None) -> str:
    lowered = (content_type or "").lower()
    return _TEXT_TYPES.get(lowered, lowered) if lowered in ("text", "plain", "html", "xhtml") else lowered


# --- element handlers --------------------------------------------------------------------------------
# Each start handler returns True when it has read the element's subtree itself. They mirror
# feedparser's _start_*/_end_* methods (feedparser/namespaces/_base.py, mixin.py) for the pinned version.


def _start_rss(reader: _Reader, element: Any, name: str) -> bool:
    if not reader.version.startswith("rss"):
        given = element.get("version", "")
        reader.version = _RSS_VERSIONS.get(given) or ("rss20" if given.startswith("2.") else "rss")
    return False


def _start_channel(reader: _Reader, element: Any, name: str) -> bool:
    if "lastmod" in element.attrib or "href" in element.attrib:
        raise _NotReplayedError("CDF attributes")
    reader.in_feed = True
    return False


def _end_channel(reader: _Reader, element: Any, name: str) -> None:
    reader.in_feed = False


def _start_item(reader: _Reader, element: Any, name: str) -> bool:
    if reader.entry is not None:
        raise _NotReplayedError("an entry inside an entry")
    if "lastmod" in element.attrib or "href" in element.attrib:
        raise _NotReplayedError("CDF attributes")
    entry = _Entry()
    reader.entries.append(entry)
    reader.entry = entry
    reader.guid_is_link = False
    reader.title_depth = -1
    about = element.get("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}about")
    if about:
        entry["id"] = about
    return False


def _end_item(reader: _Reader, element: Any, name: str) -> None:
    reader.entry = None
    reader.has_content = False


def _start_image(reader: _Reader, element: Any, name: str) -> bool:
    if reader.entry is not None:
        # Only what the corpus shows inside an entry's <image>; anything else goes to feedparser.
        for child in element.iterdescendants():
            if isinstance(child.tag, str) and (
                reader.name(child) not in ("title", "url", "link", "width", "height")
                or "href" in child.attrib
            ):
                raise _NotReplayedError("an entry's <image> with more than a title, link and URL")
    else:
        reader.feed_has_image = True
    reader.in_image = True
    reader.title_depth = -1
    return False


def _end_image(reader: _Reader, element: Any, name: str) -> None:
    reader.in_image = False


def _start_textinput(reader: _Reader, element: Any, name: str) -> bool:
    if reader.entry is not None:
        raise _NotReplayedError("<textinput> inside an entry")
    reader.feed_has_textinput = True
    reader.in_textinput = True
    reader.title_depth = -1
    return False


def _end_textinput(reader: _Reader, element: Any, name: str) -> None:
    reader.in_textinput = False


def _start_itunes_image(reader: _Reader, element: Any, name: str) -> bool:
    if (element.get("href") or element.get("url")) and reader.context() == "feed":
        reader.feed_has_image = True
    return False


def _start_source(reader: _Reader, element: Any, name: str) -> bool:
    reader.in_source = True
    reader.title_depth = -1
    return False


def _end_source(reader: _Reader, element: Any, name: str) -> None:
    reader.in_source = False


def _start_title(reader: _Reader, element: Any, name: str) -> bool:
    content_type = reader.content_type(element, "text/plain", name)
    raw = reader.construct_text(element, name, content_type)
    if not reader.expecting_text():
        value = raw.strip()
    else:
        value = reader.finish(raw)
        # A title is not taken when one was already found at this depth or above (even an empty one is).
        if not -1 < reader.title_depth <= reader.depth:
            if reader.entry is not None and not reader.in_source:
                reader.entry.store("title", value, reader.depth)
            elif reader.context() == "feed":
                reader.feed["title"] = value
    if value and name != "media_title":  # feedparser's _end_media_title restores title_depth
        reader.title_depth = reader.depth
    return True


def _text_construct(reader: _Reader, element: Any, name: str, key: str, default_type: str) -> None:
    content_type = reader.content_type(element, default_type, name)
    raw = reader.construct_text(element, name, content_type)
    if key == "content":
        _content(reader, reader.finish(raw), content_type)
    elif reader.expecting_text() or key == "summary":
        reader.store(key, reader.finish(raw))


def _content(reader: _Reader, value: str, content_type: str) -> None:
    if reader.entry is not None and not reader.in_source:
        reader.entry.setdefault("content", []).append({"type": content_type, "value": value})
    # _end_content copies the value to an empty summary of the current context.
    reader.save("summary", value)


def _summary_goes_to_content(reader: _Reader) -> bool:
    target = reader.target()
    return target is not None and "summary" in target and not reader.has_content


def _start_description(reader: _Reader, element: Any, name: str) -> bool:
    if _summary_goes_to_content(reader):
        reader.has_content = True
        _text_construct(reader, element, name, "content", "text/plain")
    else:
        _text_construct(reader, element, name, "description", "text/html")
    return True


def _start_abstract(reader: _Reader, element: Any, name: str) -> bool:
    _text_construct(reader, element, name, "description", "text/plain")
    return True


def _start_summary(reader: _Reader, element: Any, name: str) -> bool:
    if _summary_goes_to_content(reader):
        reader.has_content = True
        _text_construct(reader, element, name, "content", "text/plain")
    else:
        _text_construct(reader, element, name, "summary", "text/plain")
    return True


def _start_content(reader: _Reader, element: Any, name: str) -> bool:
    reader.has_content = True
    _text_construct(reader, element, name, "content", "text/plain")
    return True


def _start_content_encoded(reader: _Reader, element: Any, name: str) -> bool:
    reader.has_content = True
    _text_construct(reader, element, name, "content", "text/html")
    return True


def _start_body(reader: _Reader, element: Any, name: str) -> bool:
    _text_construct(reader, element, name, "content", _XHTML)
    return True


def _start_other_text(reader: _Reader, element: Any, name: str) -> bool:
    content_type = reader.content_type(element, "text/plain", name)
    reader.construct_text(element, name, content_type)  # gives up on markup feedparser would mishandle
    return True


def _start_link(reader: _Reader, element: Any, name: str) -> bool:
    attributes = _href_attributes(element)
    attributes.setdefault("rel", "alternate")
    attributes.setdefault("type", "application/atom+xml" if attributes["rel"] == "self" else "text/html")
    if "href" in attributes:
        attributes["href"] = reader.join(attributes["href"])
    target = reader.target()
    if target is not None and not (reader.entry is not None and reader.in_image):
        target.setdefault("links", []).append(attributes)
    if "href" in attributes:
        if attributes["rel"] == "alternate" and _map_content_type(attributes["type"]) in _HTML_TYPES:
            if target is not None:
                target["link"] = attributes["href"]
        return False  # nothing pushed: feedparser reads its children (if any) as elements of their own
    text = reader.leaf_text(element, name)
    if not reader.expecting_text():
        return True
    value = reader.finish(text, resolve=True)
    if reader.entry is not None and not reader.in_source:
        if not reader.in_image:
            # feedparser undoes "&amp;" and "&name;" in links (query strings read as references).
            if "&" in value:
                value = _LINK_REFERENCE_RE.sub(r"&\g<1>", value.replace("&amp;", "&"))
            reader.entry["link"] = value
            if value:
                if "links" not in reader.entry:
                    raise _NotReplayedError("a link with no link list")
                reader.entry["links"][-1]["href"] = value
    elif reader.context() == "feed":
        reader.feed["link"] = value
    return True


def _start_guid(reader: _Reader, element: Any, name: str) -> bool:
    attributes = _attributes(element)
    reader.guid_is_link = attributes.get("ispermalink", "true") == "true"
    value = reader.finish(reader.leaf_text(element, name), resolve=reader.guid_is_link)
    reader.store("id", value)
    target = reader.target()
    reader.save("guidislink", reader.guid_is_link and (target is None or "link" not in target))
    if reader.guid_is_link:
        reader.save("link", value)
    return True


def _start_date(reader: _Reader, element: Any, name: str) -> bool:
    kind = "published" if name in _PUBLISHED else "updated" if name in _UPDATED else "created"
    value = reader.finish(reader.leaf_text(element, name))
    reader.store(kind, value)
    # feedparser parses the last such element into "<kind>_parsed"; it is parsed only when needed.
    reader.save(f"{kind}_parsed_source", value, overwrite=True)
    return True


def _start_author(reader: _Reader, element: Any, name: str) -> bool:
    for child in element:
        if isinstance(child.tag, str) and reader.name(child) not in _PERSON_PART:
            raise _NotReplayedError(f"<{name}> holds more than a name, an email and a URI")
    reader.in_author = True
    if reader.context() == "entry" and reader.entry is not None:
        reader.entry.authors.append({})
    return False


def _end_author(reader: _Reader, element: Any, name: str) -> None:
    reader.in_author = False
    entry = reader.entry
    if entry is None or reader.in_source:
        return
    # The author element's own text: everything but its children's (name, email, uri) text.
    own = (element.text or "") + "".join(child.tail or "" for child in element)
    entry.store("author", reader.finish(own), reader.depth)
    _sync_author(entry)


def _start_person_part(reader: _Reader, element: Any, name: str) -> bool:
    part = _PERSON_PART[name]
    text = reader.leaf_text(element, name)
    in_entry = reader.entry is not None and reader.context() == "entry"
    if part == "href":
        value = reader.finish(text, resolve=True)
        reader.store("href", value)
    else:
        value = text.strip()  # pushed without "expecting text": no further clean-up in feedparser
        if reader.in_publisher:
            if reader.entry is not None:
                raise _NotReplayedError("a publisher's name inside an entry")
            return True
    if reader.in_author and in_entry and reader.entry is not None:
        _save_author(reader.entry, part, value)
    return True


def _start_contributor(reader: _Reader, element: Any, name: str) -> bool:
    if reader.in_author or reader.in_publisher:
        raise _NotReplayedError("a contributor inside an author")
    reader.in_contributor = True
    if name == "dc_contributor":  # a name, not a person with parts
        reader.leaf_text(element, name)
        return True
    return False


def _end_contributor(reader: _Reader, element: Any, name: str) -> None:
    reader.in_contributor = False


def _start_itunes_owner(reader: _Reader, element: Any, name: str) -> bool:
    if reader.entry is not None:
        raise _NotReplayedError("<itunes:owner> inside an entry")
    reader.in_publisher = True
    return False


def _end_itunes_owner(reader: _Reader, element: Any, name: str) -> None:
    reader.in_publisher = False


def _start_enclosure(reader: _Reader, element: Any, name: str) -> bool:
    attributes = _href_attributes(element)
    attributes["rel"] = "enclosure"
    target = reader.target()
    if target is not None:
        target.setdefault("links", []).append(attributes)
    return False


def _save_author(entry: _Entry, key: str, value: str) -> None:
    """feedparser's ``_save_author`` for an entry (the detail is synced before the part is added)."""
    entry.setdefault("author_detail", {})[key] = value
    _sync_author(entry)
    if not entry.authors:
        entry.authors.append({})
    entry.authors[-1][key] = value


_EMAIL_RE = re.compile(
    r"""(([a-zA-Z0-9\_\-\.\+]+)@((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.)|(([a-zA-Z0-9\-]+\.)+))"""
    r"""([a-zA-Z]{2,4}|[0-9]{1,3})(\]?))(\?subject=\S+)?"""
)


def _sync_author(entry: _Entry) -> None:
    """feedparser's ``_sync_author_detail`` for an entry's author."""
    detail = entry.authors[-1] if entry.authors else {}
    if detail:
        name, email = detail.get("name"), detail.get("email")
        if name and email:
            entry["author"] = f"{name} ({email})"
        elif name:
            entry["author"] = name
        elif email:
            entry["author"] = email
        return
    author, found = entry.get("author"), None
    if not author:
        return
    match = _EMAIL_RE.search(author)
    if match:
        found = match.group(0)
        author = author.replace(found, "").replace("()", "").replace("<>", "").replace("&lt;&gt;", "")
        author = author.strip()
        if author and author[0] == "(":
            author = author[1:]
        if author and author[-1] == ")":
            author = author[:-1]
        author = author.strip()
    if author or found:
        entry.setdefault("author_detail", detail)
    if author:
        detail["name"] = author
    if found:
        detail["email"] = found


_START: dict[str, _Start] = {
    "rss": _start_rss,
    "channel": _start_channel,
    "feed": _start_channel,
    "item": _start_item,
    "entry": _start_item,
    "image": _start_image,
    "textinput": _start_textinput,
    "itunes_image": _start_itunes_image,
    "itunes_link": _start_itunes_image,
    "source": _start_source,
    "abstract": _start_abstract,
    "content": _start_content,
    "link": _start_link,
    "guid": _start_guid,
    "id": _start_guid,
    "enclosure": _start_enclosure,
    "contributor": _start_contributor,
    "dc_contributor": _start_contributor,
    "itunes_owner": _start_itunes_owner,
    **dict.fromkeys(_TITLE, _start_title),
    **dict.fromkeys(_DESCRIPTION, _start_description),
    **dict.fromkeys(_SUMMARY, _start_summary),
    **dict.fromkeys(_CONTENT_ENCODED, _start_content_encoded),
    **dict.fromkeys(_BODY, _start_body),
    **dict.fromkeys(_OTHER_TEXT, _start_other_text),
    **dict.fromkeys(_PUBLISHED | _UPDATED | _CREATED, _start_date),
    **dict.fromkeys(_AUTHOR, _start_author),
    **dict.fromkeys(_PERSON_PART, _start_person_part),
}
_END: dict[str, _End] = {
    "channel": _end_channel,
    "feed": _end_channel,
    "item": _end_item,
    "entry": _end_item,
    "image": _end_image,
    "textinput": _end_textinput,
    "source": _end_source,
    "contributor": _end_contributor,
    "dc_contributor": _end_contributor,
    "itunes_owner": _end_itunes_owner,
    **dict.fromkeys(_AUTHOR, _end_author),
}
