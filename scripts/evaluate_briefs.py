"""Measure the brief's building blocks and print the figures the README reports.

- the sentence grouper on the held-out split of data/briefs (per-label precision, recall, F1; with and
  without the cue features; per language);
- the core-viewpoint rule on the reference stories of data/briefs/stories.jsonl, against the lead
  baseline and the best sentence in hindsight.

Run: .venv/bin/python scripts/evaluate_briefs.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main() -> int:
    from pipeline.analysis.brief_eval import evaluate_core, load_eval_stories
    from pipeline.analysis.brief_groups import (
        SentenceGrouper,
        default_grouper,
        default_paths,
        evaluate_grouper,
        heldout_split,
        load_sentences,
    )
    from pipeline.config.watchlist import Watchlist

    items = load_sentences(default_paths())
    train, test = heldout_split(items)
    print(f"labelled sentences: {len(items)} ({len(train)} train, {len(test)} held out)")
    for cues in (True, False):
        grouper = SentenceGrouper.train(train, cues=cues)
        scores = evaluate_grouper(grouper, test)
        macro = sum(s.f1 for s in scores) / len(scores)
        print(f"\nheld-out, {'n-grams + cue features' if cues else 'n-grams only'}: macro-F1 {macro:.3f}")
        print(f"  {'label':<14}{'precision':>10}{'recall':>8}{'F1':>7}{'n':>5}")
        for s in scores:
            print(f"  {s.label:<14}{s.precision:>10.2f}{s.recall:>8.2f}{s.f1:>7.2f}{s.support:>5}")
        for lang in ("zh", "en"):
            part = evaluate_grouper(grouper, [i for i in test if i.lang == lang])
            print(f"  {lang}: macro-F1 {sum(s.f1 for s in part) / len(part):.3f}")

    watchlist = Watchlist.load(ROOT / "config" / "watchlist.yaml")
    results = evaluate_core(load_eval_stories(watchlist=watchlist), default_grouper())
    n = len(results)
    print(f"\ncore viewpoint on {n} reference stories (token-overlap F1 with the reference):")
    for r in results:
        print(f"  {r.story_id:<32} rule {r.rule:.2f}  lead {r.lead:.2f}  best {r.best:.2f}  | {r.chosen}")
    print(
        f"  mean: rule {sum(r.rule for r in results) / n:.3f}, lead {sum(r.lead for r in results) / n:.3f}, "
        f"best in hindsight {sum(r.best for r in results) / n:.3f}; "
        f"rule picks the best sentence in {sum(1 for r in results if r.rule >= r.best - 1e-9)} of {n}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
