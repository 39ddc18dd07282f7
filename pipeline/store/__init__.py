"""The store: every SQL statement of the project, over SQLAlchemy Core (SQLite or PostgreSQL).

One ``Store`` object per database URL, made of per-domain parts that share its engine:

- ``archive``: articles (first-seen time, story) and their classifications;
- ``feed_health``: one row per feed (validators, failures, back-off);
- ``ledger``: the alert ledger, Slack's exactly-once outbox;
- ``registry``: trained models, their bytes, which one is promoted, and who promoted each;
- ``feedback``: analysts' reactions on alerts and their votes, a versioned source of labels;
- ``promotion``: evaluation reports of candidate models and the decisions taken on them;
- ``console``: the read-only, paged queries of the console in the Airflow UI;
- ``briefs``: story-level reads, novelty decisions, and story briefs as versioned ledger rows.

The schema (``schema``) is created and upgraded only by the numbered Alembic revisions (``migrate``).
Writes are idempotent: UPSERTs keyed on stable ids (``article_id``, ``alert_id``, ``feed_id``, ``version``).
"""

from __future__ import annotations

import functools
import logging

from pipeline.store.archive import ArchiveStore, RelevantEvent, StoredClassification
from pipeline.store.base import redact, sqlite_path, utcnow
from pipeline.store.briefs import BriefStore
from pipeline.store.console import (
    AlertQuery,
    ConsoleAlert,
    ConsoleBrief,
    ConsolePromotion,
    ConsoleStore,
    ConsoleStory,
    FeedDay,
    Keyset,
    StoryAlert,
    StorySource,
)
from pipeline.store.feed_health import FEED_RUN_RETENTION, FeedHealth, FeedHealthStore, feed_status
from pipeline.store.feedback import AlertReactions, FeedbackStore, SeenReaction, VoteChanges
from pipeline.store.ledger import FAILED, PENDING, POSTED, POSTING, AlertRecord, LedgerStore, NewAlert
from pipeline.store.migrate import MigrationResult, head_revision
from pipeline.store.migrate import upgrade as _upgrade
from pipeline.store.promotion import PromotionReportRecord, PromotionStore
from pipeline.store.registry import ModelRecord, PromotionRecord, RegistryStore

__all__ = [
    "FAILED",
    "FEED_RUN_RETENTION",
    "PENDING",
    "POSTED",
    "POSTING",
    "AlertQuery",
    "AlertReactions",
    "AlertRecord",
    "ConsoleAlert",
    "ConsoleBrief",
    "ConsolePromotion",
    "ConsoleStory",
    "FeedDay",
    "FeedHealth",
    "Keyset",
    "ModelRecord",
    "NewAlert",
    "PromotionRecord",
    "PromotionReportRecord",
    "RelevantEvent",
    "SeenReaction",
    "Store",
    "StoredClassification",
    "StoryAlert",
    "StorySource",
    "VoteChanges",
    "feed_status",
    "get_store",
    "head_revision",
    "open_store",
    "redact",
    "utcnow",
]

log = logging.getLogger(__name__)


class Store(
    ArchiveStore,
    FeedHealthStore,
    LedgerStore,
    RegistryStore,
    FeedbackStore,
    PromotionStore,
    ConsoleStore,
    BriefStore,
):
    """All reads and writes of the pipeline's data. Safe to share within a process."""

    def migrate(self) -> MigrationResult:
        """Bring the schema to the head revision (serialised across processes; a no-op when current)."""
        return _upgrade(self.engine, self.url)


def open_store(url: str, *, migrate: bool = True) -> Store:
    """A store for ``url``, with its folder created (SQLite) and its schema migrated to head."""
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    store = Store(url)
    if migrate:
        result = store.migrate()
        if result.changed:
            log.info("store %s migrated: %s -> %s", redact(url), result.before or "(empty)", result.after)
    return store


@functools.lru_cache(maxsize=4)
def get_store(url: str) -> Store:
    """One migrated store per URL and process (the tasks of one worker process share its engine)."""
    return open_store(url)
