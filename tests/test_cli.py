"""The CLI: help on every command, argument parsing, clear errors."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.cli import build_parser, main, parse_when

COMMANDS = [
    "run",
    "classify",
    "train",
    "evaluate",
    "feeds",
    "articles",
    "models",
    "feedback",
    "replay",
    "migrate",
    "digest",
    "brief",
    "serve-samples",
]


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for command in COMMANDS:
        with pytest.raises(SystemExit) as info:
            build_parser().parse_args([command, "--help"])
        assert info.value.code == 0
        assert "usage:" in capsys.readouterr().out


def test_module_entry_point_help() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pipeline", "--help"], capture_output=True, text=True, check=True
    )
    for command in COMMANDS:
        assert command in out.stdout


def test_parse_when() -> None:
    now = datetime(2025, 9, 15, 12, 0, tzinfo=UTC)
    assert parse_when("24h", now=now) == now - timedelta(hours=24)
    assert parse_when("90m", now=now) == now - timedelta(minutes=90)
    assert parse_when("2025-09-15T08:00:00+08:00") == datetime(2025, 9, 15, 0, 0, tzinfo=UTC)
    assert parse_when("2025-09-15") == datetime(2025, 9, 15, tzinfo=UTC)


def test_bad_since_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["articles", "--since", "last tuesday"])
    assert info.value.code == 2
    assert "neither an ISO date/time nor a duration" in capsys.readouterr().err


def test_config_errors_exit_1_with_the_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NEWS_FEED_SHARD_SIZE", "many")
    assert main(["feeds"]) == 1
    assert "NEWS_FEED_SHARD_SIZE" in capsys.readouterr().err


def test_migrate_and_empty_listings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NEWS_DB_URL", f"sqlite:///{tmp_path}/cli.db")
    from pipeline.store import head_revision

    assert main(["migrate"]) == 0
    assert f"store migrated from revision (empty) to {head_revision()}" in capsys.readouterr().out
    assert main(["migrate"]) == 0
    assert f"store already at revision {head_revision()} (head)" in capsys.readouterr().out
    assert main(["articles", "--since", "24h"]) == 0
    assert capsys.readouterr().out == ""


def test_feed_health_table_states(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipeline.store import open_store

    feeds = f"{tmp_path}/feeds.yaml"
    with open(feeds, "w", encoding="utf-8") as fh:
        fh.write(
            "feeds:\n"
            "  - {id: good, url: 'https://a.example/rss', language: en}\n"
            "  - {id: flaky, url: 'https://b.example/rss', language: en}\n"
            "  - {id: dead, url: 'https://c.example/rss', language: zh}\n"
            "  - {id: new, url: 'https://d.example/rss', language: en}\n"
            "  - {id: offline, url: 'https://e.example/rss', language: en, enabled: false}\n"
        )
    monkeypatch.setenv("NEWS_DB_URL", f"sqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("NEWS_FEEDS_FILE", feeds)
    store = open_store(f"sqlite:///{tmp_path}/cli.db")
    now = datetime.now(UTC)
    later = now + timedelta(hours=1)
    store.record_feed_result(
        "good", "https://a.example/rss", ok=True, at=now, status=200, items=7, encoding="utf-8"
    )
    store.record_feed_result(
        "flaky", "https://b.example/rss", ok=False, at=now, status=503, error="HTTP 503", backoff_until=later
    )
    for _ in range(3):
        store.record_feed_result(
            "dead",
            "https://c.example/rss",
            ok=False,
            at=now,
            error="HTML page, not a feed",
            backoff_until=later,
        )
    assert main(["feeds"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert " ok " in lines["good"] and "utf-8" in lines["good"]
    assert " failing " in lines["flaky"] and "HTTP 503" in lines["flaky"]
    assert " backoff " in lines["dead"] and "HTML page" in lines["dead"]
    assert " never " in lines["new"] and " disabled " in lines["offline"]
    assert "5 feeds, 1 ok, 2 failing, 1 never fetched, 1 disabled" in lines["5"]


def test_serve_samples_writes_a_feed_list_for_another_port(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "feeds.yaml"
    assert main(["serve-samples", "--port", "9123", "--write-feed-list", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    text = out.read_text(encoding="utf-8")
    assert (
        "http://127.0.0.1:9123/feeds/cn-finance-gbk.xml" in text
        and "127.0.0.1:8765" not in text.split("feeds:")[1]
    )


def test_models_promote_records_who_and_rolls_back(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipeline.store import open_store

    monkeypatch.setenv("NEWS_DB_URL", f"sqlite:///{tmp_path}/cli.db")
    store = open_store(f"sqlite:///{tmp_path}/cli.db")
    for version in ("clf-a", "clf-b"):
        store.register_model(version, data_hash="h", metrics={"f1": 0.9}, card={}, artifact=version.encode())
    assert main(["models", "promote", "clf-a", "--by", "alice"]) == 0
    assert main(["models", "promote", "clf-b", "--by", "bob", "--reason", "approved"]) == 0
    out = capsys.readouterr().out
    assert (
        "promoted clf-b (replacing clf-a) by bob" in out
        and "to undo: python -m pipeline models promote clf-a" in out
    )
    assert main(["models", "promote", "clf-a", "--by", "carol", "--reason", "rollback"]) == 0  # rollback
    current = store.current_model()
    assert current is not None and current.version == "clf-a"
    capsys.readouterr()
    assert main(["models", "history"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("  ", 1)[1] for line in lines] == [
        "clf-a  (was -)  by alice: promoted from the command line",
        "clf-b  (was clf-a)  by bob: approved",
        "clf-a  (was clf-b)  by carol: rollback",
    ]
    assert main(["models", "promote", "clf-nope"]) == 1
    assert "not registered" in capsys.readouterr().err


def test_feedback_add_list_and_export(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    import json
    from pathlib import Path

    from support.feedback import RUMOUR, archive_items, slack_vote

    from pipeline.models import Classification, Extraction
    from pipeline.store import open_store

    monkeypatch.setenv("NEWS_DB_URL", f"sqlite:///{tmp_path}/cli.db")
    store = open_store(f"sqlite:///{tmp_path}/cli.db")
    at = datetime.now(UTC) - timedelta(hours=2)
    archive_items(store, [RUMOUR], at=at)
    store.save_classifications(
        [Classification("rumour", True, 0.9, "self_development", "clf-a", Extraction(companies=("Baidu",)))]
    )
    store.save_votes([slack_vote("rumour", "relevant", at=at)], now=at)
    store.save_votes([slack_vote("rumour", "not_relevant", user="UBOB", at=at)], now=at)
    assert main(["feedback", "list", "--disputed"]) == 0
    out = capsys.readouterr().out
    assert "rumour" in out and "disputed" in out and "1 yes / 1 no, analysts disagree" in out

    # a label from elsewhere settles it; a bad line is refused with its file and line, nothing written
    bad = Path(f"{tmp_path}/labels.jsonl")
    bad.write_text(
        '{"article_id": "rumour", "label": "not_relevant"}\n{"article_id": "rumour", "label": "yes"}\n'
    )
    assert main(["feedback", "add", "--input", str(bad), "--by", "lead"]) == 2
    assert f"{bad}:2: 'label' must be" in capsys.readouterr().err
    assert main(["feedback", "add", "--article", "rumour", "--label", "not_relevant", "--by", "lead"]) == 0
    assert "recorded 1 label(s) by manual:lead: 1 new" in capsys.readouterr().out
    assert main(["feedback", "add", "--article", "nope", "--label", "relevant"]) == 2
    assert "not in the archive" in capsys.readouterr().err

    assert main(["feedback", "list", "--json"]) == 0
    (row,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert row["label"] == "not_relevant" and row["settled_by"] == "manual:lead" and row["disagreement"]
    assert {v["voter"] for v in row["votes"]} == {"slack:UALICE", "slack:UBOB", "manual:lead"}

    export = Path(f"{tmp_path}/export.jsonl")
    assert main(["feedback", "export", "--output", str(export)]) == 0
    (line,) = [json.loads(x) for x in export.read_text().splitlines()]
    assert (
        line["id"] == "fb-rumour" and line["label"] == 0 and line["provenance"]["settled_by"] == "manual:lead"
    )
    assert "exported 1 labelled items at feedback version 3" in capsys.readouterr().err
    assert main(["feedback", "export", "--output", str(export), "--version", "2"]) == 0
    assert export.read_text() == ""  # at version 2 the article was disputed: nothing to train on


def test_brief_prints_a_story_brief(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from support.articles import T0, add_classified

    from pipeline.store import open_store

    monkeypatch.setenv("NEWS_DB_URL", f"sqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("NEWS_DISPLAY_TZ", "UTC")
    store = open_store(f"sqlite:///{tmp_path}/cli.db")
    add_classified(
        store, "a1", at=T0, story="s1", source="Example Daily", chips=(),
        summary="Alibaba's chip unit T-Head is testing a new AI inference chip. "
        "Unlike its earlier AI processors, the new chip is made by a Chinese manufacturer.",
    )  # fmt: skip
    assert main(["brief", "s1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Brief: Alibaba chip news from Example Daily (a1)")
    assert "Core viewpoint\nAlibaba's chip unit T-Head is testing a new AI inference chip. [1]" in out
    assert "[1] Example Daily · 2025-09-15 08:00 · https://exampledaily.example/a1" in out
    assert "not posted to Slack: a brief needs two sources" in out  # one source, summary only

    add_classified(
        store, "a2", at=T0 + timedelta(minutes=5), story="s1", source="Other Wire", chips=(),
        summary="Unlike Alibaba's earlier AI processors, the new chip is made by a Chinese manufacturer.",
    )  # fmt: skip
    assert main(["brief", "s1", "--json"]) == 0
    brief = json.loads(capsys.readouterr().out)
    assert [s["outlet"] for s in brief["sources"]] == ["Example Daily", "Other Wire"]
    assert [p["citations"] for g in brief["groups"] for p in g["points"]] == [[1, 2]]
    assert main(["brief", "no-such-story"]) == 1
    assert "has no relevant, unmuted articles" in capsys.readouterr().err
