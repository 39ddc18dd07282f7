"""Slack messages as values: Block Kit payloads built from alert content, always inside Slack's limits.

Pure functions, no I/O. Feed text is untrusted: it is cleaned (control, zero-width and bidi-override
characters removed), escaped (``&``, ``<``, ``>``), placed only in ``plain_text`` objects (no mrkdwn
formatting, no emoji codes) and cut to the limit of the field it goes in. Mentions cannot be formed:
``<!channel>`` arrives as ``&lt;!channel&gt;`` and a bare ``@channel``/``@here`` gets a word joiner.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    PlainTextObject,
    SectionBlock,
)

from pipeline.errors import SlackError
from pipeline.models import FOLLOW_UP, REHASH, Amount, Brief, BriefPoint, BriefSource
from pipeline.text import clean_text

# Slack's documented limits (Block Kit reference and chat.postMessage).
MAX_BLOCKS = 50
MAX_HEADER = 150
MAX_SECTION_TEXT = 3000
MAX_FIELD_TEXT = 2000
MAX_FIELDS = 10
MAX_CONTEXT_ELEMENTS = 10
MAX_ACTIONS_ELEMENTS = 25
MAX_BUTTON_TEXT = 75
MAX_URL = 3000
MAX_BLOCK_ID = 255
MAX_MESSAGE_TEXT = 40000
# The notification fallback only needs to be readable in a push notification.
MAX_FALLBACK_TEXT = 600
# Slack refuses a message whose blocks carry more than about 12,000 characters of text in all
# (``msg_blocks_too_long``; undocumented, measured by others at 12,000-13,300): we stay below this.
MAX_BLOCKS_TEXT = 11_000

METADATA_EVENT_TYPE = "chip_news_alert"

EVENT_LABELS: dict[str, str] = {
    "self_development": "Developing own chips",
    "chip_investment": "Investing in chip companies",
}
LANGUAGE_LABELS: dict[str, str] = {"zh": "Chinese", "en": "English", "mixed": "Chinese/English"}

_REMOVED_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs"})
_BROADCAST_RE = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
_ENTITY_RE = re.compile(r"&(amp|lt|gt);")


class MessageLimitError(SlackError):
    """A payload breaks a Slack limit: a bug in message building, never sent."""


# --- text hygiene -----------------------------------------------------------------------------------------


def inert_text(text: str | None, *, multiline: bool = False) -> str:
    """Feed text as Slack may show it: ``pipeline.text.clean_text`` (no controls, bidi overrides or
    zero-width characters, NFC, tidy spaces) minus any other format, private-use or surrogate character,
    on one line unless ``multiline`` (then at most one blank line). Escaping is ``escape``'s job."""
    if not text:
        return ""
    cleaned = clean_text(text)
    if not cleaned.isascii():
        cleaned = "".join(
            ch for ch in cleaned if ch in "\n\t" or unicodedata.category(ch) not in _REMOVED_CATEGORIES
        )
    if not multiline:
        return " ".join(cleaned.split())
    lines = [" ".join(line.split()) for line in cleaned.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def escape(text: str) -> str:
    """Escape Slack's control characters and defuse broadcast words; the text must already be clean."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    # U+2060 WORD JOINER: "@channel" still reads the same but can never become a broadcast.
    return _BROADCAST_RE.sub("@\u2060\\1", escaped)


def unescape(text: str) -> str:
    """Inverse of the entity part of ``escape`` (for previews)."""
    return _ENTITY_RE.sub(lambda m: {"amp": "&", "lt": "<", "gt": ">"}[m.group(1)], text).replace(
        "\u2060", ""
    )


def fit(text: str | None, limit: int, *, multiline: bool = False, placeholder: str = "") -> str:
    """Clean, escape and cut ``text`` so its escaped form has at most ``limit`` characters.

    The cut never splits an entity or a combining sequence, prefers a word boundary near the end, and is
    marked with an ellipsis. Empty input gives ``placeholder`` (escaped, cut the same way).
    """
    raw = inert_text(text, multiline=multiline)
    if not raw:
        if not placeholder:
            return ""
        raw = placeholder
    full = escape(raw)
    if len(full) <= limit:
        return full
    budget = limit - 1  # room for "…"
    lo, hi = 0, len(raw)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if len(escape(raw[:mid])) <= budget:
            lo = mid
        else:
            hi = mid - 1
    cut = lo
    while cut > 0 and unicodedata.combining(raw[cut]):
        cut -= 1
    head = raw[:cut]
    space = head.rfind(" ")
    # A word boundary in the last fifth keeps whole words; CJK text has none and is cut by character.
    if space > 0 and space >= cut * 0.8:
        head = head[:space]
    head = head.rstrip(" ,;:·|/-–—(\n")
    result = escape(head) + "…"
    return result if len(result) <= limit else escape(raw)[: max(limit - 1, 0)].rsplit("&", 1)[0] + "…"


def safe_url(url: str | None) -> str | None:
    """``url`` if it is an absolute http(s) URL fit for a button (no spaces/controls, <= 3000 chars)."""
    if not url:
        return None
    url = url.strip()
    if len(url) > MAX_URL or any(ch.isspace() or unicodedata.category(ch)[0] == "C" for ch in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url


def format_time(value: datetime | None, tz: str) -> str:
    """``2024-05-01 22:30 Asia/Shanghai`` (empty for no time)."""
    if value is None:
        return ""
    return f"{value.astimezone(ZoneInfo(tz)):%Y-%m-%d %H:%M} {tz}"


def format_amount(amount: Amount | None) -> str:
    """``USD 2.5B ("$2.5 billion")``; the text as written is kept when it adds something."""
    if amount is None:
        return ""
    value = amount.value
    for threshold, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= threshold:
            number = f"{value / threshold:.2f}".rstrip("0").rstrip(".") + suffix
            break
    else:
        number = f"{value:,.0f}"
    shown = f"{amount.currency} {number}".strip()
    written = inert_text(amount.text)
    return f"{shown} ({written})" if written and written != shown else shown


# --- content --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompanyRef:
    """A company as an alert shows it: canonical name and its tickers (if the watch-list has them)."""

    name: str
    tickers: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.name} ({', '.join(self.tickers)})" if self.tickers else self.name


@dataclass(frozen=True)
class AlertContent:
    """Everything an alert about one article shows; fields hold raw (untrusted) text."""

    article_id: str
    story_id: str
    headline: str
    url: str | None
    source: str
    published_at: datetime | None
    language: str
    score: float
    model_version: str
    event_type: str | None = None
    companies: tuple[CompanyRef, ...] = ()
    chips: tuple[str, ...] = ()
    counterparties: tuple[str, ...] = ()
    amount: Amount | None = None
    summary: str = ""

    @property
    def company_label(self) -> str:
        return ", ".join(c.label for c in self.companies)


@dataclass(frozen=True)
class DigestStory:
    """One story in the daily digest: its core viewpoint and how many sources the brief cites."""

    headline: str
    viewpoint: str
    citations: int
    sources: int
    url: str | None = None
    tag: str | None = None


@dataclass(frozen=True)
class CompanyDigest:
    """A company's stories of the day (most sources first) and its article counts (day, week)."""

    name: str
    day_articles: int
    week_articles: int
    stories: tuple[DigestStory, ...] = ()


@dataclass(frozen=True)
class DigestSummary:
    """The content of a daily digest for one channel: counts, the day's stories by company, what changed
    since the day before, and the rehashes that were held back."""

    date_label: str
    day_articles: int
    day_stories: int
    week_articles: int
    week_stories: int
    by_event: tuple[tuple[str, int, int], ...] = ()  # (event type, last day, last week)
    companies: tuple[CompanyDigest, ...] = ()
    changes: str = ""
    rehashes: tuple[str, ...] = field(default_factory=tuple)
    rehash_count: int = 0


@dataclass(frozen=True)
class NoveltyStamp:
    """What an alert's context line says about the story's novelty (raw text; made safe when shown).

    ``earlier_link`` is the permalink of the earlier story's thread (a follow-up's), from Slack itself.
    """

    first_source: str
    first_published_at: datetime
    alerted_at: datetime
    tag: str
    earlier_headline: str | None = None
    earlier_link: str | None = None

    @property
    def minutes(self) -> int:
        """Whole minutes from the first report to the alert (0 when the clocks disagree)."""
        return max(int((self.alerted_at - self.first_published_at).total_seconds() // 60), 0)


@dataclass(frozen=True)
class PromotionNotice:
    """What the ops channel is told about a candidate model. Headlines are feed text (untrusted)."""

    candidate: str
    current: str | None
    decision: str
    reason: str
    facts: tuple[tuple[str, str], ...] = ()
    dropped_alerts: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    where: str = ""


# --- building blocks ------------------------------------------------------------------------------------


def _plain(text: str) -> PlainTextObject:
    # emoji=False: ":rotating_light:" in a title stays text.
    return PlainTextObject(text=text, emoji=False)


def _header(text: str) -> dict[str, Any]:
    return HeaderBlock(text=_plain(fit(text, MAX_HEADER, placeholder="(untitled)"))).to_dict()


def _section(
    text: str, *, limit: int = MAX_SECTION_TEXT, accessory: ButtonElement | None = None
) -> dict[str, Any]:
    return SectionBlock(
        text=_plain(fit(text, limit, multiline=True, placeholder="—")), accessory=accessory
    ).to_dict()


def _fields(pairs: Sequence[tuple[str, str]]) -> dict[str, Any] | None:
    shown = [(label, value) for label, value in pairs if value][:MAX_FIELDS]
    if not shown:
        return None
    fields = [_plain(fit(f"{label}\n{value}", MAX_FIELD_TEXT, multiline=True)) for label, value in shown]
    return SectionBlock(fields=fields).to_dict()


def _button(label: str, url: str | None, action_id: str) -> ButtonElement | None:
    target = safe_url(url)
    if target is None:
        return None
    return ButtonElement(text=_plain(fit(label, MAX_BUTTON_TEXT)), url=target, action_id=action_id)


def _actions(*buttons: ButtonElement | None) -> dict[str, Any] | None:
    present = [b for b in buttons if b is not None]
    return ActionsBlock(elements=present).to_dict() if present else None


def _context(*parts: str) -> dict[str, Any] | None:
    elements = [_plain(fit(p, MAX_FIELD_TEXT)) for p in parts if p][:MAX_CONTEXT_ELEMENTS]
    return ContextBlock(elements=elements).to_dict() if elements else None


def _message(
    text: str,
    blocks: Sequence[dict[str, Any] | Block | None],
    *,
    fallback_limit: int = MAX_FALLBACK_TEXT,
) -> dict[str, Any]:
    built = [b.to_dict() if isinstance(b, Block) else b for b in blocks if b is not None][:MAX_BLOCKS]
    _shrink_to_total(built, MAX_BLOCKS_TEXT)
    message = {"text": fit(text, fallback_limit, placeholder="chip news alert"), "blocks": built}
    assert_valid(message)
    return message


def _text_objects(value: Any) -> list[Any]:
    """Every text object inside ``value`` (a payload's blocks, a block, an element)."""
    if isinstance(value, Mapping):
        if value.get("type") in ("plain_text", "mrkdwn") and isinstance(value.get("text"), str):
            return [value]
        return [obj for v in value.values() for obj in _text_objects(v)]
    if isinstance(value, list):
        return [obj for v in value for obj in _text_objects(v)]
    return []


def _shrink_to_total(blocks: list[dict[str, Any]], limit: int) -> None:
    """Cut the longest texts of ``blocks`` (in place) until all their text fits ``limit`` characters."""
    objects = _text_objects(blocks)
    excess = sum(len(o["text"]) for o in objects) - limit
    while excess > 0:
        longest = max(objects, key=lambda o: len(o["text"]))
        size = len(longest["text"])
        if size <= 200:
            break  # only short texts left; the check reports what is still over
        longest["text"] = fit(unescape(longest["text"]), max(200, size - excess - 1), multiline=True)
        excess -= size - len(longest["text"])


def _join(values: Sequence[str], limit: int = 12) -> str:
    cleaned = [inert_text(v) for v in values if inert_text(v)]
    shown = ", ".join(cleaned[:limit])
    return f"{shown} (+{len(cleaned) - limit} more)" if len(cleaned) > limit else shown


def _company_names(content: AlertContent, limit: int = 8) -> str:
    return _join([c.label for c in content.companies], limit)


def _source_line(content: AlertContent, display_tz: str) -> str:
    when = format_time(content.published_at, display_tz)
    return f"{inert_text(content.source)}\n{when}" if when else inert_text(content.source)


def _footer(content: AlertContent, alert_id: str) -> str:
    return f"story {content.story_id} · model {content.model_version} · alert {alert_id}"


# --- messages -------------------------------------------------------------------------------------------


def alert_message(
    content: AlertContent, *, display_tz: str, alert_id: str, stamp: NoveltyStamp | None = None
) -> dict[str, Any]:
    """The first alert of a story: headline, the structured fields, summary, link, provenance; with a
    ``stamp``, the context line says who reported it first, how long ago, and whether it is new."""
    event = EVENT_LABELS.get(content.event_type or "", content.event_type or "")
    fields = _fields(
        [
            ("Company", _company_names(content)),
            ("Event", event),
            ("Chips", _join(content.chips)),
            ("Counterparty", _join(content.counterparties)),
            ("Amount", format_amount(content.amount)),
            ("Source", _source_line(content, display_tz)),
            ("Language", LANGUAGE_LABELS.get(content.language, content.language)),
            ("Model score", f"{content.score:.2f}"),
        ]
    )
    summary = inert_text(content.summary, multiline=True)
    company = _company_names(content, 3)
    fallback = f"{company}: {inert_text(content.headline)}" if company else inert_text(content.headline)
    return _message(
        f"{fallback} ({inert_text(content.source)})",
        [
            _header(content.headline),
            fields,
            _section(summary) if summary else None,
            _actions(
                _button("Read article", content.url, "open_article"),
                _button("Earlier story", stamp.earlier_link, "open_earlier_story") if stamp else None,
            ),
            _context(*stamp_lines(stamp, display_tz), _footer(content, alert_id)),
        ],
    )


def update_message(
    content: AlertContent,
    *,
    display_tz: str,
    alert_id: str,
    changes: Sequence[str] = (),
    stamp: NoveltyStamp | None = None,
) -> dict[str, Any]:
    """A later article of a story, for its thread ("also reported by ..."); ``changes`` are material news."""
    when = format_time(content.published_at, display_tz)
    lead = f"Also reported by {inert_text(content.source)}" + (f" · {when}" if when else "")
    blocks: list[dict[str, Any] | None] = [_section(f"{lead}\n{inert_text(content.headline)}")]
    if changes:
        event = EVENT_LABELS.get(content.event_type or "", content.event_type or "")
        blocks.append(
            _fields(
                [
                    ("What is new", "\n".join(changes)),
                    ("Company", _company_names(content)),
                    ("Event", event),
                    ("Amount", format_amount(content.amount)),
                ]
            )
        )
    blocks += [
        _actions(_button("Read article", content.url, "open_article")),
        _context(*stamp_lines(stamp, display_tz), _footer(content, alert_id)),
    ]
    prefix = "Update" if changes else "Also reported"
    return _message(f"{prefix} ({inert_text(content.source)}): {inert_text(content.headline)}", blocks)


def group_message(title: str, items: Sequence[AlertContent], *, note: str) -> dict[str, Any]:
    """A parent message for many alerts (run digest, backfill): a short list; the alerts go in its thread."""
    lines: list[str] = []
    used = 0
    for n, item in enumerate(items):
        company = _company_names(item, 2)
        line = f"• {company + ': ' if company else ''}{inert_text(item.headline)} ({inert_text(item.source)})"
        line = unescape(fit(line, 240))
        remaining = len(items) - n
        # Keep room for the "and N more" line.
        if used + len(escape(line)) + 1 > MAX_SECTION_TEXT - 40 and remaining > 0:
            lines.append(f"… and {remaining} more")
            break
        lines.append(line)
        used += len(escape(line)) + 1
    return _message(
        title,
        [
            _header(title),
            _section("\n".join(lines)) if lines else None,
            _context(note),
        ],
    )


MAX_DIGEST_COMPANIES = 12
MAX_DIGEST_STORIES = 5


def _digest_story_line(story: DigestStory) -> str:
    tag = f" · {story.tag}" if story.tag and story.tag != "new" else ""
    cited = f"{story.citations} source(s) cited" if story.citations else f"{story.sources} source(s)"
    return unescape(fit(f"• {inert_text(story.viewpoint)} [{cited}{tag}]", 420))


def daily_digest_message(summary: DigestSummary, *, channel: str) -> dict[str, Any]:
    """The morning digest for a channel, in the analysts' register: the day's stories grouped by
    company, each with its core viewpoint and the number of sources cited; what changed since the day
    before; counts by event type; the rehashes held back."""
    title = f"Chip news digest — {summary.date_label}"
    blocks: list[dict[str, Any] | None] = [
        _header(title),
        _fields(
            [
                ("Last 24 hours", f"{summary.day_articles} articles in {summary.day_stories} stories"),
                ("Last 7 days", f"{summary.week_articles} articles in {summary.week_stories} stories"),
            ]
        ),
    ]
    if summary.changes:
        blocks.append(_section(f"What changed since yesterday: {summary.changes}"))
    if summary.companies:
        blocks.append(DividerBlock().to_dict())
    for n, company in enumerate(summary.companies[:MAX_DIGEST_COMPANIES], start=1):
        head = (
            f"{inert_text(company.name)} — {len(company.stories)} story(ies) today · "
            f"{company.day_articles} article(s) today, {company.week_articles} this week"
        )
        lines = [_digest_story_line(story) for story in company.stories[:MAX_DIGEST_STORIES]]
        if len(company.stories) > MAX_DIGEST_STORIES:
            lines.append(f"… and {len(company.stories) - MAX_DIGEST_STORIES} more")
        top = company.stories[0] if company.stories else None
        blocks.append(
            _section(
                "\n".join([head, *lines]),
                accessory=_button("Top story", top.url, f"open_story_{n}") if top else None,
            )
        )
    if len(summary.companies) > MAX_DIGEST_COMPANIES:
        rest = ", ".join(inert_text(c.name) for c in summary.companies[MAX_DIGEST_COMPANIES:])
        blocks.append(_section(f"Also this week: {rest}"))
    if summary.by_event:
        rows = [
            f"{EVENT_LABELS.get(name, inert_text(name))}: {day} / {week}"
            for name, day, week in summary.by_event
        ]
        blocks.append(_section("By event type (24 h / 7 days)\n" + "\n".join(rows)))
    if summary.rehash_count:
        lines = [f"Rehashes held back (not posted): {summary.rehash_count}"]
        lines += [f"• {unescape(fit(r, 300))}" for r in summary.rehashes[:5]]
        blocks.append(_section("\n".join(lines)))
    if not summary.week_articles:
        blocks.append(_section("No relevant articles in the last 7 days."))
    blocks.append(_context(f"channel {channel} · counts exclude muted articles"))
    return _message(
        f"{title}: {summary.day_articles} articles in the last 24 hours, {summary.week_articles} in 7 days",
        blocks,
    )


def task_failure_message(
    *,
    dag_id: str,
    task_id: str,
    run_id: str,
    try_number: int | None,
    error: str,
    log_url: str | None,
) -> dict[str, Any]:
    """An operations notice about a failed Airflow task (the exception text is treated as untrusted)."""
    title = f"Task failed: {dag_id}.{task_id}"
    return _message(
        f"{title} ({run_id})",
        [
            _header(title),
            _fields(
                [
                    ("DAG", dag_id),
                    ("Task", task_id),
                    ("Run", run_id),
                    ("Try", str(try_number) if try_number is not None else "?"),
                ]
            ),
            _section(error or "(no error text)"),
            _actions(_button("View log", log_url, "open_log")),
        ],
    )


def feed_health_message(
    *,
    feed_id: str,
    url: str,
    failing: bool,
    failures: int,
    last_error: str | None,
    since: datetime | None,
    display_tz: str,
) -> dict[str, Any]:
    """A feed that keeps failing (``failing``), or that recovered."""
    if failing:
        title = f"Feed {feed_id} has failed {failures} runs in a row"
        detail = f"{url}\nLast error: {last_error or 'unknown'}"
        if since:
            detail += f"\nLast success: {format_time(since, display_tz)}"
    else:
        title = f"Feed {feed_id} has recovered"
        detail = url
    return _message(title, [_header(title), _section(detail)])


def _bullets(title: str, headlines: Sequence[str], limit: int = 8) -> dict[str, Any] | None:
    if not headlines:
        return None
    rows = [f"• {unescape(fit(h, 200))}" for h in headlines[:limit]]  # _section escapes once
    if len(headlines) > limit:
        rows.append(f"… and {len(headlines) - limit} more")
    return _section(f"{title}\n" + "\n".join(rows))


def promotion_message(notice: PromotionNotice) -> dict[str, Any]:
    """The ops channel's report on a candidate model: the decision, the figures, what it would change."""
    title = f"Candidate model {notice.candidate}: {notice.decision}"
    return _message(
        title,
        [
            _header(title),
            _section(notice.reason),
            _fields(list(notice.facts)),
            _bullets("Alerts it would not have sent:", notice.dropped_alerts),
            _bullets("Articles it would add:", notice.added),
            _context(notice.where),
        ],
    )


def note_message(text: str) -> dict[str, Any]:
    """A short note of ours (no feed text) for a thread: a feedback acknowledgement, a promotion outcome."""
    return _message(text, [_section(text)])


def format_minutes(minutes: int) -> str:
    """``47 min``; long delays also in hours or days (``2,880 min (2.0 d)``)."""
    if minutes < 120:
        return f"{minutes} min"
    if minutes < 2 * 1440:
        return f"{minutes:,} min ({minutes / 60:.1f} h)"
    return f"{minutes:,} min ({minutes / 1440:.1f} d)"


def stamp_lines(stamp: NoveltyStamp | None, display_tz: str) -> tuple[str, ...]:
    """The novelty stamp as context elements: first source and time, minutes to the alert, the tag (and
    for a follow-up, the earlier story it follows)."""
    if stamp is None:
        return ()
    first = (
        f"First: {inert_text(stamp.first_source)} · {format_time(stamp.first_published_at, display_tz)}"
        f" · {format_minutes(stamp.minutes)} to alert · {stamp.tag}"
    )
    if stamp.tag in (FOLLOW_UP, REHASH) and stamp.earlier_headline:
        return (first, f"{stamp.tag} of: {inert_text(stamp.earlier_headline)}")
    return (first,)


# --- story briefs ---------------------------------------------------------------------------------------

BRIEF_LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "title": "简报",
        "core": "核心观点",
        "developments": "公司动态",
        "investment": "投资布局",
        "motivation": "战略与动机",
        "ecosystem": "生态与合作",
        "risks": "风险",
        "sources": "来源",
        "left_out": "另有 {n} 条要点未列出（共 {total} 条）",
        "version": "简报第 {version} 版 · {sources} 个来源",
    },
    "en": {
        "title": "Brief",
        "core": "Core viewpoint",
        "developments": "Company developments",
        "investment": "Investment",
        "motivation": "Strategy and motivation",
        "ecosystem": "Ecosystem and partners",
        "risks": "Risks",
        "sources": "Sources",
        "left_out": "{n} more point(s) left out ({total} in all)",
        "version": "brief v{version} · {sources} source(s)",
    },
}
MAX_POINTS_SHOWN = 3  # per group, before the text budget cuts further
MAX_POINT_CHARS = 360
MAX_CITATIONS_SHOWN = 6
MAX_SOURCE_LINE = 240
MAX_SOURCE_URL = 180
# What a brief may spend of ``MAX_BLOCKS_TEXT``: it must stay readable, not just fit.
BRIEF_TEXT_BUDGET = 9_000
MAX_BRIEF_FALLBACK = 1_500


def format_citations(numbers: Sequence[int]) -> str:
    """``[1][3]``; more than ``MAX_CITATIONS_SHOWN`` end in ``+N``."""
    shown = "".join(f"[{n}]" for n in numbers[:MAX_CITATIONS_SHOWN])
    extra = len(numbers) - MAX_CITATIONS_SHOWN
    return f"{shown}+{extra}" if extra > 0 else shown


def _point_line(point: BriefPoint) -> str:
    text = unescape(fit(point.text, MAX_POINT_CHARS))
    return f"• {text} {format_citations(point.citations)}"


def _brief_source_line(source: BriefSource, display_tz: str) -> str:
    when = ""
    if source.published_at is not None:
        when = f"{source.published_at.astimezone(ZoneInfo(display_tz)):%Y-%m-%d %H:%M}"
    url = safe_url(source.url)
    parts = [f"[{source.number}] {inert_text(source.outlet) or '?'}", when]
    if url and len(url) <= MAX_SOURCE_URL:
        parts.append(url)
    return unescape(fit(" · ".join(p for p in parts if p), MAX_SOURCE_LINE))


def _source_lines(brief: Brief, display_tz: str) -> list[str]:
    """One line per source (number, outlet, time, link) within a third of the budget: when they do not
    fit, the cited sources come first and the others are named by number only."""
    budget = BRIEF_TEXT_BUDGET // 3
    lines = [_brief_source_line(s, display_tz) for s in brief.sources]
    if sum(_text_size(line) + 1 for line in lines) <= budget:
        return lines
    cited = set(brief.cited)
    kept: list[str] = []
    used = 0
    unlisted: list[str] = []
    for source, line in zip(brief.sources, lines, strict=True):
        if source.number in cited and used + _text_size(line) + 1 <= budget - 200:
            kept.append(line)
            used += _text_size(line) + 1
        else:
            unlisted.append(str(source.number))
    if unlisted:
        kept.append(unescape(fit(f"+{len(unlisted)}: [{'] ['.join(unlisted)}]", 190)))
    return kept


def _text_size(text: str) -> int:
    return len(escape(inert_text(text, multiline=True)))


def _chunks(lines: Sequence[str], limit: int) -> list[str]:
    """``lines`` joined into texts of at most ``limit`` escaped characters each."""
    out: list[str] = []
    current: list[str] = []
    for line in lines:
        if current and _text_size("\n".join([*current, line])) > limit:
            out.append("\n".join(current))
            current = []
        current.append(line)
    if current:
        out.append("\n".join(current))
    return out


@dataclass(frozen=True)
class BriefLayout:
    """Which points of a brief are shown; ``left_out`` counts the rest."""

    groups: tuple[tuple[str, tuple[BriefPoint, ...]], ...]
    left_out: int
    total: int


def layout_brief(brief: Brief, *, fixed_size: int, budget: int = BRIEF_TEXT_BUDGET) -> BriefLayout:
    """Keep the best points that fit: at most ``MAX_POINTS_SHOWN`` per group, then, while the text is over
    ``budget`` (``fixed_size`` is what the rest of the message uses), drop the lowest-scored point, a
    group's first point last. The core viewpoint always stays."""
    shown = {g.key: list(g.points[:MAX_POINTS_SHOWN]) for g in brief.groups}
    total = sum(len(g.points) for g in brief.groups)

    def size() -> int:
        lines = [_point_line(p) for points in shown.values() for p in points]
        return fixed_size + sum(_text_size(line) + 1 for line in lines) + 40 * len(shown)

    while size() > budget and any(shown.values()):
        droppable = [
            (p.score, key, i) for key, points in shown.items() for i, p in enumerate(points) if i > 0
        ]
        if not droppable:
            droppable = [(points[0].score, key, 0) for key, points in shown.items() if points]
        _, key, index = min(droppable)
        del shown[key][index]
    groups = tuple((g.key, tuple(shown[g.key])) for g in brief.groups if shown[g.key])
    kept = sum(len(points) for _, points in groups)
    return BriefLayout(groups=groups, left_out=total - kept, total=total)


def brief_message(brief: Brief, *, display_tz: str, alert_id: str) -> dict[str, Any]:
    """A story brief for the story's thread: the core viewpoint, the grouped points with their citations,
    the numbered sources. Labels follow the story's main language; every point keeps its own. Fits
    Slack's limits whatever the number of sources: the best points are kept and the rest counted."""
    labels = BRIEF_LABELS.get(brief.language, BRIEF_LABELS["en"])
    core = brief.core
    core_text = f"{labels['core']}\n{_point_line(core)[2:]}" if core else ""
    source_lines = _source_lines(brief, display_tz)
    sources_header = f"{labels['sources']} ({display_tz})"
    title = f"{labels['title']}: {inert_text(brief.headline)}"
    footer = f"{labels['version'].format(version=brief.version, sources=len(brief.sources))}"
    footer += f" · story {brief.story_id} · alert {alert_id}"
    fixed = sum(
        _text_size(t)
        for t in (title[:MAX_HEADER], core_text, sources_header, "\n".join(source_lines), footer)
    )
    layout = layout_brief(brief, fixed_size=fixed)

    blocks: list[dict[str, Any] | None] = [_header(title)]
    if core_text:
        blocks.append(_section(core_text))
    for key, points in layout.groups:
        blocks.append(_section(f"{labels.get(key, key)}\n" + "\n".join(_point_line(p) for p in points)))
    blocks.append(DividerBlock().to_dict())
    for n, chunk in enumerate(_chunks(source_lines, MAX_SECTION_TEXT - 200)):
        blocks.append(_section(f"{sources_header}\n{chunk}" if n == 0 else chunk))
    notes = [footer]
    if layout.left_out:
        notes.insert(0, labels["left_out"].format(n=layout.left_out, total=layout.total))
    blocks.append(_context(*notes))

    # The notification text: the core viewpoint and the first point of each group, as the register asks.
    glance = (
        [f"{labels['title']} · {labels['core']}: {core.text} {format_citations(core.citations)}"]
        if core
        else []
    )
    for key, points in layout.groups:
        glance.append(f"{labels.get(key, key)}: {points[0].text} {format_citations(points[0].citations)}")
    fallback = " | ".join(unescape(fit(line, 300)) for line in glance) or title
    return _message(fallback, blocks, fallback_limit=MAX_BRIEF_FALLBACK)


def finalize_update(
    message: Mapping[str, Any], *, channel: str, ts: str, alert_id: str | None = None
) -> dict[str, Any]:
    """The exact ``chat.update`` arguments that replace message ``ts`` with ``message``.

    ``parse: none`` because chat.update defaults to ``client`` parsing (unlike chat.postMessage), which
    would turn names in the fallback text into links; the alert id stays in the metadata.
    """
    payload: dict[str, Any] = {
        "channel": channel,
        "ts": ts,
        "text": message["text"],
        "blocks": list(message.get("blocks") or []),
        "parse": "none",
    }
    if alert_id:
        payload["metadata"] = {"event_type": METADATA_EVENT_TYPE, "event_payload": {"alert_id": alert_id}}
    assert_valid(payload)
    return payload


def finalize(
    message: Mapping[str, Any],
    *,
    channel: str,
    alert_id: str | None = None,
    thread_ts: str | None = None,
    reply_broadcast: bool = False,
) -> dict[str, Any]:
    """The exact ``chat.postMessage`` arguments: no unfurls, no markup in ``text``, the alert id as metadata."""
    payload: dict[str, Any] = {
        "channel": channel,
        "text": message["text"],
        "blocks": list(message.get("blocks") or []),
        "unfurl_links": False,
        "unfurl_media": False,
        "mrkdwn": False,
    }
    if alert_id:
        # Slack has no idempotency key; the id in metadata lets a later run find a message whose outcome
        # was unknown (connection lost) in conversations.history.
        payload["metadata"] = {"event_type": METADATA_EVENT_TYPE, "event_payload": {"alert_id": alert_id}}
    if thread_ts:
        payload["thread_ts"] = thread_ts
        if reply_broadcast:
            payload["reply_broadcast"] = True
    assert_valid(payload)
    return payload


# --- checks and previews -------------------------------------------------------------------------------


def _text_obj_errors(obj: Any, where: str, limit: int, *, plain_only: bool = False) -> list[str]:
    if not isinstance(obj, Mapping) or obj.get("type") not in ("plain_text", "mrkdwn"):
        return [f"{where}: not a text object"]
    if plain_only and obj["type"] != "plain_text":
        return [f"{where}: must be plain_text"]
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        return [f"{where}: empty text"]
    return [f"{where}: {len(text)} > {limit} characters"] if len(text) > limit else []


def _block_errors(block: Any, where: str) -> list[str]:
    errors: list[str] = []
    if not isinstance(block, Mapping):
        return [f"{where}: not an object"]
    kind = block.get("type")
    if len(str(block.get("block_id", ""))) > MAX_BLOCK_ID:
        errors.append(f"{where}: block_id too long")
    if kind == "header":
        errors += _text_obj_errors(block.get("text"), f"{where}.text", MAX_HEADER, plain_only=True)
    elif kind == "section":
        if block.get("text") is None and not block.get("fields"):
            errors.append(f"{where}: needs text or fields")
        if block.get("text") is not None:
            errors += _text_obj_errors(block["text"], f"{where}.text", MAX_SECTION_TEXT)
        fields = block.get("fields") or []
        if len(fields) > MAX_FIELDS:
            errors.append(f"{where}: {len(fields)} fields > {MAX_FIELDS}")
        for i, f in enumerate(fields):
            errors += _text_obj_errors(f, f"{where}.fields[{i}]", MAX_FIELD_TEXT)
        if block.get("accessory") is not None:
            errors += _element_errors(block["accessory"], f"{where}.accessory")
    elif kind == "context":
        elements = block.get("elements") or []
        if not elements or len(elements) > MAX_CONTEXT_ELEMENTS:
            errors.append(f"{where}: {len(elements)} elements (1..{MAX_CONTEXT_ELEMENTS})")
        for i, e in enumerate(elements):
            errors += _text_obj_errors(e, f"{where}.elements[{i}]", MAX_SECTION_TEXT)
    elif kind == "actions":
        elements = block.get("elements") or []
        if not elements or len(elements) > MAX_ACTIONS_ELEMENTS:
            errors.append(f"{where}: {len(elements)} elements (1..{MAX_ACTIONS_ELEMENTS})")
        for i, e in enumerate(elements):
            errors += _element_errors(e, f"{where}.elements[{i}]")
    elif kind != "divider":
        errors.append(f"{where}: unsupported block type {kind!r}")
    return errors


def _element_errors(element: Any, where: str) -> list[str]:
    if not isinstance(element, Mapping) or element.get("type") != "button":
        return [f"{where}: only buttons are used"]
    errors = _text_obj_errors(element.get("text"), f"{where}.text", MAX_BUTTON_TEXT, plain_only=True)
    url = element.get("url")
    if url is not None and (not isinstance(url, str) or len(url) > MAX_URL or safe_url(url) != url):
        errors.append(f"{where}: bad url")
    return errors


def check_message(payload: Mapping[str, Any]) -> list[str]:
    """Every way ``payload`` breaks a Slack limit (empty when it is fine)."""
    errors: list[str] = []
    text = payload.get("text")
    blocks = payload.get("blocks") or []
    if not text:
        errors.append("text: a notification fallback is required")
    elif len(text) > MAX_MESSAGE_TEXT:
        errors.append(f"text: {len(text)} > {MAX_MESSAGE_TEXT} characters")
    if len(blocks) > MAX_BLOCKS:
        errors.append(f"blocks: {len(blocks)} > {MAX_BLOCKS}")
    for i, block in enumerate(blocks):
        errors += _block_errors(block, f"blocks[{i}]")
    total = blocks_text_length(blocks)
    if total > MAX_BLOCKS_TEXT:
        errors.append(f"blocks: {total} > {MAX_BLOCKS_TEXT} characters of text in all")
    return errors


def blocks_text_length(value: Any) -> int:
    """Characters of text in all the text objects of ``value`` (blocks, a block, an element)."""
    return sum(len(o["text"]) for o in _text_objects(value))


def assert_valid(payload: Mapping[str, Any]) -> None:
    """Raise ``MessageLimitError`` if ``payload`` breaks a Slack limit."""
    errors = check_message(payload)
    if errors:
        raise MessageLimitError("message breaks Slack limits: " + "; ".join(errors[:5]))


def _obj_text(obj: Any) -> str:
    return unescape(str(obj.get("text", ""))) if isinstance(obj, Mapping) else ""


def render_preview(payload: Mapping[str, Any]) -> str:
    """A readable plain-text rendering of a payload (dry runs, logs)."""
    lines: list[str] = []
    where = str(payload.get("channel", ""))
    if payload.get("ts"):
        where += f" (edit of message {payload['ts']})"
    if payload.get("thread_ts"):
        where += " (thread reply" + (", also sent to the channel)" if payload.get("reply_broadcast") else ")")
    if where:
        lines.append(f"--- {where}")
    for block in payload.get("blocks") or []:
        kind = block.get("type")
        if kind == "header":
            title = _obj_text(block.get("text"))
            lines += [title, "=" * min(len(title), 60)]
        elif kind == "section":
            if block.get("text"):
                lines.append(_obj_text(block["text"]))
            for f in block.get("fields") or []:
                label, _, value = _obj_text(f).partition("\n")
                lines.append(f"{label}: {value.replace(chr(10), ' / ')}")
            accessory = block.get("accessory")
            if isinstance(accessory, Mapping) and accessory.get("url"):
                lines.append(f"[{_obj_text(accessory.get('text'))}] {accessory['url']}")
        elif kind == "actions":
            lines += [f"[{_obj_text(e.get('text'))}] {e.get('url', '')}" for e in block.get("elements") or []]
        elif kind == "context":
            lines.append("(" + " · ".join(_obj_text(e) for e in block.get("elements") or []) + ")")
        elif kind == "divider":
            lines.append("-" * 20)
    if not payload.get("blocks"):
        lines.append(unescape(str(payload.get("text", ""))))
    return "\n".join(lines)
