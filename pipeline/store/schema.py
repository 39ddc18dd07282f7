"""The store's schema at the head revision, as SQLAlchemy Core tables.

The database itself is created and upgraded only by the numbered revisions in
``pipeline/store/migrations/versions``; a test checks that a database upgraded to head has exactly these
tables, columns and indexes.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps them naive, in UTC)."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use UTC-aware datetimes")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = sa.MetaData()

feed_state = sa.Table(
    "feed_state",
    metadata,
    sa.Column("feed_id", sa.String(64), primary_key=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("etag", sa.Text),
    sa.Column("last_modified", sa.Text),
    sa.Column("last_attempt_at", UTCDateTime),
    sa.Column("last_success_at", UTCDateTime),
    sa.Column("consecutive_failures", sa.Integer, nullable=False, default=0),
    sa.Column("last_error", sa.Text),
    sa.Column("last_status", sa.Integer),
    sa.Column("encoding", sa.String(40)),
    sa.Column("items_last", sa.Integer, nullable=False, default=0),
    sa.Column("items_seen", sa.Integer, nullable=False, default=0),
    sa.Column("new_items_total", sa.Integer, nullable=False, default=0),
    sa.Column("backoff_until", UTCDateTime),
    sa.Column("failure_notified", sa.Boolean, nullable=False, default=False),
)

# One row per fetch attempt of a feed (its history; ``feed_state`` holds only the latest), kept for
# ``FEED_RUN_RETENTION`` days. Keyed on (feed, attempt time), so a retried task overwrites its own row.
feed_runs = sa.Table(
    "feed_runs",
    metadata,
    sa.Column("feed_id", sa.String(64), primary_key=True),
    sa.Column("attempted_at", UTCDateTime, primary_key=True),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Column("http_status", sa.Integer),
    sa.Column("items", sa.Integer, nullable=False, default=0),
    sa.Column("new_items", sa.Integer, nullable=False, default=0),
    sa.Column("error", sa.Text),
)

# A feed's attempts summed per UTC day, recomputed from ``feed_runs`` whenever one is recorded, so a week
# of a feed costs seven rows to read however often it is polled.
feed_days = sa.Table(
    "feed_days",
    metadata,
    sa.Column("feed_id", sa.String(64), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("items", sa.Integer, nullable=False),
    sa.Column("new_items", sa.Integer, nullable=False),
)

articles = sa.Table(
    "articles",
    metadata,
    sa.Column("article_id", sa.String(40), primary_key=True),
    sa.Column("feed_id", sa.String(64), nullable=False),
    sa.Column("source_name", sa.Text),
    sa.Column("guid", sa.Text),
    sa.Column("url", sa.Text),
    sa.Column("canonical_url", sa.Text),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("summary", sa.Text, nullable=False, default=""),
    sa.Column("body", sa.Text),
    sa.Column("language", sa.String(8), nullable=False),
    sa.Column("published_at", UTCDateTime),
    sa.Column("first_seen_at", UTCDateTime, nullable=False),
    sa.Column("first_seen_run", sa.Text),
    sa.Column("last_seen_at", UTCDateTime, nullable=False),
    sa.Column("event_at", UTCDateTime, nullable=False),
    sa.Column("page_status", sa.String(20)),
    sa.Column("story_id", sa.String(40)),
    sa.Column("minhash", sa.LargeBinary),
    sa.Index("ix_articles_event_at", "event_at"),
    sa.Index("ix_articles_first_seen_at", "first_seen_at"),
    sa.Index("ix_articles_first_seen_run", "first_seen_run"),
    sa.Index("ix_articles_story_id", "story_id"),
    sa.Index("ix_articles_canonical_url", "canonical_url"),
)

classifications = sa.Table(
    "classifications",
    metadata,
    sa.Column("article_id", sa.String(40), primary_key=True),
    sa.Column("model_version", sa.String(64), nullable=False),
    sa.Column("relevant", sa.Boolean, nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("event_type", sa.String(32)),
    sa.Column("companies", sa.Text, nullable=False, default="[]"),
    sa.Column("chips", sa.Text, nullable=False, default="[]"),
    sa.Column("counterparties", sa.Text, nullable=False, default="[]"),
    sa.Column("amount", sa.Text),
    sa.Column("summary", sa.Text, nullable=False, default=""),
    sa.Column("error", sa.Text),
    sa.Column("classified_at", UTCDateTime, nullable=False),
)

alert_ledger = sa.Table(
    "alert_ledger",
    metadata,
    sa.Column("alert_id", sa.String(64), primary_key=True),
    sa.Column("channel", sa.String(128), nullable=False),
    sa.Column("kind", sa.String(24), nullable=False),
    sa.Column("story_id", sa.String(40)),
    sa.Column("article_id", sa.String(40)),
    sa.Column("parent_alert_id", sa.String(64)),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("claim_token", sa.String(64)),
    sa.Column("claimed_at", UTCDateTime),
    sa.Column("ts", sa.String(32)),
    sa.Column("thread_ts", sa.String(32)),
    sa.Column("permalink", sa.Text),
    sa.Column("payload", sa.Text),
    sa.Column("model_version", sa.String(64)),
    sa.Column("run_id", sa.Text),
    sa.Column("interval_start", UTCDateTime),
    sa.Column("interval_end", UTCDateTime),
    sa.Column("error", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("posted_at", UTCDateTime),
    # Story briefs (one row per story and channel, edited in place): the version the payload holds, and
    # the version Slack shows. A row whose version is ahead of its sent_version has an edit to deliver.
    sa.Column("version", sa.Integer),
    sa.Column("sent_version", sa.Integer),
    sa.Index("ix_alert_ledger_state", "state"),
    sa.Index("ix_alert_ledger_story", "story_id", "channel"),
    # The console pages through the ledger newest first (keyset on created_at, alert_id).
    sa.Index("ix_alert_ledger_created", "created_at", "alert_id"),
)

model_registry = sa.Table(
    "model_registry",
    metadata,
    sa.Column("version", sa.String(64), primary_key=True),
    # Where the model file was written when it was trained (informational; the bytes are in model_artifacts).
    sa.Column("path", sa.Text),
    sa.Column("data_hash", sa.String(64), nullable=False),
    sa.Column("metrics", sa.Text, nullable=False, default="{}"),
    # The model's metadata (threshold, feature set, training files ...), JSON.
    sa.Column("card", sa.Text, nullable=False, default="{}"),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("promoted_at", UTCDateTime),
    sa.Column("is_current", sa.Boolean, nullable=False, default=False),
)

model_artifacts = sa.Table(
    "model_artifacts",
    metadata,
    sa.Column("version", sa.String(64), primary_key=True),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("content", sa.LargeBinary, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

# Analysts' feedback. The reactions seen on alerts (one row per alert, user and emoji; ``removed_at`` set
# when a later read no longer finds it), each voter's current vote per article (``feedback_votes``), and
# every change of a vote in order (``feedback_history``: its last ``seq`` is the feedback version).
feedback_reactions = sa.Table(
    "feedback_reactions",
    metadata,
    sa.Column("alert_id", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.String(64), primary_key=True),
    sa.Column("emoji", sa.String(128), primary_key=True),
    sa.Column("channel", sa.String(128), nullable=False),
    sa.Column("message_ts", sa.String(32), nullable=False),
    sa.Column("first_seen_at", UTCDateTime, nullable=False),
    sa.Column("removed_at", UTCDateTime),
)

feedback_votes = sa.Table(
    "feedback_votes",
    metadata,
    sa.Column("vote_id", sa.String(64), primary_key=True),
    sa.Column("article_id", sa.String(40), nullable=False),
    sa.Column("voter", sa.String(160), nullable=False),
    sa.Column("label", sa.String(16)),
    sa.Column("event_type", sa.String(32)),
    sa.Column("emoji", sa.Text, nullable=False, default=""),
    sa.Column("alert_id", sa.String(64)),
    sa.Column("story_id", sa.String(40)),
    sa.Column("model_version", sa.String(64)),
    sa.Column("channel", sa.String(128)),
    sa.Column("message_ts", sa.String(32)),
    sa.Column("companies", sa.Text, nullable=False, default="[]"),
    sa.Column("note", sa.Text),
    sa.Column("revision", sa.Integer, nullable=False, default=1),
    sa.Column("first_voted_at", UTCDateTime, nullable=False),
    sa.Column("voted_at", UTCDateTime, nullable=False),
    sa.Index("ix_feedback_votes_article_id", "article_id"),
    sa.Index("ix_feedback_votes_alert_id", "alert_id"),
)

feedback_history = sa.Table(
    "feedback_history",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("vote_id", sa.String(64), nullable=False),
    sa.Column("article_id", sa.String(40), nullable=False),
    sa.Column("voter", sa.String(160), nullable=False),
    sa.Column("label", sa.String(16)),
    sa.Column("event_type", sa.String(32)),
    sa.Column("emoji", sa.Text, nullable=False, default=""),
    sa.Column("companies", sa.Text, nullable=False, default="[]"),
    sa.Column("note", sa.Text),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
    sa.Index("ix_feedback_history_vote_id", "vote_id"),
)

# Promotion: what the evaluation of a candidate found (its report, for the approval and the ops channel)
# and every change of the promoted model (who, when, why), rollbacks included.
promotion_reports = sa.Table(
    "promotion_reports",
    metadata,
    sa.Column("report_id", sa.String(160), primary_key=True),
    sa.Column("candidate_version", sa.String(64), nullable=False),
    sa.Column("current_version", sa.String(64)),
    sa.Column("decision", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("report", sa.Text, nullable=False),
    sa.Column("markdown", sa.Text, nullable=False),
    sa.Column("chart", sa.LargeBinary),
    sa.Column("run_id", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("outcome", sa.String(16)),
    sa.Column("decided_by", sa.Text),
    sa.Column("decided_at", UTCDateTime),
    sa.Index("ix_promotion_reports_candidate_version", "candidate_version"),
)

model_promotions = sa.Table(
    "model_promotions",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("version", sa.String(64), nullable=False),
    sa.Column("previous_version", sa.String(64)),
    sa.Column("promoted_by", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False, default=""),
    sa.Column("promoted_at", UTCDateTime, nullable=False),
)

# Whether a story is new, a follow-up or a rehash of an earlier one (decided before its first alert).
story_novelty = sa.Table(
    "story_novelty",
    metadata,
    sa.Column("story_id", sa.String(40), primary_key=True),
    sa.Column("tag", sa.String(16), nullable=False),
    sa.Column("first_article_id", sa.String(40), nullable=False),
    sa.Column("first_source", sa.Text, nullable=False),
    sa.Column("first_published_at", UTCDateTime, nullable=False),
    sa.Column("earlier_story_id", sa.String(40)),
    sa.Column("earlier_headline", sa.Text),
    sa.Column("reason", sa.Text, nullable=False, default=""),
    sa.Column("decided_at", UTCDateTime, nullable=False),
    sa.Index("ix_story_novelty_decided_at", "decided_at"),
)
