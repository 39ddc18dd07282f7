"""The Airflow plugin: the chip-news console mounted in the API server and a "Chip news" entry in the UI.

The console (``chip_news_airflow.console``) is a FastAPI app under ``/chip-news``; the navigation entry
frames it. Its ``href`` is relative (no leading slash): the UI resolves it against its ``<base href>``,
so it follows Airflow's ``[api] base_url`` prefix and reverse proxies. Every console route checks the
caller's Airflow login itself: Airflow does not authenticate plugin apps.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from chip_news_airflow.console import URL_PREFIX, create_console_app


class ChipNewsPlugin(AirflowPlugin):
    """Registers the console app and its navigation entry."""

    name = "chip_news"
    fastapi_apps: list[Any] = [  # noqa: RUF012 (AirflowPlugin's attributes are plain class lists)
        {"app": create_console_app(), "url_prefix": URL_PREFIX, "name": "Chip news console"}
    ]
    external_views: list[Any] = [  # noqa: RUF012
        {
            "name": "Chip news",
            "href": URL_PREFIX.strip("/") + "/",
            "url_route": "chip-news",
            "destination": "nav",
            "nav_top_level": True,
        }
    ]
