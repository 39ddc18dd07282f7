"""The emoji map of analysts' feedback (config/feedback.yaml): meanings, and errors that name the line."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pipeline.config.feedback import FeedbackEmoji, feedback_emoji_for, load_feedback_emoji
from pipeline.errors import ConfigError
from pipeline.settings import PROJECT_ROOT, Settings


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "feedback.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_file_gives_the_documented_meanings() -> None:
    emoji = load_feedback_emoji(PROJECT_ROOT / "config" / "feedback.yaml")
    assert emoji.vote_class("white_check_mark") == "relevant"
    assert emoji.vote_class("+1") == "relevant"
    assert emoji.vote_class("x") == "not_relevant"
    assert emoji.vote_class("-1") == "not_relevant"
    assert emoji.vote_class("hammer_and_wrench") == "self_development"
    assert emoji.vote_class("moneybag") == "chip_investment"
    assert emoji.vote_class("tada") is None
    # the shipped file and the built-in defaults (used when the file is missing) agree
    assert dict(emoji.classes) == dict(FeedbackEmoji.default().classes)


def test_skin_tones_count_as_the_base_emoji() -> None:
    emoji = FeedbackEmoji.default()
    assert emoji.vote_class("+1::skin-tone-4") == "relevant"
    assert emoji.vote_class("-1::skin-tone-2") == "not_relevant"


def test_a_missing_file_means_the_defaults(tmp_path: Path, settings: Settings) -> None:
    missing = dataclasses.replace(settings, feedback_file=tmp_path / "nope.yaml")
    assert feedback_emoji_for(missing).vote_class("x") == "not_relevant"


def test_a_custom_map(tmp_path: Path) -> None:
    path = _write(tmp_path, "relevant: [fire]\nnot_relevant: poop\nchip_investment: [':money_with_wings:']\n")
    emoji = load_feedback_emoji(path)
    assert emoji.vote_class("fire") == "relevant"
    assert emoji.vote_class("poop") == "not_relevant"
    assert emoji.vote_class("money_with_wings") == "chip_investment"
    assert emoji.vote_class("x") is None  # only what the file says
    assert emoji.emoji_for("relevant") == ("fire",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "relevant: [x]\nnot_relevant: [o]\nirrelevant: [no]\n",
            r"\[irrelevant, line 3\]: unknown vote class",
        ),
        ("relevant: [+1]\nnot_relevant: [x]\n", r"\[relevant, line 1\]: emoji 1 is not a name; quote it"),
        (
            "relevant: [ok]\nnot_relevant: [x, ok]\n",
            r"\[not_relevant, line 2\]: emoji 'ok' is already listed under 'relevant'",
        ),
        (
            "relevant: [x]\nnot_relevant: [Thumbs Down]\n",
            r"\[not_relevant, line 2\]: 'Thumbs Down' is not a Slack emoji name",
        ),
        ("relevant: [x]\nnot_relevant: ['+1::skin-tone-2']\n", r"is not a Slack emoji name"),
        ("relevant: {a: b}\nnot_relevant: [x]\n", r"\[relevant, line 1\]: must be a list of emoji names"),
        ("self_development: [hammer]\n", r"no emoji for relevant or not_relevant"),
        ("- x\n- o\n", r"must map vote classes"),
        ("relevant: [x\n", r"invalid YAML"),
    ],
)
def test_errors_name_the_file_the_class_and_the_line(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as info:
        load_feedback_emoji(path)
    assert str(path) in str(info.value)
