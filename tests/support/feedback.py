"""A small world for the feedback-loop tests: archived articles, classified by a model, alerted, voted on.

``RUMOUR`` is a false alarm of the kind analysts reject (a company denying rumours about its chip unit's
listing): the model trained on ``SMALL`` flags it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from pipeline.config.watchlist import Watchlist
from pipeline.model.classifier import ClassifyItem, NewsClassifier
from pipeline.model.dataset import load_labelled
from pipeline.models import Article, FeedbackVote
from pipeline.settings import PROJECT_ROOT
from pipeline.store import NewAlert, Store

SMALL = PROJECT_ROOT / "tests" / "data" / "extract" / "labelled_small.jsonl"
WATCHLIST = Watchlist.load(PROJECT_ROOT / "config" / "watchlist.yaml")
RUMOUR = {
    "id": "rumour",
    "lang": "en",
    "title": "Baidu denies rumours that its Kunlun chip unit will list in Hong Kong",
    "summary": "Baidu said reports of an imminent listing of its AI chip unit Kunlunxin were speculation; "
    "shares of chip stocks fell.",
}


def story_for(article_id: str) -> str:
    return "s" + hashlib.sha256(article_id.encode()).hexdigest()[:12]


def archive_items(store: Store, items: Sequence[dict[str, str]], *, at: datetime) -> list[str]:
    """Archive items (``id``, ``lang``, ``title``, ``summary``) as articles of their own stories, a minute apart."""
    articles = [
        Article(
            article_id=i["id"],
            feed_id="wire",
            url=f"https://news.example.com/{i['id']}",
            canonical_url=f"https://news.example.com/{i['id']}",
            guid=i["id"],
            title=i["title"],
            summary=i["summary"],
            language=i["lang"],
            first_seen_at=at + timedelta(minutes=n),
            event_at=at + timedelta(minutes=n),
            published_at=at + timedelta(minutes=n),
            story_id=story_for(i["id"]),
            source_name="Example Wire",
        )
        for n, i in enumerate(items)
    ]
    store.upsert_articles(articles, seen_at=at)
    return [a.article_id for a in articles]


def small_items(count: int) -> list[dict[str, str]]:
    """The first ``count`` items of the small labelled file, as archive rows (their own ids)."""
    return [
        {"id": f"art-{i.id}", "lang": i.lang, "title": i.title, "summary": i.summary}
        for i in load_labelled([SMALL])[:count]
    ]


def classify(store: Store, model: NewsClassifier, ids: Sequence[str]) -> list[str]:
    """Classify archived articles with ``model`` and store the results; the relevant ids."""
    results = model.classify([ClassifyItem.of(a) for a in store.get_articles(ids)], watchlist=WATCHLIST)
    store.save_classifications(results)
    return [r.article_id for r in results if r.relevant]


def mark_alerted(store: Store, article_ids: Sequence[str], *, model_version: str) -> list[str]:
    """Posted story alerts for these articles (as news_monitor leaves them); their alert ids."""
    rows = [
        NewAlert(
            f"story-{a}",
            "#chip-alerts",
            "story",
            story_id=story_for(a),
            article_id=a,
            model_version=model_version,
        )
        for a in article_ids
    ]
    store.ensure_alerts(rows)
    for n, row in enumerate(rows):
        assert store.claim_alert(row.alert_id, "t", stale_after=timedelta(minutes=5)) is not None
        assert store.mark_alert_posted(row.alert_id, "t", ts=f"1757923200.{n:06d}")
    return [r.alert_id for r in rows]


def slack_vote(
    article_id: str, label: str | None, *, user: str = "UALICE", at: datetime, **kw: object
) -> FeedbackVote:
    """An analyst's vote as collect_feedback records it."""
    fields: dict[str, object] = {
        "vote_id": f"slack-{article_id}-{user}",
        "article_id": article_id,
        "voter": f"slack:{user}",
        "label": label,
        "event_type": None,
        "voted_at": at,
        "emoji": "x" if label == "not_relevant" else "white_check_mark",
        "alert_id": f"story-{article_id}",
        "story_id": story_for(article_id),
        "model_version": "clf-test",
        "channel": "#chip-alerts",
        "message_ts": "1757923200.000001",
    }
    fields.update(kw)
    return FeedbackVote(**fields)  # type: ignore[arg-type]


def copy_small_training_file(home: Path) -> Path:
    """``data/train/small.jsonl`` under ``home``: the small labelled file as a team's training data."""
    folder = home / "data" / "train"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "small.jsonl"
    path.write_bytes(SMALL.read_bytes())
    return path
