"""Novelty on fixture histories: a story is new, a follow-up of an earlier one (something material is
new) or a rehash of it (nothing is), within the window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipeline.analysis.novelty import StoryDigest, StoryItem, decide_novelty, figures
from pipeline.models import FOLLOW_UP, NEW, REHASH

DAY = datetime(2025, 9, 15, 2, 0, tzinfo=UTC)
WINDOW = timedelta(days=14)


def story(
    story_id: str,
    days: float,
    text: str,
    *,
    company: str = "Alibaba",
    event: str = "self_development",
    chips: tuple[str, ...] = ("Hanguang 800",),
    partners: tuple[str, ...] = (),
    amount: str | None = None,
    source: str = "Example Wire",
) -> StoryDigest:
    at = DAY + timedelta(days=days)
    item = StoryItem(
        article_id=f"{story_id}-a", source=source, published_at=at, title=text.split(".", maxsplit=1)[0], text=text,
        companies=(company,), event_type=event, chips=chips, counterparties=partners, amount=amount,
    )  # fmt: skip
    later = StoryItem(
        article_id=f"{story_id}-b", source="Second Outlet", published_at=at + timedelta(hours=2),
        title="Second report", text="Another outlet repeats it.", companies=(company,), event_type=event,
    )  # fmt: skip
    return StoryDigest.of(story_id, [later, item])


EARLIER = story("s-old", -6, "Alibaba's T-Head tests Hanguang 800 successor. It targets 2026 shipments.")


def test_no_related_earlier_story_is_new_and_names_the_first_source() -> None:
    fresh = story("s1", 0, "Alibaba's T-Head tests a new chip.", chips=("Yitian 710",))
    decision = decide_novelty(fresh, [EARLIER], window=WINDOW)
    assert decision.tag == NEW and decision.earlier_story_id is None
    # the first source is the earliest report, whatever order the items came in
    assert (decision.first_source, decision.first_published_at) == ("Example Wire", DAY)
    assert decision.first_article_id == "s1-a"


def test_same_facts_and_nothing_new_is_a_rehash_of_the_earlier_story() -> None:
    again = story("s2", 0, "Alibaba's T-Head is testing the Hanguang 800 successor, aimed at 2026.")
    decision = decide_novelty(again, [EARLIER], window=WINDOW)
    assert decision.tag == REHASH
    assert decision.earlier_story_id == "s-old" and decision.earlier_headline == EARLIER.headline
    assert "nothing material" in decision.reason


def test_something_material_makes_a_follow_up_linked_to_the_latest_related_story() -> None:
    middle = story("s-mid", -2, "Alibaba's Hanguang 800 successor enters trial production in 2026.")
    cases = {
        "figure": story("s3", 0, "Alibaba will ship 100,000 chips of the Hanguang 800 successor in 2026."),
        "amount": story("s4", 0, "Alibaba funds Hanguang 800 successor for 2026.", amount="1e+10 CNY"),
        "partner": story("s5", 0, "Hanguang 800 successor for 2026.", partners=("SMIC",)),
        "chip": story("s6", 0, "Hanguang 800 successor for 2026.", chips=("Hanguang 800", "Zhenwu PPU")),
    }
    expected = {
        "figure": "figure 100000chips",
        "amount": "amount 1e+10 CNY",
        "partner": "counterparty smic",
        "chip": "chip zhenwu ppu",
    }
    for name, current in cases.items():
        decision = decide_novelty(current, [EARLIER, middle], window=WINDOW)
        assert decision.tag == FOLLOW_UP, name
        assert decision.earlier_story_id == "s-mid", name  # the most recent related story
        assert expected[name] in decision.reason, (name, decision.reason)


def test_relation_needs_company_event_type_a_shared_name_and_the_window() -> None:
    text = "Alibaba's T-Head is testing the Hanguang 800 successor, aimed at 2026."
    unrelated = {
        "other company": story("s7", 0, text, company="Baidu"),
        "other event type": story("s8", 0, text, event="chip_investment"),
        "no shared chip or partner": story("s9", 0, text, chips=("Yitian 710",)),
        "outside the window": story("s10", 20, text),
    }
    for name, current in unrelated.items():
        assert decide_novelty(current, [EARLIER], window=WINDOW).tag == NEW, name
    # a shared counterparty is enough; an earlier story reported after this one is not "earlier"
    with_partner = story("s11", 0, text, chips=(), partners=("TSMC",))
    partner_story = story("s-p", -1, text, chips=(), partners=("TSMC",))
    assert decide_novelty(with_partner, [partner_story], window=WINDOW).tag == REHASH
    assert decide_novelty(story("s12", -7, text), [EARLIER], window=WINDOW).tag == NEW


def test_figures_are_amounts_quantities_percentages_nodes_and_years() -> None:
    found = figures(
        "阿里承诺投入3800亿元，采用5纳米工艺，2026年量产；Shares rose 8%; $2.5 billion; 9,216 chips"
    )
    assert {"3800亿元", "5纳米", "2026", "8%", "$2.5billion", "9216chips"} <= found
    assert figures("It met on Sept 15 at 09:30 with 3 people.") == frozenset()
