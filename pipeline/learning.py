"""The feedback loop's steps, shared by the DAGs (``collect_feedback``, ``retrain_classifier``) and the CLI.

Analysts react to alerts in Slack → ``collect_reactions`` records their votes (a versioned source in the
store, never the training files) → ``train_candidate`` trains on the training files plus the feedback →
``evaluate_candidate_model`` checks the candidate on the held-out split, the held-out feedback and a
replay of the archive, and decides: promote, ask an operator, or keep the current model →
``promote_candidate`` → ``finish_promotion`` records the outcome. The ops channel gets the report and the
outcome through the ledger. Each step takes and returns small dicts (ids and counts: what XCom carries).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.settings import Settings
from pipeline.slack.client import SlackPoster
from pipeline.store import get_store

log = logging.getLogger(__name__)

AUTOMATIC = "retrain_classifier (automatic)"
APPROVE_OPTION = "Approve"


def _now() -> datetime:
    return datetime.now(UTC)


# --- collect_feedback ----------------------------------------------------------------------------------


def collect_reactions(
    settings: Settings, poster: SlackPoster, *, now: datetime | None = None
) -> dict[str, Any]:
    """Read the reactions on recent alerts and record the votes (counts only)."""
    from pipeline.slack.feedback import collect_feedback

    report = collect_feedback(get_store(settings.db_url), settings, poster, now=now or _now())
    return report.as_dict()


def acknowledge_votes(
    settings: Settings, poster: SlackPoster, *, now: datetime | None = None
) -> dict[str, Any]:
    """Post the due acknowledgements in the voted alerts' threads (each once)."""
    from pipeline.slack.feedback import acknowledge_feedback

    return acknowledge_feedback(get_store(settings.db_url), settings, poster, now=now or _now())


# --- retrain_classifier --------------------------------------------------------------------------------


def train_paths(settings: Settings) -> list[Path]:
    """The team's training files (``data/train/*.jsonl`` under ``NEWS_HOME``)."""
    from pipeline.model.dataset import resolve_train_paths

    return resolve_train_paths(settings.home)


def train_candidate(settings: Settings) -> dict[str, Any]:
    """Train a candidate on the training files plus the current feedback; register it, not promoted."""
    from pipeline.model.feedback import load_feedback
    from pipeline.model.training import train_and_save

    store = get_store(settings.db_url)
    feedback = load_feedback(store)
    result = train_and_save(
        train_paths=train_paths(settings),
        model_dir=settings.model_dir,
        store=store,
        promote=False,
        feedback=feedback.labelled,
        feedback_version=feedback.version,
        feedback_hash=feedback.content_hash,
    )
    card = store.get_model(result.version)
    used = (card.card.get("feedback") or {}) if card else {}
    log.info(
        "candidate %s: %d feedback items at version %d (%d trained on, %d held out, %d disputed, %d unusable)",
        result.version,
        len(feedback.items),
        feedback.version,
        len(used.get("train_ids") or []),
        len(used.get("holdout_ids") or []),
        len(feedback.disputed),
        len(feedback.skipped),
    )
    return {
        "version": result.version,
        "metrics": result.metrics,
        "feedback_version": feedback.version,
        "feedback_items": len(feedback.items),
        "feedback_train": len(used.get("train_ids") or []),
        "feedback_holdout": len(used.get("holdout_ids") or []),
        "feedback_disputed": len(feedback.disputed),
    }


def report_dir(settings: Settings, report_id: str) -> Path:
    """Where the files of a promotion report go on the machine that evaluated the candidate."""
    return settings.home / "var" / "reports" / "promotion" / report_id.replace("/", "_")


def evaluate_candidate_model(
    settings: Settings, candidate: dict[str, Any], *, now: datetime | None = None, run_id: str | None = None
) -> dict[str, Any]:
    """The three checks on a candidate (held-out, held-out feedback, replay) and the decision; the report
    goes into the store (for the approval page and the ops channel) and into ``report_dir``."""
    from pipeline.model.feedback import load_feedback
    from pipeline.model.promotion import evaluate_for_promotion

    store = get_store(settings.db_url)
    feedback = load_feedback(store, as_of=int(candidate.get("feedback_version") or 0))
    evaluation = evaluate_for_promotion(
        store,
        settings,
        candidate_version=str(candidate["version"]),
        train_paths=train_paths(settings),
        feedback=feedback.labelled,
        now=now or _now(),
    )
    evaluation.save(store, run_id=run_id)
    folder = report_dir(settings, evaluation.report_id)
    evaluation.write(folder)
    replay = evaluation.replay
    return {
        "report_id": evaluation.report_id,
        "candidate": evaluation.candidate_version,
        "current": evaluation.current_version,
        "decision": evaluation.decision,
        "reason": evaluation.reason,
        "changed": replay.changed if replay else 0,
        "added": len(replay.added) if replay else 0,
        "dropped": len(replay.dropped) if replay else 0,
        "alerts_dropped": len(replay.dropped_alerts) if replay else 0,
        "report_dir": str(folder),
    }


def approval_request(settings: Settings, report_id: str) -> tuple[str, str]:
    """The subject and Markdown body an operator sees on the approval page."""
    record = get_store(settings.db_url).promotion_report(report_id)
    if record is None:
        return f"Promote candidate ({report_id})?", f"No report {report_id!r} in the store."
    subject = f"Promote model {record.candidate_version}?"
    if record.current_version:
        subject += f" (replacing {record.current_version})"
    return subject, record.markdown


def _notice(record: Any) -> Any:
    from pipeline.model.promotion import DECISION_LABELS
    from pipeline.slack.blocks import PromotionNotice

    report = record.report
    hold = report.get("holdout") or {}
    fb = report.get("feedback_holdout") or {}
    replay = report.get("replay") or {}
    facts: list[tuple[str, str]] = []

    def pair(values: dict[str, Any], key: str) -> str:
        cur, cand = (values.get("current") or {}).get(key), (values.get("candidate") or {}).get(key)
        show = [f"{v:.3f}" if isinstance(v, float) else "–" if v is None else str(v) for v in (cur, cand)]
        return " → ".join(show)

    facts.append(("Held-out F1 (current → candidate)", pair(hold, "f1")))
    facts.append(("Held-out precision", pair(hold, "precision")))
    if (fb.get("candidate") or {}).get("n"):
        facts.append((f"Held-out feedback wrong (of {fb['candidate']['n']})", pair(fb, "errors")))
    summary = replay.get("summary") or {}
    if summary:
        facts.append(
            (
                "Replay",
                f"+{summary['added']} / -{summary['dropped']} of {summary['articles']} articles, agreement "
                f"{summary['agreement']:.1%}",
            )
        )
        labels = (summary.get("feedback") or {}).get("labels") or 0
        if labels:
            facts.append((f"Replay vs feedback, P / R ({labels} labels)", _pr(summary["feedback"])))
    return PromotionNotice(
        candidate=record.candidate_version,
        current=record.current_version,
        decision=DECISION_LABELS.get(record.decision, record.decision),
        reason=record.reason,
        facts=tuple(facts),
        dropped_alerts=tuple(i["title"] for i in replay.get("alerts_dropped") or []),
        added=tuple(i["title"] for i in replay.get("added") or []),
        where=(
            "Approve or reject in Airflow: Browse → Required Actions (retrain_classifier, task approve). "
            if record.decision == "approve"
            else ""
        )
        + f"Report: var/reports/promotion/{record.report_id}/ · python -m pipeline models history",
    )


def _pr(scores: dict[str, Any]) -> str:
    cur, cand = scores["current"], scores["candidate"]
    return f"{cur['precision']:.2f} / {cur['recall']:.2f} → {cand['precision']:.2f} / {cand['recall']:.2f}"


def announce_promotion(
    settings: Settings, poster: SlackPoster, evaluation: dict[str, Any], *, now: datetime | None = None
) -> dict[str, Any]:
    """Post the promotion report to the ops channel (once), with the replay chart in its thread."""
    from pipeline.slack.ops import post_promotion_report

    store = get_store(settings.db_url)
    record = store.promotion_report(str(evaluation["report_id"]))
    if record is None:
        raise LookupError(f"no promotion report {evaluation['report_id']!r} in the store")
    return post_promotion_report(
        store,
        settings,
        poster,
        report_id=record.report_id,
        notice=_notice(record),
        chart=record.chart,
        now=now or _now(),
    )


def approver(approval: dict[str, Any] | None) -> tuple[bool, str]:
    """(approved, who) from the approval task's answer (its ``answer`` XCom); a timeout answers Reject."""
    if not approval:
        return False, "nobody"
    user = approval.get("responded_by_user") or {}
    who = str(user.get("name") or user.get("id") or "timeout (no answer)")
    return APPROVE_OPTION in (approval.get("chosen_options") or []), who


def promote_candidate(
    settings: Settings, evaluation: dict[str, Any], approval: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Make the candidate the model news_monitor uses, recording who decided (an approver, or automatic)."""
    from pipeline.model.registry import promote

    store = get_store(settings.db_url)
    approved, who = approver(approval)
    by = f"{who} (approved in Airflow)" if approved else AUTOMATIC
    previous = promote(store, str(evaluation["candidate"]), by=by, reason=str(evaluation["reason"]))
    store.decide_promotion(str(evaluation["report_id"]), outcome="promoted", decided_by=by)
    return {"promoted": evaluation["candidate"], "replaced": previous, "by": by}


def finish_promotion(
    settings: Settings,
    poster: SlackPoster,
    evaluation: dict[str, Any],
    approval: dict[str, Any] | None = None,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Record what became of the candidate (kept, rejected) and tell the ops channel, in the report's thread."""
    from pipeline.slack.ops import post_promotion_outcome

    store = get_store(settings.db_url)
    report_id = str(evaluation["report_id"])
    record = store.promotion_report(report_id)
    candidate, current = evaluation["candidate"], evaluation.get("current")
    approved, who = approver(approval)
    if record is not None and record.outcome == "promoted":
        outcome = "promoted"
        text = f"Promoted {candidate} ({record.decided_by})."
        if current:
            text += f" Roll back with: python -m pipeline models promote {current}"
    elif evaluation["decision"] == "keep":
        outcome = "kept"
        store.decide_promotion(report_id, outcome=outcome, decided_by=AUTOMATIC)
        text = f"Not promoted: {evaluation['reason']}. {current} stays."
    elif evaluation["decision"] == "approve" and approval and not approved:
        outcome = "rejected"
        store.decide_promotion(report_id, outcome=outcome, decided_by=who)
        text = f"Rejected by {who}: {current} stays."
    else:
        outcome = "undecided"
        text = f"{candidate} was not promoted: no decision was recorded (see the retrain_classifier run)."
    log.info("candidate %s: %s", candidate, outcome)
    posted = post_promotion_outcome(
        store, settings, poster, report_id=report_id, text=text, now=now or _now()
    )
    return {"outcome": outcome, "message": posted.get("state")}
