"""Article pages: decide when to fetch one, then decode it, read its metadata and extract the main text.

``extract_page`` never raises on bad content: an empty, binary, oversized or broken page yields a
``PageContent`` with an empty ``main_text``. Paywall and login-wall stubs are returned flagged
``paywalled=True`` so the caller does not mistake the teaser for the article.

Main text comes from trafilatura, with the hand-written BeautifulSoup extractor below as the fallback
when trafilatura returns nothing. ``python -m bench.extraction`` scores both on the shared corpus (41
real news pages with reference texts; token F1, Chinese per character): bare ``get_text()`` 0.66,
the soup extractor 0.963, trafilatura 0.946. The soup extractor's rules were tuned on 30 of those
pages, though; on the 11 it was not tuned on, trafilatura leads (0.977 against 0.966), it is faster
and its worst page is far better (0.64 against 0.47). So trafilatura is the main extractor.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from bs4 import BeautifulSoup, Tag
from bs4.element import NavigableString

from pipeline.errors import NewsMonitorError
from pipeline.ingest.dates import parse_date
from pipeline.ingest.encoding import decode_document
from pipeline.models import PageContent
from pipeline.text import CJK, CJK_CHAR_WEIGHT, CJK_RE, dense_length

logger = logging.getLogger(__name__)

# A feed summary shorter than this many "English-character equivalents" (see ``dense_length``) is not
# enough for the classifier, so the article page is fetched. 200 characters is one or two English
# sentences (~33 words), a bare lede that rarely names amounts or counterparties. On the shared corpus
# feeds (1,354 items) 61% of summaries fall below it, mostly one-line teasers.
SHORT_SUMMARY_CHARS: int = 200
# A Chinese character carries about as much as 2.5 English characters (an English word averages ~5
# letters plus a space, a Chinese word ~2 characters), so 200 English characters ~ 80 Chinese ones.
SHORT_SUMMARY_CHARS_ZH: int = round(SHORT_SUMMARY_CHARS / CJK_CHAR_WEIGHT)

# Bounds on what gets parsed, so that no page costs more than about a second. The 52 real news pages of
# the shared corpus weigh up to 1.5 MB, but once scripts, styles, comments and SVG are dropped their
# markup is at most 420,000 characters and 5,200 tags; parse time grows with both.
MAX_PAGE_BYTES: int = 10_000_000
MAX_MARKUP_CHARS: int = 1_500_000
MAX_TAGS: int = 20_000
# A page with paywall or login evidence is a stub when its text is shorter than this (dense length):
# metered sites ship the full text with the same markers, so a marker alone proves nothing. A stub is a
# headline and a paragraph or two; with only weak evidence (a JSON-LD flag, a paywall container) the
# text must be shorter still, since a short free news brief on a metered site carries the same flags.
PAYWALL_STUB_CHARS: int = 1500
PAYWALL_WEAK_STUB_CHARS: int = 600

MAIN_EXTRACTOR = "trafilatura"
FALLBACK_EXTRACTOR = "soup"

_SPACE_RE = re.compile(r"[ \t\r\f\v\u00a0\u3000\u200b]+")
_WORD_RE = re.compile(f"[{CJK}]|[^\\W{CJK}]+")


# --------------------------------------------------------------------------- when to fetch a page

_TRAILER_RE = re.compile(
    r"(read more|continue reading|full story|click here|阅读全文|查看全文|点击查看|详情|更多)\W*$|\[?(…|\.\.\.)\]?$",
    re.IGNORECASE,
)


def _comparable(text: str, language: str) -> str:
    """Lower-case, punctuation-free form used to spot a summary that only repeats the title."""
    text = unicodedata.normalize("NFKC", text).lower()
    tokens = _WORD_RE.findall(text)
    # Chinese has no spaces to keep; English keeps word boundaries so "ai chip" != "aichip".
    return ("" if language == "zh" else " ").join(tokens)


def needs_page(title: str, summary: str, language: str) -> bool:
    """True when the feed summary is missing, shorter than ``SHORT_SUMMARY_CHARS`` or only the title."""
    text = _TRAILER_RE.sub("", (summary or "").strip()).strip()
    if not text:
        return True
    body = _comparable(text, language)
    head = _comparable(title or "", language)
    if head and head in body:
        # Headline-plus-trailer summaries ("Title - Source ...") carry nothing beyond the title.
        body = body.replace(head, " ", 1)
    return dense_length(body) < SHORT_SUMMARY_CHARS


# --------------------------------------------------------------------------- input screening

_BINARY_MAGIC = (
    b"%PDF",
    b"\x89PNG",
    b"GIF8",
    b"\xff\xd8\xff",
    b"PK\x03\x04",
    b"\x1f\x8b",
    b"RIFF",
    b"\x00\x00\x01\x00",
    b"OggS",
    b"ID3",
    b"\x7fELF",
    b"(\xb5/\xfd",
)
_HTMLISH_TYPES = ("html", "xml", "text/")


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return ""


def _looks_binary(body: bytes, content_type: str) -> bool:
    """A body that is an image, archive, PDF... rather than a text document."""
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime and not any(t in mime for t in _HTMLISH_TYPES):
        return True
    head = body[:4096]
    if head.startswith(_BINARY_MAGIC):
        return True
    # UTF-16 pages carry a BOM and are legitimately full of NUL bytes.
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False
    controls = sum(1 for b in head if b < 9 or 13 < b < 32)
    return controls > len(head) * 0.05


# --------------------------------------------------------------------------- metadata


def _clean(text: str | None) -> str | None:
    if not text:
        return None
    text = _SPACE_RE.sub(" ", text).strip()
    return text or None


def _meta(soup: BeautifulSoup, *names: str) -> str | None:
    """First non-empty content of <meta property|name|itemprop=...> among ``names``, in that order."""
    wanted = {n.lower() for n in names}
    found: dict[str, str] = {}
    for tag in soup.find_all("meta"):
        for attr in ("property", "name", "itemprop"):
            key = tag.get(attr)
            if isinstance(key, str) and key.strip().lower() in wanted:
                content = tag.get("content")
                if isinstance(content, str) and content.strip():
                    found.setdefault(key.strip().lower(), content)
    for name in names:
        value = _clean(found.get(name.lower()))
        if value:
            return value
    return None


def _json_ld(soup: BeautifulSoup) -> list[dict[str, Any]]:
    """Every JSON-LD object on the page, flattened out of lists and ``@graph`` arrays."""
    objects: list[dict[str, Any]] = []
    for script in soup.find_all("script", attrs={"type": re.compile(r"ld\+json", re.IGNORECASE)}):
        raw = script.string or script.get_text()
        if not raw or not raw.strip():
            continue
        try:
            data = json.loads(raw.strip().rstrip(";"))
        except ValueError:
            # Broken JSON-LD is common (trailing commas, HTML entities); the other sources still work.
            logger.debug("skipping unparsable JSON-LD block")
            continue
        stack: list[Any] = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(reversed(item))
            elif isinstance(item, dict):
                objects.append(item)
                if isinstance(item.get("@graph"), list):
                    stack.extend(reversed(item["@graph"]))
    return objects


def _http_url(value: str | None, base: str) -> str | None:
    if not value or not value.strip():
        return None
    absolute = urljoin(base, value.strip())
    parts = urlsplit(absolute)
    return absolute if parts.scheme in ("http", "https") and parts.hostname else None


def _canonical_url(soup: BeautifulSoup, url: str) -> str | None:
    for link in soup.find_all("link", href=True):
        rel = link.get("rel")
        rels: list[str] = rel if isinstance(rel, list) else str(rel or "").split()
        if "canonical" in (r.lower() for r in rels):
            href = link.get("href")
            found = _http_url(href if isinstance(href, str) else None, url)
            if found:
                return found
    return _http_url(_meta(soup, "og:url"), url)


def _published(soup: BeautifulSoup, ld: list[dict[str, Any]], language: str) -> datetime | None:
    """Publication time in UTC: Open Graph, JSON-LD, <time datetime>, then the older meta names."""
    candidates: list[str] = []
    og = _meta(soup, "article:published_time", "og:article:published_time")
    if og:
        candidates.append(og)
    candidates.extend(str(o["datePublished"]) for o in ld if isinstance(o.get("datePublished"), str))
    for tag in soup.find_all("time"):
        value = tag.get("datetime")
        if isinstance(value, str) and value.strip():
            candidates.append(value)
    late = _meta(
        soup,
        "datePublished",
        "pubdate",
        "publishdate",
        "publish-date",
        "publish_date",
        "article.published",
        "parsely-pub-date",
        "sailthru.date",
        "dc.date.issued",
        "dc.date",
        "date",
    )
    if late:
        candidates.append(late)
    for value in candidates:
        parsed = parse_date(value, language=language)
        if parsed is not None:
            return parsed
    return None


def _guess_language(soup: BeautifulSoup) -> str:
    """ "zh" or "en", for reading dates without a zone (China time on Chinese pages)."""
    lang = soup.html.get("lang") if soup.html else None
    if isinstance(lang, str) and lang.strip():
        return "zh" if lang.lower().startswith("zh") else "en"
    sample = (soup.title.get_text() if soup.title else "") + (_meta(soup, "description") or "")
    return "zh" if len(CJK_RE.findall(sample)) >= 4 else "en"


# --------------------------------------------------------------------------- paywall and login walls

_PAYWALL_ATTR_RE = re.compile(
    r"pay-?wall|reg-?wall|registration-?wall|login-?wall|subscriber-?only|subscribers-?only|"
    r"subscription-?(?:required|wall)|premium-?(?:content|article|lock)|locked-?(?:content|article)|"
    r"article-?locked|piano-?(?:offer|paywall|inline)|metered-?(?:content|wall)|vip-?(?:content|only)|"
    r"need-?login|login-?(?:mask|tips|required)|pay-?read",
    re.IGNORECASE,
)
_PAYWALL_TEXT_RE = re.compile(
    r"subscribe (?:now )?to (?:continue|read|keep reading|unlock)|"
    r"(?:to )?continue reading,? (?:please )?(?:subscribe|sign in|log in|register)|"
    r"this (?:article|story|content) is (?:only )?(?:available )?(?:for|to) (?:subscribers|members)|"
    r"(?:already a subscriber|already have an account)\??,? (?:sign|log) in|"
    r"(?:sign|log) in (?:or (?:subscribe|register) )?to (?:continue|read|view)|"
    r"create a free account to (?:continue|read)|register (?:for free )?to continue|"
    r"subscriber[- ]only|exclusive to subscribers|unlock this article|"
    r"订阅(?:后|即可|以)(?:继续)?(?:阅读|查看)|付费(?:阅读|内容|文章|会员)|(?:请)?登录后(?:继续)?(?:阅读|查看|浏览)|"
    r"登录(?:查看|阅读)全文|阅读全文请(?:先)?登录|(?:开通|成为|升级)(?:VIP)?会员(?:后)?(?:即可)?(?:阅读|查看|解锁)|"
    r"会员专享|本文(?:为|是)付费|剩余\d+%内容|解锁全文",
    re.IGNORECASE,
)


def _free_flag_false(ld: list[dict[str, Any]]) -> bool:
    for obj in ld:
        flags = [obj.get("isAccessibleForFree")]
        parts = obj.get("hasPart")
        for part in parts if isinstance(parts, list) else [parts]:
            if isinstance(part, dict):
                flags.append(part.get("isAccessibleForFree"))
        if any(f is False or (isinstance(f, str) and f.strip().lower() == "false") for f in flags):
            return True
    return False


def _paywall_evidence(soup: BeautifulSoup, ld: list[dict[str, Any]], main_text: str) -> tuple[str, bool]:
    """(reason, strong) for suspecting a paywall or login wall; ("", False) when none. Mutates ``soup``.

    Strong evidence is a "subscribe to continue" line in the main text or in a paywall container; weak
    evidence is a JSON-LD flag, a paywall container, or such a line elsewhere on the page.
    """
    match = _PAYWALL_TEXT_RE.search(main_text)
    if match:
        return f"text {match.group(0)!r}", True
    containers = [
        tag
        for tag in soup.find_all(True)
        if _PAYWALL_ATTR_RE.search(
            " ".join(_attr_values(tag, "class")) + " " + " ".join(_attr_values(tag, "id"))
        )
    ]
    for tag in containers:
        match = _PAYWALL_TEXT_RE.search(tag.get_text(" "))
        if match:
            return f"text {match.group(0)!r} in a paywall container", True
    if _free_flag_false(ld):
        return "JSON-LD isAccessibleForFree=false", False
    if containers:
        return f"paywall container {' '.join(_attr_values(containers[0], 'class', 'id'))[:60]!r}", False
    # Sites also put "Sign in" links in their navigation, which say nothing about this article.
    for tag in soup.find_all(("script", "style", "nav", "header", "footer", "aside", "noscript", "template")):
        tag.decompose()
    match = _PAYWALL_TEXT_RE.search(_normalise_text((soup.body or soup).get_text("\n"))[:20_000])
    return (f"text {match.group(0)!r} on the page", False) if match else ("", False)


def _attr_values(tag: Tag, *names: str) -> list[str]:
    values: list[str] = []
    for name in names:
        value = tag.get(name)
        if isinstance(value, list):
            values.extend(value)
        elif isinstance(value, str):
            values.append(value)
    return values


# --------------------------------------------------------------------------- main text: trafilatura


@functools.lru_cache(maxsize=1)
def _trafilatura_settings() -> Any:
    from trafilatura.settings import use_config

    # trafilatura logs a warning for every page it finds too short ("discarding data"); under Airflow that
    # floods task logs. Raise its threshold once, and only when nobody configured those loggers.
    for name in ("trafilatura", "htmldate", "justext", "courlan"):
        lib_logger = logging.getLogger(name)
        if lib_logger.level == logging.NOTSET:
            lib_logger.setLevel(logging.ERROR)
    config = use_config()
    # Its extraction timeout relies on signals and is meant for its CLI; extract_page bounds input size.
    config.set("DEFAULT", "EXTRACTION_TIMEOUT", "0")
    return config


def extract_main_text_trafilatura(html: str, *, url: str | None = None) -> str:
    """Main text by trafilatura (no network: it only parses ``html``), paragraphs separated by newlines."""
    import trafilatura

    try:
        text = trafilatura.extract(
            html,
            url=url,
            output_format="txt",
            include_comments=False,
            include_images=False,
            include_links=False,
            with_metadata=False,
            deduplicate=False,
            config=_trafilatura_settings(),
        )
    except Exception:  # a third-party parser on arbitrary web input: any failure means "no text"
        logger.warning("trafilatura failed on %s", url or "<page>", exc_info=True)
        return ""
    return _normalise_text(text or "")


# --------------------------------------------------------------------------- main text: BeautifulSoup

_DROP_TAGS = tuple(
    (
        "script style noscript template svg math iframe object embed video audio canvas form button "
        "input select textarea nav aside footer header figure figcaption head link meta dialog menu"
    ).split()
)
# Everything that is not one of these inline tags starts a new block, custom elements included.
_INLINE_TAGS = frozenset(
    (
        "a abbr b bdi bdo big cite code data del dfn em font i img ins kbd label mark q s samp small "
        "span strike strong sub sup time tt u var wbr"
    ).split()
)
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
# Words in class names and ids that mark boilerplate, or the article, as readability.js weighs them.
_NEGATIVE = frozenset(
    (
        "ad ads advert advertisement adslot banner breadcrumb breadcrumbs byline caption comment "
        "comments consent cookie cookies credit disclaimer dropdown footer footnote header masthead "
        "menu meta modal nav navbar navigation newsletter outbrain pagination popup promo recommend "
        "recommended related share sharing sidebar signup social sponsor sponsored subscribe taboola "
        "tags toolbar tools trending widget hidden login author timestamp dateline topics teaser more "
        "popular"
    ).split()
)
_POSITIVE = frozenset(
    (
        "article articlebody body content entry main post story storybody text prose richtext "
        "paragraph detail zw contentmain"
    ).split()
)
_SPLIT_RE = re.compile(r"[^a-z0-9]+")
_CAMEL_RE = re.compile(r"(?<=[a-z])(?=[A-Z])")
_HIDDEN_STYLE_RE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_COMMA_RE = re.compile(r"[,，、;；]")
_SENTENCE_END_RE = re.compile(r"[.!?。！？」”\"')）:：]$")


def _attr_tokens(tag: Tag) -> set[str]:
    """Words of an element's class, id and test ids: "articleBody__text-2" gives article, body, text, 2."""
    tokens: set[str] = set()
    for part in _attr_values(tag, "class", "id", "role", "data-testid", "data-component"):
        tokens.update(t for t in _SPLIT_RE.split(_CAMEL_RE.sub("-", part).lower()) if t)
    return tokens


def _class_weight(tag: Tag) -> int:
    tokens = _attr_tokens(tag)
    weight = 0
    if tokens & _NEGATIVE:
        weight -= 25
    if tokens & _POSITIVE:
        weight += 25
    if tag.get("itemprop") == "articleBody":
        weight += 50
    return weight


def _article_holders(root: Tag) -> set[int]:
    """Ids of elements wrapping an <article>, <main>, articleBody or 3+ long paragraphs (one pass)."""
    markers: set[int] = set()
    paragraphs: dict[int, int] = {}
    holders: set[int] = set()
    # Reversed document order visits every element after all of its descendants.
    for tag in reversed(root.find_all(True)):
        key, parent = id(tag), tag.parent
        count = paragraphs.get(key, 0)
        if key in markers or count >= 3:
            holders.add(key)
        if parent is None:
            continue
        if key in markers or tag.name in ("article", "main") or tag.get("itemprop") == "articleBody":
            markers.add(id(parent))
        long_paragraph = tag.name == "p" and dense_length(tag.get_text()) > 80
        paragraphs[id(parent)] = paragraphs.get(id(parent), 0) + count + long_paragraph
    return holders


def _is_junk(tag: Tag, holders: set[int]) -> bool:
    """Hidden, navigation or boilerplate-named, unless it wraps the article (sites name wrappers oddly)."""
    if tag.name in ("html", "body", "main", "article"):
        return False
    if tag.has_attr("hidden") or tag.get("aria-hidden") == "true":
        return True
    style = tag.get("style")
    if isinstance(style, str) and _HIDDEN_STYLE_RE.search(style):
        return True
    role = tag.get("role")
    if role in ("navigation", "complementary", "banner", "contentinfo", "dialog", "menu", "search"):
        return True
    tokens = _attr_tokens(tag)
    if not tokens & _NEGATIVE or tokens & _POSITIVE or tag.get("itemprop") == "articleBody":
        return False
    return id(tag) not in holders


def _drop_junk(root: Tag) -> None:
    holders = _article_holders(root)
    stack = [root]
    while stack:
        tag = stack.pop()
        if _is_junk(tag, holders):
            tag.decompose()
        else:
            stack.extend(c for c in tag.children if isinstance(c, Tag))


class _Block:
    """A run of inline text directly inside one element (a paragraph, in effect)."""

    __slots__ = ("length", "link_length", "owner", "text")

    def __init__(self, owner: Tag, text: str, link_length: float) -> None:
        self.owner = owner
        self.text = text
        self.length = dense_length(text)
        self.link_length = link_length


def _inline_text(node: NavigableString | Tag, out: list[str], links: list[str], nested: list[Tag]) -> None:
    """Append the inline text under ``node``; blocks found inside inline tags go to ``nested``."""
    stack: list[tuple[NavigableString | Tag, bool]] = [(node, False)]
    while stack:
        item, in_link = stack.pop()
        if isinstance(item, NavigableString):
            # Comments, doctypes and processing instructions are NavigableString subclasses: skip them.
            if type(item) is NavigableString:
                out.append(str(item))
                if in_link:
                    links.append(str(item))
        elif item.name not in _INLINE_TAGS:
            nested.append(item)
        else:
            in_link = in_link or item.name == "a"
            stack.extend(
                (child, in_link)
                for child in reversed(list(item.children))
                if isinstance(child, (Tag, NavigableString))
            )


def _blocks(root: Tag) -> list[_Block]:
    """Paragraph-like text runs in document order, each owned by its nearest block element."""
    blocks: list[_Block] = []
    stack: list[Tag] = [root]
    while stack:
        tag = stack.pop()
        pending: list[str] = []
        pending_links: list[str] = []
        nested: list[Tag] = []
        for child in tag.children:
            if isinstance(child, Tag) and child.name == "br":
                pending.append("\n")
            elif isinstance(child, (Tag, NavigableString)):
                _inline_text(child, pending, pending_links, nested)
        text = _normalise_text("".join(pending))
        if text:
            blocks.append(_Block(tag, text, dense_length("".join(pending_links))))
        stack.extend(reversed(nested))
    # The walk emits a parent's own text before its children's, which is document order for real pages
    # (text and block children are rarely interleaved at the same level).
    return blocks


def _ancestors(tag: Tag, limit: int) -> Iterator[Tag]:
    parent = tag.parent
    level = 0
    while isinstance(parent, Tag) and level < limit:
        yield parent
        parent = parent.parent
        level += 1


def _select_content(blocks: list[_Block]) -> set[int]:
    """Readability-style scoring: ids of the elements whose blocks form the article."""
    scores: dict[int, float] = {}
    tags: dict[int, Tag] = {}
    totals: dict[int, list[float]] = {}
    for block in blocks:
        # Totals for link density, over the owner and every ancestor.
        for tag in (block.owner, *_ancestors(block.owner, 50)):
            total = totals.setdefault(id(tag), [0.0, 0.0])
            total[0] += block.length
            total[1] += block.link_length
        if block.length < 25 or block.owner.name in _HEADINGS:
            continue
        score = 1 + len(_COMMA_RE.findall(block.text)) + min(block.length // 100, 3)
        for level, tag in enumerate((block.owner, *_ancestors(block.owner, 4))):
            if id(tag) not in scores:
                tags[id(tag)] = tag
                scores[id(tag)] = _initial_score(tag)
            divider = 1 if level <= 1 else (2 if level == 2 else level * 3)
            scores[id(tag)] += score / divider
    if not scores:
        return set()

    def final(key: int) -> float:
        length, links = totals.get(key, [0.0, 0.0])
        return scores[key] * (1 - (links / length if length else 0))

    top_key = max(scores, key=final)
    top = tags[top_key]
    top_score = final(top_key)
    # Climb while the parent scores nearly as well: the article is often split over sibling sections.
    parent = top.parent
    while isinstance(parent, Tag) and parent.name not in ("body", "html") and id(parent) in scores:
        if final(id(parent)) < top_score * 0.85:
            break
        top, top_key, top_score = parent, id(parent), final(id(parent))
        parent = top.parent
    selected = {top_key}
    threshold = max(10.0, top_score * 0.2)
    parent = top.parent
    if isinstance(parent, Tag):
        for sibling in parent.children:
            if not isinstance(sibling, Tag) or sibling is top:
                continue
            key = id(sibling)
            length, links = totals.get(key, [0.0, 0.0])
            density = links / length if length else 1.0
            if key in scores and final(key) >= threshold:
                selected.add(key)
            elif sibling.name == "p" and length > 80 and density < 0.25:
                selected.add(key)
    # Long articles are often cut into chunks (between ads) that are not siblings but share the
    # winner's markup: same tag, mostly the same classes. A class-less winner is too generic to match.
    classes = _classes(top)
    if classes:
        for key, tag in tags.items():
            length, links = totals.get(key, [0.0, 0.0])
            if key in selected or tag.name != top.name or links >= 0.3 * length:
                continue
            other = _classes(tag)
            if len(classes & other) >= 0.5 * len(classes | other):
                selected.add(key)
    return selected


def _classes(tag: Tag) -> set[str]:
    classes = tag.get("class")
    return set(classes) if isinstance(classes, list) else set()


def _initial_score(tag: Tag) -> float:
    base = {"div": 5, "article": 10, "main": 5, "section": 3, "pre": 3, "td": 3, "blockquote": 3}.get(
        tag.name, 0
    )
    if tag.name in ("address", "ol", "ul", "dl", "dd", "dt", "li", "form"):
        base = -3
    elif tag.name in _HEADINGS or tag.name == "th":
        base = -5
    return base + _class_weight(tag)


def extract_main_text_soup(html: str) -> str:
    """Hand-written extractor: strip boilerplate, score blocks by text and link density, keep the best."""
    soup = BeautifulSoup(html, "lxml")
    for tag in soup.find_all(_DROP_TAGS):
        tag.decompose()
    root = soup.body or soup
    _drop_junk(root)
    blocks = _blocks(root)
    selected = _select_content(blocks)
    if not selected:
        return ""
    kept: list[str] = []
    for block in blocks:
        owner_ids = {id(block.owner), *(id(a) for a in _ancestors(block.owner, 50))}
        if not owner_ids & selected:
            continue
        density = block.link_length / block.length if block.length else 1.0
        if density > 0.5:
            continue
        if (
            block.length < 20
            and block.owner.name not in _HEADINGS
            and not _SENTENCE_END_RE.search(block.text)
        ):
            continue
        kept.append(block.text)
    return "\n".join(kept)


def extract_main_text_bare(html: str) -> str:
    """Baseline for the benchmark: every visible string of the page."""
    return _normalise_text(BeautifulSoup(html, "lxml").get_text("\n"))


def _main_text(html: str, url: str) -> tuple[str, str]:
    """(extractor name, text): trafilatura first, the soup extractor when it finds nothing."""
    text = extract_main_text_trafilatura(html, url=url)
    if text:
        return MAIN_EXTRACTOR, text
    text = extract_main_text_soup(html)
    return (FALLBACK_EXTRACTOR, text) if text else ("", "")


def _normalise_text(text: str) -> str:
    lines = (_SPACE_RE.sub(" ", line).strip() for line in text.replace("\x00", "").splitlines())
    return "\n".join(line for line in lines if line)


def _first(values: Iterable[str | None]) -> str | None:
    return next((v for v in values if v), None)


# --------------------------------------------------------------------------- the entry point


def _empty(url: str, encoding: str = "") -> PageContent:
    return PageContent(
        url=url,
        canonical_url=None,
        title=None,
        description=None,
        published=None,
        main_text="",
        encoding=encoding,
    )


_HEAVY_OPEN_RE = re.compile(r"<(script|style|svg|template)\b[^>]*>|<!--", re.IGNORECASE)
_HEAVY_CLOSE_RE = {
    name: re.compile(rf"</{name}\s*>", re.IGNORECASE) for name in ("script", "style", "svg", "template")
}
_COMMENT_CLOSE_RE = re.compile(r"-->")
_TAG_START_RE = re.compile(r"<[A-Za-z!/]")


def _without_heavy_parts(html: str) -> str:
    """The markup minus scripts (JSON-LD kept), styles, SVG, templates and comments; linear time."""
    parts: list[str] = []
    pos = 0
    while True:
        opening = _HEAVY_OPEN_RE.search(html, pos)
        if opening is None:
            parts.append(html[pos:])
            break
        name = (opening.group(1) or "").lower()
        keep = name == "script" and "ld+json" in opening.group(0).lower()
        closing = (_HEAVY_CLOSE_RE[name] if name else _COMMENT_CLOSE_RE).search(html, opening.end())
        end = closing.end() if closing else len(html)
        parts.append(html[pos : end if keep else opening.start()])
        pos = end
    return "".join(parts)


def _bounded_markup(text: str, url: str) -> str:
    """Decoded page text ready to parse: no NULs, no heavy parts, at most MAX_MARKUP_CHARS and MAX_TAGS."""
    html = _without_heavy_parts(text.replace("\x00", ""))
    limit = min(len(html), MAX_MARKUP_CHARS)
    for count, match in enumerate(_TAG_START_RE.finditer(html, 0, limit)):
        if count == MAX_TAGS:
            limit = match.start()
            break
    if limit < len(html):
        logger.info("page markup cut from %d to %d characters: %s", len(html), limit, url)
        html = html[:limit]
    return html


def extract_page(body: bytes, headers: Mapping[str, str], *, url: str) -> PageContent:
    """Decode an article page and extract its metadata and main text; never raises on bad content.

    Empty, binary or unparsable input gives an empty ``main_text``. A paywall or login-wall stub (a
    marker plus a short text) comes back with ``paywalled=True`` and the stub as ``main_text``.
    """
    content_type = _header(headers, "content-type")
    if not body or not body.strip():
        logger.info("empty page body: %s", url)
        return _empty(url)
    if _looks_binary(body, content_type):
        logger.info("not an HTML page (%s): %s", content_type or "binary content", url)
        return _empty(url, "binary")
    if len(body) > MAX_PAGE_BYTES:
        logger.info("page of %d bytes truncated to %d: %s", len(body), MAX_PAGE_BYTES, url)
        # Cut after a ">": never inside a multi-byte character (">" is no trail byte in UTF-8 or GB18030),
        # so the truncated page still decodes strictly.
        cut = body.rfind(b">", 0, MAX_PAGE_BYTES)
        body = body[: cut + 1 if cut > 0 else MAX_PAGE_BYTES]
    try:
        decoded = decode_document(body, headers, kind="html")
        html = _bounded_markup(decoded.text, url)
        soup = BeautifulSoup(html, "lxml")
    except (NewsMonitorError, ValueError, LookupError) as e:
        logger.info("undecodable page %s: %s", url, e)
        return _empty(url)
    ld = _json_ld(soup)
    title = _first(
        [
            _meta(soup, "og:title", "twitter:title"),
            _clean(soup.title.get_text()) if soup.title else None,
            _first(_clean(o.get("headline")) for o in ld if isinstance(o.get("headline"), str)),
        ]
    )
    extractor, main_text = _main_text(html, url)
    page = PageContent(
        url=url,
        canonical_url=_canonical_url(soup, url),
        title=title,
        description=_meta(soup, "og:description", "description", "twitter:description"),
        published=_published(soup, ld, _guess_language(soup)),
        main_text=main_text,
        encoding=decoded.encoding,
        site_name=_meta(soup, "og:site_name", "application-name"),
        extractor=extractor,
    )
    # Metered sites ship full articles with the same markers as their stubs: only a short text counts.
    length = dense_length(main_text)
    if length < PAYWALL_STUB_CHARS:
        reason, strong = _paywall_evidence(soup, ld, main_text)
        if reason and (strong or length < PAYWALL_WEAK_STUB_CHARS):
            logger.info("paywall or login wall at %s: %s", url, reason)
            return dataclasses.replace(page, paywalled=True)
    return page
