"""The Slack connection to the pipeline's poster: the provider's SlackHook with the project's retries;
no connection means a dry run; task settings mask secrets that come from the environment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from slack_sdk.http_retry import RateLimitErrorRetryHandler
from support.environment import settings_env
from support.fake_slack import FakeSlack

from chip_news_airflow.hooks import ChipNewsSlackHook, slack_poster
from chip_news_airflow.runtime import task_settings
from pipeline.settings import Settings
from pipeline.slack.blocks import finalize
from pipeline.slack.client import DryRunPoster, WebApiPoster


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for key, value in settings_env(tmp_path).items():
        monkeypatch.setenv(key, value)
    return Settings.from_env()


def test_the_connection_gives_a_web_api_poster_with_the_projects_retries(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeSlack() as slack:
        slack.add_channel("#chip-alerts")
        conn = {"conn_type": "slack", "password": "xoxb-from-conn", "extra": {"base_url": slack.base_url}}
        monkeypatch.setenv("AIRFLOW_CONN_SLACK_API_DEFAULT", json.dumps(conn))
        poster = slack_poster(settings)
        assert isinstance(poster, WebApiPoster)
        assert poster.client.token == "xoxb-from-conn" and poster.client.base_url == slack.base_url
        assert any(isinstance(h, RateLimitErrorRetryHandler) for h in poster.client.retry_handlers)
        poster.post_message(finalize({"text": "hello", "blocks": []}, channel="#chip-alerts"))
        assert [m["text"] for m in slack.messages] == ["hello"]
        assert isinstance(slack_poster(settings, dry_run=True), DryRunPoster)
        assert ChipNewsSlackHook().slack_conn_id == "slack_api_default"


def test_without_the_connection_alerts_are_a_dry_run_even_with_a_token_in_the_environment(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_SLACK_API_DEFAULT", raising=False)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-env-only")
    poster = slack_poster(Settings.from_env())
    assert isinstance(poster, DryRunPoster) and poster.path == settings.dry_run_file


def test_task_settings_mask_secrets_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from airflow.sdk._shared.secrets_masker.secrets_masker import redact

    for key, value in settings_env(tmp_path).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "fake-bot-token-redaction-test")
    monkeypatch.setenv("NEWS_DB_URL", "postgresql+psycopg2://news:pw-c4e1d@db.internal/chip_news")
    settings = task_settings()
    line = f"posting with {settings.slack_token} to postgresql://news:pw-c4e1d@db.internal"
    redacted = str(redact(line))
    assert "fake-bot-token-redaction-test" not in redacted and "pw-c4e1d" not in redacted
    assert "fake-bot-token-redaction-test" not in repr(settings)
