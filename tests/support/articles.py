"""Article values for store and cycle tests."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from pipeline.models import Amount, Article, Classification, Extraction
from pipeline.store import NewAlert, Store
from pipeline.store.schema import alert_ledger

T0 = datetime(2025, 9, 15, 8, 0, tzinfo=UTC)


def make_article(
    article_id: str, *, event_at: datetime = T0, feed_id: str = "feed-a", **kw: object
) -> Article:
    """An English article with every required field, overridable by keyword."""
    fields: dict[str, object] = {
        "article_id": article_id,
        "feed_id": feed_id,
        "url": f"https://news.example.com/{article_id}",
        "canonical_url": f"https://news.example.com/{article_id}",
        "guid": article_id,
        "title": f"Title {article_id}",
        "summary": "Summary",
        "language": "en",
        "first_seen_at": event_at,
        "event_at": event_at,
    }
    fields.update(kw)
    return Article(**fields)  # type: ignore[arg-type]


def add_classified(
    store: Store,
    article_id: str,
    *,
    at: datetime,
    story: str,
    source: str = "Reuters",
    title: str | None = None,
    summary: str = "feed summary",
    companies: tuple[str, ...] = ("Alibaba",),
    event_type: str = "self_development",
    amount: Amount | None = None,
    chips: tuple[str, ...] = ("Hanguang 800",),
    relevant: bool = True,
    score: float = 0.91,
    language: str = "en",
    url: str | None = None,
) -> str:
    """Archive one article (English unless ``language``) of ``story`` published at ``at`` and store its
    classification."""
    feed = source.lower().replace(" ", "-")
    store.upsert_articles(
        [
            Article(
                article_id=article_id,
                feed_id=feed,
                url=url or f"https://{source.lower().replace(' ', '')}.example/{article_id}",
                canonical_url=None,
                guid=article_id,
                title=title or f"{companies[0]} chip news from {source} ({article_id})",
                summary=summary,
                language=language,
                first_seen_at=at,
                event_at=at,
                published_at=at,
                story_id=story,
                source_name=source,
            )
        ],
        seen_at=at,
    )
    store.save_classifications(
        [
            Classification(
                article_id=article_id,
                relevant=relevant,
                score=score,
                event_type=event_type,
                model_version="m1",
                extraction=Extraction(companies=companies, chips=chips, amount=amount, summary="sum"),
            )
        ]
    )
    return article_id


def add_alert(
    store: Store,
    alert_id: str,
    *,
    at: datetime,
    channel: str = "#chip-alerts",
    kind: str = "story",
    story_id: str | None = None,
    article_id: str | None = None,
    **values: object,
) -> None:
    """A ledger row created at ``at``, with other columns (state, posted_at, permalink, error ...) set as
    given: the ledger stamps its rows with the wall clock, tests need fixed times."""
    store.ensure_alerts(
        [NewAlert(alert_id, channel, kind, story_id=story_id, article_id=article_id, model_version="m1")]
    )
    with store.begin() as conn:
        conn.execute(
            sa.update(alert_ledger).where(alert_ledger.c.alert_id == alert_id).values(created_at=at, **values)
        )
