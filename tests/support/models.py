"""Putting a trained model file into a store's registry and promoting it, as `python -m pipeline train` would."""

from __future__ import annotations

from pathlib import Path

from pipeline.model.registry import promote, register_file
from pipeline.store import get_store


def install_model(db_url: str, model_file: Path) -> str:
    """Register ``model_file`` in the store at ``db_url`` (migrated if needed), promote it; its version."""
    store = get_store(db_url)
    model = register_file(store, model_file)
    promote(store, model.version)
    return model.version
