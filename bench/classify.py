"""Classification throughput on one core, extraction included; model load time, memory and file size.

Run ``python -m bench.classify`` from the repository root. The input is a realistic mix: the labelled
training items (``data/train/*.jsonl``: Chinese, English and mixed, relevant and not) repeated to
``--items`` articles, classified in batches as the pipeline does. The evaluation sample is never used.

The model is ``--model PATH``, else the promoted model of the store (``NEWS_DB_URL``, its local copy under
``NEWS_MODEL_DIR``), else one trained on the spot into a temporary folder.

Rates are articles per second of this process's CPU time (the figure set against the target of issue 13,
5,000 articles/s), so that other processes sharing the core do not lower them; rates per second of wall
time are printed beside them. No result is cached between articles: the repeated items are analysed and scored anew.
``python -m bench.predictions`` checks that an optimisation left every prediction as it was.
"""

from __future__ import annotations

import os

# One core means one thread for the numerical libraries too; set before numpy is imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import gc  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.analysis.extract import analyze  # noqa: E402
from pipeline.config.watchlist import Watchlist  # noqa: E402
from pipeline.model.classifier import ClassifyItem, NewsClassifier  # noqa: E402
from pipeline.model.dataset import load_labelled, resolve_train_paths  # noqa: E402
from pipeline.settings import PROJECT_ROOT, Settings  # noqa: E402

# Issue 13: classification with extraction at 5,000 articles/s or more on one core.
TARGET_PER_S = 5_000


def _rss_kib() -> int:
    """Resident set size of this process in KiB (Linux), 0 elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _pin_to_one_core() -> str:
    try:
        core = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})
        return f"pinned to CPU {core}"
    except (AttributeError, OSError):
        return "not pinned (no sched_setaffinity)"


def _model_path(args: argparse.Namespace, settings: Settings, tmp: Path) -> Path:
    if args.model:
        return Path(args.model)
    # The promoted model's local copy, fetched from the store without loading it: the load is measured.
    from pipeline.errors import ModelError, StoreError
    from pipeline.model.classifier import write_model_file
    from pipeline.model.registry import cache_path
    from pipeline.store import open_store

    try:
        store = open_store(settings.db_url)
        record = store.current_model()
        data = store.model_artifact(record.version) if record else None
        if record is None or data is None:
            raise ModelError("no promoted model with bytes in the store")
        path = cache_path(Path(tmp), record.version)
        write_model_file(path, data, record.card)
        return path
    except (ModelError, StoreError):
        from pipeline.model.training import train_and_save

        print("no promoted model: training one into a temporary folder ...", flush=True)
        result = train_and_save(
            train_paths=resolve_train_paths(PROJECT_ROOT), model_dir=tmp, promote=False, feature_set="char"
        )
        return result.path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model file (.skops); default: the promoted model or a fresh one")
    parser.add_argument("--items", type=int, default=20_000, help="articles to classify (default 20000)")
    parser.add_argument("--batch", type=int, default=500, help="articles per classify() call")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (the median is reported)")
    args = parser.parse_args(argv)

    print(_pin_to_one_core())
    settings = Settings.from_env()
    watchlist = Watchlist.load(settings.watchlist_file)
    labelled = load_labelled(resolve_train_paths(PROJECT_ROOT))
    if not labelled:
        print("no training items in data/train: nothing to benchmark with", file=sys.stderr)
        return 1
    items = [
        ClassifyItem(id=f"b{k}", title=it.title, summary=it.summary, lang=None)
        for k, it in enumerate(labelled[i % len(labelled)] for i in range(args.items))
    ]

    with tempfile.TemporaryDirectory() as tmp:
        path = _model_path(args, settings, Path(tmp))
        gc.collect()
        rss_before = _rss_kib()
        started = time.perf_counter()
        model = NewsClassifier.load(path)  # cold: includes importing scikit-learn's modules
        load_s = time.perf_counter() - started
        rss_after = _rss_kib()
        started = time.perf_counter()
        NewsClassifier.load(path)
        warm_s = time.perf_counter() - started
        # Once more under tracemalloc, which slows allocation: this load is not timed.
        tracemalloc.start()
        NewsClassifier.load(path)
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        size = path.stat().st_size

    print(
        f"model {model.version} ({model.metadata.get('feature_set', '?')} features), file {size / 1e6:.1f} MB"
    )
    print(
        f"load time {load_s * 1000:.0f} ms cold, {warm_s * 1000:.0f} ms warm; "
        f"RSS +{(rss_after - rss_before) / 1024:.1f} MiB; tracemalloc peak {peak / 2**20:.1f} MiB"
    )

    model.classify(items[: args.batch], watchlist=watchlist)  # warm-up: compiled patterns, caches
    rates, wall_rates = [], []
    for _ in range(args.rounds):
        cpu, wall = time.process_time(), time.perf_counter()
        relevant = 0
        for start in range(0, len(items), args.batch):
            results = model.classify(items[start : start + args.batch], watchlist=watchlist)
            relevant += sum(r.relevant for r in results)
        rates.append(len(items) / (time.process_time() - cpu))
        wall_rates.append(len(items) / (time.perf_counter() - wall))
    cpu, wall = time.process_time(), time.perf_counter()
    for item in items:
        analyze(item.title, item.summary, language=None, watchlist=watchlist)
    extract_rate = len(items) / (time.process_time() - cpu)
    extract_wall = len(items) / (time.perf_counter() - wall)

    rate = statistics.median(rates)
    verdict = "PASS" if rate >= TARGET_PER_S else "FAIL"
    print(
        f"classify + extract: {rate:,.0f} articles/s on one core (target >= {TARGET_PER_S:,}: {verdict}; "
        f"median of {args.rounds} rounds of {len(items)} articles in batches of {args.batch}; {relevant} relevant)"
    )
    print(f"extraction alone:   {extract_rate:,.0f} articles/s")
    print(
        f"(rates per second of this process's CPU time, which other processes on the core do not inflate; "
        f"per second of wall time: {statistics.median(wall_rates):,.0f} and {extract_wall:,.0f})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
