"""Turns the Airflow Connection ``slack_api_default`` into the pipeline's Slack poster.

The client comes from the Slack provider's ``SlackHook`` (token in the connection's password,
``base_url``/``timeout``/``proxy`` in its extra) with the project's retry handlers. In Airflow the
connection is the only source of the token: without it, alerts are a dry run.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.providers.slack.hooks.slack import SlackHook
from airflow.sdk.exceptions import AirflowNotFoundException

from pipeline.settings import Settings
from pipeline.slack.client import DryRunPoster, SlackPoster, WebApiPoster, retry_handlers

log = logging.getLogger(__name__)

SLACK_CONN_ID = "slack_api_default"


class ChipNewsSlackHook(SlackHook):
    """The provider's ``SlackHook`` with the project's retries (rate limits, 5xx, read-only reconnects)."""

    hook_name = "Chip news Slack"

    def __init__(self, slack_conn_id: str = SLACK_CONN_ID, **kwargs: Any) -> None:
        kwargs.setdefault("retry_handlers", retry_handlers())
        kwargs.setdefault("timeout", 30)
        super().__init__(slack_conn_id=slack_conn_id, **kwargs)

    def poster(self) -> WebApiPoster:
        """The pipeline's paced poster over this hook's ``WebClient``."""
        return WebApiPoster(self.client)


def slack_poster(settings: Settings, *, dry_run: bool = False, conn_id: str = SLACK_CONN_ID) -> SlackPoster:
    """A Web API poster when the connection exists with a token, else (or with ``dry_run``) the dry-run
    poster that writes the exact payloads to ``settings.dry_run_file``."""
    if not dry_run:
        try:
            return ChipNewsSlackHook(conn_id).poster()
        except AirflowNotFoundException as e:
            log.info("Slack: %s; dry run, payloads go to %s", e, settings.dry_run_file)
    return DryRunPoster(settings.dry_run_file)
