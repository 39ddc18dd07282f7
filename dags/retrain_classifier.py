"""
### retrain_classifier

Retrains the relevance and event-type classifier on `data/train/*.jsonl` and promotes it only when it is
not worse than the current model.

**Tasks**: `train` (fit and save a candidate, not yet promoted) → `gate` (score the candidate and the
current model on the same held-out split; short-circuits when the candidate is worse) → `promote`
(make the candidate current: later `news_monitor` runs classify with it; every alert records the model
version that produced it).

Manual by default; set `NEWS_RETRAIN_SCHEDULE` (e.g. `0 3 * * 1`) for a weekly run.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import dag, task

from chip_news_airflow.defaults import task_defaults
from pipeline.settings import Settings

SETTINGS = Settings.from_env()


def _train_paths(settings: Settings) -> list[Path]:
    from pipeline.model.dataset import resolve_train_paths

    return resolve_train_paths(settings.home)


@dag(
    dag_id="retrain_classifier",
    schedule=SETTINGS.retrain_schedule or None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=task_defaults(retries=1, retry_delay=timedelta(minutes=1), timeout=timedelta(minutes=30)),
    tags=["chip-news", "model"],
    doc_md=__doc__,
)
def retrain_classifier() -> None:
    @task
    def train() -> dict[str, Any]:
        """Fit a candidate on the training files and register it in the store (not promoted)."""
        from chip_news_airflow.runtime import task_settings
        from pipeline.model.training import train_and_save
        from pipeline.store import get_store

        settings = task_settings()
        result = train_and_save(
            train_paths=_train_paths(settings),
            model_dir=settings.model_dir,
            store=get_store(settings.db_url),
            promote=False,
        )
        return {"version": result.version, "metrics": result.metrics}

    @task.short_circuit
    def gate(candidate: dict[str, Any]) -> bool:
        """Promote only when the candidate is not worse than the current model on the held-out split."""
        from chip_news_airflow.runtime import task_settings
        from pipeline.model.registry import load_version
        from pipeline.model.training import evaluate_candidate
        from pipeline.store import get_store

        settings = task_settings()
        store = get_store(settings.db_url)
        result = evaluate_candidate(
            load_version(store, candidate["version"], settings.model_dir),
            train_paths=_train_paths(settings),
            store=store,
            cache_dir=settings.model_dir,
        )
        print(f"candidate {candidate['version']}: {result.candidate_metrics}")
        print(f"current model: {result.current_metrics}")
        print(("PROMOTE: " if result.promote else "KEEP CURRENT: ") + result.reason)
        return bool(result.promote)

    @task
    def promote(candidate: dict[str, Any]) -> str:
        """Make the candidate the model that news_monitor uses from its next run."""
        from chip_news_airflow.runtime import task_settings
        from pipeline.model.registry import promote as promote_model
        from pipeline.store import get_store

        settings = task_settings()
        promote_model(get_store(settings.db_url), candidate["version"])
        return candidate["version"]

    # XComArgs stand for the task results at parse time; mypy sees the XComArg, Airflow passes the dict.
    candidate: Any = train()
    gate(candidate) >> promote(candidate)


retrain_classifier()
