"""Brief assembly on fixture stories: sources numbered by time, near-duplicates merged with their
citations, languages kept, article bodies preferred to summaries; the core-viewpoint rule against the
reference viewpoints of data/briefs/stories.jsonl."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.analysis.brief import (
    CORE_RULE,
    brief_eligible,
    build_brief,
    clean_sentence,
    near_duplicates,
    story_facts,
)
from pipeline.analysis.brief_eval import evaluate_core, load_eval_stories, overlap_f1
from pipeline.analysis.brief_groups import default_grouper
from pipeline.config.watchlist import Watchlist
from pipeline.models import Article
from pipeline.settings import PROJECT_ROOT

T0 = datetime(2025, 9, 15, 1, 30, tzinfo=UTC)
WATCHLIST = Watchlist.load(PROJECT_ROOT / "config" / "watchlist.yaml")


def source(
    aid: str, minutes: int, text: str, *, outlet: str, language: str = "en", body: str | None = None
) -> Article:
    at = T0 + timedelta(minutes=minutes)
    return Article(
        article_id=aid, feed_id=f"feed-{aid}", url=f"https://{aid}.example.com/a", canonical_url=None,
        guid=aid, title=f"Headline of {aid}", summary=text, language=language, first_seen_at=at,
        event_at=at, published_at=at, body=body, story_id="s1", source_name=outlet,
        page_status="ok" if body else None,
    )  # fmt: skip


FACTS = story_facts("s1", companies=["Alibaba"], event_type="self_development", watchlist=WATCHLIST)

ZH_1 = source(
    "zh1",
    0,
    "据报道，阿里巴巴旗下芯片公司平头哥研发出一款新的AI推理芯片，目前正在测试中。"
    "与此前产品不同，新芯片由国内企业代工制造，可支持更广泛的AI推理场景。",
    outlet="示例财经网",
    language="zh",
)
EN_1 = source(
    "en1",
    20,
    "Alibaba's chip unit T-Head has built a new inference chip that is now being tested, according to "
    "people familiar with the matter. Unlike its earlier AI processors, the new chip is made by a "
    "Chinese manufacturer.",
    outlet="Example Business Daily",
)
ZH_2 = source(
    "zh2",
    50,
    "据知情人士透露，阿里巴巴旗下平头哥研发的新一代AI推理芯片正在测试。"
    "与此前产品不同，新芯片由国内企业代工制造，可支持更广泛的推理场景。"
    "不过国产先进制程产能有限，新芯片何时量产仍不明朗。",
    outlet="示例科技",
    language="zh",
)
EN_2 = source(
    "en2",
    75,
    "Alibaba's chip unit T-Head is testing a new AI inference chip, people familiar with the matter said. "
    "Unlike Alibaba's earlier AI processors, the new chip is made by a Chinese manufacturer. "
    "Alibaba has pledged to spend at least 380 billion yuan on cloud and AI infrastructure over three years.",
    outlet="Example Tech Wire",
)


def points(brief):  # type: ignore[no-untyped-def]
    return [p for g in brief.groups for p in g.points] + ([brief.core] if brief.core else [])


def test_a_near_duplicate_from_two_sources_is_one_point_with_both_citations() -> None:
    brief = build_brief([EN_2, ZH_2, EN_1, ZH_1], FACTS, grouper=default_grouper())
    # sources are numbered by publish time, whatever order they came in
    assert [s.article_id for s in brief.sources] == ["zh1", "en1", "zh2", "en2"]
    assert brief.sources[0].outlet == "示例财经网"
    foundry_zh = [p for p in points(brief) if "国内企业代工制造" in p.text]
    foundry_en = [p for p in points(brief) if "made by a Chinese manufacturer" in p.text]
    # one point per language, each citing the two sources that say it; the wording of the earliest
    assert len(foundry_zh) == 1 and foundry_zh[0].citations == (1, 3)
    assert foundry_zh[0].text == "与此前产品不同，新芯片由国内企业代工制造，可支持更广泛的AI推理场景。"
    assert len(foundry_en) == 1 and foundry_en[0].citations == (2, 4)
    # sentences keep their language; the story's main language is Chinese (a tie goes to the first source)
    assert foundry_zh[0].language == "zh" and foundry_en[0].language == "en"
    assert brief.language == "zh"
    # every cited number is a source; every point is a sentence of a source
    texts = [a.summary for a in (ZH_1, EN_1, ZH_2, EN_2)]
    for p in points(brief):
        assert set(p.citations) <= {s.number for s in brief.sources}
        assert any(p.text.rstrip("…") in t for t in texts), p.text
    assert brief.version == 4 and brief.cited == (1, 2, 3, 4)


def test_groups_are_in_the_register_order_and_empty_ones_are_left_out() -> None:
    brief = build_brief([ZH_1, EN_1, ZH_2, EN_2], FACTS, grouper=default_grouper())
    keys = [g.key for g in brief.groups]
    order = ["developments", "investment", "motivation", "ecosystem", "risks"]
    assert keys == [k for k in order if k in keys]
    assert all(g.points for g in brief.groups)
    investment = next(g for g in brief.groups if g.key == "investment")
    assert "380 billion yuan" in investment.points[0].text and investment.points[0].citations == (4,)
    risks = next(g for g in brief.groups if g.key == "risks")
    assert "量产仍不明朗" in risks.points[0].text


def test_an_update_from_a_new_source_gives_a_newer_version() -> None:
    first = build_brief([ZH_1, EN_1], FACTS, grouper=default_grouper())
    later = build_brief([ZH_1, EN_1, ZH_2], FACTS, grouper=default_grouper())
    assert (first.version, later.version) == (2, 3)
    merged = next(p for p in points(later) if "国内企业代工制造" in p.text)
    assert merged.citations == (1, 3)
    assert build_brief([ZH_1, EN_1], FACTS, grouper=default_grouper()) == first  # deterministic


def test_the_article_body_is_used_when_the_page_was_fetched() -> None:
    body = (
        "HANGZHOU, Sept 15 (Example Wire) - Alibaba's T-Head has started testing a new inference chip. "
        "The company plans to offer it to cloud customers. "
        "Reporting by the Hangzhou newsroom; editing by the Asia desk."
    )
    article = source("b1", 0, "Short teaser.", outlet="Example Wire", body=body)
    assert brief_eligible([article]) and not brief_eligible([replace(article, body=None, page_status=None)])
    brief = build_brief([article], FACTS, grouper=default_grouper())
    texts = [p.text for p in points(brief)]
    assert "Alibaba's T-Head has started testing a new inference chip." in texts  # dateline removed
    assert not any("Reporting by" in t or "teaser" in t for t in texts)  # boilerplate is "other"
    assert brief.sources[0].full_text


def test_sentences_are_cleaned_or_refused() -> None:
    assert (
        clean_sentence("【财联社9月15日电】阿里巴巴平头哥新芯片进入测试阶段。")
        == "阿里巴巴平头哥新芯片进入测试阶段。"
    )
    assert (
        clean_sentence("9月15日电，阿里巴巴平头哥新芯片进入测试阶段。")
        == "阿里巴巴平头哥新芯片进入测试阶段。"
    )
    assert clean_sentence("Read more.") is None  # a fragment
    assert clean_sentence("图为现场。") is None
    long = "Alibaba said " + ", ".join(f"item {i}" for i in range(80)) + "."
    cut = clean_sentence(long)
    assert (
        cut is not None and cut.endswith("…") and len(cut) <= 321 and cut[:-1].endswith(tuple("0123456789"))
    )
    assert clean_sentence("x" * 400) is None  # no clause to cut at: refused


def test_near_duplicates_need_most_words_in_common() -> None:
    a = frozenset("unlike earlier ai processor new chip made chinese manufacturer".split())
    b = frozenset("unlike alibaba earlier ai processor new chip made chinese manufacturer".split())
    c = frozenset("alibaba pledged spend 380 billion yuan cloud ai infrastructure".split())
    assert near_duplicates(a, b) and not near_duplicates(a, c) and not near_duplicates(a, frozenset())


@pytest.fixture(scope="module")
def core_results():  # type: ignore[no-untyped-def]
    return evaluate_core(load_eval_stories(watchlist=WATCHLIST), default_grouper())


def test_the_core_viewpoint_rule_beats_the_lead_on_the_reference_stories(core_results) -> None:  # type: ignore[no-untyped-def]
    """Reference viewpoints were written per story before the rule ran; overlap is token F1 (see
    brief_eval). Floors: the rule's mean overlap is at least the lead baseline's, and >= 0.50 (measured
    0.54; lead 0.48; the best sentence in hindsight 0.58)."""
    assert len(core_results) >= 6
    n = len(core_results)
    rule = sum(r.rule for r in core_results) / n
    lead = sum(r.lead for r in core_results) / n
    best = sum(r.best for r in core_results) / n
    assert rule >= lead and rule >= 0.50 and best >= rule
    assert "salience" in CORE_RULE and "agreement" in CORE_RULE and "position" in CORE_RULE


def test_overlap_f1() -> None:
    assert overlap_f1("Google unveiled Ironwood", "Google unveiled Ironwood") == pytest.approx(1.0)
    assert overlap_f1("百度点亮集群", "百度点亮集群") == pytest.approx(1.0)
    assert overlap_f1("Meta buys Rivos", "百度点亮集群") == 0.0
