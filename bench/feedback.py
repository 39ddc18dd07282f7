"""What one analyst's ❌ does to the model: the score of a rejected alert before and after retraining.

Run ``python -m bench.feedback`` from the repository root (about five minutes: three trainings on
``data/train``). It trains the classifier on the training files, then again with analysts' feedback
rejecting each false alarm below (a ``not_relevant`` label on the archived article, as
``collect_feedback`` records it), and prints each article's score and decision before and after. The
feedback items are chosen outside the held-out split, so they are trained on. The evaluation sample is
never used.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.config.watchlist import Watchlist
from pipeline.model.classifier import ClassifyItem, NewsClassifier
from pipeline.model.dataset import LabelledItem, resolve_train_paths
from pipeline.model.training import is_holdout, train_and_save
from pipeline.settings import PROJECT_ROOT

# False alarms of the kinds analysts reject (issue 10's failure classes), in our own words.
FALSE_ALARMS = [
    ClassifyItem(
        "rumour",
        "Baidu denies rumours that its Kunlun chip unit will list in Hong Kong",
        "Baidu said reports of an imminent listing of its AI chip unit Kunlunxin were speculation; shares of "
        "chip stocks fell.",
        "en",
    ),
    ClassifyItem(
        "robotics",
        "Tencent invests in robotics firm that uses Nvidia chips",
        "Tencent led a round in a robot maker whose machines run on Nvidia Jetson chips.",
        "en",
    ),
]


def _feedback(item: ClassifyItem) -> LabelledItem:
    """The article's ❌ as a training item, in a story outside the held-out split (so it is trained on)."""
    for n in range(100):
        labelled = LabelledItem(
            id=f"fb-{item.id}",
            lang=item.lang or "en",
            title=item.title,
            summary=item.summary,
            label=0,
            event_type=None,
            event=f"story:bench-{item.id}-{n}",
            source=f"feedback:{item.id}",
        )
        if not is_holdout(labelled):
            return labelled
    raise SystemExit(f"no story id outside the held-out split for {item.id}")


def main() -> int:
    paths = resolve_train_paths(PROJECT_ROOT)
    watchlist = Watchlist.load(PROJECT_ROOT / "config" / "watchlist.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        base = NewsClassifier.load(train_and_save(train_paths=paths, model_dir=Path(tmp), promote=False).path)
        print(f"trained {base.version} on {len(paths)} files in {time.perf_counter() - started:.0f} s")
        before = {p.article_id: p for p in base.classify(FALSE_ALARMS, watchlist=watchlist)}
        for item in FALSE_ALARMS:
            result = train_and_save(
                train_paths=paths,
                model_dir=Path(tmp),
                promote=False,
                feedback=[_feedback(item)],
                feedback_hash=item.id,
            )
            model = NewsClassifier.load(result.path)
            (after,) = model.classify([item], watchlist=watchlist)
            was = before[item.id]
            print(
                f"{item.title[:70]:<70}  score {was.score:.2f} ({'alerted' if was.relevant else 'quiet'}) "
                f"-> {after.score:.2f} ({'alerted' if after.relevant else 'dropped'}) after one ❌; "
                f"threshold {base.threshold:.2f} -> {model.threshold:.2f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
