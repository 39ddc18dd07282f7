"""Story briefs and novelty stamps through the ledger against the fake Slack (the real slack_sdk): a brief
is posted once into its story's thread and edited in place for every newer version; retries and racing
runs never post it twice; hostile text stays inert; 30 sources fit; rehashes are held back and follow-ups
link the earlier thread."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from support.articles import add_classified
from support.fake_slack import FakeSlack, blocks_text, validate_blocks

from pipeline.analysis.brief import build_brief, story_facts
from pipeline.analysis.brief_groups import default_grouper
from pipeline.models import FOLLOW_UP, NEW, REHASH, Brief, Novelty, RunInfo
from pipeline.settings import Settings
from pipeline.slack.alerts import send_alerts
from pipeline.slack.blocks import MAX_BLOCKS_TEXT, MAX_SECTION_TEXT, brief_message, check_message
from pipeline.slack.client import ChannelPacer, DryRunPoster, WebApiPoster, make_client
from pipeline.store import POSTED, Store

T0 = datetime(2025, 9, 15, 1, 30, tzinfo=UTC)
SUMMARIES = [
    "阿里巴巴旗下平头哥研发出一款新的AI推理芯片，目前正在测试中。与此前产品不同，新芯片由国内企业代工制造，可支持更广泛的推理场景。",
    "Alibaba's chip unit T-Head has built a new inference chip that is now being tested. Unlike its earlier AI "
    "processors, the new chip is made by a Chinese manufacturer.",
    "据知情人士透露，平头哥新一代AI推理芯片正在测试。与此前产品不同，新芯片由国内企业代工制造，可支持更广泛的推理场景。"
    "不过国产先进制程产能有限，新芯片何时量产仍不明朗。",
    "Alibaba has pledged to spend at least 380 billion yuan on cloud and AI infrastructure over three years. "
    "Chinese foundries still trail the most advanced processes abroad, which may limit the chip's performance.",
]
SOURCES = ["示例财经网", "Example Business Daily", "示例科技", "Example Semi Review"]


def article(
    store: Store, n: int, *, story: str = "s1", summary: str | None = None, source: str | None = None
) -> str:
    return add_classified(
        store, f"{story}-a{n}", at=T0 + timedelta(minutes=20 * n), story=story,
        source=source or SOURCES[n % len(SOURCES)], summary=summary or SUMMARIES[n % len(SUMMARIES)],
        title=f"Alibaba chip report {n}", chips=(),
    )  # fmt: skip


def brief_of(store: Store, story: str = "s1") -> Brief:
    articles = [a for a, _ in store.story_items([story])[story]]
    facts = story_facts(story, companies=["Alibaba"], event_type="self_development")
    return build_brief(articles, facts, grouper=default_grouper())


def run(n: int) -> RunInfo:
    start = T0 + timedelta(minutes=15 * n)
    return RunInfo(
        run_id=f"scheduled__{n}",
        run_type="scheduled",
        window_start=start,
        window_end=start + timedelta(minutes=15),
    )


def brief_messages(slack: FakeSlack) -> list[dict[str, Any]]:
    return [
        m
        for m in slack.messages
        if (m["metadata"] or {}).get("event_payload", {}).get("alert_id", "").startswith("brief-")
    ]


def send(store: Store, cfg: Settings, poster: Any, ids: list[str], n: int, **kw: Any):  # type: ignore[no-untyped-def]
    return send_alerts(
        store,
        cfg,
        article_ids=ids,
        run=run(n),
        poster=poster,
        briefs=[brief_of(store)],
        now=T0 + timedelta(hours=n),
        **kw,
    )


def test_a_brief_is_posted_once_and_edited_in_place_as_sources_arrive(
    store: Store, cfg: Settings, poster: WebApiPoster, slack: FakeSlack
) -> None:
    ids = [article(store, 0), article(store, 1)]
    report = send(store, cfg, poster, ids, 1)
    assert report.posted == 3 and report.briefs == 1 and report.briefs_edited == 0
    parent, first_reply, second_reply = slack.messages
    # the brief is the first reply in the story's thread, before "also reported by"
    assert [m["thread_ts"] for m in (first_reply, second_reply)] == [parent["ts"]] * 2
    [brief] = brief_messages(slack)
    assert brief is first_reply and brief["reply_broadcast"] is False
    assert "简报第 2 版 · 2 个来源" in json.dumps(brief["blocks"], ensure_ascii=False)  # Chinese leads

    # a new source: the same message is edited with version 3; nothing new is posted
    ids.append(article(store, 2))
    report = send(store, cfg, poster, ids, 2)
    assert report.briefs == 1 and report.briefs_edited == 1
    assert len(brief_messages(slack)) == 1 and brief_messages(slack)[0]["edits"] == 1
    [update] = slack.updates
    assert update["ts"] == brief["ts"] and update["params"]["parse"] == "none"
    assert update["channel"] == slack.channel_id("#chip-alerts")  # chat.update takes the channel id
    text = json.dumps(brief_messages(slack)[0]["blocks"], ensure_ascii=False)
    assert "简报第 3 版 · 3 个来源" in text
    # the sentence two sources share is one point citing both
    assert "新芯片由国内企业代工制造，可支持更广泛的推理场景。 [1][3]" in text

    # a re-run, and a run with nothing new for the story, change nothing
    assert send(store, cfg, poster, ids, 2).briefs_edited == 0
    assert send(store, cfg, poster, [], 3).briefs_edited == 0
    assert len(slack.updates) == 1 and len(brief_messages(slack)) == 1
    ids.append(article(store, 3))
    assert send(store, cfg, poster, ids, 4).briefs_edited == 1
    assert len(slack.updates) == 2 and len(brief_messages(slack)) == 1
    [row] = store.alerts(kinds=["brief"])
    assert row.state == POSTED and row.ts == brief["ts"] and store.brief_versions(row.alert_id) == (4, 4)
    assert row.model_version == "m1"  # the model that alerted the story, as its parent says


def test_a_lost_connection_never_posts_a_brief_twice(
    store: Store, cfg: Settings, poster: WebApiPoster, slack: FakeSlack
) -> None:
    ids = [article(store, 0)]
    send_alerts(store, cfg, article_ids=ids, run=run(1), poster=poster)  # one source: no brief yet
    ids.append(article(store, 1))
    slack.fail_next("chat.postMessage", "drop")  # the brief reaches Slack, the answer is lost
    report = send(store, cfg, poster, ids, 2)
    assert report.pending == 1 and len(brief_messages(slack)) == 1
    # the next run finds it in the thread by its alert id and edits it rather than posting again
    report = send(store, cfg, poster, ids, 3)
    assert report.recovered == 1 and report.briefs_edited == 1 and report.pending == 0
    assert len(brief_messages(slack)) == 1 and slack.calls_of("conversations.replies")
    # an edit whose answer is lost is simply sent again (an edit is idempotent)
    ids.append(article(store, 2))
    slack.fail_next("chat.update", "server_error", times=3)
    down = send(store, cfg, poster, ids, 4)
    assert down.outage and down.pending == 2  # the edit and the new source's reply wait for Slack
    again = send(store, cfg, poster, ids, 5)
    assert again.briefs_edited == 1 and again.posted == 1 and again.pending == 0
    assert len(brief_messages(slack)) == 1
    assert "简报第 3 版" in json.dumps(brief_messages(slack)[0]["blocks"], ensure_ascii=False)


def test_racing_runs_post_one_brief_and_end_with_the_newest_version(
    store: Store, cfg: Settings, slack: FakeSlack
) -> None:
    ids = [article(store, n) for n in range(4)]
    briefs = [
        build_brief([a for a, _ in store.story_items(["s1"])["s1"]][:k], story_facts("s1", companies=["Alibaba"], event_type="self_development"), grouper=default_grouper())
        for k in (2, 3, 4, 3, 2, 4)
    ]  # fmt: skip
    send_alerts(store, cfg, article_ids=ids[:1], run=run(0), poster=_poster(slack))  # the story's parent

    def one_run(brief: Brief) -> int:
        report = send_alerts(store, cfg, article_ids=ids, run=run(1), poster=_poster(slack), briefs=[brief])
        return report.posted

    with ThreadPoolExecutor(3) as pool:
        posted = [f.result() for f in [pool.submit(one_run, b) for b in briefs]]  # re-raises any crash
    send_alerts(
        store, cfg, article_ids=ids, run=run(2), poster=_poster(slack)
    )  # a later run delivers the rest
    assert sum(posted) >= 1
    assert len(brief_messages(slack)) == 1
    assert "简报第 4 版 · 4 个来源" in json.dumps(brief_messages(slack)[0]["blocks"], ensure_ascii=False)
    assert len(slack.updates) <= len(briefs)
    [row] = store.alerts(kinds=["brief"])
    assert row.state == POSTED and store.brief_versions(row.alert_id) == (4, 4)


def _poster(slack: FakeSlack) -> WebApiPoster:
    client = make_client("xoxb-test", base_url=slack.base_url, sleep=lambda s: None, backoff=0.001, timeout=5)
    return WebApiPoster(client, pacer=ChannelPacer(min_interval=0.0, sleep=lambda s: None))


def test_a_hostile_sentence_stays_inert_in_the_brief(
    store: Store, cfg: Settings, poster: WebApiPoster, slack: FakeSlack
) -> None:
    hostile = (
        "<!channel> Alibaba's chip unit T-Head is testing a new AI inference chip <https://evil.example|Reuters>. "
        "@here *Alibaba* has pledged \u202eto spend 380 billion yuan on AI infrastructure <@U123>."
    )
    ids = [article(store, 0, summary=hostile, source="<b>Evil</b> @everyone"), article(store, 1)]
    send(store, cfg, poster, ids, 1)
    [brief] = brief_messages(slack)
    raw = json.dumps(brief["params"], ensure_ascii=False)
    for needle in ("<!", "<@", "<http", "\u202e"):
        assert needle not in raw
    text = json.dumps([b for b in brief["blocks"]], ensure_ascii=False)
    assert "&lt;!channel&gt;" in text and "@\u2060here" in text and "@\u2060everyone" in text
    assert all(o.get("type") != "mrkdwn" for b in brief["blocks"] for o in (b.get("text") or {},))
    assert "@here" not in brief["text"] and "<!channel>" not in brief["text"]


def test_a_story_with_30_sources_fits_every_slack_limit(
    store: Store, cfg: Settings, poster: WebApiPoster, slack: FakeSlack
) -> None:
    def distinct(n: int, k: int) -> str:
        return " ".join(f"term{n}x{k}x{i}" for i in range(5))

    ids = [
        article(
            store,
            n,
            source=f"Outlet number {n} with a longer name",
            summary=f"Analysts warn that {distinct(n, 0)} could delay Alibaba's chip. "
            f"Alibaba invested in {distinct(n, 1)} suppliers for the chip. "
            f"T-Head works with {distinct(n, 2)} foundry partners on the chip.",
        )
        for n in range(30)
    ]
    brief = brief_of(store)
    assert brief.version == 30 and brief.points > 60
    message = brief_message(brief, display_tz="UTC", alert_id="brief-x")
    assert check_message(message) == [] and validate_blocks(message["blocks"]) == []
    assert blocks_text(message["blocks"]) <= MAX_BLOCKS_TEXT
    assert all(len(b["text"]["text"]) <= MAX_SECTION_TEXT for b in message["blocks"] if b.get("text"))
    context = message["blocks"][-1]["elements"][0]["text"]
    shown = json.dumps(message["blocks"]).count("\\u2022")  # one bullet per point shown
    assert context == f"{brief.points - 1 - shown} more point(s) left out ({brief.points - 1} in all)"
    report = send(store, cfg, poster, ids, 1)
    assert report.failed == 0 and len(brief_messages(slack)) == 1  # the fake checks Slack's limits too


def test_every_alert_carries_the_novelty_stamp(
    store: Store, cfg: Settings, poster: WebApiPoster, slack: FakeSlack
) -> None:
    ids = [article(store, 0), article(store, 1)]
    first = Novelty("s1", NEW, "s1-a0", "示例财经网", T0)
    send(store, cfg, poster, ids, 1, novelty={"s1": first})
    parent, _, reply = slack.messages
    for message, minutes in ((parent, 60), (reply, 60)):
        context = message["blocks"][-1]["elements"][0]["text"]
        assert context == f"First: 示例财经网 · 2025-09-15 01:30 UTC · {minutes} min to alert · new"


def test_a_rehash_is_not_posted_and_a_follow_up_links_the_earlier_thread(
    store: Store, cfg: Settings, poster: WebApiPoster, slack: FakeSlack
) -> None:
    old = [article(store, 0, story="s-old")]
    send_alerts(store, cfg, article_ids=old, run=run(0), poster=poster)
    [earlier] = slack.messages
    permalink = store.alerts(story_id="s-old")[0].permalink
    assert permalink

    rehash = [article(store, 1, story="s-re")]
    follow = [article(store, 2, story="s-fu")]
    novelty = {
        "s-re": Novelty("s-re", REHASH, "s-re-a1", "Wire", T0, "s-old", "Alibaba chip report 0", "nothing"),
        "s-fu": Novelty(
            "s-fu", FOLLOW_UP, "s-fu-a2", "Daily", T0, "s-old", "Alibaba chip report 0", "new: x"
        ),
    }
    report = send_alerts(store, cfg, article_ids=rehash + follow, run=run(1), poster=poster, novelty=novelty)
    assert report.rehashes == 1 and report.posted == 1
    [follow_up] = slack.messages[1:]
    assert follow_up["thread_ts"] is None  # a new parent in the channel ...
    actions = next(b for b in follow_up["blocks"] if b["type"] == "actions")
    assert {"text": "Earlier story", "url": permalink} == {
        "text": actions["elements"][-1]["text"]["text"],
        "url": actions["elements"][-1]["url"],
    }  # ... that links the earlier story's thread
    context = [e["text"] for e in follow_up["blocks"][-1]["elements"]]
    assert context[0].endswith("· follow-up") and context[1] == "follow-up of: Alibaba chip report 0"
    assert earlier["ts"] not in json.dumps(follow_up["blocks"]) or permalink
    assert store.alerts(story_id="s-re") == []


def test_dry_run_writes_the_edit_and_previews_it(store: Store, cfg: Settings, tmp_path: Any) -> None:
    poster = DryRunPoster(tmp_path / "dry.jsonl")
    ids = [article(store, 0), article(store, 1)]
    send(store, cfg, poster, ids, 1)
    ids.append(article(store, 2))
    report = send(store, cfg, poster, ids, 2)
    lines = [json.loads(x) for x in (tmp_path / "dry.jsonl").read_text(encoding="utf-8").splitlines()]
    # run 1: parent, brief, reply; run 2: the brief's edit (planned first), then the new reply
    assert [x["method"] for x in lines] == ["chat.postMessage"] * 3 + ["chat.update", "chat.postMessage"]
    edit = lines[3]
    assert edit["payload"]["ts"] == lines[1]["ts"]  # the brief, posted as the first reply
    assert any("(edit of message" in p for p in report.previews)


def test_a_story_held_back_by_an_outage_gets_its_brief_right_after_it(
    store: Store, cfg: Settings, poster: WebApiPoster, slack: FakeSlack
) -> None:
    ids = [article(store, 0)]
    slack.fail_next("chat.postMessage", "server_error", times=3)
    assert send_alerts(store, cfg, article_ids=ids, run=run(1), poster=poster).pending == 1
    ids.append(article(store, 1))  # the next run: the story is still due, and now has a brief
    report = send(store, cfg, poster, ids, 2)
    assert report.posted == 3 and report.pending == 0
    parent, first_reply, second_reply = slack.messages
    assert brief_messages(slack) == [first_reply] and second_reply["thread_ts"] == parent["ts"]
