"""The default feed list (config/feeds.yaml): it loads, covers the sources the mission needs, and a broken
copy of it fails with an error that names the file, the entry and its line."""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

import pytest

from pipeline.config.feeds import load_feeds
from pipeline.errors import ConfigError
from pipeline.settings import PROJECT_ROOT

FEEDS_FILE = PROJECT_ROOT / "config" / "feeds.yaml"
CATEGORIES = {"cn-finance", "cn-tech", "en-tech", "en-business", "semiconductor", "news-search", "rsshub"}


def test_default_list_loads_with_enough_enabled_feeds() -> None:
    enabled = load_feeds(FEEDS_FILE)
    assert len(enabled) >= 25
    assert all(f.enabled for f in enabled)
    assert len(load_feeds(FEEDS_FILE, include_disabled=True)) > len(enabled), "the paid source stays listed"


def test_default_list_covers_both_languages_and_every_category() -> None:
    enabled = load_feeds(FEEDS_FILE)
    assert {"zh", "en"} <= {f.language for f in enabled}
    assert {f.category for f in enabled} == CATEGORIES
    # Both languages in the search feeds, since that is where stories from outlets without RSS arrive.
    assert {f.language for f in enabled if f.category == "news-search"} >= {"zh", "en"}


def test_default_list_has_unique_ids_and_urls_and_valid_urls() -> None:
    feeds = load_feeds(FEEDS_FILE, include_disabled=True)
    ids = [f.id for f in feeds]
    urls = [f.url for f in feeds]
    assert len(set(ids)) == len(ids)
    assert len(set(urls)) == len(urls)
    for feed in feeds:
        parts = urlsplit(feed.url)
        assert parts.scheme in ("http", "https") and parts.hostname, feed.id
        assert "." in parts.hostname, f"{feed.id}: {feed.url} is not a public host"
        assert feed.name, f"{feed.id} has no display name"


def test_rsshub_routes_share_one_replaceable_base() -> None:
    # docs/feeds.md switches them to the compose service by replacing this one prefix.
    rsshub = [f for f in load_feeds(FEEDS_FILE) if f.category == "rsshub"]
    assert len(rsshub) >= 5
    assert all(f.url.startswith("https://rsshub.app/") for f in rsshub)


def test_search_feeds_do_not_fetch_redirect_pages() -> None:
    search = [f for f in load_feeds(FEEDS_FILE) if f.category == "news-search"]
    assert search and not any(f.fetch_pages for f in search)


# --- broken copies of the default list -------------------------------------------------------------------


def _entry_span(lines: list[str], feed_id: str) -> tuple[int, int]:
    """0-based [start, end) of the lines of the entry whose ``- id:`` is ``feed_id``."""
    start = lines.index(f"  - id: {feed_id}")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("  - id: ")), len(lines))
    return start, end


def _broken_copy(tmp_path: Path, feed_id: str, old: str | None, new: str | None) -> tuple[Path, int]:
    """A copy of the default list with one line of ``feed_id``'s entry replaced (``new=None``: deleted).

    Returns the copy and the 1-based line where the entry starts.
    """
    lines = FEEDS_FILE.read_text(encoding="utf-8").splitlines()
    start, end = _entry_span(lines, feed_id)
    index = start if old is None else next(i for i in range(start, end) if lines[i].strip() == old)
    if new is None:
        del lines[index]
    else:
        lines[index] = lines[index].replace(lines[index].strip(), new)
    path = tmp_path / "feeds.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, start + 1


class Breakage(NamedTuple):
    """One edit of one entry of the default list, and what the error must then say."""

    feed_id: str
    old: str | None  # the line to replace (None: the entry's ``- id:`` line)
    new: str | None  # its replacement (None: delete the line)
    error: str
    named_id: str  # the id the error names


BREAKAGES = {
    "missing-url": Breakage(
        "techcrunch", "url: https://techcrunch.com/feed/", None, "missing required field 'url'", "techcrunch"
    ),
    "bad-language": Breakage(
        "theverge", "language: en", "language: english", "language 'english'", "theverge"
    ),
    "poll-minutes-as-string": Breakage(
        "huxiu", "poll_minutes: 30", 'poll_minutes: "30"', "poll_minutes", "huxiu"
    ),
    "enabled-as-string": Breakage(
        "ifanr", "enabled: true", 'enabled: "yes"', "enabled must be true or false", "ifanr"
    ),
    "duplicate-id": Breakage("ifanr", None, "- id: ithome", "duplicate id 'ithome'", "ithome"),
}


@pytest.mark.parametrize("case", BREAKAGES.values(), ids=BREAKAGES.keys())
def test_broken_copy_names_file_entry_and_line(tmp_path: Path, case: Breakage) -> None:
    path, line = _broken_copy(tmp_path, case.feed_id, case.old, case.new)
    with pytest.raises(ConfigError) as info:
        load_feeds(path)
    message = str(info.value)
    assert case.error in message
    assert str(path) in message
    assert f"id={case.named_id!r}" in message
    assert re.search(rf"\bline {line}\b", message), message


def test_docs_table_lists_every_feed() -> None:
    doc = (PROJECT_ROOT / "docs" / "feeds.md").read_text(encoding="utf-8")
    table = doc.split("## The default list", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `([a-z0-9][a-z0-9_.-]*)` \|", table, flags=re.MULTILINE))
    assert listed == {f.id for f in load_feeds(FEEDS_FILE, include_disabled=True)}
