"""Labelled data files: validation with file:line errors, and the data hash."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pipeline.errors import DatasetError
from pipeline.model.dataset import data_hash, load_labelled

SMALL = Path(__file__).parents[1] / "data" / "extract" / "labelled_small.jsonl"


def _item(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "x1", "lang": "en", "title": "Google unveils TPU v7", "summary": "Google said ...", "label": 1,
        "event_type": "self_development", "companies": ["Google"], "chips": ["TPU v7"], "counterparties": [],
        "amount": None, "note": "n", "event": "e", "hard_negative_kind": None,
    }  # fmt: skip
    base.update(overrides)
    return base


def _write(path: Path, rows: list[Any]) -> Path:
    path.write_text(
        "".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows),
        encoding="utf-8",
    )
    return path


def test_loads_the_fixture() -> None:
    items = load_labelled([SMALL])
    assert len(items) == 75
    assert {i.lang for i in items} == {"zh", "en"}
    relevant = [i for i in items if i.label == 1]
    assert all(i.event_type in ("self_development", "chip_investment") and i.companies for i in relevant)
    assert all(i.event_type is None for i in items if i.label == 0)
    assert items[0].source == f"{SMALL}:1"


def test_optional_fields_and_amount_forms(tmp_path: Path) -> None:
    minimal = {"id": "m", "lang": "zh", "title": "标题", "summary": "", "label": 0}
    path = _write(tmp_path / "a.jsonl", [minimal, _item(id="y", amount={"text": "$2 billion"}), ""])
    items = load_labelled([path])
    assert items[0].companies == () and items[0].event_type is None
    assert items[1].amount == "$2 billion"


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "not a JSON object"),
        (_item(label=2), "'label'"),
        (_item(label=True), "'label'"),
        (_item(event_type=None), "event_type"),
        (_item(label=0), "irrelevant item has 'event_type'"),
        (_item(lang="fr"), "'lang'"),
        (_item(companies="Google"), "'companies'"),
        (_item(companies=[]), "at least one company"),
        (_item(title="", summary=""), "both empty"),
        (_item(id=""), "'id'"),
        (_item(amount=5), "'amount'"),
    ],
)
def test_errors_name_file_and_line(tmp_path: Path, bad: Any, message: str) -> None:
    path = _write(tmp_path / "train.jsonl", [_item(id="ok"), bad])
    with pytest.raises(DatasetError) as info:
        load_labelled([path])
    assert f"{path}:2:" in str(info.value)
    assert message in str(info.value)


def test_duplicate_ids_across_files(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.jsonl", [_item(id="same")])
    b = _write(tmp_path / "b.jsonl", [_item(id="other"), _item(id="same")])
    with pytest.raises(DatasetError, match=rf"{b}:2: duplicate id 'same' \(first at {a}:1\)"):
        load_labelled([a, b])


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="cannot read"):
        load_labelled([tmp_path / "missing.jsonl"])


def test_data_hash_is_order_independent_and_content_sensitive(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.jsonl", [_item(id="a")])
    b = _write(tmp_path / "b.jsonl", [_item(id="b")])
    h = data_hash([a, b])
    assert h == data_hash([b, a])
    assert len(h) == 64
    _write(b, [_item(id="b", title="changed")])
    assert data_hash([a, b]) != h
