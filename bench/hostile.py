"""Hostile inputs that must stay cheap: time and memory of the pipeline's defences, printed with budgets.

Run ``python -m bench.hostile`` from the repository root (``make bench`` runs it). Each case is timed as
the best of a few rounds on this machine; a case over its budget is printed as SLOW and the run exits 1.
The unit tests check what these inputs produce; how fast is measured here, not in the test suite.
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.analysis.stories import StoryGrouper
from pipeline.analysis.summarize import extractive_summary
from pipeline.ingest.feedparse import parse_feed
from pipeline.text import html_to_text

ROOT = Path(__file__).resolve().parents[1]


def _best(fn: Callable[[], object], rounds: int = 3) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> int:
    bomb = (ROOT / "tests" / "data" / "feeds" / "entity_bomb.xml").read_bytes()
    megabyte = ("Amazon unveiled Trainium3 at re:Invent and said it would ship next year. " * 14_000)[
        :1_000_000
    ]
    markup = ('<a title="' * 20_000) + ("<!--" * 20_000) + ("<script" * 20_000)
    grouper = StoryGrouper()
    texts = [
        (f"Alibaba T-Head tests a new AI chip {i}", f"Alibaba's chip unit tests an inference chip {i}")
        for i in range(1000)
    ]

    def signatures() -> None:
        for title, text in texts:
            grouper.signature(title, text, "en")

    cases: list[tuple[str, Callable[[], object], float]] = [
        (f"entity-bomb feed ({len(bomb) // 1000} kB) parsed", lambda: parse_feed(bomb, {}, url="https://x.example/feed", language="en"), 1.0),
        ("1 MB article summarised", lambda: extractive_summary("Amazon unveils Trainium3", megabyte, language="en"), 0.5),
        ("1,000 story signatures (MinHash)", signatures, 2.0),
        (f"hostile markup ({len(markup) // 1000} kB of unclosed tags) to text", lambda: html_to_text(markup), 1.0),
    ]  # fmt: skip
    slow = 0
    print(f"{'case':<52} {'seconds':>8} {'budget':>7}")
    for name, fn, budget in cases:
        took = _best(fn)
        flag = "" if took <= budget else "  SLOW"
        slow += bool(flag)
        print(f"{name:<52} {took:>8.3f} {budget:>7.1f}{flag}")
    tracemalloc.start()
    parse_feed(bomb, {}, url="https://x.example/feed", language="en")
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{'entity-bomb feed: peak traced memory':<52} {peak / 2**20:>7.1f}M {'16M':>7}")
    slow += peak > 16 * 2**20
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
