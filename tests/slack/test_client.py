from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.fake_clock import FakeClock
from support.fake_slack import FakeSlack

from pipeline.errors import SlackConfigError
from pipeline.settings import Settings
from pipeline.slack.blocks import finalize
from pipeline.slack.client import (
    ChannelPacer,
    DryRunPoster,
    PacedRateLimitRetryHandler,
    SlackRejectedError,
    SlackUnavailableError,
    WebApiPoster,
    is_token_error,
    make_client,
    make_poster,
)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=1000.0)


def _poster(slack: FakeSlack, clock: FakeClock) -> WebApiPoster:
    client = make_client("xoxb-test", base_url=slack.base_url, sleep=clock.sleep, backoff=0.001, timeout=5)
    return WebApiPoster(client, pacer=ChannelPacer(clock=clock, sleep=clock.sleep))


def _payload(
    channel: str = "#chip-alerts", alert_id: str = "story-1", text: str = "hello"
) -> dict[str, object]:
    message = {"text": text, "blocks": [{"type": "section", "text": {"type": "plain_text", "text": text}}]}
    return finalize(message, channel=channel, alert_id=alert_id)


def test_post_message_sends_the_exact_payload(slack: FakeSlack, clock: FakeClock) -> None:
    posted = _poster(slack, clock).post_message(_payload())
    [message] = slack.messages
    assert posted.ts == message["ts"] and posted.channel_id == message["channel"]
    assert message["channel_name"] == "#chip-alerts"
    assert message["metadata"] == {"event_type": "chip_news_alert", "event_payload": {"alert_id": "story-1"}}
    assert message["unfurl_links"] is False and message["unfurl_media"] is False


def test_rate_limit_is_retried_after_retry_after(slack: FakeSlack, clock: FakeClock) -> None:
    slack.fail_next("chat.postMessage", "ratelimited", times=2, retry_after=3)
    poster = _poster(slack, clock)
    poster.post_message(_payload())
    assert len(slack.messages) == 1
    assert len(slack.calls_of("chat.postMessage")) == 3
    waits = next(h for h in poster.client.retry_handlers if isinstance(h, PacedRateLimitRetryHandler)).waits
    assert len(waits) == 2 and all(3 <= w < 3.3 for w in waits)


def test_rate_limit_that_persists_is_retryable(slack: FakeSlack, clock: FakeClock) -> None:
    slack.fail_next("chat.postMessage", "ratelimited", times=5, retry_after=1)
    with pytest.raises(SlackUnavailableError) as info:
        _poster(slack, clock).post_message(_payload())
    assert info.value.error_code == "ratelimited" and info.value.retry_after == 1.0
    assert slack.messages == []


def test_server_error_is_retried(slack: FakeSlack, clock: FakeClock) -> None:
    slack.fail_next("chat.postMessage", "server_error", times=1)
    _poster(slack, clock).post_message(_payload())
    assert len(slack.messages) == 1
    assert len(slack.calls_of("chat.postMessage")) == 2


def test_server_error_after_retries_is_an_outage(slack: FakeSlack, clock: FakeClock) -> None:
    slack.fail_next("chat.postMessage", "server_error", times=3)
    with pytest.raises(SlackUnavailableError) as info:
        _poster(slack, clock).post_message(_payload())
    assert info.value.error_code == "http_500"
    assert slack.messages == []


def test_dropped_connection_is_not_resent(slack: FakeSlack, clock: FakeClock) -> None:
    slack.fail_next("chat.postMessage", "drop")
    poster = _poster(slack, clock)
    with pytest.raises(SlackUnavailableError) as info:
        poster.post_message(_payload(alert_id="story-dropped"))
    assert info.value.maybe_sent is True
    # Slack got it exactly once; the client did not retry the post.
    assert len(slack.messages) == 1 and len(slack.calls_of("chat.postMessage")) == 1
    # A fresh poster (next run) finds it by its alert id, resolving the channel name to its id.
    found = _poster(slack, clock).find_by_alert_id(
        "#chip-alerts", "story-dropped", oldest=datetime.now(UTC) - timedelta(minutes=5)
    )
    assert found is not None and found.ts == slack.messages[0]["ts"]
    assert slack.calls_of("conversations.history")[0]["include_all_metadata"] in ("1", True, "true")


def test_connection_refused_is_never_sent() -> None:
    with FakeSlack() as fake:
        url = fake.base_url
    client = make_client("xoxb-test", base_url=url, sleep=lambda s: None, backoff=0.001, timeout=2)
    with pytest.raises(SlackUnavailableError) as info:
        WebApiPoster(client, pacer=ChannelPacer(sleep=lambda s: None)).post_message(_payload())
    assert info.value.maybe_sent is False


def test_find_in_thread_and_not_found(slack: FakeSlack, clock: FakeClock) -> None:
    poster = _poster(slack, clock)
    parent = poster.post_message(_payload(alert_id="p"))
    reply = finalize({"text": "r"}, channel="#chip-alerts", alert_id="r1", thread_ts=parent.ts)
    poster.post_message(reply)
    since = datetime.now(UTC) - timedelta(minutes=5)
    # A thread reply is not in conversations.history: it is found through conversations.replies.
    assert poster.find_by_alert_id("#chip-alerts", "r1", oldest=since) is None
    found = poster.find_by_alert_id("#chip-alerts", "r1", oldest=since, thread_ts=parent.ts)
    assert found is not None and found.ts == slack.messages[1]["ts"]
    assert poster.find_by_alert_id("#chip-alerts", "other", oldest=since, thread_ts=parent.ts) is None


def test_find_pages_through_history(slack: FakeSlack, clock: FakeClock) -> None:
    poster = _poster(slack, clock)
    for i in range(450):
        poster.post_message(_payload(alert_id=f"a{i}", text=f"m{i}"))
    found = poster.find_by_alert_id("#chip-alerts", "a0", oldest=datetime.now(UTC) - timedelta(minutes=5))
    assert found is not None and found.ts == slack.messages[0]["ts"]
    assert len(slack.calls_of("conversations.history")) == 3


@pytest.mark.parametrize(
    ("kind", "hint", "token_wide"),
    [
        ("invalid_auth", "connection slack_api_default", True),
        ("account_inactive", "reinstall", True),
        ("token_revoked", "connection slack_api_default", True),
        ("missing_scope", "scope", True),
        ("channel_not_found", "routing.yaml", False),
        ("not_in_channel", "invite the bot to #chip-alerts", False),
        ("is_archived", "archived", False),
    ],
)
def test_non_retryable_errors_say_what_to_fix(
    slack: FakeSlack, clock: FakeClock, kind: str, hint: str, token_wide: bool
) -> None:
    slack.fail_next("chat.postMessage", kind)
    with pytest.raises(SlackConfigError) as info:
        _poster(slack, clock).post_message(_payload())
    assert info.value.error_code == kind
    assert hint in str(info.value)
    assert is_token_error(info.value) is token_wide
    assert slack.messages == []


def test_real_not_in_channel_and_wrong_token(slack: FakeSlack, clock: FakeClock) -> None:
    slack.add_channel("#private", member=False)
    with pytest.raises(SlackConfigError, match="invite the bot to #private"):
        _poster(slack, clock).post_message(_payload(channel="#private"))
    client = make_client("xoxp-test", base_url=slack.base_url, sleep=clock.sleep)
    with pytest.raises(SlackConfigError, match="invalid_auth"):
        WebApiPoster(client, pacer=ChannelPacer(sleep=clock.sleep)).post_message(_payload())


def test_invalid_blocks_are_rejected_not_retried(slack: FakeSlack, clock: FakeClock) -> None:
    bad = {
        "channel": "#chip-alerts",
        "text": "x",
        "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}],
    }
    with pytest.raises(SlackRejectedError) as info:
        _poster(slack, clock).post_message(bad)
    assert info.value.error_code == "invalid_blocks"
    assert "151" in str(info.value)


def test_pacer_spaces_posts_per_channel(slack: FakeSlack, clock: FakeClock) -> None:
    poster = _poster(slack, clock)
    for i in range(3):
        poster.post_message(_payload(channel="#a", alert_id=f"a{i}"))
    poster.post_message(_payload(channel="#b", alert_id="b0"))
    assert clock.sleeps == [1.0, 1.0]  # #a waited twice; #b did not wait


def test_pacer_alone() -> None:
    clock = FakeClock(start=1000.0)
    pacer = ChannelPacer(0.5, clock=clock, sleep=clock.sleep)
    assert pacer.wait("#a") == 0
    clock.now += 0.2
    assert pacer.wait("#a") == pytest.approx(0.3)
    assert pacer.wait("#b") == 0


def test_permalink_and_upload(slack: FakeSlack, clock: FakeClock) -> None:
    poster = _poster(slack, clock)
    posted = poster.post_message(_payload())
    assert poster.permalink("#chip-alerts", posted.ts) == (
        f"https://fake.slack.test/archives/{posted.channel_id}/p{posted.ts.replace('.', '')}"
    )
    assert poster.permalink("#chip-alerts", "123.456") is None  # never raises
    file_id = poster.upload_file(
        "#chip-alerts", content=b"\x89PNG data", filename="chart.png", title="Chart <x>", thread_ts=posted.ts
    )
    [upload] = slack.uploads
    assert upload["id"] == file_id and upload["content"] == b"\x89PNG data"
    assert upload["channel"] == posted.channel_id and upload["thread_ts"] == posted.ts
    assert upload["title"] == "Chart &lt;x&gt;"


def test_auth_test(slack: FakeSlack, clock: FakeClock) -> None:
    assert _poster(slack, clock).auth_test()["user_id"] == "UFAKEBOT"


def test_dry_run_poster_writes_exact_payloads(tmp_path: Path) -> None:
    poster = DryRunPoster(tmp_path / "out" / "dry.jsonl")
    payload = _payload(alert_id="story-9")
    first = poster.post_message(payload)
    poster.upload_file("#chip-alerts", content=b"png", filename="c.png", title="t", thread_ts=first.ts)
    lines = [json.loads(x) for x in (tmp_path / "out" / "dry.jsonl").read_text().splitlines()]
    assert lines[0]["method"] == "chat.postMessage" and lines[0]["payload"] == payload
    assert lines[1]["method"] == "files.uploadV2" and lines[1]["bytes"] == 3
    assert Path(lines[1]["saved_to"]).read_bytes() == b"png"
    assert poster.previews[0].startswith("--- #chip-alerts")
    found = poster.find_by_alert_id("#chip-alerts", "story-9", oldest=datetime.now(UTC))
    assert found is not None and found.ts == first.ts
    assert poster.find_by_alert_id("#other", "story-9", oldest=datetime.now(UTC)) is None
    assert poster.namespace == "dry-run:"


def test_make_poster(tmp_path: Path, settings: Settings, slack: FakeSlack) -> None:
    dry = make_poster(settings)
    assert isinstance(dry, DryRunPoster) and dry.path == settings.dry_run_file
    real = make_poster(settings.with_slack("xoxb-test", slack.base_url.rstrip("/")))
    assert isinstance(real, WebApiPoster)
    assert real.client.base_url == slack.base_url
    real.post_message(_payload())
    assert len(slack.messages) == 1


def test_rate_limit_longer_than_max_wait_is_not_waited_for(slack: FakeSlack, clock: FakeClock) -> None:
    slack.fail_next("chat.postMessage", "ratelimited", times=1, retry_after=600)
    with pytest.raises(SlackUnavailableError):
        _poster(slack, clock).post_message(_payload())
    assert len(slack.calls_of("chat.postMessage")) == 1 and clock.sleeps == []


def test_read_reactions_of_a_channel_and_of_a_thread(slack: FakeSlack, clock: FakeClock) -> None:
    from slack_sdk import WebClient

    poster = _poster(slack, clock)
    parent = poster.post_message(_payload(alert_id="p"))
    quiet = poster.post_message(_payload(alert_id="q"))
    reply = poster.post_message(
        finalize({"text": "r"}, channel="#chip-alerts", alert_id="r1", thread_ts=parent.ts)
    )
    cid = slack.channel_id("#chip-alerts")
    # analysts react through the real Web API client, with their own tokens
    alice = WebClient(token=slack.user_token("UALICE"), base_url=slack.base_url)
    bob = WebClient(token=slack.user_token("UBOB"), base_url=slack.base_url)
    alice.reactions_add(channel=cid, timestamp=parent.ts, name="x")
    bob.reactions_add(channel=cid, timestamp=parent.ts, name="x")
    bob.reactions_add(channel=cid, timestamp=reply.ts, name="+1::skin-tone-3")
    since = datetime.now(UTC) - timedelta(minutes=5)

    top = {m.ts: m for m in poster.read_reactions("#chip-alerts", oldest=since)}
    assert set(top) == {parent.ts, quiet.ts}  # the thread reply is not in the channel's history
    assert [(r.name, r.users) for r in top[parent.ts].reactions] == [("x", ("UALICE", "UBOB"))]
    assert top[quiet.ts].reactions == () and top[parent.ts].thread_ts is None
    thread = {m.ts: m for m in poster.read_reactions("#chip-alerts", oldest=since, thread_ts=parent.ts)}
    assert thread[reply.ts].thread_ts == parent.ts
    assert [(r.name, r.users) for r in thread[reply.ts].reactions] == [("+1::skin-tone-3", ("UBOB",))]
    # changing one's mind
    alice.reactions_remove(channel=cid, timestamp=parent.ts, name="x")
    again = {m.ts: m for m in poster.read_reactions("#chip-alerts", oldest=since)}
    assert [(r.name, r.users) for r in again[parent.ts].reactions] == [("x", ("UBOB",))]


def test_read_reactions_asks_for_every_user_of_a_popular_reaction(slack: FakeSlack, clock: FakeClock) -> None:
    poster = _poster(slack, clock)
    posted = poster.post_message(_payload(alert_id="p"))
    for n in range(5):
        slack.react("#chip-alerts", posted.ts, "x", f"U{n}")
    slack.max_reaction_users = 2  # history shows two users and the count, like Slack does for many
    (message,) = poster.read_reactions("#chip-alerts", oldest=datetime.now(UTC) - timedelta(minutes=5))
    assert message.reactions[0].users == ("U0", "U1", "U2", "U3", "U4")
    (get,) = slack.calls_of("reactions.get")
    assert get["timestamp"] == posted.ts and get["full"] in (True, "1", "true")


def test_reads_are_paced_and_rate_limits_waited_out(slack: FakeSlack, clock: FakeClock) -> None:
    poster = _poster(slack, clock)
    for i in range(450):
        poster.post_message(_payload(alert_id=f"a{i}", text=f"m{i}"))
    since = datetime.now(UTC) - timedelta(minutes=5)
    clock.sleeps.clear()
    assert len(poster.read_reactions("#chip-alerts", oldest=since)) == 450  # three pages
    # one history call per read interval (Tier 3): pages 2 and 3 wait 1.2 s on the fake clock
    assert clock.sleeps == [pytest.approx(1.2), pytest.approx(1.2)]
    clock.sleeps.clear()
    slack.fail_next("conversations.history", "ratelimited", retry_after=7)
    assert len(poster.read_reactions("#chip-alerts", oldest=since)) == 450
    assert any(w >= 7 for w in clock.sleeps)  # Retry-After honoured, then the read goes on


def test_reading_a_channel_the_bot_cannot_see_says_what_to_fix(slack: FakeSlack, clock: FakeClock) -> None:
    with pytest.raises(SlackConfigError, match=r"routing\.yaml"):
        _poster(slack, clock).read_reactions("#nowhere", oldest=datetime.now(UTC))


def test_dry_run_poster_reads_no_reactions(tmp_path: Path) -> None:
    assert DryRunPoster(tmp_path / "d.jsonl").read_reactions("#chip-alerts", oldest=datetime.now(UTC)) == []
