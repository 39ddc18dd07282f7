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
from pipeline.models import Amount
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
class TopStory:
    headline: str
    url: str | None
    companies: tuple[str, ...]
    sources: tuple[str, ...]
    articles: int


@dataclass(frozen=True)
class DigestSummary:
    """The numbers of a daily digest for one channel."""

    date_label: str
    day_articles: int
    day_stories: int
    week_articles: int
    week_stories: int
    by_company: tuple[tuple[str, int, int], ...] = ()  # (company, last day, last week)
    by_event: tuple[tuple[str, int, int], ...] = ()
    top_stories: tuple[TopStory, ...] = field(default_factory=tuple)


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


def _message(text: str, blocks: Sequence[dict[str, Any] | Block | None]) -> dict[str, Any]:
    built = [b.to_dict() if isinstance(b, Block) else b for b in blocks if b is not None][:MAX_BLOCKS]
    message = {"text": fit(text, MAX_FALLBACK_TEXT, placeholder="chip news alert"), "blocks": built}
    assert_valid(message)
    return message


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


def alert_message(content: AlertContent, *, display_tz: str, alert_id: str) -> dict[str, Any]:
    """The first alert of a story: headline, the structured fields, summary, link, provenance."""
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
            _actions(_button("Read article", content.url, "open_article")),
            _context(_footer(content, alert_id)),
        ],
    )


def update_message(
    content: AlertContent, *, display_tz: str, alert_id: str, changes: Sequence[str] = ()
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
        _context(_footer(content, alert_id)),
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


def daily_digest_message(summary: DigestSummary, *, channel: str) -> dict[str, Any]:
    """The morning summary for a channel: counts by company and event type, the top stories."""
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
    if summary.by_company:
        rows = [f"{inert_text(name)}: {day} / {week}" for name, day, week in summary.by_company[:20]]
        blocks.append(_section("By company (24 h / 7 days)\n" + "\n".join(rows)))
    if summary.by_event:
        rows = [
            f"{EVENT_LABELS.get(name, inert_text(name))}: {day} / {week}"
            for name, day, week in summary.by_event
        ]
        blocks.append(_section("By event type (24 h / 7 days)\n" + "\n".join(rows)))
    if summary.top_stories:
        blocks.append(DividerBlock().to_dict())
        blocks.append(_section("Top stories of the last 24 hours"))
        for n, story in enumerate(summary.top_stories[:10], start=1):
            sources = _join(story.sources, 4)
            detail = f"{_join(story.companies, 4)} · {story.articles} article(s) · {sources}"
            blocks.append(
                _section(
                    f"{n}. {inert_text(story.headline)}\n{detail}",
                    accessory=_button("Open", story.url, f"open_story_{n}"),
                )
            )
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
    return errors


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
