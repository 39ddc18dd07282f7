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

import pendulum
from airflow.sdk import dag, task

from chip_news_airflow.defaults import task_defaults
from pipeline.settings import Settings

SETTINGS = Settings.from_env()


def _train_paths(settings: Settings) -> list:
    from pipeline.dataset import resolve_train_paths

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
    def train() -> dict:
        """Fit a candidate on the training files and save it (not promoted)."""
        from pipeline.cycle import get_store
        from pipeline.training import train_and_save

        settings = Settings.from_env()
        result = train_and_save(
            train_paths=_train_paths(settings),
            model_dir=settings.model_dir,
            store=get_store(settings.db_url),
            promote=False,
        )
        return {"version": result.version, "path": str(result.path), "metrics": result.metrics}

    @task.short_circuit
    def gate(candidate: dict) -> bool:
        """Promote only when the candidate is not worse than the current model on the held-out split."""
        from pathlib import Path

        from pipeline.cycle import get_store
        from pipeline.training import evaluate_candidate

        settings = Settings.from_env()
        result = evaluate_candidate(
            Path(candidate["path"]),
            train_paths=_train_paths(settings),
            model_dir=settings.model_dir,
            store=get_store(settings.db_url),
        )
        print(f"candidate {candidate['version']}: {result.candidate_metrics}")
        print(f"current model: {result.current_metrics}")
        print(("PROMOTE: " if result.promote else "KEEP CURRENT: ") + result.reason)
        return bool(result.promote)

    @task
    def promote(candidate: dict) -> str:
        """Make the candidate the model that news_monitor uses from its next run."""
        from pipeline.cycle import get_store
        from pipeline.training import promote as promote_model

        settings = Settings.from_env()
        promote_model(candidate["version"], model_dir=settings.model_dir, store=get_store(settings.db_url))
        return candidate["version"]

    candidate = train()
    gate(candidate) >> promote(candidate)


retrain_classifier()
