"""Models where every worker can reach them: the bytes live in the store's registry, and each machine
keeps a local cache by version (``NEWS_MODEL_DIR``), so a worker that shares only the database loads the
promoted model like the machine that trained it.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path
from typing import Any

from pipeline.errors import ModelError
from pipeline.model.classifier import MODEL_FILE_NAME, NewsClassifier, write_model_file
from pipeline.store import ModelRecord, Store

log = logging.getLogger(__name__)

# Loaded models by (version, sha256): a worker process loads each model once, whatever its tasks.
_LOADED: dict[tuple[str, str], NewsClassifier] = {}
_LOADED_MAX = 3
_LOCK = threading.Lock()


def cache_path(cache_dir: Path, version: str) -> Path:
    """Where the local copy of ``version`` lives: ``<cache_dir>/<version>/model.skops``."""
    return cache_dir / version / MODEL_FILE_NAME


def register(
    store: Store,
    model: NewsClassifier,
    *,
    artifact: bytes,
    data_hash: str,
    metrics: dict[str, Any],
    path: Path | None = None,
) -> None:
    """Put a trained model (its bytes as saved, metrics, metadata) into the store's registry; not promoted."""
    store.register_model(
        model.version,
        data_hash=data_hash,
        metrics=metrics,
        card=model.card,
        artifact=artifact,
        path=str(path.resolve()) if path else None,
    )


def register_file(store: Store, path: Path) -> NewsClassifier:
    """Register a model file (one trained without a store, or copied from elsewhere); return the model."""
    model = NewsClassifier.load(path)
    store.register_model(
        model.version,
        data_hash=str(model.metadata.get("data_hash", "")),
        metrics=dict(model.metadata.get("metrics") or {}),
        card=model.card,
        artifact=Path(path).read_bytes(),
        path=str(Path(path).resolve()),
    )
    return model


def promote(store: Store, version: str, *, by: str = "unknown", reason: str = "") -> str | None:
    """Make ``version`` the model every later classification uses, recording who and why; return the
    version it replaced (a rollback is a promotion of an older version)."""
    previous = store.promote_model(version, promoted_by=by, reason=reason)
    log.info("promoted model %s (replacing %s) by %s: %s", version, previous or "none", by, reason or "-")
    return previous


def load_promoted(store: Store, cache_dir: Path) -> NewsClassifier:
    """The promoted model; ``ModelError`` says what to do when there is none or it cannot be loaded."""
    record = store.current_model()
    if record is None:
        raise ModelError("no promoted model in the store: run `python -m pipeline train`")
    return _load(store, record, cache_dir)


def load_version(store: Store, version: str, cache_dir: Path) -> NewsClassifier:
    """A registered model by version (promoted or not)."""
    record = store.get_model(version)
    if record is None:
        raise ModelError(f"model {version!r} is not registered in the store")
    return _load(store, record, cache_dir)


def _load(store: Store, record: ModelRecord, cache_dir: Path) -> NewsClassifier:
    if record.sha256 is None:
        raise ModelError(
            f"model {record.version} has no bytes in the store (it was registered by an older version of "
            "this project): run `python -m pipeline train`"
        )
    key = (record.version, record.sha256)
    with _LOCK:
        if key in _LOADED:
            return _LOADED[key]
    path = cache_path(cache_dir, record.version)
    data: bytes | None = None
    if path.is_file():
        cached = path.read_bytes()
        if hashlib.sha256(cached).hexdigest() == record.sha256:
            data = cached
        else:
            log.warning(
                "local copy %s of model %s differs from the store's; replacing it", path, record.version
            )
    if data is None:
        data = store.model_artifact(record.version)
        if data is None:
            raise ModelError(f"model {record.version} has no bytes in the store")
        try:
            write_model_file(path, data, record.card)
        except OSError as e:  # a read-only or full disk: the model still loads from the bytes
            log.warning("cannot cache model %s in %s: %s", record.version, path, e)
        log.info("model %s fetched from the store (%d bytes) into %s", record.version, len(data), path)
    model = NewsClassifier.from_bytes(data, source=f"{record.version} (store)")
    with _LOCK:
        if len(_LOADED) >= _LOADED_MAX:
            _LOADED.pop(next(iter(_LOADED)))
        _LOADED[key] = model
    return model
