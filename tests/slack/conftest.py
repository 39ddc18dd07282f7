"""Fixtures of the Slack tests: a store on tmpfs, the fake Slack Web API, a poster driving the real
``slack_sdk`` against it with a fake clock, and settings that route to test channels."""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.fake_clock import FakeClock
from support.fake_slack import FakeSlack

from pipeline.settings import Settings
from pipeline.slack.client import ChannelPacer, WebApiPoster, make_client
from pipeline.store import Store, open_store

ROUTING = """\
default_channel: "#chip-alerts"
default_receives: all
rules:
  - channel: "#chip-investments"
    event_types: [chip_investment]
mute:
  title_keywords: [sponsored]
  sources: [spam-feed]
"""


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A SQLite store on tmpfs when there is one: the ledger commits often and fsync dominates otherwise."""
    folder = Path(tempfile.mkdtemp(dir="/dev/shm")) if Path("/dev/shm").is_dir() else tmp_path
    db = open_store(f"sqlite:///{folder}/news.db")
    yield db
    db.dispose()
    if folder != tmp_path:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def cfg(tmp_path: Path, settings: Settings, slack: FakeSlack) -> Settings:
    routing = tmp_path / "routing.yaml"
    routing.write_text(ROUTING, encoding="utf-8")
    return dataclasses.replace(
        settings,
        routing_file=routing,
        slack_channel="",
        display_tz="UTC",
        digest_threshold=3,
        ops_channel="#chip-ops",
        slack_token="xoxb-test",
        slack_base_url=slack.base_url,
    )


@pytest.fixture
def poster(slack: FakeSlack, clock: FakeClock) -> WebApiPoster:
    client = make_client("xoxb-test", base_url=slack.base_url, sleep=clock.sleep, backoff=0.001, timeout=5)
    return WebApiPoster(client, pacer=ChannelPacer(clock=clock, sleep=clock.sleep))
