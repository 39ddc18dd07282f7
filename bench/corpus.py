"""Where the team's shared corpus of real feeds and pages is: ``shared/corpus`` beside the checkout, else
the team machines' ``/work/shared/corpus``. Used by the benchmarks, the golden-file script and tests."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CANDIDATES = (ROOT.parent / "shared" / "corpus", Path("/work/shared/corpus"))


def corpus_root() -> Path | None:
    """The corpus folder (holding ``feeds/``, ``pages/``, ``truth/``), or None when there is none."""
    return next((path for path in CANDIDATES if path.is_dir()), None)
