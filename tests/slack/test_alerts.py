from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from support.articles import add_classified
from support.fake_clock import FakeClock
from support.fake_slack import FakeSlack

from pipeline.models import Amount, RunInfo
from pipeline.settings import Settings
from pipeline.slack.alerts import send_alerts
from pipeline.slack.blocks import finalize
from pipeline.slack.client import ChannelPacer, DryRunPoster, WebApiPoster, make_client
from pipeline.slack.ledger import DeliveryConfigError
from pipeline.store import FAILED, PENDING, POSTED, Store, utcnow

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def add_article(
    store: Store,
    article_id: str,
    *,
    story: str,
    source: str = "Reuters",
    title: str | None = None,
    companies: tuple[str, ...] = ("Alibaba",),
    event_type: str = "self_development",
    amount: Amount | None = None,
    minutes: int = 0,
    relevant: bool = True,
) -> str:
    return add_classified(
        store, article_id, at=T0 + timedelta(minutes=minutes), story=story, source=source, title=title,
        companies=companies, event_type=event_type, amount=amount, relevant=relevant,
    )  # fmt: skip


def run_info(n: int = 1, run_type: str = "scheduled") -> RunInfo:
    start = T0 + timedelta(minutes=15 * (n - 1))
    return RunInfo(
        run_id=f"{run_type}__{n}",
        run_type=run_type,
        window_start=start,
        window_end=start + timedelta(minutes=15),
    )


def ledger(store: Store) -> dict[str, str]:
    return {r.alert_id: r.state for r in store.alerts()}


def test_alert_posted_once_and_rerun_posts_nothing(
    store: Store, cfg: Settings, poster: WebApiPoster, slack: FakeSlack
) -> None:
    ids = [add_article(store, "a1", story="s1")]
    report = send_alerts(store, cfg, article_ids=ids, run=run_info(), poster=poster)
    assert (report.planned, report.posted, report.already_posted, report.pending, report.failed) == (
        1,
        1,
        0,
        0,
        0,
    )
    assert report.channels == {"#chip-alerts": 1}
    [message] = slack.messages
    assert message["channel_name"] == "#chip-alerts" and message["thread_ts"] is None
    assert message["blocks"][0]["type"] == "header"
    [row] = store.alerts()
    assert row.state == POSTED and row.ts == message["ts"] and row.kind == "story"
    assert row.permalink and row.permalink.startswith("https://fake.slack.test/")
    assert message["metadata"]["event_payload"] == {"alert_id": row.alert_id}

    again = send_alerts(store, cfg, article_ids=ids, run=run_info(), poster=poster)
    assert (again.planned, again.posted, again.already_posted, again.new) == (1, 0, 1, 0)
    assert len(slack.messages) == 1


def test_irrelevant_and_unknown_articles_are_ignored(
    store: Store, cfg: Settings, poster: WebApiPoster, slack: FakeSlack
) -> None:
    add_article(store, "n1", story="s1", relevant=False)
    report = send_alerts(store, cfg, article_ids=["n1", "missing"], run=run_info(), poster=poster)
    assert report.planned == 0 and slack.messages == []


def test_story_thread_also_reported_by_and_material_broadcast(
    store: Store, cfg: Settings, poster: WebApiPoster, slack: FakeSlack
) -> None:
    # One run with two articles of a story: the parent, then a reply in its thread.
    a1 = add_article(store, "a1", story="s1", source="Reuters")
    a2 = add_article(store, "a2", story="s1", source="Bloomberg", minutes=3)
    report = send_alerts(store, cfg, article_ids=[a2, a1], run=run_info(1), poster=poster)
    assert report.posted == 2 and report.broadcasts == 0
    parent, reply = slack.messages
    assert "Reuters" in parent["text"]
    assert reply["thread_ts"] == parent["ts"] and reply["reply_broadcast"] is False
    assert reply["blocks"][0]["text"]["text"].startswith("Also reported by Bloomberg")

    # A later run: same facts -> thread only; a new company and amount -> also broadcast to the channel.
    a3 = add_article(store, "a3", story="s1", source="Caixin", minutes=20)
    a4 = add_article(
        store,
        "a4",
        story="s1",
        source="SCMP",
        companies=("Alibaba", "Tencent"),
        amount=Amount(1e9, "USD", "$1 billion"),
        minutes=21,
    )
    report = send_alerts(store, cfg, article_ids=[a3, a4], run=run_info(2), poster=poster)
    assert report.posted == 2 and report.broadcasts == 1
    assert [m["thread_ts"] for m in slack.messages[2:]] == [parent["ts"], parent["ts"]]
    assert [m["reply_broadcast"] for m in slack.messages[2:]] == [False, True]
    fields = [f["text"] for f in slack.messages[3]["blocks"][1]["fields"]]
    assert fields[0].startswith("What is new\nNew company: Tencent")
    assert "New amount: USD 1B ($1 billion)" in fields[0]
    assert [m["ts"] for m in slack.top_level("#chip-alerts")] == [parent["ts"], slack.messages[3]["ts"]]
    assert len(slack.replies(parent["ts"])) == 3


def test_routing_to_several_channels_and_muting(
    store: Store, cfg: Settings, poster: WebApiPoster, slack: FakeSlack
) -> None:
    ids = [
        add_article(store, "b1", story="s1", event_type="chip_investment"),
        add_article(store, "b2", story="s2", title="SPONSORED: Alibaba chip event"),
        add_article(store, "b3", story="s3", source="Spam Feed"),
    ]
    report = send_alerts(store, cfg, article_ids=ids, run=run_info(), poster=poster)
    assert report.muted == 2 and report.planned == 2
    assert report.channels == {"#chip-alerts": 1, "#chip-investments": 1}
    assert {r.channel for r in store.alerts()} == {"#chip-alerts", "#chip-investments"}
    assert len(slack.messages_for("#chip-alerts")) == 1 and len(slack.messages_for("#chip-investments")) == 1
    assert "SPONSORED" not in json.dumps([m["text"] for m in slack.messages])


def test_digest_above_threshold(
    store: Store, cfg: Settings, poster: WebApiPoster, slack: FakeSlack, clock: FakeClock
) -> None:
    ids = [add_article(store, f"d{i}", story=f"s{i}", minutes=i) for i in range(5)]
    report = send_alerts(store, cfg, article_ids=ids, run=run_info(), poster=poster)
    assert report.posted == 6 and report.groups == 1
    [digest] = slack.top_level("#chip-alerts")
    assert digest["blocks"][0]["text"]["text"].startswith("5 new chip alerts")
    assert len(digest["blocks"][1]["text"]["text"].splitlines()) == 5
    assert [m["thread_ts"] for m in slack.replies(digest["ts"])] == [digest["ts"]] * 5
    # About one message per second per channel.
    assert clock.sleeps == [1.0] * 5

    # A re-run posts nothing; a later article of one of those stories goes into the digest's thread.
    assert send_alerts(store, cfg, article_ids=ids, run=run_info(), poster=poster).posted == 0
    later = add_article(store, "d9", story="s2", source="Caixin", minutes=30)
    send_alerts(store, cfg, article_ids=[later], run=run_info(3), poster=poster)
    assert slack.messages[-1]["thread_ts"] == digest["ts"]
    assert len(slack.messages) == 7


def test_backfill_interval_goes_out_as_one_parent(
    store: Store, cfg: Settings, poster: WebApiPoster, slack: FakeSlack
) -> None:
    live = add_article(store, "k0", story="s0")
    send_alerts(store, cfg, article_ids=[live], run=run_info(1), poster=poster)
    ids = [live, add_article(store, "k1", story="s1"), add_article(store, "k2", story="s2")]
    backfill = run_info(1, "backfill")
    report = send_alerts(store, cfg, article_ids=ids, run=backfill, poster=poster)
    assert report.posted == 3 and report.already_posted == 1 and report.groups == 1
    parent = slack.messages[1]
    header = parent["blocks"][0]["text"]["text"]
    assert header.startswith(f"Backfill {backfill.interval_label}: 2 alert(s)")
    assert [m["thread_ts"] for m in slack.messages[2:]] == [parent["ts"], parent["ts"]]
    # Running the backfill again changes nothing.
    assert send_alerts(store, cfg, article_ids=ids, run=backfill, poster=poster).posted == 0
    assert len(slack.messages) == 4


def test_rate_limit_then_posted_once(
    store: Store, cfg: Settings, poster: WebApiPoster, slack: FakeSlack
) -> None:
    slack.fail_next("chat.postMessage", "ratelimited", times=1, retry_after=2)
    ids = [add_article(store, "r1", story="s1")]
    report = send_alerts(store, cfg, article_ids=ids, run=run_info(), poster=poster)
    assert report.posted == 1 and report.pending == 0
    assert len(slack.messages) == 1 and len(slack.calls_of("chat.postMessage")) == 2


def test_slack_down_keeps_alerts_pending_for_a_later_run(
    store: Store, cfg: Settings, poster: WebApiPoster, slack: FakeSlack
) -> None:
    a1 = add_article(store, "p1", story="s1")
    a2 = add_article(store, "p2", story="s1", source="Bloomberg", minutes=1)
    slack.fail_next("chat.postMessage", "server_error", times=3)
    report = send_alerts(store, cfg, article_ids=[a1, a2], run=run_info(1), poster=poster)
    assert report.posted == 0 and report.pending == 2 and report.outage and "http_500" in report.outage
    assert slack.messages == []
    assert set(ledger(store).values()) == {PENDING}
    # The next run has no new articles but delivers the older pending ones, parent first.
    report = send_alerts(store, cfg, article_ids=[], run=run_info(2), poster=poster)
    assert report.posted == 2 and report.pending == 0 and report.outage is None
    parent, reply = slack.messages
    assert reply["thread_ts"] == parent["ts"]
    assert set(ledger(store).values()) == {POSTED}


def test_invalid_auth_fails_with_a_hint_and_posts_later(
    store: Store, cfg: Settings, poster: WebApiPoster, slack: FakeSlack
) -> None:
    ids = [add_article(store, "i1", story="s1", event_type="chip_investment")]
    slack.fail_next("chat.postMessage", "invalid_auth")
    with pytest.raises(DeliveryConfigError, match="connection slack_api_default") as info:
        send_alerts(store, cfg, article_ids=ids, run=run_info(), poster=poster)
    assert info.value.report.posted == 0 and info.value.report.failed == 1
    assert slack.messages == []
    # The token error stopped every channel: one row failed, the other was not tried.
    assert sorted(ledger(store).values()) == [FAILED, PENDING]
    report = send_alerts(store, cfg, article_ids=ids, run=run_info(), poster=poster)
    assert report.posted == 2 and len(slack.messages) == 2


def test_channel_error_stops_only_that_channel(
    store: Store, cfg: Settings, poster: WebApiPoster, slack: FakeSlack
) -> None:
    slack.add_channel("#chip-investments", member=False)
    ids = [
        add_article(store, "c1", story="s1", event_type="chip_investment"),
        add_article(store, "c2", story="s2", event_type="chip_investment", minutes=1),
    ]
    with pytest.raises(DeliveryConfigError, match="invite the bot to #chip-investments") as info:
        send_alerts(store, cfg, article_ids=ids, run=run_info(), poster=poster)
    assert info.value.report.channels == {"#chip-alerts": 2}
    assert len(slack.messages_for("#chip-alerts")) == 2 and slack.messages_for("#chip-investments") == []
    states = sorted(r.state for r in store.alerts(channel="#chip-investments"))
    assert states == [FAILED, PENDING]  # one attempt, then the channel was skipped
    assert len(slack.calls_of("chat.postMessage")) == 3


def test_channel_not_found(store: Store, cfg: Settings, poster: WebApiPoster, slack: FakeSlack) -> None:
    slack.fail_next("chat.postMessage", "channel_not_found")
    ids = [add_article(store, "x1", story="s1")]
    with pytest.raises(DeliveryConfigError, match=r"routing\.yaml"):
        send_alerts(store, cfg, article_ids=ids, run=run_info(), poster=poster)
    assert slack.messages == [] and set(ledger(store).values()) == {FAILED}


def test_accept_then_drop_is_found_by_the_next_run(
    store: Store, cfg: Settings, poster: WebApiPoster, slack: FakeSlack
) -> None:
    ids = [add_article(store, "q1", story="s1")]
    slack.fail_next("chat.postMessage", "drop")
    report = send_alerts(store, cfg, article_ids=ids, run=run_info(1), poster=poster)
    assert report.posted == 0 and report.pending == 1
    assert len(slack.messages) == 1  # Slack has it; we could not know
    report = send_alerts(store, cfg, article_ids=ids, run=run_info(2), poster=poster)
    assert report.posted == 0 and report.recovered == 1 and report.pending == 0
    assert len(slack.messages) == 1 and len(slack.calls_of("chat.postMessage")) == 1
    [row] = store.alerts()
    assert row.state == POSTED and row.ts == slack.messages[0]["ts"]


def test_drop_of_a_thread_reply_is_found_in_the_thread(
    store: Store, cfg: Settings, poster: WebApiPoster, slack: FakeSlack
) -> None:
    send_alerts(
        store,
        cfg,
        article_ids=[add_article(store, "t1", story="s1")],
        run=run_info(1),
        poster=poster,
    )
    slack.fail_next("chat.postMessage", "drop")
    later = [add_article(store, "t2", story="s1", source="Bloomberg", minutes=20)]
    assert send_alerts(store, cfg, article_ids=later, run=run_info(2), poster=poster).pending == 1
    report = send_alerts(store, cfg, article_ids=later, run=run_info(2), poster=poster)
    assert report.recovered == 1 and len(slack.messages) == 2
    assert slack.calls_of("conversations.replies")


def test_stale_posting_claim_is_looked_up_before_posting(
    store: Store, cfg: Settings, poster: WebApiPoster, slack: FakeSlack
) -> None:
    ids = [
        add_article(store, "w1", story="s1"),
        add_article(store, "w2", story="s2", minutes=1),
    ]
    slack.fail_next("chat.postMessage", "server_error", times=3)
    send_alerts(store, cfg, article_ids=ids, run=run_info(), poster=poster)
    posted_by_dead_worker, never_posted = store.alerts()
    # Two workers were killed while holding claims: one after Slack accepted its message, one before.
    for row in (posted_by_dead_worker, never_posted):
        assert store.claim_alert(row.alert_id, uuid.uuid4().hex, stale_after=timedelta(0))
    assert posted_by_dead_worker.payload is not None
    poster.post_message(
        finalize(
            posted_by_dead_worker.payload["message"],
            channel="#chip-alerts",
            alert_id=posted_by_dead_worker.alert_id,
        )
    )
    # A fresh claim belongs to a live worker: nothing happens.
    fresh = send_alerts(store, cfg, article_ids=ids, run=run_info(), poster=poster)
    assert fresh.posted == 0 and fresh.pending == 2 and len(slack.messages) == 1
    report = send_alerts(store, cfg, article_ids=ids, run=run_info(), poster=poster, stale_after=timedelta(0))
    assert report.recovered == 1 and report.posted == 1
    assert len(slack.messages) == 2
    assert set(ledger(store).values()) == {POSTED}


def test_old_undelivered_alerts_expire(
    store: Store, cfg: Settings, poster: WebApiPoster, slack: FakeSlack
) -> None:
    slack.fail_next("chat.postMessage", "server_error", times=3)
    ids = [add_article(store, "e1", story="s1")]
    send_alerts(store, cfg, article_ids=ids, run=run_info(), poster=poster)
    later = utcnow() + timedelta(hours=cfg.late_window_hours + 1)
    report = send_alerts(store, cfg, article_ids=[], run=run_info(2), poster=poster, now=later)
    assert report.posted == 0 and report.pending == 0 and slack.messages == []
    [row] = store.alerts()
    assert row.state == FAILED and row.error and row.error.startswith("expired:")


def test_dry_run_then_real(store: Store, cfg: Settings, poster: WebApiPoster, slack: FakeSlack) -> None:
    dry = DryRunPoster(cfg.dry_run_file)
    ids = [add_article(store, "y1", story="s1", title="Alibaba <!channel> chip")]
    report = send_alerts(store, cfg, article_ids=ids, run=run_info(), poster=dry)
    assert report.posted == 1 and report.channels == {"#chip-alerts": 1}
    [preview] = report.previews
    assert preview.startswith("--- #chip-alerts\nAlibaba <!channel> chip")
    [line] = [json.loads(x) for x in cfg.dry_run_file.read_text().splitlines()]
    assert line["method"] == "chat.postMessage"
    assert line["payload"]["channel"] == "#chip-alerts"
    assert line["payload"]["blocks"][0]["text"]["text"] == "Alibaba &lt;!channel&gt; chip"
    assert [r.channel for r in store.alerts()] == ["dry-run:#chip-alerts"]
    assert send_alerts(store, cfg, article_ids=ids, run=run_info(), poster=dry).posted == 0
    assert len(cfg.dry_run_file.read_text().splitlines()) == 1
    # A token configured later: the alert goes to Slack for real, once.
    real = send_alerts(store, cfg, article_ids=ids, run=run_info(), poster=poster)
    assert real.posted == 1 and real.previews == () and len(slack.messages) == 1
    assert send_alerts(store, cfg, article_ids=ids, run=run_info(), poster=poster).posted == 0


def _texts(node: object) -> list[str]:
    """Every string under a "text" key (what Slack renders), leaving URLs out."""
    if isinstance(node, dict):
        own = [node["text"]] if isinstance(node.get("text"), str) else []
        return own + [t for v in node.values() for t in _texts(v)]
    if isinstance(node, list):
        return [t for v in node for t in _texts(v)]
    return []


HOSTILE = [
    "<!channel> Alibaba chip",
    "<https://evil.example|Reuters> Google TPU",
    "T" * 5000,
    "Zero\u200bwidth \u202eevil\u202c chip",
    "*bold* _x_ ~x~ `code` <@U123> <!subteam^S1|team>",
]


def test_hostile_titles_end_to_end(
    store: Store, cfg: Settings, poster: WebApiPoster, slack: FakeSlack
) -> None:
    ids = [add_article(store, f"h{i}", story=f"s{i}", title=t, minutes=i) for i, t in enumerate(HOSTILE[:3])]
    ids.append(add_article(store, "h3", story="s0", title=HOSTILE[3], source="Evil <b>", minutes=5))
    ids.append(
        add_article(
            store,
            "h4",
            story="s0",
            title=HOSTILE[4],
            source="@here",
            minutes=6,
            companies=("Alibaba", "Baidu"),
        )
    )
    report = send_alerts(store, cfg, article_ids=ids, run=run_info(), poster=poster)
    assert report.posted == 5 and report.failed == 0  # every payload passed the fake's Block Kit checks
    raw = json.dumps([m["params"] for m in slack.messages], ensure_ascii=False)
    for needle in ("<!", "<@", "<http", "\u200b", "\u202e"):
        assert needle not in raw
    texts = json.dumps(_texts([m["params"] for m in slack.messages]), ensure_ascii=False)
    assert "@here" not in texts and "@channel" not in texts and "@\u2060here" in texts
    headers = [m["blocks"][0]["text"]["text"] for m in slack.messages if m["blocks"][0]["type"] == "header"]
    assert any(len(h) == 150 and h.endswith("…") for h in headers)
    assert "*bold* _x_ ~x~ `code` &lt;@U123&gt;" in raw


def test_dry_run_flag_never_reaches_slack(
    store: Store, cfg: Settings, poster: WebApiPoster, slack: FakeSlack
) -> None:
    ids = [add_article(store, "z1", story="s1")]
    run = dataclasses.replace(run_info(), dry_run=True)
    report = send_alerts(store, cfg, article_ids=ids, run=run, poster=poster)
    assert report.posted == 1 and len(report.previews) == 1
    assert slack.messages == [] and len(cfg.dry_run_file.read_text().splitlines()) == 1


def test_unsafe_canonical_url_falls_back_to_the_feed_link(
    store: Store, cfg: Settings, poster: WebApiPoster, slack: FakeSlack
) -> None:
    add_article(store, "u1", story="s1")
    store.set_article_page("u1", body=None, page_status="ok", canonical_url="javascript:alert(1)")
    send_alerts(store, cfg, article_ids=["u1"], run=run_info(), poster=poster)
    [actions] = [b for b in slack.messages[0]["blocks"] if b["type"] == "actions"]
    assert actions["elements"][0]["url"] == "https://reuters.example/u1"


def test_unreachable_slack_keeps_alerts_pending(store: Store, cfg: Settings, slack: FakeSlack) -> None:
    with FakeSlack() as gone:
        url = gone.base_url
    client = make_client("xoxb-test", base_url=url, sleep=lambda s: None, backoff=0.001, timeout=2)
    down = WebApiPoster(client, pacer=ChannelPacer(sleep=lambda s: None))
    ids = [add_article(store, "g1", story="s1"), add_article(store, "g2", story="s2", minutes=1)]
    report = send_alerts(store, cfg, article_ids=ids, run=run_info(), poster=down)
    assert (
        report.posted == 0
        and report.pending == 2
        and report.outage
        and "ConnectionRefusedError" in report.outage
    )
    # Refused on the first alert: the run stopped instead of trying every alert.
    assert [r.attempts for r in store.alerts()] == [1, 0]
