"""The model registry: every trained model's metrics and metadata, its bytes, and which one is promoted.

The bytes live in the store (``model_artifacts``), so a worker that shares only the database can load
the promoted model; ``pipeline.model.registry`` caches them on local disk by version.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from pipeline.errors import StoreError
from pipeline.store.base import StoreBase, dumps, utcnow
from pipeline.store.schema import model_artifacts, model_promotions, model_registry


@dataclass(frozen=True)
class ModelRecord:
    """One registered model. ``sha256``/``size`` describe its stored bytes (None: no bytes stored)."""

    version: str
    data_hash: str
    metrics: dict[str, Any] = field(compare=False)
    card: dict[str, Any] = field(compare=False)
    created_at: datetime
    promoted_at: datetime | None
    is_current: bool
    path: str | None
    sha256: str | None
    size: int | None


@dataclass(frozen=True)
class PromotionRecord:
    """One change of the promoted model: to ``version`` from ``previous_version``, by whom, when, why."""

    seq: int
    version: str
    previous_version: str | None
    promoted_by: str
    reason: str
    promoted_at: datetime


def _record(row: Any) -> ModelRecord:
    m = row._mapping
    return ModelRecord(
        version=m["version"],
        data_hash=m["data_hash"],
        metrics=json.loads(m["metrics"] or "{}"),
        card=json.loads(m["card"] or "{}"),
        created_at=m["created_at"],
        promoted_at=m["promoted_at"],
        is_current=bool(m["is_current"]),
        path=m["path"],
        sha256=m["sha256"],
        size=m["size"],
    )


class RegistryStore(StoreBase):
    """Reads and writes of ``model_registry`` and ``model_artifacts``."""

    def _model_query(self) -> sa.Select[Any]:
        r, a = model_registry.c, model_artifacts.c
        return sa.select(model_registry, a.sha256, a.size).select_from(
            model_registry.outerjoin(model_artifacts, r.version == a.version)
        )

    def register_model(
        self,
        version: str,
        *,
        data_hash: str,
        metrics: dict[str, Any],
        card: dict[str, Any],
        artifact: bytes,
        path: str | None = None,
    ) -> None:
        """Record a trained model and its bytes (idempotent: registering again updates both)."""
        now = utcnow()
        with self.engine.begin() as conn:
            self._upsert(
                conn,
                model_registry,
                [
                    {
                        "version": version,
                        "path": path,
                        "data_hash": data_hash,
                        "metrics": dumps(metrics),
                        "card": dumps(card),
                        "created_at": now,
                        "is_current": False,
                    }
                ],
                ["version"],
                ["path", "data_hash", "metrics", "card"],
            )
            self._upsert(
                conn,
                model_artifacts,
                [
                    {
                        "version": version,
                        "sha256": hashlib.sha256(artifact).hexdigest(),
                        "size": len(artifact),
                        "content": artifact,
                        "created_at": now,
                    }
                ],
                ["version"],
                ["sha256", "size", "content"],
            )

    def promote_model(self, version: str, *, promoted_by: str = "unknown", reason: str = "") -> str | None:
        """Make ``version`` the current model and log who did it; return the version it replaced.

        ``version`` must be registered with its bytes. Every promotion (rollbacks too) is a row of
        ``model_promotions``, written in the same transaction.
        """
        now = utcnow()
        with self.engine.begin() as conn:
            found = conn.execute(
                sa.select(model_artifacts.c.version).where(model_artifacts.c.version == version)
            ).first()
            if not found:
                raise StoreError(f"model {version!r} is not registered with its bytes in this store")
            previous = conn.execute(
                sa.select(model_registry.c.version).where(model_registry.c.is_current.is_(True))
            ).scalar()
            conn.execute(sa.update(model_registry).values(is_current=False))
            conn.execute(
                sa.update(model_registry)
                .where(model_registry.c.version == version)
                .values(is_current=True, promoted_at=now)
            )
            conn.execute(
                sa.insert(model_promotions).values(
                    version=version,
                    previous_version=previous,
                    promoted_by=promoted_by,
                    reason=reason,
                    promoted_at=now,
                )
            )
        return str(previous) if previous else None

    def promotions(self) -> list[PromotionRecord]:
        """Every change of the promoted model, oldest first."""
        c = model_promotions.c
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(model_promotions).order_by(c.seq))
            return [
                PromotionRecord(r.seq, r.version, r.previous_version, r.promoted_by, r.reason, r.promoted_at)
                for r in rows
            ]

    def current_model(self) -> ModelRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(self._model_query().where(model_registry.c.is_current.is_(True))).first()
        return _record(row) if row else None

    def get_model(self, version: str) -> ModelRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(self._model_query().where(model_registry.c.version == version)).first()
        return _record(row) if row else None

    def models(self) -> list[ModelRecord]:
        """Every registered model, oldest first."""
        q = self._model_query().order_by(model_registry.c.created_at, model_registry.c.version)
        with self.engine.connect() as conn:
            return [_record(r) for r in conn.execute(q)]

    def model_artifact(self, version: str) -> bytes | None:
        """The stored bytes of ``version`` (None when none are stored); ``StoreError`` if they are damaged."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(model_artifacts.c.content, model_artifacts.c.sha256).where(
                    model_artifacts.c.version == version
                )
            ).first()
        if row is None:
            return None
        content = bytes(row.content)
        if hashlib.sha256(content).hexdigest() != row.sha256:
            raise StoreError(f"the stored bytes of model {version!r} do not match their checksum")
        return content
