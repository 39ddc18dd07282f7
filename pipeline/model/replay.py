"""Replay: what a candidate model would have decided over the archive, next to the current model and to
what was alerted.

``replay`` scores the archived articles of a window with both models and reports what the candidate
would add and drop, their agreement, which alerts it would not have sent, and precision and recall of
both models against analysts' feedback labels, overall, per company and per event type. The report is
JSON (``as_dict``), Markdown (``to_markdown``; feed text escaped, it is shown in the Airflow UI) and a PNG
chart (``render_chart``).
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline.config.watchlist import Watchlist
from pipeline.model.classifier import ClassifyItem, NewsClassifier
from pipeline.model.feedback import feedback_labels
from pipeline.model.metrics import binary_scores
from pipeline.models import RELEVANT
from pipeline.store import Store

log = logging.getLogger(__name__)

BATCH = 500
NO_COMPANY = "(no company)"
# How many added / dropped articles the Markdown report lists (the JSON has them all).
LISTED = 25
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~&])")


def md_text(text: str | None, limit: int = 160) -> str:
    """Feed text made inert in Markdown: one line, cut, every Markdown and HTML character escaped."""
    flat = " ".join((text or "").split())
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return _MD_SPECIAL.sub(r"\\\1", flat)


@dataclass(frozen=True)
class ReplayItem:
    """One archived article as both models see it, whether it was alerted, and its feedback label."""

    article_id: str
    story_id: str | None
    title: str
    company: str
    current: bool
    candidate: bool
    current_score: float
    candidate_score: float
    current_event_type: str | None
    candidate_event_type: str | None
    alert_ids: tuple[str, ...] = ()
    feedback: str | None = None  # relevant | not_relevant (a trainable label), else None

    @property
    def alerted(self) -> bool:
        return bool(self.alert_ids)

    @property
    def change(self) -> str | None:
        if self.candidate and not self.current:
            return "added"
        if self.current and not self.candidate:
            return "dropped"
        return None


@dataclass(frozen=True)
class ReplayReport:
    candidate_version: str
    current_version: str
    since: datetime
    until: datetime
    items: tuple[ReplayItem, ...] = field(repr=False)

    # --- figures ---------------------------------------------------------------------------------------

    @property
    def added(self) -> list[ReplayItem]:
        return [i for i in self.items if i.change == "added"]

    @property
    def dropped(self) -> list[ReplayItem]:
        return [i for i in self.items if i.change == "dropped"]

    @property
    def dropped_alerts(self) -> list[ReplayItem]:
        """Articles that were alerted and that the candidate would not have flagged."""
        return [i for i in self.items if i.alerted and not i.candidate]

    @property
    def changed(self) -> int:
        return len(self.added) + len(self.dropped)

    @property
    def current_relevant(self) -> int:
        return sum(1 for i in self.items if i.current)

    @property
    def changed_share(self) -> float:
        """Changed decisions per decision the current model flags (its alerts) over the window."""
        return self.changed / max(self.current_relevant, 1)

    @property
    def agreement(self) -> float:
        return 1.0 if not self.items else sum(1 for i in self.items if i.change is None) / len(self.items)

    def feedback_scores(self, items: Iterable[ReplayItem] | None = None) -> dict[str, Any]:
        """Precision/recall/F1 of both models against the feedback labels of ``items`` (default: all)."""
        labelled = [i for i in (self.items if items is None else items) if i.feedback]
        gold = [int(i.feedback == RELEVANT) for i in labelled]
        return {
            "labels": len(labelled),
            "candidate": binary_scores(gold, [int(i.candidate) for i in labelled]).as_dict(),
            "current": binary_scores(gold, [int(i.current) for i in labelled]).as_dict(),
        }

    def _breakdown(self, key: Any) -> dict[str, dict[str, Any]]:
        groups: dict[str, list[ReplayItem]] = defaultdict(list)
        for i in self.items:
            for k in key(i):
                groups[k].append(i)
        out: dict[str, dict[str, Any]] = {}
        for name, rows in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            row: dict[str, Any] = {
                "articles": len(rows),
                "current": sum(1 for i in rows if i.current),
                "candidate": sum(1 for i in rows if i.candidate),
                "added": sum(1 for i in rows if i.change == "added"),
                "dropped": sum(1 for i in rows if i.change == "dropped"),
                "agreement": round(sum(1 for i in rows if i.change is None) / len(rows), 4),
            }
            if any(i.feedback for i in rows):
                row["feedback"] = self.feedback_scores(rows)
            out[name] = row
        return out

    def per_company(self) -> dict[str, dict[str, Any]]:
        """Figures per primary company of the articles either model flags."""
        return self._breakdown(lambda i: [i.company] if i.current or i.candidate or i.feedback else [])

    def per_event_type(self) -> dict[str, dict[str, Any]]:
        """Figures per event type (as typed by the model that flags the article; both when they differ)."""
        return self._breakdown(
            lambda i: sorted(
                {
                    t
                    for t, on in ((i.current_event_type, i.current), (i.candidate_event_type, i.candidate))
                    if on and t
                }
            )
        )

    def summary(self) -> dict[str, Any]:
        return {
            "candidate_version": self.candidate_version,
            "current_version": self.current_version,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "articles": len(self.items),
            "current_relevant": self.current_relevant,
            "candidate_relevant": sum(1 for i in self.items if i.candidate),
            "added": len(self.added),
            "dropped": len(self.dropped),
            "changed": self.changed,
            "changed_share": round(self.changed_share, 4),
            "agreement": round(self.agreement, 4),
            "event_type_changed": sum(
                1
                for i in self.items
                if i.current and i.candidate and i.current_event_type != i.candidate_event_type
            ),
            "alerted": sum(1 for i in self.items if i.alerted),
            "alerts_dropped": len(self.dropped_alerts),
            "feedback": self.feedback_scores(),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary(),
            "per_company": self.per_company(),
            "per_event_type": self.per_event_type(),
            "added": [asdict(i) for i in self.added],
            "dropped": [asdict(i) for i in self.dropped],
            "alerts_dropped": [asdict(i) for i in self.dropped_alerts],
        }

    # --- renderings -------------------------------------------------------------------------------------

    def to_markdown(self) -> str:
        s = self.summary()
        fb = s["feedback"]
        lines = [
            f"### Replay of `{self.candidate_version}` against `{self.current_version}`",
            "",
            f"{s['articles']} archived articles from {self.since:%Y-%m-%d %H:%M} to {self.until:%Y-%m-%d %H:%M} UTC.",
            "",
            "| | current | candidate |",
            "| --- | ---: | ---: |",
            f"| relevant | {s['current_relevant']} | {s['candidate_relevant']} |",
            f"| precision vs feedback ({fb['labels']} labels) | {_pct(fb, 'current', 'precision')} | "
            f"{_pct(fb, 'candidate', 'precision')} |",
            f"| recall vs feedback | {_pct(fb, 'current', 'recall')} | {_pct(fb, 'candidate', 'recall')} |",
            "",
            f"**{s['added']} added, {s['dropped']} dropped** ({s['changed_share']:.0%} of the current model's "
            f"decisions), agreement {s['agreement']:.1%}, {s['event_type_changed']} typed differently. "
            f"{s['alerted']} of these articles were alerted; the candidate would drop {s['alerts_dropped']} of them.",
        ]
        lines += _listing("Alerts the candidate would not have sent", self.dropped_alerts)
        lines += _listing("Added (the candidate flags, the current model does not)", self.added)
        lines += _listing("Dropped (the current model flags, the candidate does not)", self.dropped)
        for title, table in (("Per company", self.per_company()), ("Per event type", self.per_event_type())):
            if not table:
                continue
            lines += [
                "",
                f"#### {title}",
                "",
                "| | current | candidate | added | dropped | agreement | P / R vs feedback (current → candidate) |",
                "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
            ]
            for name, row in list(table.items())[:30]:
                f = row.get("feedback")
                pr = (
                    f"{_pct(f, 'current', 'precision')} / {_pct(f, 'current', 'recall')} → "
                    f"{_pct(f, 'candidate', 'precision')} / {_pct(f, 'candidate', 'recall')} ({f['labels']})"
                    if f
                    else "–"
                )
                lines.append(
                    f"| {md_text(name, 60)} | {row['current']} | {row['candidate']} | {row['added']} | "
                    f"{row['dropped']} | {row['agreement']:.0%} | {pr} |"
                )
        return "\n".join(lines) + "\n"

    def render_chart(self) -> bytes:
        """A PNG: per company, the decisions the candidate adds and drops (the most changed first)."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator

        table = self.per_company()
        rows = sorted(
            ((n, r) for n, r in table.items() if r["added"] or r["dropped"]),
            key=lambda nr: (-(nr[1]["added"] + nr[1]["dropped"]), nr[0]),
        )[:12]
        fig = Figure(figsize=(8, 1.6 + 0.35 * max(len(rows), 1)), dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        if rows:
            names = [n for n, _ in rows][::-1]
            y = list(range(len(names)))
            ax.barh(y, [r["added"] for _, r in rows][::-1], color="#2e7d32", label="added")
            ax.barh(y, [-r["dropped"] for _, r in rows][::-1], color="#c62828", label="dropped")
            ax.set_yticks(y, labels=names)
            ax.axvline(0, color="black", linewidth=0.8)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.legend(loc="lower right", fontsize="small")
        else:
            ax.text(0.5, 0.5, "no decision changes", ha="center", va="center", transform=ax.transAxes)
            ax.set_yticks([])
        ax.set_xlabel("decisions changed by the candidate")
        ax.set_title(
            f"{self.candidate_version} vs {self.current_version}: +{len(self.added)} / -{len(self.dropped)}, "
            f"agreement {self.agreement:.1%}",
            fontsize="medium",
        )
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        return buffer.getvalue()

    def write(self, out_dir: Path) -> list[Path]:
        """Write ``replay.json``, ``replay.md`` and ``replay.png`` into ``out_dir``; return their paths."""
        out_dir.mkdir(parents=True, exist_ok=True)
        js, md, png = out_dir / "replay.json", out_dir / "replay.md", out_dir / "replay.png"
        js.write_text(
            json.dumps(self.as_dict(), ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8"
        )
        md.write_text(
            self.to_markdown() + "\n![decisions changed per company](replay.png)\n", encoding="utf-8"
        )
        png.write_bytes(self.render_chart())
        return [js, md, png]


def _pct(scores: dict[str, Any], model: str, metric: str) -> str:
    return f"{scores[model][metric]:.3f}" if scores.get("labels") else "–"


def _listing(title: str, items: Sequence[ReplayItem]) -> list[str]:
    if not items:
        return []
    lines = ["", f"#### {title} ({len(items)})", ""]
    for i in items[:LISTED]:
        feedback = f", feedback: {i.feedback.replace('_', ' ')}" if i.feedback else ""
        alerted = ", alerted" if i.alerted else ""
        lines.append(
            f"- {md_text(i.title)} ({md_text(i.company, 40)}; score {i.current_score:.2f} → "
            f"{i.candidate_score:.2f}{alerted}{feedback}; article `{i.article_id}`)"
        )
    if len(items) > LISTED:
        lines.append(f"- … and {len(items) - LISTED} more (replay.json lists them all)")
    return lines


def replay(
    store: Store,
    *,
    candidate: NewsClassifier,
    current: NewsClassifier,
    since: datetime,
    until: datetime,
    watchlist: Watchlist,
) -> ReplayReport:
    """Score the archived articles with an event time in [since, until) with both models and compare."""
    ids = store.articles_in_window(since, until)
    alerted = store.alerted_articles(ids)
    labels = {
        label.article_id: label.label
        for label in feedback_labels(store.feedback_votes(article_ids=ids))
        if label.trainable
    }
    items: list[ReplayItem] = []
    for start in range(0, len(ids), BATCH):
        batch = store.get_articles(ids[start : start + BATCH])
        inputs = [ClassifyItem.of(a) for a in batch]
        now_results = current.classify(inputs, watchlist=watchlist)
        new_results = candidate.classify(inputs, watchlist=watchlist)
        for article, old, new in zip(batch, now_results, new_results, strict=True):
            companies = new.extraction.companies or old.extraction.companies
            items.append(
                ReplayItem(
                    article_id=article.article_id,
                    story_id=article.story_id,
                    title=article.title,
                    company=companies[0] if companies else NO_COMPANY,
                    current=old.relevant,
                    candidate=new.relevant,
                    current_score=old.score,
                    candidate_score=new.score,
                    current_event_type=old.event_type,
                    candidate_event_type=new.event_type,
                    alert_ids=tuple(alerted.get(article.article_id, ())),
                    feedback=labels.get(article.article_id),
                )
            )
    report = ReplayReport(candidate.version, current.version, since, until, tuple(items))
    s = report.summary()
    log.info(
        "replay of %s against %s over %d articles: %d added, %d dropped (%d alerts), agreement %.3f",
        candidate.version,
        current.version,
        s["articles"],
        s["added"],
        s["dropped"],
        s["alerts_dropped"],
        s["agreement"],
    )
    return report
