"""The feed list: ``config/feeds.yaml`` loaded into ``FeedSpec`` values and validated."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pipeline.config.yamlfile import entry_name, list_item_lines, load_yaml
from pipeline.errors import ConfigError
from pipeline.models import LANGUAGES, FeedSpec

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_FIELDS = {"id", "url", "language", "name", "category", "enabled", "poll_minutes", "fetch_pages", "notes"}


def _feed_from_entry(item: Any, index: int, path: Path) -> FeedSpec:
    where = entry_name(item, index)
    if not isinstance(item, dict):
        lines = list_item_lines(path, "feeds")
        if index < len(lines):
            where += f", line {lines[index]}"
        raise ConfigError(
            "each feed must be a mapping with id, url and language", path=str(path), entry=where
        )
    unknown = set(item) - _FIELDS
    if unknown:
        raise ConfigError(f"unknown field(s) {sorted(unknown)}", path=str(path), entry=where)
    for required in ("id", "url", "language"):
        value = item.get(required)
        if value is None or value == "":
            raise ConfigError(f"missing required field {required!r}", path=str(path), entry=where)
        if not isinstance(value, str):
            # YAML reads off/no/yes/on as booleans and 0123 as a number: such a value must be quoted.
            raise ConfigError(
                f"{required} must be a string, not {value!r} (quote it in YAML)", path=str(path), entry=where
            )
    feed_id = str(item["id"])
    if not _ID_RE.match(feed_id):
        raise ConfigError(
            f"id {feed_id!r} must be lowercase letters, digits, '.', '_' or '-'", path=str(path), entry=where
        )
    url = str(item["url"]).strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"url {url!r} must be an http(s) URL", path=str(path), entry=where)
    language = str(item["language"])
    if language not in LANGUAGES:
        raise ConfigError(f"language {language!r} must be one of {LANGUAGES}", path=str(path), entry=where)
    enabled = item.get("enabled", True)
    fetch_pages = item.get("fetch_pages", True)
    for name, value in (("enabled", enabled), ("fetch_pages", fetch_pages)):
        if not isinstance(value, bool):
            raise ConfigError(f"{name} must be true or false, not {value!r}", path=str(path), entry=where)
    poll = item.get("poll_minutes", 15)
    if not isinstance(poll, int) or isinstance(poll, bool) or not 1 <= poll <= 24 * 60:
        raise ConfigError(f"poll_minutes must be 1..1440, not {poll!r}", path=str(path), entry=where)
    return FeedSpec(
        id=feed_id,
        url=url,
        language=language,
        name=str(item["name"]) if item.get("name") else None,
        category=str(item["category"]) if item.get("category") else None,
        enabled=enabled,
        poll_minutes=poll,
        fetch_pages=fetch_pages,
    )


def load_feeds(path: Path, *, include_disabled: bool = False) -> list[FeedSpec]:
    """Read and validate the feed list; errors name the file and the entry (id and line)."""
    data = load_yaml(path)
    items = data.get("feeds") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ConfigError("expected a list of feeds (or a mapping with a 'feeds' list)", path=str(path))
    feeds: list[FeedSpec] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        feed = _feed_from_entry(item, index, path)
        if feed.id in seen:
            raise ConfigError(
                f"duplicate id {feed.id!r} (first at entry {seen[feed.id] + 1})",
                path=str(path),
                entry=entry_name(item, index),
            )
        seen[feed.id] = index
        feeds.append(feed)
    return [f for f in feeds if include_disabled or f.enabled]


def feed_host(feed: FeedSpec) -> str:
    """The host a feed is fetched from (what the fetcher's per-host spacing is keyed on)."""
    return (urlsplit(feed.url).hostname or "").lower()


def shard_feeds(feeds: list[FeedSpec], shard_size: int) -> list[list[str]]:
    """Split feed ids into about ``len(feeds) / shard_size`` shards for the mapped fetch tasks.

    Every feed of one host goes into the same shard: the fetcher spaces its requests to a host within one
    task, so a host split over shards running at once would get several requests at a time. Hosts are
    dealt largest first to the least-filled shard, so the shards come out balanced (one may exceed
    ``shard_size`` by less than one host's feeds; a host with more feeds than that is one shard). Within a
    shard the feeds take turns by host, so the fetch threads do not all wait on one host's spacing.
    """
    by_host: dict[str, list[str]] = {}
    for feed in feeds:
        by_host.setdefault(feed_host(feed), []).append(feed.id)
    count = -(-len(feeds) // shard_size)
    shards: list[list[list[str]]] = [[] for _ in range(count)]
    filled = [0] * count
    for group in sorted(by_host.values(), key=len, reverse=True):  # stable: config order among equals
        target = filled.index(min(filled))
        shards[target].append(group)
        filled[target] += len(group)
    return [_take_turns(groups) for groups in shards if groups]


def _take_turns(groups: list[list[str]]) -> list[str]:
    """The first feed of every host, then the second of every host, and so on."""
    return [group[i] for i in range(max(map(len, groups))) for group in groups if i < len(group)]
