"""Slack routing: which channels an alert goes to, and which alerts are muted (``config/routing.yaml``).

The file is validated on load; every error is a ``ConfigError`` naming the file, the entry and its line.
A rule sends matching alerts to its channel; a rule with several criteria (companies, event types,
languages) needs all of them to match, any value within one list. The default channel receives every
alert (``default_receives: all``) or only those no rule matched (``unrouted``); ``NEWS_SLACK_CHANNEL``
overrides the file's default channel.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.config.yamlfile import entry_name, load_yaml
from pipeline.errors import ConfigError
from pipeline.models import EVENT_TYPES, LANGUAGES
from pipeline.settings import Settings, is_channel

log = logging.getLogger(__name__)

DEFAULT_RECEIVES = ("all", "unrouted")
_TOP_KEYS = frozenset({"default_channel", "default_receives", "rules", "mute"})
_RULE_KEYS = frozenset({"channel", "companies", "event_types", "languages", "notes"})
_MUTE_KEYS = frozenset({"companies", "sources", "title_keywords"})


def normalize_name(name: str) -> str:
    """How company names and sources are compared: case-insensitive, spaces and hyphens ignored."""
    return re.sub(r"[\s\-]+", "", name).casefold()


def check_channel(value: Any) -> str | None:
    """The reason ``value`` is not a usable channel (``#name`` or an id), or None when it is fine."""
    if not isinstance(value, str) or not value.strip():
        return "must be a channel name like '#chip-alerts' or a channel id like 'C0123456789'"
    value = value.strip()
    if is_channel(value):
        return None
    if not value.startswith("#") and is_channel("#" + value):
        return f"write the channel as '#{value}' (or use its id)"
    return f"{value!r} is not a Slack channel name ('#' + lowercase letters, digits, '-', '_') or id"


@dataclass(frozen=True)
class RouteRule:
    """Send alerts that match every given criterion to ``channel``."""

    channel: str
    companies: frozenset[str] = frozenset()  # normalized names
    event_types: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()
    line: int = 0

    def matches(self, *, companies: Iterable[str], event_type: str | None, language: str) -> bool:
        if self.companies and not self.companies & {normalize_name(c) for c in companies}:
            return False
        if self.event_types and event_type not in self.event_types:
            return False
        return not (self.languages and language not in self.languages)


@dataclass(frozen=True)
class MuteList:
    companies: frozenset[str] = frozenset()  # normalized names
    sources: frozenset[str] = frozenset()  # normalized feed ids or source names
    title_keywords: tuple[str, ...] = ()  # casefolded


@dataclass(frozen=True)
class Routing:
    """The validated routing file."""

    default_channel: str
    default_receives: str = "all"
    rules: tuple[RouteRule, ...] = ()
    mute: MuteList = MuteList()
    source: str | None = None

    @property
    def channels(self) -> tuple[str, ...]:
        """Every channel alerts can go to, the default first."""
        seen = dict.fromkeys([self.default_channel, *(r.channel for r in self.rules)])
        return tuple(seen)

    def channels_for(
        self, *, companies: Sequence[str], event_type: str | None, language: str
    ) -> tuple[str, ...]:
        """The channels an alert goes to (at least one: the default when nothing else matched)."""
        matched = [
            r.channel
            for r in self.rules
            if r.matches(companies=companies, event_type=event_type, language=language)
        ]
        if self.default_receives == "all" or not matched:
            matched.insert(0, self.default_channel)
        return tuple(dict.fromkeys(matched))

    def mute_reason(
        self, *, companies: Sequence[str], feed_id: str, source_name: str | None, title: str
    ) -> str | None:
        """Why an alert is muted (``company X``, ``source Y``, ``keyword Z``), or None."""
        for company in companies:
            if normalize_name(company) in self.mute.companies:
                return f"company {company}"
        for source in (feed_id, source_name):
            if source and normalize_name(source) in self.mute.sources:
                return f"source {source}"
        folded = title.casefold()
        for keyword in self.mute.title_keywords:
            if keyword in folded:
                return f"title keyword {keyword!r}"
        return None


class _Validator:
    def __init__(self, path: Path, resolve_company: Any = None) -> None:
        self.path = path
        self.resolve_company = resolve_company

    def fail(self, message: str, entry: str | None = None) -> ConfigError:
        return ConfigError(message, path=str(self.path), entry=entry)

    def strings(self, item: dict[str, Any], key: str, entry: str) -> list[str]:
        raw = item.get(key)
        if raw is None:
            return []
        if isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, list) or not all(isinstance(v, str | int) and str(v).strip() for v in raw):
            raise self.fail(f"{key!r} must be a list of non-empty strings", entry)
        return [str(v).strip() for v in raw]

    def company(self, name: str, entry: str) -> str:
        if self.resolve_company is None:
            return normalize_name(name)
        company = self.resolve_company(name)
        if company is None:
            raise self.fail(f"company {name!r} is not on the watch-list (use its name or an alias)", entry)
        return normalize_name(str(company.name))

    def rule(self, item: Any, index: int) -> RouteRule:
        where = entry_name(item, index, key="channel")
        entry = f"rules: {where}"
        if not isinstance(item, dict):
            raise self.fail("each rule must be a mapping with a channel and criteria", entry)
        unknown = set(item) - _RULE_KEYS
        if unknown:
            raise self.fail(f"unknown field(s) {sorted(unknown)}; allowed: {sorted(_RULE_KEYS)}", entry)
        problem = check_channel(item.get("channel"))
        if problem:
            raise self.fail(f"channel {problem}", entry)
        companies = self.strings(item, "companies", entry)
        event_types = self.strings(item, "event_types", entry)
        languages = self.strings(item, "languages", entry)
        if not (companies or event_types or languages):
            raise self.fail("a rule needs at least one of companies, event_types, languages", entry)
        for e in event_types:
            if e not in EVENT_TYPES:
                raise self.fail(f"event type {e!r} must be one of {list(EVENT_TYPES)}", entry)
        for lang in languages:
            if lang not in LANGUAGES:
                raise self.fail(f"language {lang!r} must be one of {list(LANGUAGES)}", entry)
        return RouteRule(
            channel=str(item["channel"]).strip(),
            companies=frozenset(self.company(c, entry) for c in companies),
            event_types=frozenset(event_types),
            languages=frozenset(languages),
            line=getattr(item, "line", 0),
        )

    def mute(self, item: Any) -> MuteList:
        if item is None:
            return MuteList()
        line = getattr(item, "line", 0)
        entry = f"mute, line {line}" if line else "mute"
        if not isinstance(item, dict):
            raise self.fail("must be a mapping with companies, sources, title_keywords", entry)
        unknown = set(item) - _MUTE_KEYS
        if unknown:
            raise self.fail(f"unknown field(s) {sorted(unknown)}; allowed: {sorted(_MUTE_KEYS)}", entry)
        return MuteList(
            companies=frozenset(self.company(c, entry) for c in self.strings(item, "companies", entry)),
            sources=frozenset(normalize_name(s) for s in self.strings(item, "sources", entry)),
            title_keywords=tuple(k.casefold() for k in self.strings(item, "title_keywords", entry)),
        )

    def routing(self, data: Any, default_override: str) -> Routing:
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise self.fail("the file must be a mapping with default_channel, rules and mute")
        unknown = set(data) - _TOP_KEYS
        if unknown:
            raise self.fail(f"unknown top-level key(s) {sorted(unknown)}; allowed: {sorted(_TOP_KEYS)}")
        default = default_override or data.get("default_channel")
        if not default:
            raise self.fail("no default channel: set default_channel here or NEWS_SLACK_CHANNEL")
        problem = check_channel(default)
        if problem:
            source = "NEWS_SLACK_CHANNEL" if default_override else "default_channel"
            raise self.fail(f"{source}: channel {problem}")
        receives = data.get("default_receives", "all")
        if receives not in DEFAULT_RECEIVES:
            raise self.fail(f"default_receives must be one of {list(DEFAULT_RECEIVES)}, not {receives!r}")
        rules_raw = data.get("rules") or []
        if not isinstance(rules_raw, list):
            raise self.fail("rules must be a list")
        return Routing(
            default_channel=str(default).strip(),
            default_receives=str(receives),
            rules=tuple(self.rule(item, i) for i, item in enumerate(rules_raw)),
            mute=self.mute(data.get("mute")),
            source=str(self.path),
        )


def load_routing(path: Path, *, default_channel: str = "", watchlist: Any = None) -> Routing:
    """Load and validate a routing file; ``default_channel`` (when set) replaces the file's default.

    With a ``watchlist`` (anything with ``company(name)``), company names must be on it; aliases are
    resolved to canonical names.
    """
    resolver = getattr(watchlist, "company", None)
    return _Validator(path, resolver).routing(load_yaml(path), default_channel.strip())


def routing_for(settings: Settings, *, watchlist: Any = None) -> Routing:
    """The routing of ``settings``: its file (``settings.slack_channel`` overriding the default channel).

    Without a routing file, ``NEWS_SLACK_CHANNEL`` alone is a valid configuration (everything goes there).
    """
    path = settings.routing_file
    if not path.exists() and settings.slack_channel:
        problem = check_channel(settings.slack_channel)
        if problem:
            raise ConfigError(f"NEWS_SLACK_CHANNEL: channel {problem}")
        log.info("no routing file at %s: every alert goes to %s", path, settings.slack_channel)
        return Routing(default_channel=settings.slack_channel, source=None)
    return load_routing(path, default_channel=settings.slack_channel, watchlist=watchlist)
