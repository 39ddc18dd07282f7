"""Prediction identity check: a model's outputs on fixed items, dumped and compared across code changes.

Run from the repository root::

    python -m bench.predictions dump --model PATH --out before.json
    # ... change the code ...
    python -m bench.predictions compare --model PATH --against before.json

The items are the evaluation sample (``../shared/eval/dev.jsonl`` when present, scored only, never trained
on) and the labelled training items (``data/train/*.jsonl``). For each item the dump holds the relevance
score, the decision, the event type and its probability, the language, the extraction (companies, chips,
counterparties, amount, summary) and the masked model text. ``compare`` reports every difference:
scores must agree to ``--tolerance`` (default 1e-9), everything else exactly.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.analysis.extract import analyze
from pipeline.config.watchlist import Watchlist
from pipeline.model.classifier import ClassifyItem, NewsClassifier
from pipeline.model.dataset import resolve_train_paths
from pipeline.model.features import model_text
from pipeline.settings import PROJECT_ROOT, Settings

DEV_FILE = PROJECT_ROOT.parent / "shared" / "eval" / "dev.jsonl"
_SCORES = ("probability", "event_probability")


def _items(dev_file: Path) -> list[ClassifyItem]:
    paths = [dev_file, *resolve_train_paths(PROJECT_ROOT)]
    items = []
    for path in paths:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
            if line.strip():
                row = json.loads(line)
                items.append(
                    ClassifyItem(
                        id=f"{path.name}:{n}:{row.get('id', '')}",
                        title=row.get("title", ""),
                        summary=row.get("summary", ""),
                        lang=row.get("lang"),
                    )
                )
    return items


def predictions(model: NewsClassifier, items: list[ClassifyItem], watchlist: Watchlist) -> dict[str, Any]:
    """Every output of ``model`` for ``items`` (scored in batches of 100, as the pipeline does), by id."""
    out: dict[str, Any] = {}
    for start in range(0, len(items), 100):
        batch = items[start : start + 100]
        for item, p in zip(batch, model.predict(batch, watchlist=watchlist), strict=True):
            e = p.extraction
            amount = None if e.amount is None else [e.amount.value, e.amount.currency, e.amount.text]
            analysis = analyze(item.title, item.summary, language=item.lang, watchlist=watchlist)
            out[item.id] = {
                "probability": p.probability,
                "relevant": model.is_relevant(p),
                "event_type": p.event_type,
                "event_probability": p.event_probability,
                "language": p.language,
                "error": p.error,
                "companies": list(e.companies),
                "chips": list(e.chips),
                "counterparties": list(e.counterparties),
                "amount": amount,
                "summary": e.summary,
                "model_text": model_text(analysis),
            }
    return out


def compare(before: dict[str, Any], after: dict[str, Any], tolerance: float) -> list[str]:
    """Differences between two dumps, one line each (empty: identical)."""
    problems = [f"{key}: missing" for key in before if key not in after]
    problems += [f"{key}: new item" for key in after if key not in before]
    for key in before.keys() & after.keys():
        for field, value in before[key].items():
            new = after[key].get(field)
            if field in _SCORES:
                if abs(float(value) - float(new)) > tolerance:
                    problems.append(f"{key}: {field} {value!r} -> {new!r}")
            elif value != new:
                problems.append(f"{key}: {field} {value!r} -> {new!r}")
    return sorted(problems)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("dump", "compare"))
    parser.add_argument("--model", required=True, help="model file (.skops)")
    parser.add_argument("--out", help="dump: where to write the predictions (JSON)")
    parser.add_argument("--against", help="compare: a dump written before the change")
    parser.add_argument("--dev", default=str(DEV_FILE), help=f"evaluation sample, scored only ({DEV_FILE})")
    parser.add_argument("--tolerance", type=float, default=1e-9)
    args = parser.parse_args(argv)

    if not Path(args.dev).is_file():
        parser.error(f"no evaluation sample at {args.dev}: name it with --dev")
    watchlist = Watchlist.load(Settings.from_env().watchlist_file)
    model = NewsClassifier.load(Path(args.model))
    items = _items(Path(args.dev))
    current = predictions(model, items, watchlist)
    if args.action == "dump":
        if not args.out:
            parser.error("dump needs --out")
        Path(args.out).write_text(json.dumps(current, ensure_ascii=False, indent=1), encoding="utf-8")
        print(f"{len(current)} items written to {args.out}")
        return 0
    if not args.against:
        parser.error("compare needs --against")
    problems = compare(json.loads(Path(args.against).read_text(encoding="utf-8")), current, args.tolerance)
    for line in problems[:50]:
        print(line)
    relevant = sum(v["relevant"] for v in current.values())
    verdict = "IDENTICAL" if not problems else f"{len(problems)} DIFFERENCES"
    print(f"{len(current)} items ({relevant} relevant): {verdict}")
    return 0 if not problems else 1


if __name__ == "__main__":
    raise SystemExit(main())
