"""YAML configuration files: safe loading that remembers where each entry is, for errors that name it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import ConfigError


class LineDict(dict[str, Any]):
    """A mapping from a YAML file that knows the line it started on (1-based)."""

    line: int = 0


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict(loader.construct_pairs(node, deep=True))
    result.line = node.start_mark.line + 1
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(path: Path) -> Any:
    """Load a YAML file safely; a missing or malformed file is a ``ConfigError`` naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", path=str(path)) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read: {e}", path=str(path)) from e
    try:
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as e:
        raise ConfigError(f"invalid YAML: {e}", path=str(path)) from e


def entry_name(item: Any, index: int, key: str = "id") -> str:
    """How an error names a list entry: its id if it has one, its position and line."""
    line = getattr(item, "line", 0)
    ident = item.get(key) if isinstance(item, dict) else None
    label = f"entry {index + 1}"
    if ident:
        label += f" {key}={ident!r}"
    if line:
        label += f", line {line}"
    return label


def list_item_lines(path: Path, key: str | None = None) -> list[int]:
    """1-based start lines of the items of the top-level list (or of ``key``'s list), for error messages."""
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, yaml.YAMLError):
        return []
    if key and isinstance(node, yaml.MappingNode):
        node = next((v for k, v in node.value if getattr(k, "value", None) == key), None)
    if not isinstance(node, yaml.SequenceNode):
        return []
    return [item.start_mark.line + 1 for item in node.value]


def mapping_key_lines(path: Path) -> dict[str, int]:
    """1-based lines of the top-level mapping's keys, for error messages (empty when not a mapping)."""
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, yaml.YAMLError):
        return {}
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {str(k.value): k.start_mark.line + 1 for k, _v in node.value if isinstance(k, yaml.ScalarNode)}
