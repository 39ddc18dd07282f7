"""The architecture, checked: every import in ``pipeline/`` points to its own package or a lower layer,
``pipeline/`` never imports Airflow, and DAG files import only light modules at the top.

The layers are the module map of ``pipeline/__init__.py`` (and the README's Architecture section)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from pipeline.settings import PROJECT_ROOT

PIPELINE = PROJECT_ROOT / "pipeline"

# part of pipeline -> the parts it may import (besides itself). Kernel modules are top-level files.
KERNEL = {"errors", "models", "settings", "text"}
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "models": set(),
    "text": set(),
    "settings": {"errors"},
    "config": KERNEL,
    "store": KERNEL,
    "analysis": KERNEL | {"config"},
    "ingest": KERNEL | {"config", "store"},
    "model": KERNEL | {"config", "analysis", "store"},
    "slack": KERNEL | {"config", "store"},
}
APP = {
    "cycle",
    "learning",
    "runs",
    "cli",
    "sample_server",
    "__main__",
    "__init__",
}  # the top: may import anything


def _part(module: str) -> str:
    """``pipeline.store.ledger`` -> ``store``; ``pipeline.errors`` -> ``errors``."""
    return module.split(".")[1] if module.count(".") >= 1 else "__init__"


def _module_name(path: Path) -> str:
    rel = path.relative_to(PROJECT_ROOT).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in a file, including those inside functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = (
                [f"{node.module}.{a.name}" for a in node.names]
                if node.module == "pipeline"
                else [node.module]
            )
            out.extend((node.lineno, name) for name in names)
    return out


SOURCES = sorted(p for p in PIPELINE.rglob("*.py") if "migrations" not in p.parts)


def test_every_module_is_in_the_module_map() -> None:
    """The map in ``pipeline/__init__.py`` names every module (docs that match the code)."""
    import pipeline

    doc = pipeline.__doc__ or ""
    missing = [
        str(p.relative_to(PIPELINE))
        for p in SOURCES
        if p.stem not in ("__init__", "__main__") and f"``{p.stem}``" not in doc
    ]
    assert not missing, f"modules missing from the module map in pipeline/__init__.py: {missing}"


def test_every_part_of_pipeline_is_on_the_map() -> None:
    parts = {_part(_module_name(p)) for p in SOURCES}
    assert parts <= set(ALLOWED) | APP, f"parts missing from the layer map: {parts - set(ALLOWED) - APP}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PROJECT_ROOT)))
def test_imports_point_down(path: Path) -> None:
    here = _part(_module_name(path))
    wrong = []
    for line, module in _imports(path):
        if module.split(".")[0] in ("airflow", "chip_news_airflow"):
            wrong.append(f"line {line}: {module} (pipeline/ never imports Airflow)")
        if not module.startswith("pipeline.") or here in APP:
            continue
        there = _part(module)
        if there != here and there not in ALLOWED[here]:
            wrong.append(f"line {line}: {module} ({there} is not below {here})")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("path", sorted((PROJECT_ROOT / "dags").glob("*.py")), ids=lambda p: p.name)
def test_dag_files_import_only_light_modules_at_the_top(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    light = (
        "__future__",
        "datetime",
        "pathlib",
        "typing",
        "pendulum",
        "airflow.sdk",
        "airflow.providers.standard.operators",  # operators the DAG instantiates
        "chip_news_airflow.defaults",
        "chip_news_airflow.approval",
    )
    light_pipeline = ("pipeline.settings", "pipeline.models")
    heavy = [
        f"line {node.lineno}: {node.module}"
        for node in tree.body
        if isinstance(node, ast.ImportFrom)
        and node.module
        and not node.module.startswith(light + light_pipeline)
    ]
    assert not heavy, f"heavy imports at the top of {path.name} slow DAG parsing: {heavy}"
