"""The chip-news console: read-only pages (alerts, stories, feeds, models) and their JSON API, mounted in
Airflow's API server by ``console_plugin`` and shown in the UI's navigation as "Chip news"."""

from chip_news_airflow.console.app import URL_PREFIX, create_console_app

__all__ = ["URL_PREFIX", "create_console_app"]
