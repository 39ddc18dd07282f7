"""Chip news monitor: crawl feeds, flag big-tech chip stories, alert Slack.

Plain Python that never imports Airflow; the DAGs in ``dags/`` only wire these functions together.
"""

from __future__ import annotations

__version__ = "0.1.0"
