"""What a chip-news task needs from its Airflow process: the settings, with their secrets masked."""

from __future__ import annotations

from airflow.sdk.log import mask_secret

from pipeline.settings import Settings


def task_settings() -> Settings:
    """``Settings.from_env()``, after telling Airflow's secret masker about the secrets they hold (a bot
    token or database password from the environment), so no task log line can show them."""
    settings = Settings.from_env()
    for secret in settings.secrets():
        mask_secret(secret)
    return settings
