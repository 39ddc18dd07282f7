from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.articles import add_classified
from support.fake_slack import FakeSlack

from pipeline.models import FOLLOW_UP, REHASH, Novelty
from pipeline.settings import Settings
from pipeline.slack.client import ChannelPacer, DryRunPoster, SlackUnavailableError, WebApiPoster, make_client
from pipeline.slack.digest import render_chart, send_daily_digest, summarize
from pipeline.store import POSTED, Store

NOW = datetime(2024, 5, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai

ROUTING = """\
default_channel: "#chip-alerts"
rules:
  - channel: "#chip-investments"
    event_types: [chip_investment]
mute:
  title_keywords: [sponsored]
"""


@pytest.fixture
def cfg(tmp_path: Path, settings: Settings) -> Settings:
    routing = tmp_path / "routing.yaml"
    routing.write_text(ROUTING, encoding="utf-8")
    return dataclasses.replace(settings, routing_file=routing, slack_channel="", display_tz="Asia/Shanghai")


@pytest.fixture
def poster(slack: FakeSlack) -> WebApiPoster:
    client = make_client("xoxb-test", base_url=slack.base_url, sleep=lambda s: None, backoff=0.001, timeout=5)
    return WebApiPoster(client, pacer=ChannelPacer(sleep=lambda s: None))


def add(
    store: Store,
    article_id: str,
    *,
    hours_ago: float,
    story: str,
    source: str = "Reuters",
    companies: tuple[str, ...] = ("Alibaba",),
    event_type: str = "self_development",
    title: str | None = None,
    relevant: bool = True,
    score: float = 0.9,
) -> None:
    add_classified(
        store, article_id, at=NOW - timedelta(hours=hours_ago), story=story, source=source,
        title=title or f"{companies[0]} chip story {article_id}", summary="", companies=companies,
        event_type=event_type, chips=(), relevant=relevant, score=score,
    )  # fmt: skip


@pytest.fixture
def week(store: Store) -> Store:
    add(store, "a1", hours_ago=2, story="s1", source="Reuters")
    add(store, "a2", hours_ago=3, story="s1", source="Caixin")
    add(store, "a3", hours_ago=5, story="s2", companies=("Google",), score=0.99)
    add(store, "a4", hours_ago=6, story="s3", companies=("Tencent",), event_type="chip_investment")
    add(store, "a5", hours_ago=72, story="s4", companies=("Google", "Alibaba"))
    add(store, "a6", hours_ago=4, story="s5", title="Sponsored: Alibaba chip webinar")
    add(store, "a7", hours_ago=4, story="s6", relevant=False)
    add(store, "a8", hours_ago=24 * 9, story="s7")  # older than a week
    return store


def test_digest_per_channel_with_chart(
    week: Store, cfg: Settings, poster: WebApiPoster, slack: FakeSlack
) -> None:
    viewpoints = {"s1": ("T-Head's new inference chip is in testing, made by a domestic foundry.", 2)}
    result = send_daily_digest(week, cfg, poster, now=NOW, viewpoints=viewpoints)
    assert result["date"] == "2024-05-02"
    main = result["channels"]["#chip-alerts"]
    assert (main["articles_day"], main["articles_week"], main["stories_day"]) == (4, 5, 3)
    assert main["posted"] is True and main["chart"] == "uploaded"
    inv = result["channels"]["#chip-investments"]
    assert (inv["articles_day"], inv["articles_week"]) == (1, 1)

    [digest] = slack.messages_for("#chip-alerts")
    text = "\n".join(b["text"]["text"] for b in digest["blocks"] if b.get("text"))
    assert digest["blocks"][0]["text"]["text"] == "Chip news digest — 2024-05-02"
    assert "What changed since yesterday: 3 stories (the day before: 0, +3)" in text
    # Stories grouped by company (the most active first), each with its core viewpoint and citations.
    companies = [b["text"]["text"] for b in digest["blocks"] if b.get("accessory")]
    assert [c.split(" — ")[0] for c in companies] == ["Alibaba", "Google", "Tencent"]
    assert companies[0].splitlines() == [
        "Alibaba — 1 story(ies) today · 2 article(s) today, 3 this week",
        "• T-Head's new inference chip is in testing, made by a domestic foundry. [2 source(s) cited]",
    ]
    # without a brief's viewpoint, a story shows its first headline
    assert companies[1].splitlines()[1] == "• Google chip story a3 [1 source(s)]"
    assert "Developing own chips: 3 / 4" in text and "Investing in chip companies: 1 / 1" in text
    assert "Sponsored" not in json.dumps(digest)  # muted articles are not counted or shown

    uploads = {u["channel"]: u for u in slack.uploads}
    chart = uploads[digest["channel"]]
    assert chart["content"].startswith(b"\x89PNG") and chart["thread_ts"] == digest["ts"]
    assert chart["filename"] == "chip-news-2024-05-02.png"
    assert len(slack.uploads) == 2

    # Once per channel and day: a second call (a task retry) posts nothing.
    again = send_daily_digest(week, cfg, poster, now=NOW + timedelta(hours=1))
    assert again["posted"] == 0 and again["channels"]["#chip-alerts"]["already_posted"] is True
    assert len(slack.messages) == 2 and len(slack.uploads) == 2
    assert {r.state for r in week.alerts(kinds=["daily", "daily_chart"])} == {POSTED}


def test_digest_says_what_changed_and_shows_rehashes(
    week: Store, cfg: Settings, poster: WebApiPoster, slack: FakeSlack
) -> None:
    add(week, "y1", hours_ago=30, story="s8", companies=("Meta",))  # the day before: Meta
    add(week, "r1", hours_ago=1, story="s9", title="Alibaba chip story again")
    week.save_novelty(
        [
            Novelty("s9", REHASH, "r1", "Wire", NOW - timedelta(hours=1), "s1", "Alibaba chip story a1", "x"),
            Novelty("s2", FOLLOW_UP, "a3", "Reuters", NOW - timedelta(hours=5), "s4", "Older Google story"),
        ]
    )
    send_daily_digest(week, cfg, poster, now=NOW)
    [digest] = slack.messages_for("#chip-alerts")
    text = "\n".join(b["text"]["text"] for b in digest["blocks"] if b.get("text"))
    assert (
        "What changed since yesterday: 3 stories (the day before: 1, +2); new in the news: Alibaba, Google, "
        "Tencent; quiet since: Meta; 1 follow-up(s) of earlier stories; 1 rehash(es) held back"
    ) in text
    assert (
        "Rehashes held back (not posted): 1\n• Alibaba chip story again (Wire) — rehash of “Alibaba chip story a1”"
        in text
    )
    assert "• Google chip story a3 [1 source(s) · follow-up]" in text
    # the rehash is not a story of the day, but its article is counted
    assert "Alibaba — 1 story(ies) today · 3 article(s) today" in text


def test_quiet_week_still_posts_without_chart(
    store: Store, cfg: Settings, poster: WebApiPoster, slack: FakeSlack
) -> None:
    result = send_daily_digest(store, cfg, poster, now=NOW)
    assert result["posted"] == 2 and slack.uploads == []
    assert "No relevant articles in the last 7 days." in json.dumps(slack.messages[0]["blocks"])


def test_slack_down_raises_and_a_retry_completes(
    week: Store, cfg: Settings, poster: WebApiPoster, slack: FakeSlack
) -> None:
    slack.fail_next("chat.postMessage", "server_error", times=3)
    with pytest.raises(SlackUnavailableError):
        send_daily_digest(week, cfg, poster, now=NOW)
    assert slack.messages == []
    result = send_daily_digest(week, cfg, poster, now=NOW)
    assert result["posted"] == 2 and len(slack.messages) == 2 and len(slack.uploads) == 2


def test_dry_run_writes_payloads_and_chart(week: Store, cfg: Settings) -> None:
    poster = DryRunPoster(cfg.dry_run_file)
    result = send_daily_digest(week, cfg, poster, now=NOW)
    assert result["posted"] == 2 and len(result["previews"]) == 2
    lines = [json.loads(x) for x in cfg.dry_run_file.read_text().splitlines()]
    assert [x["method"] for x in lines].count("chat.postMessage") == 2
    uploads = [x for x in lines if x["method"] == "files.uploadV2"]
    assert len(uploads) == 2 and Path(uploads[0]["saved_to"]).read_bytes().startswith(b"\x89PNG")
    assert {r.channel for r in week.alerts(kinds=["daily"])} == {
        "dry-run:#chip-alerts",
        "dry-run:#chip-investments",
    }


def test_summarize_and_chart_directly(week: Store) -> None:
    items = [(a, c) for a, c in week.list_articles(since=NOW - timedelta(days=7)) if c and c.relevant]
    summary = summarize(items, now=NOW, date_label="d")
    assert summary.by_event[0] == ("self_development", 4, 5)
    assert [c.name for c in summary.companies][:3] == ["Alibaba", "Google", "Tencent"]
    png = render_chart(items, now=NOW, tz="UTC")
    assert png.startswith(b"\x89PNG") and len(png) > 5000
