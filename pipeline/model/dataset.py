"""Labelled articles (JSON lines) for training and evaluating the classifier.

One object per line: ``id``, ``lang`` ("zh" | "en" | "mixed"), ``title``, ``summary``, ``label`` (0 or 1),
``event_type`` (required when label is 1), ``companies`` (primary actor first), ``chips``,
``counterparties``, and optional ``amount`` (text as written), ``note``, ``event``, ``hard_negative_kind``.
Every line is validated; errors name ``file:line``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import DatasetError
from pipeline.models import EVENT_TYPES, LANGUAGES

DEFAULT_TRAIN_GLOB = "data/train/*.jsonl"
_LIST_FIELDS = ("companies", "chips", "counterparties")
_TEXT_FIELDS = ("note", "event", "hard_negative_kind")


@dataclass(frozen=True)
class LabelledItem:
    """One labelled article; ``companies[0]`` is the primary actor of a relevant item."""

    id: str
    lang: str
    title: str
    summary: str
    label: int
    event_type: str | None
    companies: tuple[str, ...] = ()
    chips: tuple[str, ...] = ()
    counterparties: tuple[str, ...] = ()
    amount: str | None = None
    note: str | None = None
    event: str | None = None
    hard_negative_kind: str | None = None
    source: str = ""  # "file:line", for error reports

    @property
    def text(self) -> str:
        return f"{self.title}\n{self.summary}"


def _parse(obj: Any) -> LabelledItem:
    """Validate one decoded line; ``ValueError`` says what is wrong."""
    if not isinstance(obj, dict):
        raise ValueError("line is not a JSON object")
    ident = obj.get("id")
    if not isinstance(ident, str) or not ident.strip():
        raise ValueError("'id' must be a non-empty string")
    lang = obj.get("lang")
    if lang not in LANGUAGES:
        raise ValueError(f"'lang' must be one of {list(LANGUAGES)}, not {lang!r}")
    title, summary = obj.get("title"), obj.get("summary", "")
    if not isinstance(title, str) or not isinstance(summary, str):
        raise ValueError("'title' and 'summary' must be strings")
    if not title.strip() and not summary.strip():
        raise ValueError("'title' and 'summary' are both empty")
    label = obj.get("label")
    if isinstance(label, bool) or label not in (0, 1):
        raise ValueError(f"'label' must be 0 or 1, not {label!r}")
    event_type = obj.get("event_type")
    if label == 1 and event_type not in EVENT_TYPES:
        raise ValueError(f"relevant item needs 'event_type' in {list(EVENT_TYPES)}, not {event_type!r}")
    if label == 0 and event_type is not None:
        raise ValueError(f"irrelevant item has 'event_type' {event_type!r} (must be null)")
    lists: dict[str, tuple[str, ...]] = {}
    for name in _LIST_FIELDS:
        value = obj.get(name) or []
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise ValueError(f"'{name}' must be a list of non-empty strings")
        lists[name] = tuple(v.strip() for v in value)
    if label == 1 and not lists["companies"]:
        raise ValueError("relevant item needs at least one company (the primary actor first)")
    amount = obj.get("amount")
    if isinstance(amount, dict):
        amount = amount.get("text")
    if amount is not None and not isinstance(amount, str):
        raise ValueError("'amount' must be a string (as written) or null")
    extras: dict[str, str | None] = {}
    for name in _TEXT_FIELDS:
        value = obj.get(name)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"'{name}' must be a string or null")
        extras[name] = value
    return LabelledItem(
        id=ident.strip(),
        lang=lang,
        title=title,
        summary=summary,
        label=int(label),
        event_type=event_type if label == 1 else None,
        companies=lists["companies"],
        chips=lists["chips"],
        counterparties=lists["counterparties"],
        amount=amount,
        note=extras["note"],
        event=extras["event"],
        hard_negative_kind=extras["hard_negative_kind"],
    )


def load_labelled(paths: Sequence[Path]) -> list[LabelledItem]:
    """All items of ``paths`` in order; a ``DatasetError`` names the ``file:line`` of the first bad line."""
    items: list[LabelledItem] = []
    seen: dict[str, str] = {}
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise DatasetError(f"cannot read: {e}", path=str(path)) from e
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                item = _parse(json.loads(line))
            except json.JSONDecodeError as e:
                raise DatasetError(
                    f"invalid JSON: {e.msg} (column {e.colno})", path=str(path), line=lineno
                ) from e
            except ValueError as e:
                raise DatasetError(str(e), path=str(path), line=lineno) from e
            where = f"{path}:{lineno}"
            if item.id in seen:
                raise DatasetError(
                    f"duplicate id {item.id!r} (first at {seen[item.id]})", path=str(path), line=lineno
                )
            seen[item.id] = where
            items.append(_with_source(item, where))
    return items


def _with_source(item: LabelledItem, source: str) -> LabelledItem:
    from dataclasses import replace

    return replace(item, source=source)


def data_hash(paths: Sequence[Path]) -> str:
    """sha256 over the files' bytes, taken in order of file name (so the glob's order does not matter)."""
    digest = hashlib.sha256()
    for path in sorted(paths, key=lambda p: (Path(p).name, str(p))):
        data = Path(path).read_bytes()
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


def resolve_train_paths(root: Path, pattern: str = DEFAULT_TRAIN_GLOB) -> list[Path]:
    """The training files under ``root`` matching ``pattern``, sorted."""
    return sorted(p for p in root.glob(pattern) if p.is_file())
