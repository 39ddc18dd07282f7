"""``python -m pipeline``: the same functions the DAGs run, from a shell.

Commands: run, classify, train, evaluate, feeds, articles, models, feedback, replay, migrate, digest, brief,
serve-samples.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from pipeline.errors import NewsMonitorError
from pipeline.settings import Settings

if TYPE_CHECKING:
    from pipeline.model.classifier import NewsClassifier
    from pipeline.store import Store

log = logging.getLogger("pipeline.cli")

_DURATION = re.compile(r"^(\d+)([mhdw])$")


def parse_when(value: str, *, now: datetime | None = None) -> datetime:
    """An ISO date/time (UTC when naive) or a duration back from now: ``90m``, ``24h``, ``7d``, ``2w``."""
    now = now or datetime.now(UTC)
    m = _DURATION.match(value.strip())
    if m:
        n, unit = int(m.group(1)), m.group(2)
        delta = {
            "m": timedelta(minutes=n),
            "h": timedelta(hours=n),
            "d": timedelta(days=n),
            "w": timedelta(weeks=n),
        }
        return now - delta[unit]
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is neither an ISO date/time nor a duration like 24h"
        ) from None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _iso(dt: datetime | None) -> str | None:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z") if dt else None


# --- commands -----------------------------------------------------------------------------------------


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.store import open_store, redact

    result = open_store(settings.db_url, migrate=False).migrate()
    if result.changed:
        print(
            f"store migrated from revision {result.before or '(empty)'} to {result.after}: {redact(settings.db_url)}"
        )
    else:
        print(f"store already at revision {result.after} (head): {redact(settings.db_url)}")
    return 0


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.cycle import run_once

    if not args.once:
        print("run: only --once is supported here; the scheduler runs cycles on a schedule", file=sys.stderr)
        return 2
    if args.dry_run:
        settings = settings.with_slack(None, None)
    window = None
    if args.since or args.until:
        until = args.until or datetime.now(UTC)
        since = args.since or until - timedelta(minutes=15)
        if since >= until:
            print("run: --since must be before --until", file=sys.stderr)
            return 2
        window = (since, until)
    feed_ids = [f for f in (args.feeds or "").split(",") if f] or None
    result = run_once(settings, window=window, feed_ids=feed_ids, fetch=not args.no_fetch)
    print(json.dumps(result, indent=2, ensure_ascii=False, default=str))
    return 0


def cmd_classify(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.config.watchlist import Watchlist
    from pipeline.model.classifier import ClassifyItem

    model = _model(settings, args.model)
    watchlist = Watchlist.load(settings.watchlist_file)
    with _OpenIn(args.input) as fin, _OpenOut(args.output) as fout:
        batch: list[tuple[int, ClassifyItem]] = []
        total = bad = 0

        def flush() -> None:
            results = model.classify([item for _, item in batch], watchlist=watchlist)
            for (_, item), r in zip(batch, results, strict=True):
                fout.write(json.dumps(_classification_line(item, r), ensure_ascii=False) + "\n")
            batch.clear()

        for lineno, line in enumerate(fin, 1):
            if not line.strip():
                continue
            total += 1
            try:
                obj = json.loads(line)
                if not isinstance(obj, dict):
                    raise ValueError("not a JSON object")
                item = ClassifyItem(
                    id=str(obj.get("id") if obj.get("id") is not None else f"line-{lineno}"),
                    title=str(obj.get("title") or ""),
                    summary=str(obj.get("summary") or ""),
                    lang=obj.get("lang") or None,
                )
            except ValueError as e:
                bad += 1
                fout.write(json.dumps({"line": lineno, "error": f"invalid input line: {e}"}) + "\n")
                continue
            batch.append((lineno, item))
            if len(batch) >= 1000:
                flush()
        if batch:
            flush()
    print(f"classified {total - bad} items with model {model.version} ({bad} invalid lines)", file=sys.stderr)
    return 0


def _classification_line(item: Any, r: Any) -> dict[str, Any]:
    ex = r.extraction
    out = {
        "id": item.id,
        "title": item.title,
        "lang": item.lang,
        "relevant": bool(r.relevant),
        "score": round(float(r.score), 4),
        "event_type": r.event_type,
        "companies": list(ex.companies),
        "chips": list(ex.chips),
        "counterparties": list(ex.counterparties),
        "amount": ex.amount.as_dict() if ex.amount else None,
        "summary": ex.summary,
        "model_version": r.model_version,
    }
    if r.error:
        out["error"] = r.error
    return out


def cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.errors import ModelError
    from pipeline.model.registry import load_promoted
    from pipeline.model.training import train_and_save

    store = _store(settings)
    if args.if_missing:
        try:
            model = load_promoted(store, settings.model_dir)
            print(f"model {model.version} already trained; nothing to do (drop --if-missing to retrain)")
            return 0
        except ModelError as e:
            print(f"training: {e}")
    paths = _train_paths(settings, args.data)
    result = train_and_save(
        train_paths=paths, model_dir=settings.model_dir, store=store, promote=not args.no_promote
    )
    print(
        f"trained {result.version} on {len(paths)} files (data {result.data_hash[:12]}), threshold {result.threshold:.3f}"
    )
    print(json.dumps(result.metrics, indent=2, default=str))
    print(f"saved to {result.path}")
    if args.no_promote:
        print("not promoted (--no-promote)")
    else:
        print(("promoted: " if result.promoted else "NOT promoted: ") + result.gate_reason)
    return 0


def cmd_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.config.watchlist import Watchlist
    from pipeline.model.dataset import load_labelled
    from pipeline.model.evaluation import evaluate, format_report, write_report

    model = _model(settings, args.model)
    items = load_labelled([Path(args.input)])
    report = evaluate(model, items, watchlist=Watchlist.load(settings.watchlist_file))
    print(f"model {model.version} on {args.input} ({len(items)} items)")
    print(format_report(report))
    out_dir = Path(args.report_dir) if args.report_dir else settings.home / "var" / "reports" / model.version
    for path in write_report(report, out_dir):
        print(f"wrote {path}")
    return 0


def cmd_feeds(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.config.feeds import load_feeds
    from pipeline.store import feed_status

    feeds = load_feeds(settings.feeds_file, include_disabled=True)
    health = _store(settings).feed_health()
    now = datetime.now(UTC)
    rows = []
    for f in feeds:
        h = health.get(f.id)
        rows.append(
            {
                "feed": f.id,
                "enabled": f.enabled,
                "language": f.language,
                "status": feed_status(f.enabled, h, now),
                "last_success": _iso(h.last_success_at) if h else None,
                "failures": h.consecutive_failures if h else 0,
                "http": h.last_status if h else None,
                "encoding": h.encoding if h else None,
                "items_last": h.items_last if h else 0,
                "items_seen": h.items_seen if h else 0,
                "backoff_until": _iso(h.backoff_until) if h else None,
                "last_error": (h.last_error or "") if h else "",
            }
        )
    if args.json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return 0
    cols = [
        "feed",
        "status",
        "language",
        "last_success",
        "failures",
        "http",
        "encoding",
        "items_last",
        "last_error",
    ]
    table = [[_cell(r[c], 48 if c == "last_error" else 25) for c in cols] for r in rows]
    widths = [max(len(c), *(len(t[i]) for t in table)) if table else len(c) for i, c in enumerate(cols)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(cols, widths, strict=True)))
    for t in table:
        print("  ".join(v.ljust(w) for v, w in zip(t, widths, strict=True)))
    failing = sum(1 for r in rows if r["status"] in ("failing", "backoff"))
    print(
        f"\n{len(rows)} feeds, {sum(1 for r in rows if r['status'] == 'ok')} ok, {failing} failing, "
        f"{sum(1 for r in rows if r['status'] == 'never')} never fetched, "
        f"{sum(1 for r in rows if r['status'] == 'disabled')} disabled"
    )
    return 0


def _cell(value: Any, width: int) -> str:
    text = "-" if value is None or value == "" else str(value)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def cmd_articles(args: argparse.Namespace, settings: Settings) -> int:
    rows = _store(settings).list_articles(since=args.since, relevant_only=args.relevant, limit=args.limit)
    for article, cls in rows:
        print(
            json.dumps(
                {
                    "id": article.article_id,
                    "story_id": article.story_id,
                    "feed": article.feed_id,
                    "title": article.title,
                    "url": article.url,
                    "published": _iso(article.published_at),
                    "first_seen": _iso(article.first_seen_at),
                    "event_at": _iso(article.event_at),
                    "language": article.language,
                    "relevant": cls.relevant if cls else None,
                    "score": round(cls.score, 4) if cls else None,
                    "event_type": cls.event_type if cls else None,
                    "companies": list(cls.companies) if cls else [],
                    "model_version": cls.model_version if cls else None,
                },
                ensure_ascii=False,
            )
        )
    return 0


def _operator(name: str | None) -> str:
    """Who runs a command that changes something: ``--by``, else the login name."""
    import getpass

    if name and name.strip():
        return name.strip()
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def cmd_models(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.model.registry import promote

    store = _store(settings)
    if args.action == "promote":
        if not args.version:
            print(
                "models promote: give the VERSION to promote (see `python -m pipeline models`)",
                file=sys.stderr,
            )
            return 2
        by = _operator(args.by)
        reason = args.reason or "promoted from the command line"
        previous = promote(store, args.version, by=by, reason=reason)
        print(
            f"promoted {args.version} (replacing {previous or 'none'}) by {by}: later classifications use it"
        )
        if previous and previous != args.version:
            print(f"to undo: python -m pipeline models promote {previous}")
        return 0
    if args.action == "history":
        for h in store.promotions():
            print(
                f"{_iso(h.promoted_at)}  {h.version}  (was {h.previous_version or '-'})  by {h.promoted_by}"
                f"{': ' + h.reason if h.reason else ''}"
            )
        return 0
    for m in store.models():
        flag = "*" if m.is_current else " "
        stored = f"{m.size / 1e6:.1f} MB in store" if m.size is not None else "no bytes in store (retrain)"
        fb = (m.card.get("feedback") or {}).get("version")
        trained_on = f"  feedback v{fb}" if fb else ""
        print(
            f"{flag} {m.version}  data {m.data_hash[:12]}  f1 {m.metrics.get('f1')}  "
            f"precision {m.metrics.get('precision')}  {stored}{trained_on}"
        )
    return 0


def cmd_feedback(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "add":
        return _feedback_add(args, settings)
    if args.action == "export":
        return _feedback_export(args, settings)
    return _feedback_list(args, settings)


def _feedback_list(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.model.feedback import feedback_labels

    store = _store(settings)
    labels = feedback_labels(store.feedback_votes())
    if args.since:
        labels = [lb for lb in labels if lb.latest_at >= args.since]
    if args.disputed:
        labels = [lb for lb in labels if lb.disagreement or not lb.trainable]
    articles = {a.article_id: a for a in store.get_articles([lb.article_id for lb in labels])}
    for lb in labels:
        article = articles.get(lb.article_id)
        row = {
            "article_id": lb.article_id,
            "label": lb.label,
            "event_type": lb.event_type,
            "relevant_votes": lb.relevant_votes,
            "not_relevant_votes": lb.not_relevant_votes,
            "disagreement": lb.disagreement,
            "settled_by": lb.settled_by,
            "last_vote": _iso(lb.latest_at),
            "title": article.title if article else None,
            "votes": [
                {
                    "voter": v.voter,
                    "label": v.label,
                    "event_type": v.event_type,
                    "emoji": v.emoji or None,
                    "alert_id": v.alert_id,
                    "model_version": v.model_version,
                    "channel": v.channel,
                    "voted_at": _iso(v.voted_at),
                    "revision": v.revision,
                }
                for v in lb.votes
            ],
        }
        if args.json:
            print(json.dumps(row, ensure_ascii=False))
            continue
        split = f"{lb.relevant_votes} yes / {lb.not_relevant_votes} no"
        if lb.settled_by:
            split += f", settled by {lb.settled_by}"
        elif lb.disagreement:
            split += ", analysts disagree"
        print(
            f"{lb.article_id:<24} {lb.label:<13} {(lb.event_type or '-'):<17} {split:<36} "
            f"{_iso(lb.latest_at)}  {_cell(row['title'], 70)}"
        )
    if not args.json:
        disputed = sum(1 for lb in labels if not lb.trainable)
        print(
            f"\n{len(labels)} labelled articles ({disputed} disputed), feedback version {store.feedback_version()}"
        )
    return 0


def _feedback_export(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.model.feedback import load_feedback

    feedback = load_feedback(_store(settings), as_of=args.version)
    with _OpenOut(args.output) as out:
        for f in feedback.items:
            out.write(json.dumps(f.as_training_line(), ensure_ascii=False) + "\n")
    print(
        f"exported {len(feedback.items)} labelled items at feedback version {feedback.version} "
        f"({len(feedback.disputed)} disputed and {len(feedback.skipped)} unusable left out)",
        file=sys.stderr,
    )
    return 0


def _feedback_add(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.errors import DatasetError
    from pipeline.model.feedback import add_manual_labels, parse_manual_label

    raw: list[tuple[str, Any]] = []
    if args.input:
        with _OpenIn(args.input) as fin:
            for lineno, line in enumerate(fin, 1):
                if line.strip():
                    try:
                        raw.append((f"{args.input}:{lineno}", json.loads(line)))
                    except json.JSONDecodeError as e:
                        raise DatasetError(f"invalid JSON: {e.msg}", path=args.input, line=lineno) from e
    if args.article:
        given = {
            "article_id": args.article,
            "label": args.label,
            "event_type": args.event_type,
            "companies": args.company or [],
            "note": args.note,
        }
        raw.append(("--article", given))
    if not raw:
        print("feedback add: give --article ID --label ... or --input FILE", file=sys.stderr)
        return 2
    labels = []
    for where, obj in raw:
        try:
            labels.append(parse_manual_label(obj))
        except ValueError as e:
            print(f"feedback add: {where}: {e}", file=sys.stderr)
            return 2
    by = _operator(args.by)
    try:
        changes = add_manual_labels(_store(settings), labels, by=by, now=datetime.now(UTC))
    except ValueError as e:
        print(f"feedback add: {e}", file=sys.stderr)
        return 2
    print(
        f"recorded {len(labels)} label(s) by manual:{by}: {len(changes.new)} new, {len(changes.changed)} changed, "
        f"{changes.unchanged} unchanged (feedback version {_store(settings).feedback_version()})"
    )
    return 0


def cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.config.watchlist import Watchlist
    from pipeline.model.replay import replay

    candidate = _model(settings, args.model)
    current = _model(settings, args.against)
    until = args.until or datetime.now(UTC)
    since = args.since or until - timedelta(days=settings.replay_days)
    if since >= until:
        print("replay: --since must be before --until", file=sys.stderr)
        return 2
    report = replay(
        _store(settings),
        candidate=candidate,
        current=current,
        since=since,
        until=until,
        watchlist=Watchlist.load(settings.watchlist_file),
    )
    s = report.summary()
    print(
        f"replay of {candidate.version} against {current.version}, {s['articles']} articles "
        f"{_iso(since)} .. {_iso(until)}"
    )
    print(
        f"added {s['added']}, dropped {s['dropped']} (alerts dropped {s['alerts_dropped']} of {s['alerted']}), "
        f"agreement {s['agreement']:.3f}, changed share {s['changed_share']:.3f}"
    )
    fb = s["feedback"]
    if fb["labels"]:
        for name in ("current", "candidate"):
            f = fb[name]
            print(
                f"{name:<9} vs {fb['labels']} feedback labels: precision {f['precision']:.3f}  "
                f"recall {f['recall']:.3f}  F1 {f['f1']:.3f}"
            )
    out_dir = (
        Path(args.report_dir)
        if args.report_dir
        else settings.home / "var" / "reports" / "replay" / f"{candidate.version}-vs-{current.version}"
    )
    for path in report.write(out_dir):
        print(f"wrote {path}")
    return 0


def cmd_digest(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.cycle import post_daily_digest
    from pipeline.slack.client import make_poster

    if args.dry_run:
        settings = settings.with_slack(None, None)
    result = post_daily_digest(settings, make_poster(settings), now=datetime.now(UTC))
    print(json.dumps(result, indent=2, ensure_ascii=False, default=str))
    return 0


def cmd_brief(args: argparse.Namespace, settings: Settings) -> int:
    import dataclasses

    from pipeline.analysis.brief import brief_eligible
    from pipeline.cycle import story_briefs
    from pipeline.slack.blocks import brief_message, render_preview

    briefs = story_briefs(settings, [args.story_id], eligible_only=False)
    if not briefs:
        print(f"brief: story {args.story_id} has no relevant, unmuted articles", file=sys.stderr)
        return 1
    brief = briefs[0]
    if args.json:
        print(json.dumps(dataclasses.asdict(brief), ensure_ascii=False, indent=2, default=str))
        return 0
    print(render_preview(brief_message(brief, display_tz=settings.display_tz, alert_id="(preview)")))
    items = _store(settings).story_items([args.story_id]).get(args.story_id, [])
    if not brief_eligible([a for a, _ in items]):
        print("\n(not posted to Slack: a brief needs two sources, or one with its article page fetched)")
    return 0


def cmd_serve_samples(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.sample_server import SAMPLES_DIR, make_server, write_sample_feed_list

    if args.write_feed_list:
        path = write_sample_feed_list(f"http://{args.host}:{args.port}", Path(args.write_feed_list).resolve())
        print(path)
        return 0

    server = make_server(args.host, args.port)
    print(
        f"serving {SAMPLES_DIR} at http://{args.host}:{server.server_address[1]}/feeds/ (Ctrl-C stops)",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


# --- plumbing -----------------------------------------------------------------------------------------


def _store(settings: Settings) -> Store:
    from pipeline.store import get_store

    return get_store(settings.db_url)


def _model(settings: Settings, name: str | None) -> NewsClassifier:
    """``--model``: a model file, a registered version, or (None) the promoted model."""
    from pipeline.model.classifier import NewsClassifier
    from pipeline.model.registry import load_promoted, load_version

    if name is None:
        return load_promoted(_store(settings), settings.model_dir)
    if Path(name).is_file():
        return NewsClassifier.load(Path(name))
    return load_version(_store(settings), name, settings.model_dir)


def _train_paths(settings: Settings, patterns: Sequence[str] | None) -> list[Path]:
    from pipeline.model.dataset import DEFAULT_TRAIN_GLOB, resolve_train_paths

    paths: list[Path] = []
    for pattern in patterns or [DEFAULT_TRAIN_GLOB]:
        p = Path(pattern)
        root = Path(p.anchor) if p.is_absolute() else settings.home
        matches = resolve_train_paths(root, str(p.relative_to(p.anchor)) if p.is_absolute() else pattern)
        paths.extend(matches or ([p] if p.is_file() else []))
    if not paths:
        raise NewsMonitorError(f"no training files match {patterns or [DEFAULT_TRAIN_GLOB]}")
    return paths


class _OpenIn:
    def __init__(self, path: str) -> None:
        self.path = path
        self.fh: TextIO | None = None

    def __enter__(self) -> TextIO:
        if self.path == "-":
            return sys.stdin
        self.fh = open(self.path, encoding="utf-8", errors="replace")
        return self.fh

    def __exit__(self, *exc: object) -> None:
        if self.fh:
            self.fh.close()


class _OpenOut(_OpenIn):
    def __enter__(self) -> TextIO:
        if self.path == "-":
            return sys.stdout
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.fh = open(self.path, "w", encoding="utf-8")
        return self.fh


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline",
        description="Chip news monitor: crawl feeds, flag big-tech chip stories, alert Slack. "
        "Settings come from NEWS_* environment variables (see README).",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("run", help="one whole cycle without Airflow: fetch, store, classify, alert")
    p.add_argument("--once", action="store_true", help="run one cycle and exit (required)")
    p.add_argument("--feeds", help="comma-separated feed ids (default: all enabled feeds)")
    p.add_argument(
        "--since", type=parse_when, help="window start (ISO or duration like 2h; default: 15 min ago)"
    )
    p.add_argument("--until", type=parse_when, help="window end (ISO or duration; default: now)")
    p.add_argument("--no-fetch", action="store_true", help="re-process the archive only, like a backfill")
    p.add_argument(
        "--dry-run", action="store_true", help="write Slack payloads to NEWS_DRY_RUN_FILE even with a token"
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("classify", help="classify JSON lines {id,title,summary,lang?} into JSON lines")
    p.add_argument("--input", required=True, help="input JSONL file ('-' for stdin)")
    p.add_argument("--output", required=True, help="output JSONL file ('-' for stdout)")
    p.add_argument("--model", help="a model version or .skops file (default: the promoted model)")
    p.set_defaults(func=cmd_classify)

    p = sub.add_parser("train", help="train the classifier on data/train and promote it")
    p.add_argument(
        "--data", action="append", help="training file or glob (repeatable; default data/train/*.jsonl)"
    )
    p.add_argument("--no-promote", action="store_true", help="save the model without making it current")
    p.add_argument("--if-missing", action="store_true", help="do nothing when a promoted model exists")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "evaluate", help="precision/recall/F1 of a model on a labelled JSONL file, with a report"
    )
    p.add_argument("--input", required=True, help="labelled JSONL (fields as in data/train)")
    p.add_argument("--model", help="a model version or .skops file (default: the promoted model)")
    p.add_argument("--report-dir", help="where the report and PR curve go (default var/reports/<version>)")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("feeds", help="feed health table")
    p.add_argument("--json", action="store_true", help="one JSON object per feed")
    p.set_defaults(func=cmd_feeds)

    p = sub.add_parser("articles", help="stored articles as JSON lines (newest first)")
    p.add_argument("--since", type=parse_when, help="ISO date/time or duration like 24h")
    p.add_argument("--relevant", action="store_true", help="only articles classified relevant")
    p.add_argument("--limit", type=int, help="at most this many")
    p.set_defaults(func=cmd_articles)

    p = sub.add_parser(
        "models",
        help="trained models (* = promoted); `models promote VERSION` rolls back; `models history`",
    )
    p.add_argument("action", nargs="?", choices=["list", "promote", "history"], default="list")
    p.add_argument("version", nargs="?", help="the version to promote")
    p.add_argument("--by", help="who promotes (recorded; default: your login name)")
    p.add_argument("--reason", help="why (recorded)")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser(
        "feedback",
        help="analysts' labels: `list` (votes, disagreements), `export` (training JSONL with provenance), "
        "`add` (labels from elsewhere)",
    )
    p.add_argument("action", nargs="?", choices=["list", "export", "add"], default="list")
    p.add_argument("--since", type=parse_when, help="list: articles voted on since (ISO or duration like 7d)")
    p.add_argument("--disputed", action="store_true", help="list: only articles where analysts disagree")
    p.add_argument("--json", action="store_true", help="list: one JSON object per article, with its votes")
    p.add_argument("--output", default="-", help="export: JSONL file ('-' for stdout, the default)")
    p.add_argument("--version", type=int, help="export: the feedback as it was at this version")
    p.add_argument("--article", help="add: the archived article's id (see `articles`)")
    p.add_argument("--label", choices=["relevant", "not_relevant"], help="add: the label")
    p.add_argument("--event-type", choices=["self_development", "chip_investment"], help="add: for relevant")
    p.add_argument("--company", action="append", help="add: a company (repeatable; primary actor first)")
    p.add_argument("--note", help="add: why")
    p.add_argument("--input", help="add: JSONL of {article_id, label, event_type?, companies?, note?}")
    p.add_argument("--by", help="add: whose labels these are (default: your login name)")
    p.set_defaults(func=cmd_feedback)

    p = sub.add_parser(
        "replay", help="score archived articles with a candidate model and compare with the current one"
    )
    p.add_argument("--model", required=True, help="the candidate: a model version or .skops file")
    p.add_argument("--against", help="the model to compare with (default: the promoted model)")
    p.add_argument(
        "--since", type=parse_when, help="window start (ISO or duration like 30d; default NEWS_REPLAY_DAYS)"
    )
    p.add_argument("--until", type=parse_when, help="window end (default: now)")
    p.add_argument("--report-dir", help="where replay.json, .md and .png go (default var/reports/replay/...)")
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("migrate", help="create or upgrade the store's schema")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("digest", help="send the daily digest now")
    p.add_argument(
        "--dry-run", action="store_true", help="write payloads to NEWS_DRY_RUN_FILE even with a token"
    )
    p.set_defaults(func=cmd_digest)

    p = sub.add_parser("brief", help="print a story's brief (core viewpoint, grouped points, sources)")
    p.add_argument("story_id", help="the story id (see `articles`)")
    p.add_argument("--json", action="store_true", help="the brief as JSON instead of its Slack preview")
    p.set_defaults(func=cmd_brief)

    p = sub.add_parser("serve-samples", help="serve the bundled sample feeds on loopback (for the demo)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument(
        "--write-feed-list",
        metavar="PATH",
        help="write the sample feed list pointed at --host/--port to PATH (print it) instead of serving",
    )
    p.set_defaults(func=cmd_serve_samples)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not args.verbose:  # Alembic announces every plugin and migration step at INFO
        logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        settings = Settings.from_env()
        return int(args.func(args, settings))
    except NewsMonitorError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
