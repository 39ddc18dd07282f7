"""The news classifier: is an article about big tech's own chips or chip investments, and which kind.

``NewsClassifier`` holds the fitted features (``pipeline.model.features``), the calibrated relevance model
(``pipeline.model.estimator``), the event-type model and the decision threshold. ``predict`` applies the
labelling guide's hard rules (``pipeline.model.rules``) on top of the model. Models are serialised with
skops (bytes, for the store's registry, or a file) and loaded with an explicit list of trusted types.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.analysis.extract import MARK_CHIPCO, Analysis, analyze
from pipeline.config.watchlist import Watchlist
from pipeline.errors import ModelError
from pipeline.model.estimator import StackedRelevanceClassifier
from pipeline.model.features import cues_found, model_text, transform_parts
from pipeline.model.rules import cap_scores, ineligibility
from pipeline.models import CHIP_INVESTMENT, SELF_DEVELOPMENT, Article, Classification, Extraction

log = logging.getLogger(__name__)

# Texts that are mostly unprintable are reported as errors rather than guessed at.
MIN_PRINTABLE_RATIO = 0.6
MODEL_FILE_NAME = "model.skops"
METADATA_FILE_NAME = "metadata.json"
# Bump when the classes inside a model file move: older files are refused with "retrain", not mis-loaded.
MODEL_FORMAT = 2
_LEGACY_MODULES = ("pipeline.classifier.",)


# --- the classifier --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassifyItem:
    """One article to classify."""

    id: str
    title: str
    summary: str
    lang: str | None = None

    @classmethod
    def of(cls, article: Article) -> ClassifyItem:
        """An archived article as the classifier reads it (title, summary and the lead of its page)."""
        return cls(
            id=article.article_id, title=article.title, summary=article.model_summary, lang=article.language
        )


@dataclass(frozen=True)
class Prediction:
    """A classifier's full output for one item: probability and event type even when not relevant."""

    item_id: str
    probability: float
    event_type: str | None
    event_probability: float
    extraction: Extraction
    language: str
    error: str | None = None


# Every type a model file may contain. skops refuses anything else; never load with trusted=True.
TRUSTED_TYPES: tuple[str, ...] = (
    "pipeline.model.features.CueFeatures",
    "pipeline.model.features.HashedCharTfidf",
    "pipeline.model.features.word_tokens",
    "pipeline.model.estimator.StackedRelevanceClassifier",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.link.Interval",
    "sklearn.feature_extraction.text.TfidfVectorizer",
    "sklearn.feature_extraction.text.TfidfTransformer",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.pipeline.FeatureUnion",
    "sklearn.pipeline.Pipeline",
    "builtins.dict",
    "builtins.list",
    "builtins.tuple",
    "builtins.str",
    "builtins.int",
    "builtins.float",
    "builtins.bool",
    "builtins.NoneType",
    "numpy.ndarray",
    "numpy.float64",
    "numpy.int64",
    "numpy.dtype",
    "scipy.sparse._csr.csr_matrix",
)


class NewsClassifier:
    """A trained relevance + event-type model; ``classify`` also extracts the structured fields."""

    def __init__(
        self,
        *,
        features: Any,
        relevance: Any,
        event: Any | None,
        threshold: float,
        version: str,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self.features = features
        self.relevance = relevance
        self.event = event
        self.threshold = float(threshold)
        self.version = version
        self.metadata: dict[str, Any] = dict(metadata or {})

    # --- prediction --------------------------------------------------------------------------------

    def predict(self, items: Sequence[ClassifyItem], *, watchlist: Watchlist) -> list[Prediction]:
        """Probabilities, event types and extractions; a bad item gets ``error`` set, never an exception."""
        analyses: list[Analysis | None] = []
        errors: list[str | None] = []
        for item in items:
            analysis, error = _analyze_item(item, watchlist)
            analyses.append(analysis)
            errors.append(error)
        ok = [i for i, a in enumerate(analyses) if a is not None]
        texts_by_index = {i: model_text(analyses[i]) for i in ok}  # type: ignore[arg-type]
        probs = np.zeros(len(items))
        event_probs = np.zeros(len(items))
        if ok:
            texts = [texts_by_index[i] for i in ok]
            try:
                rel, ev = self._scores(texts)
                probs[ok], event_probs[ok] = rel, ev
            except Exception as e:  # one item must not fail the batch: retry one by one
                log.warning("batch scoring failed (%s); scoring items one by one", e)
                for i in ok:
                    try:
                        rel, ev = self._scores([texts_by_index[i]])
                        probs[i], event_probs[i] = rel[0], ev[0]
                    except Exception as item_error:
                        log.warning("cannot score item %s: %s", items[i].id, item_error)
                        errors[i] = f"scoring failed: {item_error}"
                        analyses[i] = None
        eligible = np.array(
            [a is not None and ineligibility(a, texts_by_index[i]) is None for i, a in enumerate(analyses)],
            dtype=bool,
        )
        probs = cap_scores(probs, eligible, self.threshold)
        out: list[Prediction] = []
        for i, item in enumerate(items):
            analysis = analyses[i]
            if analysis is None:
                out.append(Prediction(str(item.id), 0.0, None, 0.0, Extraction(), "en", errors[i]))
                continue
            p_invest = float(event_probs[i])
            out.append(
                Prediction(
                    item_id=str(item.id),
                    probability=float(probs[i]),
                    event_type=CHIP_INVESTMENT if p_invest >= 0.5 else SELF_DEVELOPMENT,
                    event_probability=max(p_invest, 1 - p_invest),
                    extraction=analysis.extraction,
                    language=analysis.language,
                    error=errors[i],
                )
            )
        return out

    def is_relevant(self, prediction: Prediction) -> bool:
        """The decision: a prediction without error whose probability reaches the threshold."""
        return prediction.error is None and prediction.probability >= self.threshold

    def classify(self, items: Sequence[ClassifyItem], *, watchlist: Watchlist) -> list[Classification]:
        """One ``Classification`` per item, in order (``article_id`` = ``item.id``); never raises per item."""
        results: list[Classification] = []
        for p in self.predict(items, watchlist=watchlist):
            relevant = self.is_relevant(p)
            results.append(
                Classification(
                    article_id=p.item_id,
                    relevant=relevant,
                    score=round(p.probability, 6),
                    event_type=p.event_type if relevant else None,
                    model_version=self.version,
                    extraction=p.extraction,
                    error=p.error,
                )
            )
        return results

    def _scores(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        with _one_thread():
            return self._scores_unlimited(texts)

    def _scores_unlimited(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        parts = self._stacked_parts(texts)
        if parts is not None:  # the usual model: features split once, no stacked matrix to split twice
            assert self.event is not None
            return self.relevance.proba_of_parts(*parts), self.event.proba_of_parts(*parts)
        X = self.features.transform(texts)  # noqa: N806 - scikit-learn naming
        rel = self.relevance.predict_proba(X)[:, 1]
        if self.event is None:
            ev = np.array(
                [1.0 if "invest" in cues_found(t.lower())[0] and MARK_CHIPCO in t else 0.0 for t in texts]
            )
        else:
            # The event model's classes: 0/1 (1 = chip investment), or event-type names in older models.
            classes = list(self.event.classes_)
            column = classes.index(CHIP_INVESTMENT) if CHIP_INVESTMENT in classes else classes.index(1)
            ev = self.event.predict_proba(X)[:, column]
        return rel, ev

    def _stacked_parts(self, texts: list[str]) -> tuple[Any, np.ndarray] | None:
        """The features of ``texts`` as text and cue parts when both models are stacked classifiers that
        would split them so (``transform_parts``), else None."""
        n_cues = getattr(self.relevance, "n_cues", None)
        if not (
            type(self.relevance) is StackedRelevanceClassifier
            and type(self.event) is StackedRelevanceClassifier
            and self.event.n_cues == n_cues
            and list(self.event.classes_) == [0, 1]
        ):
            return None
        parts = transform_parts(self.features, texts)
        if parts is None or parts[1].shape[1] != n_cues:
            return None
        return parts

    # --- persistence -------------------------------------------------------------------------------

    @property
    def card(self) -> dict[str, Any]:
        """The model's metadata with its version and threshold (what the registry and reports show)."""
        return {**self.metadata, "version": self.version, "threshold": self.threshold}

    def to_bytes(self) -> bytes:
        """The model as a skops document (what the store's registry keeps)."""
        import skops.io as sio

        payload = {
            "format": MODEL_FORMAT,
            "features": self.features,
            "relevance": self.relevance,
            "event": self.event,
            "threshold": self.threshold,
            "version": self.version,
            "metadata_json": json.dumps(self.card, ensure_ascii=False, default=str),
        }
        with _quiet_module_scan():
            return bytes(sio.dumps(payload))

    def save(self, path: Path) -> None:
        """Write the model to ``path`` and its metadata as JSON beside it (``metadata.json``)."""
        write_model_file(path, self.to_bytes(), self.card)

    @classmethod
    def from_bytes(cls, data: bytes, *, source: str) -> NewsClassifier:
        """A model from skops bytes; ``ModelError`` (naming ``source``) if corrupt, untrusted or outdated."""
        with _quiet_module_scan():
            return cls._from_bytes(data, source=source)

    @classmethod
    def _from_bytes(cls, data: bytes, *, source: str) -> NewsClassifier:
        import skops.io as sio

        try:
            untrusted = sio.get_untrusted_types(data=data)
        except Exception as e:
            raise ModelError(f"model {source} is corrupt or not a skops document: {e}") from e
        if any(t.startswith(_LEGACY_MODULES) for t in untrusted):
            raise ModelError(
                f"model {source} was saved by an older version of this project (its classes have moved); "
                "retrain it: python -m pipeline train"
            )
        unexpected = sorted(set(untrusted) - set(TRUSTED_TYPES))
        if unexpected:
            raise ModelError(f"model {source} holds untrusted types {unexpected}; refusing to load it")
        try:
            payload = sio.loads(data, trusted=[t for t in untrusted if t in TRUSTED_TYPES])
        except Exception as e:
            raise ModelError(f"cannot load model {source}: {e}") from e
        if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
            found = payload.get("format") if isinstance(payload, dict) else None
            raise ModelError(
                f"model {source} is not a chip-news classifier of format {MODEL_FORMAT} (found {found!r}); "
                "retrain it: python -m pipeline train"
            )
        try:
            return cls(
                features=payload["features"],
                relevance=payload["relevance"],
                event=payload["event"],
                threshold=float(payload["threshold"]),
                version=str(payload["version"]),
                metadata=json.loads(payload["metadata_json"]),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ModelError(f"model {source} is incomplete: {e}") from e

    @classmethod
    def load(cls, path: Path) -> NewsClassifier:
        """Load a model file written by ``save``; ``ModelError`` if missing, corrupt or untrusted."""
        path = Path(path)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ModelError(f"model file not found: {path}") from None
        except OSError as e:
            raise ModelError(f"cannot read model file {path}: {e}") from e
        return cls.from_bytes(data, source=f"file {path}")


_thread_controller: list[Any] = []


def _one_thread() -> Any:
    """A context in which OpenMP and BLAS use one thread: scoring a batch is far too small a job for a
    thread team, whose start-up (3 ms per call on a busy machine, against 0.02 ms of work for the trees)
    would dominate. The results are the same: each tree sums its leaves in the same order either way.

    The libraries are looked up once (``ThreadpoolController``; ``threadpool_limits`` repeats the search,
    about 7 ms, on every call); by the first scoring the model's libraries are loaded.
    """
    if not _thread_controller:
        from threadpoolctl import ThreadpoolController

        _thread_controller.append(ThreadpoolController())
    return _thread_controller[0].limit(limits=1)


@contextmanager
def _quiet_module_scan() -> Iterator[None]:
    """Silence the deprecation shims of other libraries while skops scans ``sys.modules`` (saving and
    loading both do).

    To name a function that has no ``__module__`` (scipy's ufuncs), skops reads that attribute of every
    loaded module; in an Airflow worker each of Airflow's deprecated-import shims then warns, about 1,160
    lines per model load in the task log. Only those warnings, and only during the load, are dropped.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, message=r"The `airflow\.")
        warnings.filterwarnings("ignore", category=DeprecationWarning, message=r"The `airflow\.")
        yield


def write_model_file(path: Path, data: bytes, card: dict[str, Any]) -> None:
    """Write model bytes to ``path`` atomically, and ``card`` as ``metadata.json`` beside it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    path.with_name(METADATA_FILE_NAME).write_text(
        json.dumps(card, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8"
    )


def _analyze_item(item: ClassifyItem, watchlist: Watchlist) -> tuple[Analysis | None, str | None]:
    """Analyse one item, or say why it cannot be classified."""
    try:
        title = _as_text(item.title)
        summary = _as_text(item.summary)
        if not title.strip() and not summary.strip():
            return None, "empty article: no title or summary"
        sample = (title + summary)[:5000]
        if _printable_count(sample) < MIN_PRINTABLE_RATIO * len(sample):
            return None, "binary or undecodable text"
        return analyze(title, summary, language=item.lang, watchlist=watchlist), None
    except Exception as e:  # a bug for one odd input must not lose the batch
        log.exception("extraction failed for item %s", getattr(item, "id", "?"))
        return None, f"extraction failed: {type(e).__name__}: {e}"


def _printable_count(sample: str) -> int:
    """How many characters of ``sample`` are printable, line breaks and tabs included."""
    if sample.isprintable() or sample.replace("\n", "").replace("\t", "").isprintable():
        return len(sample)  # the usual case, decided in C
    return sum(1 for ch in sample if ch.isprintable() or ch in "\n\t")


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value if isinstance(value, str) else str(value)
