"""Turns the Airflow Connection ``slack_api_default`` into the pipeline's Slack settings and poster."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import cached_property
from typing import Any, TypeVar

from airflow.sdk import BaseHook

from pipeline.settings import Settings

log = logging.getLogger(__name__)

SLACK_CONN_ID = "slack_api_default"


class ChipNewsSlackHook(BaseHook):
    """A thin hook: bot token from the connection's password, ``base_url`` from its extra.

    Without the connection it falls back to ``SLACK_BOT_TOKEN`` / ``SLACK_BASE_URL`` (already in the
    settings), and without either the pipeline runs in dry-run mode.
    """

    conn_name_attr = "slack_conn_id"
    default_conn_name = SLACK_CONN_ID
    conn_type = "slack"
    hook_name = "Chip news Slack"

    def __init__(self, slack_conn_id: str = SLACK_CONN_ID, settings: Settings | None = None) -> None:
        super().__init__()
        self.slack_conn_id = slack_conn_id
        self._settings = settings

    @cached_property
    def credentials(self) -> tuple[str | None, str | None]:
        try:
            conn = self.get_connection(self.slack_conn_id)
        except Exception:  # AirflowNotFoundException, or no metadata DB when run outside a worker
            log.info(
                "no Airflow connection %r; using SLACK_BOT_TOKEN/SLACK_BASE_URL if set", self.slack_conn_id
            )
            return None, None
        extra: dict[str, Any] = conn.extra_dejson or {}
        token = conn.password or extra.get("token")
        base_url = extra.get("base_url") or None
        return token or None, base_url

    def settings(self, *, dry_run: bool = False) -> Settings:
        """The pipeline settings with Slack credentials from the connection (or none, for a dry run)."""
        settings = self._settings or Settings.from_env()
        if dry_run:
            return settings.with_slack(None, None)
        token, base_url = self.credentials
        if token:
            return settings.with_slack(token, base_url or settings.slack_base_url)
        return settings

    def get_poster(self, *, dry_run: bool = False) -> Any:
        from pipeline.slack.client import make_poster

        return make_poster(self.settings(dry_run=dry_run))


_T = TypeVar("_T")


def run_slack_step(step: Callable[[Settings, Any], _T]) -> _T:
    """Run a pipeline step with the connection's settings and poster; a Slack error an operator must fix
    (token, scope, channel) fails the task at once, without retries that cannot help."""
    from airflow.sdk.exceptions import AirflowFailException

    from pipeline.errors import SlackConfigError

    hook = ChipNewsSlackHook(settings=Settings.from_env())
    try:
        return step(hook.settings(), hook.get_poster())
    except SlackConfigError as e:
        raise AirflowFailException(str(e)) from e
