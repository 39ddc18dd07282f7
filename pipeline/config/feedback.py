"""Which Slack reactions on an alert are labels (``config/feedback.yaml``), validated on load.

The file maps each vote class (``relevant``, ``not_relevant``, ``self_development``, ``chip_investment``)
to a list of emoji names as Slack reports them (``x``, ``+1``, ``white_check_mark``), without colons. An
event-type emoji also says "relevant". Skin-tone variants count as their base emoji. Every error is a
``ConfigError`` naming the file, the class and its line.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.config.yamlfile import load_yaml, mapping_key_lines
from pipeline.errors import ConfigError
from pipeline.models import NOT_RELEVANT, RELEVANT, VOTE_CLASSES
from pipeline.settings import Settings

log = logging.getLogger(__name__)

# Slack emoji names: lowercase letters, digits, '_', '-', '+' and "'" (e.g. "+1", "man-raising-hand").
_EMOJI_RE = re.compile(r"^[a-z0-9_+'\-]{1,100}$")

DEFAULT_EMOJI: dict[str, tuple[str, ...]] = {
    RELEVANT: ("white_check_mark", "heavy_check_mark", "+1"),
    NOT_RELEVANT: ("x", "-1", "no_entry_sign"),
    "self_development": ("hammer_and_wrench",),
    "chip_investment": ("moneybag",),
}


def base_emoji(name: str) -> str:
    """``+1::skin-tone-3`` -> ``+1``: a skin tone does not change what a reaction means."""
    return name.split("::", 1)[0].strip().strip(":").lower()


@dataclass(frozen=True)
class FeedbackEmoji:
    """The validated emoji map: which vote class each emoji name stands for."""

    classes: Mapping[str, str]  # emoji name -> vote class
    source: str | None = None

    def vote_class(self, emoji: str) -> str | None:
        """The vote class of a reaction (skin tones ignored), or None for an emoji that means nothing here."""
        return self.classes.get(base_emoji(emoji))

    def emoji_for(self, vote_class: str) -> tuple[str, ...]:
        return tuple(e for e, c in self.classes.items() if c == vote_class)

    @classmethod
    def default(cls) -> FeedbackEmoji:
        return cls({e: c for c, names in DEFAULT_EMOJI.items() for e in names}, source=None)


def _fail(
    path: Path, message: str, key: str | None = None, lines: Mapping[str, int] | None = None
) -> ConfigError:
    entry = None
    if key is not None:
        line = (lines or {}).get(key)
        entry = f"{key}, line {line}" if line else key
    return ConfigError(message, path=str(path), entry=entry)


def load_feedback_emoji(path: Path) -> FeedbackEmoji:
    """Load and validate an emoji map; errors name the file, the class and its line."""
    data = load_yaml(path)
    lines = mapping_key_lines(path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise _fail(path, f"the file must map vote classes {list(VOTE_CLASSES)} to lists of emoji names")
    unknown = sorted(str(k) for k in data if k not in VOTE_CLASSES)
    if unknown:
        raise _fail(
            path, f"unknown vote class {unknown[0]!r}; allowed: {list(VOTE_CLASSES)}", unknown[0], lines
        )
    classes: dict[str, str] = {}
    for vote_class in VOTE_CLASSES:
        for name in _names(path, data.get(vote_class), vote_class, lines):
            if name in classes:
                raise _fail(
                    path,
                    f"emoji {name!r} is already listed under {classes[name]!r}; one emoji, one meaning",
                    vote_class,
                    lines,
                )
            classes[name] = vote_class
    if not any(c in (RELEVANT, NOT_RELEVANT) for c in classes.values()):
        raise _fail(path, "no emoji for relevant or not_relevant: analysts could not say yes or no")
    return FeedbackEmoji(classes, source=str(path))


def _names(path: Path, raw: Any, vote_class: str, lines: Mapping[str, int]) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list):
        raise _fail(path, 'must be a list of emoji names, e.g. [x, "-1"]', vote_class, lines)
    names: list[str] = []
    for value in raw:
        if not isinstance(value, str):
            # YAML reads +1 and -1 as numbers, yes/no as booleans: such names must be quoted.
            raise _fail(
                path, f'emoji {value!r} is not a name; quote it in YAML (e.g. "+1")', vote_class, lines
            )
        name = value.strip().strip(":").lower()
        if "::" in name or not _EMOJI_RE.match(name):
            raise _fail(
                path,
                f"{value!r} is not a Slack emoji name (lowercase letters, digits, _ - + ', no colons, "
                "no skin tone)",
                vote_class,
                lines,
            )
        names.append(name)
    return names


def feedback_emoji_for(settings: Settings) -> FeedbackEmoji:
    """The configured emoji map; the built-in defaults when the file does not exist (logged)."""
    path = settings.feedback_file
    if not path.exists():
        log.info("no feedback file at %s: using the default emoji %s", path, DEFAULT_EMOJI)
        return FeedbackEmoji.default()
    return load_feedback_emoji(path)
