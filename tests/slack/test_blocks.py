from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from support.fake_slack import validate_blocks

from pipeline.models import Amount
from pipeline.slack.blocks import (
    MAX_HEADER,
    AlertContent,
    CompanyDigest,
    CompanyRef,
    DigestStory,
    DigestSummary,
    MessageLimitError,
    alert_message,
    assert_valid,
    check_message,
    daily_digest_message,
    escape,
    finalize,
    fit,
    format_amount,
    group_message,
    inert_text,
    render_preview,
    safe_url,
    task_failure_message,
    update_message,
)

HOSTILE_TITLES = [
    "<!channel> Alibaba unveils chip",
    "<!here|here> and <!everyone> ping",
    "<@U123ABC> and <!subteam^S123|@team> look",
    "<https://evil.example|Reuters> Google TPU v7",
    "*bold* _italic_ ~strike~ `code` ```block``` > quote",
    "Zero\u200bwidth\u200d and \u202eRTL override\u202c and \u2066isolate\u2069 \ufeffBOM",
    "@channel @here @everyone plain words",
    "A & B <tag> &amp; :rotating_light:",
]


def _content(**overrides: object) -> AlertContent:
    values: dict[str, object] = {
        "article_id": "a1",
        "story_id": "s1",
        "headline": "Alibaba's T-Head tests a new AI inference chip",
        "url": "https://news.example.com/a1",
        "source": "Example News",
        "published_at": datetime(2024, 5, 1, 14, 30, tzinfo=UTC),
        "language": "en",
        "score": 0.934,
        "model_version": "m-2024.05",
        "event_type": "self_development",
        "companies": (CompanyRef("Alibaba", ("BABA", "9988.HK")),),
        "chips": ("Hanguang 800",),
        "counterparties": (),
        "amount": Amount(2.5e9, "USD", "$2.5 billion"),
        "summary": "T-Head said the chip is in testing.",
    }
    values.update(overrides)
    return AlertContent(**values)  # type: ignore[arg-type]


def _texts(payload: dict[str, object]) -> list[str]:
    """Every text string in a payload (text fallback, text objects)."""
    out: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                out.append(node["text"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(payload)
    return out


def test_alert_message_has_every_field_in_a_valid_layout() -> None:
    msg = alert_message(_content(), display_tz="Asia/Shanghai", alert_id="story-1")
    blocks = msg["blocks"]
    assert [b["type"] for b in blocks] == ["header", "section", "section", "actions", "context"]
    assert blocks[0]["text"] == {
        "type": "plain_text",
        "text": msg["blocks"][0]["text"]["text"],
        "emoji": False,
    }
    fields = [f["text"] for f in blocks[1]["fields"]]
    assert "Company\nAlibaba (BABA, 9988.HK)" in fields
    assert "Event\nDeveloping own chips" in fields
    assert "Chips\nHanguang 800" in fields
    assert "Amount\nUSD 2.5B ($2.5 billion)" in fields
    # 14:30 UTC is 22:30 in Shanghai.
    assert "Source\nExample News\n2024-05-01 22:30 Asia/Shanghai" in fields
    assert "Language\nEnglish" in fields
    assert "Model score\n0.93" in fields
    assert not any(f.startswith("Counterparty") for f in fields)  # empty fields are left out
    assert blocks[3]["elements"][0]["url"] == "https://news.example.com/a1"
    assert "story s1" in blocks[4]["elements"][0]["text"]
    assert "model m-2024.05" in blocks[4]["elements"][0]["text"]
    assert msg["text"].startswith("Alibaba (BABA, 9988.HK): Alibaba's T-Head")
    assert validate_blocks(blocks) == []


def test_display_timezone_is_configurable() -> None:
    msg = alert_message(_content(), display_tz="America/New_York", alert_id="x")
    assert "2024-05-01 10:30 America/New_York" in json.dumps(msg, ensure_ascii=False)


@pytest.mark.parametrize("title", HOSTILE_TITLES)
def test_hostile_titles_arrive_as_inert_text(title: str) -> None:
    content = _content(headline=title, summary=title, source=title, chips=(title,), counterparties=(title,))
    payload = finalize(alert_message(content, display_tz="UTC", alert_id="x"), channel="#c")
    raw = json.dumps(payload, ensure_ascii=False)
    for needle in ("<!", "<@", "<#", "<http", "|Reuters>", "\u200b", "\u202e", "\u2066", "\ufeff", "\u200d"):
        assert needle not in raw
    for text in _texts(payload):
        # No Slack control characters survive unescaped, and no broadcast word is intact.
        assert "<" not in text and ">" not in text
        assert "&" not in text.replace("&amp;", "").replace("&lt;", "").replace("&gt;", "")
        for word in ("@channel", "@here", "@everyone"):
            assert word not in text
    # Untrusted text is only ever in plain_text objects (no mrkdwn formatting), emoji codes off.
    objects = [b["text"] for b in payload["blocks"] if "text" in b and isinstance(b["text"], dict)]
    objects += [f for b in payload["blocks"] for f in b.get("fields", [])]
    assert objects and all(o["type"] == "plain_text" and o["emoji"] is False for o in objects)
    assert payload["unfurl_links"] is False and payload["unfurl_media"] is False
    assert payload["mrkdwn"] is False
    assert "link_names" not in payload and "parse" not in payload


def test_formatting_characters_stay_literal() -> None:
    title = "*bold* _x_ ~x~ `code`"
    msg = alert_message(_content(headline=title), display_tz="UTC", alert_id="x")
    assert msg["blocks"][0]["text"] == {"type": "plain_text", "text": title, "emoji": False}


def test_escaping_and_cleaning() -> None:
    assert escape("a & <b> c") == "a &amp; &lt;b&gt; c"
    assert escape("@channel") == "@\u2060channel"
    assert inert_text("a\u200bb\u202ec\x00d\te\n f") == "abcd e f"
    assert inert_text("line1\n\n\n\nline2", multiline=True) == "line1\n\nline2"


def test_header_cut_cleanly_at_150() -> None:
    title = "Google unveils " + "very " * 60 + "long title"
    header = fit(title, MAX_HEADER)
    assert len(header) <= MAX_HEADER
    assert header.endswith("…")
    assert header[:-1].endswith("very")  # a whole word, no trailing space
    # Escaping counts: 150 ampersands never exceed the limit nor split an entity.
    amp = fit("&" * 400, MAX_HEADER)
    assert len(amp) <= MAX_HEADER and amp.endswith("&amp;…")
    # Chinese text has no spaces: cut by character.
    zh = fit("阿里巴巴平头哥发布新一代芯片" * 20, MAX_HEADER)
    assert len(zh) == MAX_HEADER and zh.endswith("…")


def test_huge_inputs_stay_inside_every_limit() -> None:
    many = tuple(f"Company{i} " + "x" * 300 for i in range(40))
    content = _content(
        headline="T" * 5000,
        summary="S " * 20000,
        chips=many,
        counterparties=many,
        companies=tuple(CompanyRef(n, ("TICK",) * 30) for n in many),
        source="R" * 5000,
        url="https://example.com/" + "p" * 3000,  # too long for a button: no button
    )
    for msg in (
        alert_message(content, display_tz="UTC", alert_id="x" * 40),
        update_message(content, display_tz="UTC", alert_id="x", changes=["New company: " + "y" * 5000] * 30),
        group_message("G" * 400, [content] * 200, note="n" * 5000),
    ):
        payload = finalize(msg, channel="#c", alert_id="x", thread_ts="1.1", reply_broadcast=True)
        assert check_message(payload) == []
        assert validate_blocks(payload["blocks"]) == []
        assert len(payload["text"]) <= 600
        assert not any(b["type"] == "actions" for b in payload["blocks"])


def test_group_message_lists_items_and_says_how_many_more() -> None:
    items = [_content(headline=f"Story number {i} " + "z" * 150) for i in range(60)]
    msg = group_message("60 new chip alerts", items, note="each alert is in this thread")
    section = msg["blocks"][1]["text"]["text"]
    assert section.startswith("• Alibaba (BABA, 9988.HK): Story number 0")
    assert "more" in section.splitlines()[-1]
    assert len(section) <= 3000


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", "ftp://x.example/a", "https://exa mple.com", "//no-scheme", "", None, "https://"],
)
def test_unsafe_urls_get_no_button(url: str | None) -> None:
    assert safe_url(url) is None
    msg = alert_message(_content(url=url), display_tz="UTC", alert_id="x")
    assert not any(b["type"] == "actions" for b in msg["blocks"])


def test_update_message_states_what_changed() -> None:
    msg = update_message(
        _content(source="Reuters"), display_tz="UTC", alert_id="u1", changes=["New company: Baidu (BIDU)"]
    )
    assert msg["blocks"][0]["text"]["text"].startswith("Also reported by Reuters")
    assert "What is new\nNew company: Baidu (BIDU)" in [f["text"] for f in msg["blocks"][1]["fields"]]
    plain = update_message(_content(source="Reuters"), display_tz="UTC", alert_id="u1")
    assert plain["text"].startswith("Also reported (Reuters)")
    assert all("fields" not in b for b in plain["blocks"])


def test_finalize_adds_metadata_thread_and_broadcast() -> None:
    msg = alert_message(_content(), display_tz="UTC", alert_id="a")
    top = finalize(msg, channel="#c", alert_id="a")
    assert top["metadata"] == {"event_type": "chip_news_alert", "event_payload": {"alert_id": "a"}}
    assert "thread_ts" not in top and "reply_broadcast" not in top
    reply = finalize(msg, channel="#c", alert_id="a", thread_ts="1.2", reply_broadcast=True)
    assert reply["thread_ts"] == "1.2" and reply["reply_broadcast"] is True
    # A broadcast flag without a thread means nothing and is dropped.
    assert "reply_broadcast" not in finalize(msg, channel="#c", reply_broadcast=True)


def test_check_message_reports_violations() -> None:
    bad = {
        "text": "",
        "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}] * 51
        + [{"type": "section", "fields": [{"type": "plain_text", "text": "f"}] * 11}]
        + [{"type": "video"}],
    }
    errors = check_message(bad)
    assert any("fallback" in e for e in errors)
    assert any("51 > 50" in e or "52 > 50" in e or "53 > 50" in e for e in errors)
    assert any("151 > 150" in e for e in errors)
    assert any("11 fields" in e for e in errors)
    assert any("unsupported block type" in e for e in errors)
    with pytest.raises(MessageLimitError):
        assert_valid(bad)


def test_format_amount() -> None:
    assert format_amount(Amount(1.2e8, "CNY", "1.2亿元")) == "CNY 120M (1.2亿元)"
    assert format_amount(Amount(500, "USD", "USD 500")) == "USD 500"
    assert format_amount(None) == ""


def test_daily_digest_message() -> None:
    summary = DigestSummary(
        date_label="2024-05-02",
        day_articles=3,
        day_stories=2,
        week_articles=9,
        week_stories=6,
        by_event=(("self_development", 2, 6), ("chip_investment", 1, 3)),
        companies=(
            CompanyDigest(
                "Alibaba",
                2,
                5,
                (
                    DigestStory(
                        "<!channel> big one", "T-Head tests a chip <!here>", 2, 2, "https://x.example/1"
                    ),
                ),
            ),
            CompanyDigest(
                "Google", 1, 4, (DigestStory("second", "Google unveils Ironwood", 0, 1, None, "follow-up"),)
            ),
            CompanyDigest("Meta", 0, 1),
        ),
        changes="2 stories (the day before: 1, +1)",
        rehashes=("Old news again (Wire) — rehash of “first”",),
        rehash_count=1,
    )
    msg = daily_digest_message(summary, channel="#c")
    assert check_message(msg) == [] and validate_blocks(msg["blocks"]) == []
    preview = render_preview(msg)
    assert "Chip news digest — 2024-05-02" in preview
    assert "What changed since yesterday: 2 stories (the day before: 1, +1)" in preview
    assert "Alibaba — 1 story(ies) today · 2 article(s) today, 5 this week" in preview
    assert "• T-Head tests a chip <!here> [2 source(s) cited]" in preview  # readable in the preview ...
    assert "<!here>" not in json.dumps(msg) and "<!channel>" not in json.dumps(
        msg
    )  # ... inert in the payload
    assert "• Google unveils Ironwood [1 source(s) · follow-up]" in preview
    assert "Developing own chips: 2 / 6" in preview
    assert "Rehashes held back (not posted): 1" in preview
    assert "[Top story] https://x.example/1" in preview
    assert preview.index("Alibaba —") < preview.index("Google —")


def test_task_failure_message() -> None:
    msg = task_failure_message(
        dag_id="news_monitor",
        task_id="alert",
        run_id="scheduled__2024",
        try_number=2,
        error="Traceback <!channel>\n" + "x" * 10000,
        log_url="http://localhost:8080/log?x=1",
    )
    assert check_message(msg) == []
    assert "Try\n2" in [f["text"] for f in msg["blocks"][1]["fields"]]
    assert msg["blocks"][3]["elements"][0]["url"] == "http://localhost:8080/log?x=1"
    assert "<!channel>" not in json.dumps(msg)


def test_preview_is_readable() -> None:
    payload = finalize(
        alert_message(_content(headline="A & B <x>"), display_tz="UTC", alert_id="a"), channel="#chip-alerts"
    )
    preview = render_preview(payload)
    lines = preview.splitlines()
    assert lines[0] == "--- #chip-alerts"
    assert lines[1] == "A & B <x>"
    assert "Company: Alibaba (BABA, 9988.HK)" in preview
    assert "[Read article] https://news.example.com/a1" in preview
