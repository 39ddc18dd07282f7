"""The feed-list loader: valid lists load, every kind of bad entry is named with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config.feeds import load_feeds, shard_feeds
from pipeline.errors import ConfigError

GOOD = """\
feeds:
  - id: cls-telegraph
    name: 财联社电报
    url: https://rsshub.app/cls/telegraph
    language: zh
    category: cn-finance
  - id: techcrunch
    url: https://techcrunch.com/feed/
    language: en
    enabled: false
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_loads_enabled_feeds(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    feeds = load_feeds(path)
    assert [f.id for f in feeds] == ["cls-telegraph"]
    assert feeds[0].display_name == "财联社电报" and feeds[0].poll_minutes == 15
    assert len(load_feeds(path, include_disabled=True)) == 2


def test_a_bare_list_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, "- {id: a, url: 'https://a.example/rss', language: en}\n")
    assert load_feeds(path)[0].id == "a"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{id: b, language: en}", "missing required field 'url'"),
        ("{id: b, url: 'ftp://b.example/rss', language: en}", "must be an http"),
        ("{id: b, url: 'https://b.example/rss', language: fr}", "language 'fr'"),
        ("{id: B!, url: 'https://b.example/rss', language: en}", "must be lowercase"),
        (
            "{id: b, url: 'https://b.example/rss', language: en, enabled: 'yes'}",
            "enabled must be true or false",
        ),
        ("{id: b, url: 'https://b.example/rss', language: en, poll_minutes: 0}", "poll_minutes"),
        ("{id: b, url: 'https://b.example/rss', language: en, colour: red}", "unknown field"),
        ("{id: a, url: 'https://b.example/rss', language: en}", "duplicate id 'a'"),
        ("just a string", "must be a mapping"),
        ("{id: off, url: 'https://b.example/rss', language: en}", "id must be a string, not False"),
    ],
)
def test_bad_entries_are_named(tmp_path: Path, entry: str, message: str) -> None:
    path = write(
        tmp_path, f"feeds:\n  - {{id: a, url: 'https://a.example/rss', language: en}}\n  - {entry}\n"
    )
    with pytest.raises(ConfigError, match=message) as info:
        load_feeds(path)
    assert str(path) in str(info.value)
    assert "entry 2" in str(info.value) and "line 3" in str(info.value)


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_feeds(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_feeds(write(tmp_path, "feeds: [\n"))
    with pytest.raises(ConfigError, match="expected a list"):
        load_feeds(write(tmp_path, "feeds: 3\n"))


def test_shards_keep_each_host_whole() -> None:
    from pipeline.models import FeedSpec

    feeds = [FeedSpec(id=f"f{i}", url="https://x.example/", language="en") for i in range(7)]
    # One host: its feeds are never split (the per-host spacing holds only within one fetch task).
    assert shard_feeds(feeds, 3) == [[f"f{i}" for i in range(7)]]
    assert shard_feeds([], 3) == []


def test_shards_balance_hosts_and_interleave_them() -> None:
    from pipeline.models import FeedSpec

    # 12 feeds on 4 hosts (a: 4 feeds, b: 4, c: 2, d: 2), listed in turn a b c d a b c d a b a b.
    hosts = "abcdabcdabab"
    feeds = [
        FeedSpec(id=f"f{i}", url=f"https://{h}.example:8080/feed{i}", language="en")
        for i, h in enumerate(hosts)
    ]
    shards = shard_feeds(feeds, 6)
    assert len(shards) == 2
    # Balanced: host a (4) and c (2) in one shard, b (4) and d (2) in the other.
    assert shards == [["f0", "f2", "f4", "f6", "f8", "f10"], ["f1", "f3", "f5", "f7", "f9", "f11"]]
    assert sorted(i for s in shard_feeds(feeds, 4) for i in s) == sorted(f.id for f in feeds)
    # Every host in one shard, whatever the size.
    for size in range(1, 13):
        shard_hosts = [{hosts[int(i[1:])] for i in shard} for shard in shard_feeds(feeds, size)]
        assert sum(map(len, shard_hosts)) == 4, (size, shard_hosts)


def test_within_a_shard_hosts_take_turns() -> None:
    from pipeline.models import FeedSpec

    feeds = [FeedSpec(id=f"a{i}", url=f"https://a.example/{i}", language="en") for i in range(3)]
    feeds += [FeedSpec(id=f"b{i}", url=f"https://B.example/{i}", language="en") for i in range(2)]
    assert shard_feeds(feeds, 10) == [["a0", "b0", "a1", "b1", "a2"]]
