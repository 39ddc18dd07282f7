"""The model registry on SQLite and PostgreSQL: metadata, bytes with their checksum, promotion."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from pipeline.errors import StoreError
from pipeline.store import Store
from pipeline.store.schema import model_artifacts


def test_models_are_registered_with_their_bytes_and_promoted(any_store: Store) -> None:
    any_store.register_model(
        "m1", data_hash="h1", metrics={"f1": 0.9}, card={"threshold": 0.4}, artifact=b"one"
    )
    any_store.register_model("m2", data_hash="h2", metrics={"f1": 0.95}, card={}, artifact=b"model two")
    assert any_store.current_model() is None
    any_store.promote_model("m1")
    any_store.promote_model("m2")
    current = any_store.current_model()
    assert current is not None and current.version == "m2" and current.metrics == {"f1": 0.95}
    assert current.size == len(b"model two") and current.is_current
    assert [m.version for m in any_store.models()] == ["m1", "m2"]
    assert [m.is_current for m in any_store.models()] == [False, True]
    assert any_store.get_model("m1").card == {"threshold": 0.4}  # type: ignore[union-attr]
    assert any_store.model_artifact("m1") == b"one"
    assert any_store.model_artifact("nope") is None
    with pytest.raises(StoreError, match="not registered"):
        any_store.promote_model("nope")


def test_damaged_model_bytes_are_refused(any_store: Store) -> None:
    any_store.register_model("m1", data_hash="h", metrics={}, card={}, artifact=b"original")
    with any_store.begin() as conn:
        conn.execute(sa.update(model_artifacts).values(content=b"tampered"))
    with pytest.raises(StoreError, match="checksum"):
        any_store.model_artifact("m1")
