"""The watch-list: big-tech companies to follow, plus the gazetteers of chip companies and chip products.

Loaded from a YAML file a user edits (``config/watchlist.yaml``, its format documented at its top) and
validated on load: every error is a ``ConfigError`` naming the file, the entry and its line.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.config.yamlfile import entry_name, load_yaml
from pipeline.errors import ConfigError
from pipeline.settings import PROJECT_ROOT, Settings

log = logging.getLogger(__name__)
_SEPARATORS = re.compile(r"[\s\-]+")
REGIONS = frozenset({"CN", "US", "EU", "JP", "KR", "TW", "IL", "OTHER"})

_COMPANY_KEYS = frozenset({"name", "region", "tickers", "aliases", "subsidiaries", "chip_units"})
_CHIP_COMPANY_KEYS = frozenset({"name", "region", "aliases"})
_CHIP_KEYS = frozenset({"name", "owner", "aliases", "patterns"})
_PATTERN_KEYS = frozenset({"regex", "name"})
_TOP_KEYS = frozenset({"companies", "chip_companies", "chips", "ignore", "chip_company_patterns"})


@dataclass(frozen=True)
class Company:
    """A big-tech company on the watch-list; ``aliases`` holds every name that means it (units included)."""

    name: str
    tickers: tuple[str, ...]
    aliases: tuple[str, ...]
    region: str
    subsidiaries: tuple[str, ...] = ()
    chip_units: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChipCompany:
    """A semiconductor company: a partner, supplier or investee, never the actor."""

    name: str
    aliases: tuple[str, ...]
    region: str = ""


@dataclass(frozen=True)
class ChipPattern:
    """A regular expression naming a chip family member; ``name`` is a template (``\\1`` = group 1)."""

    regex: str
    name: str


@dataclass(frozen=True)
class ChipProduct:
    """A named chip; ``owner`` is a watch-list company or a chip company (canonical name)."""

    name: str
    owner: str
    aliases: tuple[str, ...]
    patterns: tuple[ChipPattern, ...] = ()


@dataclass(frozen=True)
class Watchlist:
    """The validated content of a watch-list file. ``cache`` holds matchers compiled from it, once."""

    companies: tuple[Company, ...]
    chip_companies: tuple[ChipCompany, ...] = ()
    chips: tuple[ChipProduct, ...] = ()
    ignore: tuple[str, ...] = ()
    chip_company_patterns: tuple[str, ...] = ()
    source: str | None = None
    cache: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False, hash=False)

    @classmethod
    def load(cls, path: Path) -> Watchlist:
        """Load and validate ``path``; a ``ConfigError`` names the file, entry and line at fault."""
        data = load_yaml(path)
        return cls.from_data(data, source=str(path))

    @classmethod
    def from_data(cls, data: Any, *, source: str | None = None) -> Watchlist:
        """Validate parsed YAML (or an equivalent dict) into a ``Watchlist``."""
        return _Validator(source).watchlist(data)

    def company(self, name: str) -> Company | None:
        """The company called ``name``: its canonical name or any alias, case-insensitively."""
        index: dict[str, Company] | None = self.cache.get("company_index")
        if index is None:
            index = {}
            for c in self.companies:
                for n in (c.name, *c.aliases, *c.tickers):
                    index.setdefault(alias_key(n), c)
            self.cache["company_index"] = index
        return index.get(alias_key(name))

    def chip_company(self, name: str) -> ChipCompany | None:
        """The chip company called ``name`` (canonical name or alias), case-insensitively."""
        for c in self.chip_companies:
            if alias_key(name) in {alias_key(n) for n in (c.name, *c.aliases)}:
                return c
        return None

    @property
    def content_hash(self) -> str:
        """A short hash of the content, stored with a model so a changed watch-list can be noticed."""
        cached: str | None = self.cache.get("content_hash")
        if cached is None:
            payload = json.dumps(
                [
                    [(c.name, c.tickers, c.aliases, c.region, c.chip_units) for c in self.companies],
                    [(c.name, c.aliases) for c in self.chip_companies],
                    [
                        (c.name, c.owner, c.aliases, [(p.regex, p.name) for p in c.patterns])
                        for c in self.chips
                    ],
                    self.ignore,
                    self.chip_company_patterns,
                ],
                ensure_ascii=False,
            )
            cached = hashlib.sha256(payload.encode()).hexdigest()[:16]
            self.cache["content_hash"] = cached
        return cached


def alias_key(name: str) -> str:
    """How names are compared: lower case, spaces and hyphens removed ("T-Head" == "thead")."""
    return _SEPARATORS.sub("", name).lower()


class _Validator:
    """Turns parsed YAML into a ``Watchlist``, raising ``ConfigError`` that names the entry at fault."""

    def __init__(self, source: str | None) -> None:
        self.source = source

    def fail(self, message: str, entry: str | None = None) -> ConfigError:
        return ConfigError(message, path=self.source or "<watch-list>", entry=entry)

    def strings(
        self, item: Mapping[str, Any], key: str, entry: str, *, required: bool = False
    ) -> tuple[str, ...]:
        raw = item.get(key)
        if raw is None:
            if required:
                raise self.fail(f"{key!r} is required", entry)
            return ()
        if isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, list):
            raise self.fail(f"{key!r} must be a list of strings", entry)
        out: list[str] = []
        for value in raw:
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise self.fail(f"{key!r} holds {value!r}, not a string", entry)
            text = str(value).strip()
            if not text:
                raise self.fail(f"{key!r} holds an empty string", entry)
            if text not in out:
                out.append(text)
        return tuple(out)

    def name(self, item: Mapping[str, Any], entry: str) -> str:
        value = item.get("name")
        if not isinstance(value, str) or not value.strip():
            raise self.fail("'name' must be a non-empty string", entry)
        return value.strip()

    def entries(
        self, data: Mapping[str, Any], key: str, allowed: frozenset[str]
    ) -> Iterable[tuple[str, Any]]:
        raw = data.get(key) or []
        if not isinstance(raw, list):
            raise self.fail(f"{key!r} must be a list")
        for i, item in enumerate(raw):
            entry = f"{key} " + entry_name(item, i, key="name")
            if not isinstance(item, dict):
                raise self.fail("entry must be a mapping", entry)
            unknown = sorted(set(item) - allowed)
            if unknown:
                raise self.fail(f"unknown key(s) {unknown}; allowed: {sorted(allowed)}", entry)
            yield entry, item

    def regex(self, pattern: str, entry: str) -> None:
        try:
            compiled = re.compile(pattern)
        except re.error as e:
            raise self.fail(f"invalid regular expression {pattern!r}: {e}", entry) from e
        if compiled.match(""):
            raise self.fail(f"regular expression {pattern!r} matches the empty string", entry)

    def watchlist(self, data: Any) -> Watchlist:
        if not isinstance(data, dict):
            raise self.fail("top level must be a mapping with a 'companies' list")
        unknown = sorted(set(data) - _TOP_KEYS)
        if unknown:
            raise self.fail(f"unknown top-level key(s) {unknown}; allowed: {sorted(_TOP_KEYS)}")
        if not data.get("companies"):
            raise self.fail("'companies' must list at least one company")

        owners: dict[str, str] = {}  # alias key -> entry that claimed it (to report clashes)
        names: set[str] = set()

        def claim(alias: str, entity: str, entry: str) -> None:
            k = alias_key(alias)
            previous = owners.get(k)
            if previous is not None and previous != entity:
                raise self.fail(f"alias {alias!r} already names {previous!r}", entry)
            owners[k] = entity

        companies: list[Company] = []
        for entry, item in self.entries(data, "companies", _COMPANY_KEYS):
            name = self.name(item, entry)
            if name in names:
                raise self.fail(f"duplicate name {name!r}", entry)
            names.add(name)
            region = str(item.get("region") or "").strip().upper()
            if region not in REGIONS:
                raise self.fail(f"'region' must be one of {sorted(REGIONS)}, not {region!r}", entry)
            aliases = self.strings(item, "aliases", entry)
            subsidiaries = self.strings(item, "subsidiaries", entry)
            units = self.strings(item, "chip_units", entry)
            every = tuple(dict.fromkeys((name, *aliases, *subsidiaries, *units)))
            for alias in every:
                claim(alias, name, entry)
            companies.append(
                Company(
                    name=name,
                    tickers=self.strings(item, "tickers", entry),
                    aliases=every,
                    region=region,
                    subsidiaries=subsidiaries,
                    chip_units=units,
                )
            )

        chip_companies: list[ChipCompany] = []
        for entry, item in self.entries(data, "chip_companies", _CHIP_COMPANY_KEYS):
            name = self.name(item, entry)
            if name in names:
                raise self.fail(f"duplicate name {name!r}", entry)
            names.add(name)
            aliases = tuple(dict.fromkeys((name, *self.strings(item, "aliases", entry))))
            for alias in aliases:
                claim(alias, name, entry)
            chip_companies.append(
                ChipCompany(name=name, aliases=aliases, region=str(item.get("region") or "").upper())
            )

        chips: list[ChipProduct] = []
        chip_names: set[str] = set()
        for entry, item in self.entries(data, "chips", _CHIP_KEYS):
            name = self.name(item, entry)
            if name in chip_names:
                raise self.fail(f"duplicate chip name {name!r}", entry)
            chip_names.add(name)
            owner = item.get("owner")
            if not isinstance(owner, str) or owner not in names:
                raise self.fail(f"'owner' {owner!r} is not a company or chip company of this file", entry)
            aliases = self.strings(item, "aliases", entry)
            for alias in aliases:
                claim(alias, f"chip {name}", entry)
            patterns: list[ChipPattern] = []
            raw_patterns = item.get("patterns") or []
            if not isinstance(raw_patterns, list):
                raise self.fail("'patterns' must be a list of {regex, name} mappings", entry)
            for p in raw_patterns:
                if not isinstance(p, dict) or not isinstance(p.get("regex"), str):
                    raise self.fail("each pattern needs a 'regex' string (and an optional 'name')", entry)
                unknown = sorted(set(p) - _PATTERN_KEYS)
                if unknown:
                    raise self.fail(f"pattern has unknown key(s) {unknown}", entry)
                self.regex(p["regex"], entry)
                template = p.get("name") or name
                if not isinstance(template, str):
                    raise self.fail("pattern 'name' must be a string", entry)
                try:
                    groups = re.compile(p["regex"]).groups
                    for ref in re.findall(r"\\(\d+)", template):
                        if int(ref) > groups:
                            raise ValueError(f"\\{ref} but the regex has {groups} group(s)")
                except ValueError as e:
                    raise self.fail(f"pattern name {template!r}: {e}", entry) from e
                patterns.append(ChipPattern(regex=p["regex"], name=template))
            if not aliases and not patterns:
                raise self.fail("a chip needs 'aliases' or 'patterns'", entry)
            chips.append(ChipProduct(name=name, owner=owner, aliases=aliases, patterns=tuple(patterns)))

        ignore = self.strings(data, "ignore", "ignore")
        cc_patterns = self.strings(data, "chip_company_patterns", "chip_company_patterns")
        for pattern in cc_patterns:
            self.regex(pattern, "chip_company_patterns")
        return Watchlist(
            companies=tuple(companies),
            chip_companies=tuple(chip_companies),
            chips=tuple(chips),
            ignore=ignore,
            chip_company_patterns=cc_patterns,
            source=self.source,
        )


def default_watchlist_path() -> Path:
    """The configured watch-list (``NEWS_WATCHLIST_FILE``), else the repository's ``config/watchlist.yaml``."""
    try:
        configured = Settings.from_env().watchlist_file
    except ConfigError:
        configured = None
    return (
        configured
        if configured is not None and configured.is_file()
        else PROJECT_ROOT / "config" / "watchlist.yaml"
    )


_CACHE: dict[tuple[str, int, int], Watchlist] = {}


def watchlist_for(settings: Settings) -> Watchlist | None:
    """The configured watch-list, cached until its file changes; None (logged) when it cannot be loaded.

    For callers that can do without one (Slack messages show names without tickers then).
    """
    path = settings.watchlist_file
    try:
        stat = path.stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size)
        if key not in _CACHE:
            _CACHE.clear()
            _CACHE[key] = Watchlist.load(path)
        return _CACHE[key]
    except (OSError, ConfigError) as e:
        log.warning("watch-list unavailable, alerts show company names without tickers: %s", e)
        return None
