from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pipeline.config.routing import load_routing, routing_for
from pipeline.config.watchlist import Watchlist
from pipeline.errors import ConfigError
from pipeline.settings import PROJECT_ROOT, Settings

WATCHLIST = Watchlist.load(PROJECT_ROOT / "config" / "watchlist.yaml")

RICH = """\
default_channel: "#chip-alerts"
default_receives: all
rules:
  - channel: "#chip-investments"
    event_types: [chip_investment]
  - channel: "#chip-news-cn"
    languages: [zh, mixed]
  - channel: "#hyperscalers"
    companies: [Google, AWS, 微软]
    event_types: [self_development]
  - channel: C0123456789
    companies: [阿里巴巴]
mute:
  companies: [Tesla]
  sources: [noisy-feed, "Spam Wire"]
  title_keywords: [Sponsored, 广告]
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "routing.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_file_is_valid() -> None:
    routing = load_routing(PROJECT_ROOT / "config" / "routing.yaml", watchlist=WATCHLIST)
    assert routing.default_channel == "#chip-alerts"
    assert routing.channels_for(companies=["Alibaba"], event_type="chip_investment", language="zh") == (
        "#chip-alerts",
    )


def test_rules_route_to_several_channels(tmp_path: Path) -> None:
    routing = load_routing(_write(tmp_path, RICH), watchlist=WATCHLIST)
    assert routing.channels == (
        "#chip-alerts",
        "#chip-investments",
        "#chip-news-cn",
        "#hyperscalers",
        "C0123456789",
    )
    # Aliases resolve to canonical names: AWS -> Amazon, 微软 -> Microsoft, 阿里巴巴 -> Alibaba.
    assert routing.channels_for(companies=["Amazon"], event_type="self_development", language="en") == (
        "#chip-alerts",
        "#hyperscalers",
    )
    assert routing.channels_for(companies=["Microsoft"], event_type="chip_investment", language="en") == (
        "#chip-alerts",
        "#chip-investments",
    )
    assert routing.channels_for(companies=["Alibaba"], event_type="chip_investment", language="zh") == (
        "#chip-alerts",
        "#chip-investments",
        "#chip-news-cn",
        "C0123456789",
    )
    # Every criterion of a rule must match.
    assert "#hyperscalers" not in routing.channels_for(
        companies=["Baidu"], event_type="self_development", language="en"
    )


def test_default_receives_unrouted(tmp_path: Path) -> None:
    routing = load_routing(
        _write(tmp_path, RICH.replace("default_receives: all", "default_receives: unrouted"))
    )
    assert routing.channels_for(companies=["Baidu"], event_type="chip_investment", language="en") == (
        "#chip-investments",
    )
    assert routing.channels_for(companies=["Baidu"], event_type="self_development", language="en") == (
        "#chip-alerts",
    )


def test_mute_list(tmp_path: Path) -> None:
    routing = load_routing(_write(tmp_path, RICH), watchlist=WATCHLIST)

    def reason(**kw: object) -> str | None:
        args: dict[str, object] = {
            "companies": ["Alibaba"],
            "feed_id": "feed-a",
            "source_name": "A",
            "title": "t",
        }
        args.update(kw)
        return routing.mute_reason(**args)  # type: ignore[arg-type]

    assert reason() is None
    assert reason(companies=["Alibaba", "tesla"]) == "company tesla"
    assert reason(feed_id="noisy-feed") == "source noisy-feed"
    assert reason(source_name="spam wire") == "source spam wire"
    assert reason(title="SPONSORED: chips") == "title keyword 'sponsored'"
    assert reason(title="阿里巴巴芯片广告") == "title keyword '广告'"


def test_settings_channel_overrides_default(tmp_path: Path, settings: Settings) -> None:
    s = dataclasses.replace(settings, routing_file=_write(tmp_path, RICH), slack_channel="#override")
    assert routing_for(s).default_channel == "#override"
    s = dataclasses.replace(s, slack_channel="")
    assert routing_for(s).default_channel == "#chip-alerts"


def test_missing_file_with_channel_setting_is_enough(tmp_path: Path, settings: Settings) -> None:
    s = dataclasses.replace(settings, routing_file=tmp_path / "absent.yaml", slack_channel="#only")
    routing = routing_for(s)
    assert routing.channels_for(companies=["Alibaba"], event_type=None, language="en") == ("#only",)
    with pytest.raises(ConfigError, match="file not found"):
        routing_for(dataclasses.replace(s, slack_channel=""))
    with pytest.raises(ConfigError, match="NEWS_SLACK_CHANNEL"):
        routing_for(dataclasses.replace(s, slack_channel="not a channel"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("default_channel: chip-alerts\n", "write the channel as '#chip-alerts'"),
        ("rules: []\n", "no default channel"),
        ('default_channel: "#a"\ncolour: red\n', "unknown top-level key"),
        ('default_channel: "#a"\ndefault_receives: some\n', "default_receives"),
        ('default_channel: "#a"\nrules:\n  - channel: "#b"\n', "line 3"),
        ('default_channel: "#a"\nrules:\n  - channel: "#b"\n', "at least one of"),
        ('default_channel: "#a"\nrules:\n  - channel: "#B C"\n    languages: [en]\n', "not a Slack channel"),
        (
            'default_channel: "#a"\nrules:\n  - channel: "#b"\n    event_types: [chips]\n',
            "event type 'chips'",
        ),
        ('default_channel: "#a"\nrules:\n  - channel: "#b"\n    languages: [fr]\n', "language 'fr'"),
        (
            'default_channel: "#a"\nrules:\n  - channel: "#b"\n    companies: Nvdia\n',
            "'Nvdia' is not on the watch",
        ),
        ('default_channel: "#a"\nrules:\n  - channel: "#b"\n    langs: [en]\n', "unknown field(s) ['langs']"),
        (
            'default_channel: "#a"\nrules:\n  - channel: "#b"\n    languages: [[en]]\n',
            "list of non-empty strings",
        ),
        ('default_channel: "#a"\nmute:\n  people: [x]\n', "mute, line 3"),
        ('default_channel: "#a"\nrules: {channel: "#b"}\n', "rules must be a list"),
        ("- a\n- b\n", "must be a mapping"),
        ('default_channel: "#a"\nrules: [\n', "invalid YAML"),
    ],
)
def test_invalid_files_name_the_file_and_entry(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_routing(path, watchlist=WATCHLIST)
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_rule_errors_name_the_rule(tmp_path: Path) -> None:
    text = 'default_channel: "#a"\nrules:\n  - channel: "#ok"\n    languages: [en]\n  - channel: "#bad"\n    x: 1\n'
    with pytest.raises(ConfigError, match=r"rules: entry 2 channel='#bad', line 5"):
        load_routing(_write(tmp_path, text))
