"""Analysts' feedback as training data: items with provenance, feedback wins over the training files for
the same article, disputed labels are left out, the feedback of a version, labels from elsewhere."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.feedback import RUMOUR, SMALL, archive_items, slack_vote, small_items, story_for

from pipeline.errors import ModelError
from pipeline.model.dataset import LabelledItem, load_labelled
from pipeline.model.feedback import add_manual_labels, load_feedback, parse_manual_label
from pipeline.model.training import merge_labelled, refuse_evaluation_files, split_holdout
from pipeline.models import Classification, Extraction
from pipeline.store import Store, open_store

T0 = datetime(2025, 9, 15, 8, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(f"sqlite:///{tmp_path}/news.db")
    archive_items(s, [RUMOUR, *small_items(3)], at=T0)
    s.save_classifications(
        [
            Classification(
                article_id="rumour",
                relevant=True,
                score=0.97,
                event_type="self_development",
                model_version="clf-test",
                extraction=Extraction(companies=("Baidu",), chips=("Kunlun",)),
            )
        ]
    )
    yield s
    s.dispose()


def test_a_vote_becomes_a_training_item_with_its_provenance(store: Store) -> None:
    store.save_votes([slack_vote("rumour", "not_relevant", at=T0)], now=T0)
    feedback = load_feedback(store)
    assert feedback.version == 1
    (f,) = feedback.items
    item = f.item
    assert (item.id, item.label, item.event_type, item.lang) == ("fb-rumour", 0, None, "en")
    assert item.title == RUMOUR["title"] and item.summary == RUMOUR["summary"]
    assert item.event == f"story:{story_for('rumour')}"  # grouped by story for the held-out split
    line = f.as_training_line()
    prov = line["provenance"]
    assert prov["article_id"] == "rumour" and prov["feedback_version"] == 1
    assert prov["url"] == "https://news.example.com/rumour"
    (vote,) = prov["votes"]
    assert vote["voter"] == "slack:UALICE" and vote["emoji"] == "x" and vote["alert_id"] == "story-rumour"
    assert vote["model_version"] == "clf-test" and vote["voted_at"] == T0.isoformat()


def test_exported_lines_load_as_training_data(store: Store, tmp_path: Path) -> None:
    store.save_votes(
        [
            slack_vote("rumour", "relevant", at=T0, event_type="self_development"),
            slack_vote("art-t-en-neg-56", "not_relevant", at=T0),
        ],
        now=T0,
    )
    path = tmp_path / "feedback.jsonl"
    path.write_text(
        "".join(
            json.dumps(f.as_training_line(), ensure_ascii=False) + "\n" for f in load_feedback(store).items
        ),
        encoding="utf-8",
    )
    items = {i.id: i for i in load_labelled([path])}  # the training format's own validation
    assert items["fb-rumour"].label == 1 and items["fb-rumour"].companies == ("Baidu",)
    assert items["fb-rumour"].event_type == "self_development" and items["fb-rumour"].chips == ("Kunlun",)
    assert items["fb-art-t-en-neg-56"].label == 0


def test_disputed_and_unusable_labels_are_left_out(store: Store) -> None:
    store.save_votes(
        [
            slack_vote("rumour", "relevant", at=T0),
            slack_vote("rumour", "not_relevant", user="UBOB", at=T0),  # 1 : 1, disputed
            # relevant, but the model never classified it: no event type and no company to train with
            slack_vote("art-t-en-neg-56", "relevant", at=T0),
        ],
        now=T0,
    )
    feedback = load_feedback(store)
    assert feedback.items == ()
    assert [lb.article_id for lb in feedback.disputed] == ["rumour"]
    assert [a for a, _ in feedback.skipped] == ["art-t-en-neg-56"]


def test_the_feedback_as_it_was_at_a_version(store: Store) -> None:
    store.save_votes([slack_vote("rumour", "not_relevant", at=T0)], now=T0)
    store.save_votes(
        [slack_vote("rumour", "relevant", at=T0, event_type="chip_investment")], now=T0 + timedelta(hours=1)
    )
    assert [f.item.label for f in load_feedback(store).items] == [1]
    assert [f.item.label for f in load_feedback(store, as_of=1).items] == [0]
    assert load_feedback(store).content_hash != load_feedback(store, as_of=1).content_hash


def test_labels_from_elsewhere_settle_the_article(store: Store) -> None:
    store.save_votes([slack_vote("rumour", "relevant", at=T0)], now=T0)
    label = parse_manual_label({"article_id": "rumour", "label": "not_relevant", "note": "a denial, no news"})
    changes = add_manual_labels(store, [label], by="lead", now=T0 + timedelta(minutes=5))
    assert len(changes.new) == 1
    (f,) = load_feedback(store).items
    assert f.item.label == 0 and f.label.settled_by == "manual:lead" and f.label.disagreement
    with pytest.raises(ValueError, match="not in the archive"):
        add_manual_labels(store, [parse_manual_label({"article_id": "nope", "label": 1})], by="lead", now=T0)


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"label": "relevant"}, "article_id"),
        ({"article_id": "a", "label": True}, "'label' must be"),
        ({"article_id": "a", "label": "maybe"}, "'label' must be"),
        ({"article_id": "a", "label": 0, "event_type": "chip_investment"}, "only with label relevant"),
        ({"article_id": "a", "label": 1, "companies": "Baidu"}, "'companies' must be a list"),
    ],
)
def test_labels_from_elsewhere_are_validated(obj: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_manual_label(obj)


def test_feedback_wins_over_the_training_files_for_the_same_article() -> None:
    base = load_labelled([SMALL])
    target = next(i for i in base if i.label == 1)
    feedback = LabelledItem(
        id="fb-x",
        lang=target.lang,
        title=f"  {target.title.upper()} ",  # the same headline, case and spacing aside
        summary=target.summary,
        label=0,
        event_type=None,
        source="feedback:x",
    )
    by_id = replace(feedback, id=base[0].id, title="another headline", source="feedback:y")
    merged = merge_labelled(base, [feedback, by_id])
    assert len(merged) == len(base)  # two replaced, two added
    assert target not in merged and base[0] not in merged and target != base[0]
    assert merged[-2:] == [feedback, by_id]
    assert load_labelled([SMALL]) == base  # the training file itself is untouched


def test_the_public_evaluation_sample_is_never_trained_on(tmp_path: Path) -> None:
    for path in (tmp_path / "shared" / "eval" / "dev.jsonl", tmp_path / "eval" / "other.jsonl"):
        with pytest.raises(ModelError, match="evaluation file"):
            refuse_evaluation_files([SMALL, path])
    refuse_evaluation_files([SMALL])


def test_feedback_items_are_held_out_by_story() -> None:
    items = [
        LabelledItem(
            id=f"fb-{n}",
            lang="en",
            title=f"t{n}",
            summary="s",
            label=0,
            event_type=None,
            event=f"story:s{n // 2}",
        )
        for n in range(200)
    ]
    _train, held = split_holdout(items)
    assert 0 < len(held) < len(items)
    stories = {i.event for i in held}
    assert all(i.event not in stories for i in _train)  # a story's articles stay on one side
