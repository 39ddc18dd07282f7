"""One monitoring cycle as four steps — fetch, store, classify, alert — shared by the DAG and the CLI.

Each step takes ids and returns ids and counts (what Airflow's XCom carries); article bodies stay in the
store. Every step is idempotent: running it again for the same run changes nothing it already did.

Run semantics:
- a scheduled (or manual) run fetches the feeds now and archives every item with its first-seen time;
  it then processes the items whose event time (published, or first seen when missing or in the future)
  falls in its window, plus items first seen by this run that are older than the window but younger than
  ``NEWS_LATE_WINDOW_HOURS`` (feeds that list items late);
- a backfill run cannot fetch the past: it re-processes the archived items of its window with the current
  model and alerts only what was never alerted.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pipeline.config.feeds import load_feeds, shard_feeds
from pipeline.errors import ConfigError
from pipeline.models import FOLLOW_UP, NEW, REHASH, Article, Brief, FeedSpec, Novelty, RunInfo
from pipeline.settings import Settings
from pipeline.store import Store, StoredClassification, get_store

if TYPE_CHECKING:
    from pipeline.analysis.novelty import StoryItem
    from pipeline.config.routing import Routing
    from pipeline.model.classifier import NewsClassifier
    from pipeline.slack.client import SlackPoster

log = logging.getLogger(__name__)

STORY_LOOKBACK = timedelta(days=3)
CLASSIFY_BATCH = 500


def _now() -> datetime:
    return datetime.now(UTC)


def select_feeds(settings: Settings, feed_ids: Sequence[str] | None = None) -> list[FeedSpec]:
    """The enabled feeds, or the named subset (unknown ids are a ConfigError naming them)."""
    everything = {f.id: f for f in load_feeds(settings.feeds_file, include_disabled=True)}
    if not feed_ids:
        return [f for f in everything.values() if f.enabled]
    unknown = sorted(set(feed_ids) - set(everything))
    if unknown:
        raise ConfigError(f"unknown feed id(s) {unknown}", path=str(settings.feeds_file))
    return [everything[i] for i in feed_ids]


def plan_shards(settings: Settings, feed_ids: Sequence[str] | None = None) -> list[list[str]]:
    """Feed-id shards for the mapped fetch tasks (the store is migrated here, before they fan out)."""
    get_store(settings.db_url)
    feeds = select_feeds(settings, feed_ids)
    shards = shard_feeds(feeds, settings.feed_shard_size)
    log.info("%d feeds in %d shards of up to %d", len(feeds), len(shards), settings.feed_shard_size)
    return shards


def fetch_shard(
    settings: Settings,
    feed_ids: Sequence[str],
    *,
    run_id: str,
    now: datetime | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Fetch one shard of feeds and archive their items under ``run_id``; returns counts."""
    from pipeline.ingest.ingester import FeedIngester

    store = get_store(settings.db_url)
    feeds = select_feeds(settings, feed_ids)
    with FeedIngester(store, settings) as ingester:
        summary = ingester.fetch(feeds, now=now or _now(), run_id=run_id, force=force)
    result: dict[str, Any] = summary.counts()
    result["failed_feeds"] = sorted(o.feed_id for o in summary.outcomes if not o.ok)
    return result


def store_window(
    settings: Settings, run: RunInfo, *, feed_ids: Sequence[str] | None = None
) -> dict[str, Any]:
    """Select the run's articles from the archive and group them into stories; returns their ids.

    The window's articles, plus (for runs that fetched) the late arrivals this run archived.
    """
    from pipeline.analysis.stories import StoryGrouper

    store = get_store(settings.db_url)
    ids = store.articles_in_window(run.window_start, run.window_end, feed_ids=feed_ids)
    late: list[str] = []
    if not run.is_backfill and not run.explicit_window:
        oldest = run.window_start - timedelta(hours=settings.late_window_hours)
        late = store.late_arrivals(
            run.run_id, event_after=oldest, event_before=run.window_start, feed_ids=feed_ids
        )
    ids.extend(late)
    articles = store.get_articles(ids)
    ungrouped = [a for a in articles if a.story_id is None]
    if ungrouped:
        grouper = StoryGrouper()
        recent = store.story_signatures(run.window_start - STORY_LOOKBACK)
        store.set_stories(grouper.assign(ungrouped, recent))
    log.info(
        "window %s: %d articles (%d in window, %d late arrivals), %d newly grouped into stories",
        run.interval_label,
        len(ids),
        len(ids) - len(late),
        len(late),
        len(ungrouped),
    )
    return {
        "article_ids": ids,
        "in_window": len(ids) - len(late),
        "late": len(late),
        "grouped": len(ungrouped),
    }


def load_model(settings: Settings) -> NewsClassifier:
    """The promoted classifier, from the store's registry (cached locally under ``NEWS_MODEL_DIR``)."""
    from pipeline.model.registry import load_promoted

    return load_promoted(get_store(settings.db_url), settings.model_dir)


def classify_articles(
    settings: Settings, article_ids: Sequence[str], *, force: bool = False
) -> dict[str, Any]:
    """Classify and extract fields for the given articles with the current model; returns relevant ids.

    Articles already classified by the current model version are not classified again unless ``force``.
    """
    from pipeline.config.watchlist import Watchlist
    from pipeline.model.classifier import ClassifyItem

    store = get_store(settings.db_url)
    model = load_model(settings)
    watchlist = Watchlist.load(settings.watchlist_file)
    existing = store.get_classifications(article_ids)
    todo = [
        i for i in article_ids if force or i not in existing or existing[i].model_version != model.version
    ]
    errors = 0
    for start in range(0, len(todo), CLASSIFY_BATCH):
        batch = store.get_articles(todo[start : start + CLASSIFY_BATCH])
        items = [ClassifyItem.of(a) for a in batch]
        results = model.classify(items, watchlist=watchlist)
        errors += sum(1 for r in results if r.error)
        store.save_classifications(results)
    final = store.get_classifications(article_ids)
    relevant = [i for i in article_ids if i in final and final[i].relevant]
    merged = _merge_stories_by_event(store, relevant)
    log.info(
        "classified %d of %d articles with model %s (%d reused, %d errors): %d relevant",
        len(todo),
        len(article_ids),
        model.version,
        len(article_ids) - len(todo),
        errors,
        len(relevant),
    )
    return {
        "classified": len(todo),
        "merged_stories": merged,
        "reused": len(article_ids) - len(todo),
        "errors": errors,
        "relevant_ids": relevant,
        "model_version": model.version,
    }


def _merge_stories_by_event(store: Store, relevant_ids: Sequence[str]) -> int:
    """Group this run's relevant articles with earlier reports of the same event (other wording or language)."""
    from pipeline.analysis.stories import EVENT_MERGE_WINDOW, EventFacts, merge_by_event

    if not relevant_ids:
        return 0
    articles = store.get_articles(relevant_ids)
    since = min(a.event_at for a in articles) - EVENT_MERGE_WINDOW
    facts = [
        EventFacts.of(
            article_id=e.article_id,
            story_id=e.story_id,
            event_at=e.event_at,
            companies=e.companies,
            event_type=e.event_type,
            chips=e.chips,
            counterparties=e.counterparties,
        )
        for e in store.relevant_events(since)
    ]
    wanted = set(relevant_ids)
    already_alerted = store.alerted_story_ids([f.story_id for f in facts])
    new = [f for f in facts if f.article_id in wanted and f.story_id not in already_alerted]
    moves = merge_by_event(
        new, [f for f in facts if f.article_id not in wanted or f.story_id in already_alerted]
    )
    if moves:
        store.move_to_story(moves)
        log.info("grouped %d article(s) with earlier reports of the same event", len(moves))
    return len(moves)


def alert_articles(
    settings: Settings, run: RunInfo, relevant_ids: Sequence[str], *, poster: SlackPoster | None = None
) -> dict[str, Any]:
    """Alert Slack (or the dry-run file) about relevant articles; exactly once per alert id.

    ``poster`` is how to reach Slack (in Airflow: from the connection); default: from the settings' token.
    Before planning, the novelty of the run's stories is decided (and recorded), and the brief of every
    story the run touched is assembled; the alerts carry the stamp, the briefs go into the threads.
    """
    from pipeline.slack.alerts import send_alerts
    from pipeline.slack.client import make_poster
    from pipeline.slack.ops import report_feed_health

    store = get_store(settings.db_url)
    poster = poster or make_poster(settings)
    now = _now()
    stories = sorted({a.story_id for a in store.get_articles(relevant_ids) if a.story_id})
    novelty = assess_novelty(settings, stories, now=now)
    briefs = story_briefs(settings, stories)
    report = send_alerts(
        store,
        settings,
        article_ids=relevant_ids,
        run=run,
        poster=poster,
        now=now,
        novelty=novelty,
        briefs=briefs,
    )
    try:
        notices = report_feed_health(store, settings, poster)
    except Exception:  # a health notice must never hide the alert result
        log.exception("feed-health notices failed")
        notices = 0
    if report.previews:
        log.info("dry run: %d message(s) written to %s", len(report.previews), settings.dry_run_file)
    for preview in report.previews:
        log.debug("alert preview:\n%s", preview)
    if report.outage:
        from pipeline.slack.client import SlackUnavailableError

        # The alerts stay pending in the ledger; failing the task lets Airflow retry it with back-off,
        # and the next runs re-attempt them too. Nothing is posted twice.
        raise SlackUnavailableError(
            f"Slack unavailable, {report.pending} alert(s) left pending: {report.outage}"
        )
    return {
        "planned": report.planned,
        "posted": report.posted,
        "already_posted": report.already_posted,
        "pending": report.pending,
        "failed": report.failed,
        "muted": report.muted,
        "rehashes": report.rehashes,
        "briefs": report.briefs,
        "briefs_edited": report.briefs_edited,
        "channels": dict(report.channels),
        "health_notices": notices,
        "dry_run": bool(poster.namespace) or run.dry_run,
    }


# --- stories: novelty and briefs ------------------------------------------------------------------------


def _unmuted(
    routing: Routing, items: Sequence[tuple[Article, StoredClassification]]
) -> list[tuple[Article, StoredClassification]]:
    return [
        (a, c)
        for a, c in items
        if not routing.mute_reason(
            companies=c.companies, feed_id=a.feed_id, source_name=a.source_name, title=a.title
        )
    ]


def _story_item(article: Article, cls: StoredClassification) -> StoryItem:
    from pipeline.analysis.novelty import StoryItem

    amount = cls.amount
    return StoryItem(
        article_id=article.article_id,
        source=article.source_name or article.feed_id,
        published_at=article.published_at or article.event_at,
        title=article.title,
        text="\n".join(p for p in (article.title, article.summary, (article.body or "")[:4000]) if p),
        companies=cls.companies,
        event_type=cls.event_type,
        chips=cls.chips,
        counterparties=cls.counterparties,
        amount=f"{amount.value:g} {amount.currency}" if amount else None,
    )


def assess_novelty(settings: Settings, story_ids: Sequence[str], *, now: datetime) -> dict[str, Novelty]:
    """The novelty of each story (new / follow-up / rehash), decided for stories not alerted yet and
    recorded; a story's decision is final once it is new or a follow-up (a rehash is looked at again when
    more sources arrive)."""
    from pipeline.analysis.novelty import StoryDigest, decide_novelty

    if not story_ids:
        return {}
    store = get_store(settings.db_url)
    known = store.get_novelty(story_ids)
    alerted = store.alerted_story_ids(story_ids)
    undecided = [s for s in story_ids if s not in alerted and (s not in known or known[s].tag == REHASH)]
    items = store.story_items(undecided)
    digests = {
        s: StoryDigest.of(s, [_story_item(a, c) for a, c in rows]) for s, rows in items.items() if rows
    }
    decisions: list[Novelty] = []
    if digests:
        window = timedelta(days=settings.followup_days)
        since = min(d.first_published_at for d in digests.values()) - window
        pool: dict[str, list[StoryItem]] = {}
        for article, cls in store.list_articles(since=since, relevant_only=True):
            if cls is not None and article.story_id and article.story_id not in digests and not cls.error:
                pool.setdefault(article.story_id, []).append(_story_item(article, cls))
        earlier_ids = set(store.alerted_story_ids(list(pool)))
        earlier_ids |= {s for s, n in store.get_novelty(list(pool)).items() if n.tag in (NEW, FOLLOW_UP)}
        earlier = [StoryDigest.of(s, rows) for s, rows in pool.items() if s in earlier_ids]
        for story_id in sorted(digests):
            decision = decide_novelty(digests[story_id], earlier, window=window)
            decisions.append(decision)
            log.info(
                "story %s is %s%s%s",
                story_id,
                decision.tag,
                f" of {decision.earlier_story_id}" if decision.earlier_story_id else "",
                f" ({decision.reason})" if decision.reason else "",
            )
        store.save_novelty(decisions, at=now)
    result = {s: n for s, n in known.items() if s in alerted or n.tag != REHASH}
    result.update((n.story_id, n) for n in decisions)
    return result


def story_briefs(settings: Settings, story_ids: Sequence[str], *, eligible_only: bool = True) -> list[Brief]:
    """The current brief of each story (its relevant, unmuted articles; only stories with two sources or
    a fetched article body unless ``eligible_only`` is off)."""
    from pipeline.analysis.brief import brief_eligible, build_brief, story_facts
    from pipeline.analysis.brief_groups import default_grouper
    from pipeline.config.routing import routing_for
    from pipeline.config.watchlist import watchlist_for

    if not story_ids:
        return []
    store = get_store(settings.db_url)
    watchlist = watchlist_for(settings)
    routing = routing_for(settings, watchlist=watchlist)
    briefs: list[Brief] = []
    for story_id, items in sorted(store.story_items(story_ids).items()):
        rows = _unmuted(routing, items)
        articles = [a for a, _ in rows]
        if not articles or (eligible_only and not brief_eligible(articles)):
            continue
        classes = [c for _, c in rows]
        events = [c.event_type for c in classes if c.event_type]
        facts = story_facts(
            story_id,
            companies=list(dict.fromkeys(n for c in classes for n in c.companies)),
            event_type=max(set(events), key=events.count) if events else None,
            chips=list(dict.fromkeys(n for c in classes for n in c.chips)),
            counterparties=list(dict.fromkeys(n for c in classes for n in c.counterparties)),
            watchlist=watchlist,
        )
        briefs.append(build_brief(articles, facts, grouper=default_grouper()))
    return briefs


def post_daily_digest(settings: Settings, poster: SlackPoster, *, now: datetime) -> dict[str, Any]:
    """The daily digest, with the core viewpoint of every story of the last two days."""
    from pipeline.slack.digest import send_daily_digest

    store = get_store(settings.db_url)
    recent = store.list_articles(since=now - timedelta(days=2), relevant_only=True)
    stories = sorted({a.story_id for a, c in recent if a.story_id and c is not None})
    viewpoints = {
        b.story_id: (b.core.text if b.core else b.headline, len(b.cited) or len(b.sources))
        for b in story_briefs(settings, stories, eligible_only=False)
    }
    return send_daily_digest(store, settings, poster, now=now, viewpoints=viewpoints)


def run_once(
    settings: Settings,
    *,
    now: datetime | None = None,
    window: tuple[datetime, datetime] | None = None,
    feed_ids: Sequence[str] | None = None,
    fetch: bool = True,
    run_id: str | None = None,
) -> dict[str, Any]:
    """A whole cycle without Airflow: fetch every shard, then store, classify and alert the window."""
    now = now or _now()
    start, end = window or (now - timedelta(minutes=15), now)
    run = RunInfo(
        run_id=run_id or f"cli__{now:%Y%m%dT%H%M%S}",
        run_type="manual",
        window_start=start,
        window_end=end,
        dry_run=settings.dry_run,
        explicit_window=window is not None,
    )
    fetched: dict[str, int] = {}
    if fetch:
        for shard in plan_shards(settings, feed_ids):
            result = fetch_shard(settings, shard, run_id=run.run_id, now=now, force=bool(feed_ids))
            result.pop("failed_feeds", None)
            for k, v in result.items():
                fetched[k] = fetched.get(k, 0) + v
    stored = store_window(settings, run, feed_ids=feed_ids)
    classified = classify_articles(settings, stored["article_ids"])
    alerted = alert_articles(settings, run, classified["relevant_ids"])
    return {
        "window": run.interval_label,
        "fetch": fetched,
        "store": {k: v for k, v in stored.items() if k != "article_ids"}
        | {"articles": len(stored["article_ids"])},
        "classify": {k: v for k, v in classified.items() if k != "relevant_ids"}
        | {"relevant": len(classified["relevant_ids"])},
        "alert": alerted,
    }
