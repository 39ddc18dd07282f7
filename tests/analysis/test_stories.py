"""Story grouping: copies, syndicated versions and edited re-publications share a story; others do not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pipeline.analysis.stories import (
    SIGNATURE_VERSION,
    EventFacts,
    StoryGrouper,
    merge_by_event,
    normalise_title,
    shingles,
)
from pipeline.models import Article

T0 = datetime(2025, 9, 15, 8, 0, tzinfo=UTC)

# Hand-written pairs (fictionalised, not copied from any outlet). Exact Jaccard similarity of the
# shingle sets is noted for the pairs that matter for the threshold (0.45).
E1A = (
    "Alibaba unveils its first AI inference chip as it steps up semiconductor push",
    "HANGZHOU, China, Sept 25 (Reuters) - Alibaba Group on Wednesday unveiled its first artificial "
    "intelligence inference chip, the Hanguang 800, saying it would use the processor to speed up product "
    "search, automatic translation and personalised recommendations on its e-commerce sites. The chip was "
    "developed by Pingtouge, the semiconductor unit Alibaba set up last year, and will not be sold to "
    "outside customers for now, the company said.",
)
# Syndicated copy: source suffix in the title, dateline and last clause dropped (0.89 with E1A).
E1B = (
    "Alibaba unveils its first AI inference chip as it steps up semiconductor push - Yahoo Finance",
    "(Reuters) - Alibaba Group on Wednesday unveiled its first artificial intelligence inference chip, the "
    "Hanguang 800, saying it would use the processor to speed up product search, automatic translation and "
    "personalised recommendations on its e-commerce sites. The chip was developed by Pingtouge, the "
    "semiconductor unit Alibaba set up last year.",
)
# Re-published under a new GUID with an edited title and an extra sentence (0.70 with E1A).
E1C = (
    "UPDATE 1-Alibaba launches first AI chip, Hanguang 800, in semiconductor push",
    E1A[1] + " Shares of Alibaba rose 1.2% in Hong Kong.",
)
# Only the first sentence as summary (0.62 with E1A).
E1E = (
    E1A[0],
    "Alibaba Group on Wednesday unveiled its first artificial intelligence inference chip, the Hanguang "
    "800, saying it would use the processor to speed up product search.",
)
E1_BODY = (
    E1A[1] + "\nThe launch makes Alibaba the latest Chinese technology company to design its own chips, as "
    "trade tensions with Washington raise concerns about access to U.S. semiconductors.\nAlibaba's cloud "
    "unit will offer computing services based on the Hanguang 800 to business customers."
)
# Different stories about the same company or the same kind of event (0.00-0.07 with E1A).
E2 = (
    "Alibaba's chip unit T-Head releases RISC-V processor for edge devices",
    "HANGZHOU, March 3 (Reuters) - Alibaba Group's chip design unit T-Head on Thursday released a new "
    "processor based on the open-source RISC-V architecture, aimed at smart home devices and industrial "
    "sensors. The XuanTie C930 is the unit's most powerful RISC-V design so far, the company said, as "
    "Chinese firms look for alternatives to Arm amid U.S. export controls.",
)
E3 = (
    "Alibaba leads $200 million funding round in Chinese GPU startup",
    "SHANGHAI, June 12 (Reuters) - Alibaba Group led a $200 million funding round in a Shanghai-based "
    "graphics chip startup, according to two people familiar with the matter, as Chinese technology giants "
    "race to secure domestic supplies of AI processors. The startup, founded in 2020 by former engineers "
    "of a U.S. chipmaker, designs GPUs for data centres.",
)
E4 = (
    "Alibaba unveils new AI chip to power its cloud services",
    "Alibaba has unveiled a new AI chip it says will power its cloud computing services, as the company "
    "tries to reduce its reliance on U.S. suppliers. The chip, developed by the group's T-Head unit, is "
    "designed for AI training and will be deployed in Alibaba Cloud data centres later this year, the "
    "company said at its annual developer conference.",
)
# Templated headlines about two different events: the hardest "must not merge" pair (0.34).
T3 = (
    "Nvidia shares rise 3% after company unveils new AI chip",
    "Shares of Nvidia rose 3% on Tuesday after the company unveiled a new AI chip for data centers.",
)
T4 = (
    "Nvidia shares rise 3% after company announces investment in chip startup",
    "Shares of Nvidia rose 3% on Tuesday after the company announced an investment in a chip startup.",
)

C1A = (
    "阿里巴巴发布首款AI推理芯片含光800 | 36氪",
    "9月25日，在2019杭州云栖大会上，阿里巴巴正式发布首款AI推理芯片含光800。该芯片由阿里旗下半导体公司平头哥研发，"
    "主要用于云端视觉处理场景，将率先应用于阿里巴巴电商平台的商品搜索、自动翻译和个性化推荐等业务。阿里巴巴表示，"
    "含光800暂不对外销售，将通过阿里云向企业客户输出算力。",
)
# Repost with the portal's suffix, its own lead-in and a reworded clause (0.64 with C1A).
C1B = (
    "阿里巴巴发布首款AI推理芯片含光800_新浪科技_新浪网",
    "新浪科技讯 9月25日上午消息，在2019杭州云栖大会上，阿里巴巴正式发布首款AI推理芯片含光800。该芯片由阿里旗下"
    "平头哥半导体公司研发，主要用于云端视觉处理场景，将率先应用于阿里巴巴电商平台的商品搜索、自动翻译和个性化推荐等业务。",
)
# Same text under a rewritten title (0.92 with C1A).
C1C = ("阿里首款AI芯片含光800正式亮相", C1A[1])
C2 = (
    "阿里平头哥发布RISC-V处理器玄铁C930",
    "平头哥半导体今日发布新一代RISC-V处理器玄铁C930，面向高性能计算和服务器场景。这是平头哥迄今性能最强的RISC-V处理器，"
    "阿里巴巴表示将在今年内向客户交付。业内人士认为，在出口管制背景下，RISC-V为国内芯片企业提供了替代Arm架构的选择。",
)
C3 = (
    "阿里巴巴领投国产GPU初创公司2亿美元融资",
    "据两位知情人士透露，阿里巴巴领投了上海一家GPU初创公司的2亿美元融资。该公司成立于2020年，创始团队来自美国芯片企业，"
    "主要为数据中心设计图形处理器。在美国出口管制收紧的背景下，国内科技巨头正加紧布局自主可控的AI算力供应。",
)
C4 = (
    "阿里云发布自研AI芯片 用于云端大模型训练",
    "阿里巴巴旗下阿里云在年度开发者大会上发布了一款自研AI芯片，该芯片由平头哥设计，主要用于大模型训练，"
    "将于今年晚些时候部署在阿里云数据中心。阿里巴巴表示，此举旨在减少对美国供应商的依赖。",
)
T1 = (
    "阿里巴巴：平头哥将发布新款AI芯片",
    "财联社9月25日电，阿里巴巴宣布，旗下平头哥半导体将于下月发布新款AI芯片。",
)
T2 = (
    "阿里巴巴：阿里云将投资10亿元建设数据中心",
    "财联社9月26日电，阿里巴巴宣布，旗下阿里云将投资10亿元建设数据中心。",
)

EXAMPLES = {
    "E1A": E1A, "E1B": E1B, "E1C": E1C, "E1E": E1E, "E2": E2, "E3": E3, "E4": E4, "T3": T3, "T4": T4,
    "C1A": C1A, "C1B": C1B, "C1C": C1C, "C2": C2, "C3": C3, "C4": C4, "T1": T1, "T2": T2,
}  # fmt: skip
SAME = [("E1A", "E1B"), ("E1A", "E1C"), ("E1B", "E1C"), ("E1A", "E1E"), ("C1A", "C1B"), ("C1A", "C1C")]
DIFFERENT = [
    ("E1A", "E2"), ("E1A", "E3"), ("E2", "E3"), ("E1A", "E4"), ("E2", "E4"), ("T3", "T4"),
    ("C1A", "C2"), ("C1A", "C3"), ("C2", "C3"), ("C1A", "C4"), ("C2", "C4"), ("T1", "T2"), ("E1A", "C1A"),
]  # fmt: skip


def article(
    article_id: str, title: str, summary: str, *, body: str | None = None, language: str = "en"
) -> Article:
    return Article(
        article_id=article_id,
        feed_id="feed",
        url=f"https://news.example.com/{article_id}",
        canonical_url=None,
        guid=article_id,
        title=title,
        summary=summary,
        language=language,
        first_seen_at=T0,
        event_at=T0,
        body=body,
    )


def example(name: str, article_id: str | None = None) -> Article:
    title, text = EXAMPLES[name]
    return article(article_id or f"{name.lower()}-0123456789abcdef0123456789abcdef", title, text,
                   language="zh" if name.startswith(("C", "T1", "T2")) else "en")  # fmt: skip


def stories(grouper: StoryGrouper, *names: str) -> list[str]:
    return [story for _, story, _ in grouper.assign([example(n) for n in names], [])]


@pytest.mark.parametrize(("a", "b"), SAME)
def test_near_duplicates_share_a_story_in_either_order(a: str, b: str) -> None:
    grouper = StoryGrouper()
    first, second = stories(grouper, a, b)
    assert first == second == "s" + example(a).article_id[:31]
    first, second = stories(grouper, b, a)
    assert first == second == "s" + example(b).article_id[:31]


@pytest.mark.parametrize(("a", "b"), SAME)
def test_near_duplicate_joins_a_recent_story(a: str, b: str) -> None:
    grouper = StoryGrouper()
    (earlier,) = grouper.assign([example(a)], [])
    recent = [(earlier[0], "s-earlier-story", earlier[2])]
    ((article_id, story_id, signature),) = grouper.assign([example(b)], recent)
    assert (article_id, story_id) == (example(b).article_id, "s-earlier-story")
    assert signature == grouper.signature(*EXAMPLES[b], "en")


@pytest.mark.parametrize(("a", "b"), DIFFERENT)
def test_different_stories_stay_apart_in_either_order(a: str, b: str) -> None:
    grouper = StoryGrouper()
    first, second = stories(grouper, a, b)
    assert first != second
    first, second = stories(grouper, b, a)
    assert first != second


def test_summary_only_copy_matches_a_full_body() -> None:
    # One feed gave only a headline, so the page was fetched; the other gave the lede as summary.
    fetched = article("fetched-0001", E1A[0], E1A[0], body=E1_BODY)
    summary_only = article("summary-0002", E1B[0], E1B[1])
    grouper = StoryGrouper()
    (a, b) = grouper.assign([fetched, summary_only], [])
    assert a[1] == b[1] == "sfetched-0001"


def test_a_mixed_batch() -> None:
    names = ["E1A", "E2", "C1A", "E1B", "T3", "C1B", "E3", "T4", "C2", "E1C"]
    grouper = StoryGrouper()
    result = dict(zip(names, stories(grouper, *names), strict=True))
    assert result["E1B"] == result["E1C"] == result["E1A"]
    assert result["C1B"] == result["C1A"]
    singles = ["E1A", "E2", "C1A", "T3", "E3", "T4", "C2"]
    assert len({result[n] for n in singles}) == len(singles)


def test_deterministic_and_ids_fit_the_store() -> None:
    long_id = "a" * 40
    batch = [article(long_id, *E1A), example("E1B"), example("C2")]
    first = StoryGrouper().assign(batch, [])
    second = StoryGrouper().assign(batch, [])
    assert first == second
    assert [a for a, _, _ in first] == [a.article_id for a in batch]
    assert first[0][1] == "s" + long_id[:31] and all(len(story) <= 40 for _, story, _ in first)


def test_most_similar_recent_story_wins() -> None:
    grouper = StoryGrouper()
    close = grouper.signature(*E1A, "en")
    farther = grouper.signature(*E1C, "en")
    recent = [("far", "s-far", farther), ("close", "s-close", close)]
    ((_, story, _),) = grouper.assign([example("E1B")], recent)
    assert story == "s-close"


def test_already_grouped_article_keeps_its_story() -> None:
    grouper = StoryGrouper()
    e2 = example("E2")
    recent = [(e2.article_id, "s-original", grouper.signature(*E2, "en"))]
    ((_, story, _),) = grouper.assign([e2], recent)
    assert story == "s-original"


def test_articles_without_words_never_merge() -> None:
    grouper = StoryGrouper()
    empty = [article("empty-1", "", ""), article("empty-2", "", ""), article("punct-3", "!!!", "…")]
    assert [s for _, s, _ in grouper.assign(empty, [])] == ["sempty-1", "sempty-2", "spunct-3"]


def test_signatures_round_trip_and_bad_ones_are_ignored() -> None:
    grouper = StoryGrouper()
    signature = grouper.signature(*E1A, "en")
    assert signature[0] == SIGNATURE_VERSION and len(signature) < 600
    loaded = grouper.load(signature)
    assert loaded is not None and loaded.jaccard(grouper.minhash(*E1A)) == 1.0
    assert grouper.load(b"") is None
    assert grouper.load(bytes([SIGNATURE_VERSION + 1]) + signature[1:]) is None
    assert grouper.load(signature[:20]) is None
    assert StoryGrouper(num_perm=64).load(signature) is None
    recent = [("bad-1", "s-bad-1", b"\x00garbage"), ("bad-2", "s-bad-2", signature[:30])]
    ((_, story, _),) = grouper.assign([example("E1B")], recent)
    assert story == "s" + example("E1B").article_id[:31]


def test_invalid_parameters_are_rejected() -> None:
    with pytest.raises(ValueError, match="threshold"):
        StoryGrouper(threshold=1.5)
    with pytest.raises(ValueError, match="num_perm"):
        StoryGrouper(num_perm=4)


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Alibaba unveils AI chip - Reuters", "Alibaba unveils AI chip"),
        ("UPDATE 2-Alibaba unveils AI chip", "Alibaba unveils AI chip"),
        ("EXCLUSIVE: Alibaba unveils AI chip | Example News", "Alibaba unveils AI chip"),
        ("阿里发布AI芯片 | 36氪", "阿里发布AI芯片"),
        ("阿里发布AI芯片_新浪科技_新浪网", "阿里发布AI芯片"),
        ("【独家】阿里发布AI芯片", "阿里发布AI芯片"),
        ("快讯：阿里发布AI芯片", "阿里发布AI芯片"),
        # Long tails are part of the headline, not a source name.
        ("Nvidia's new chip - what the launch means for cloud providers", None),
        ("AI - Reuters", None),
    ],
)
def test_normalise_title(title: str, expected: str | None) -> None:
    assert normalise_title(title) == (expected if expected is not None else title)


def test_shingles_ignore_case_punctuation_and_width() -> None:
    assert shingles("Alibaba Unveils AI-Chip!", "") == shingles("alibaba unveils ai chip", "")
    assert shingles("阿里发布ＡＩ芯片。", "") == shingles("阿里发布AI芯片", "")


def test_signatures_are_compact() -> None:
    """Their cost is measured by ``make bench`` (bench/hostile.py), not here."""
    grouper = StoryGrouper()
    sizes = {len(grouper.signature(f"{E1A[0]} {i}", f"{E1A[1]} {C1A[1]} {i}", "en")) for i in range(50)}
    assert len(sizes) == 1 and sizes.pop() < 1200  # one versioned LeanMinHash of 128 permutations


# --- grouping by event ------------------------------------------------------------------------------

T = datetime(2025, 9, 15, 8, 0, tzinfo=UTC)


def facts(
    aid: str,
    story: str,
    hours: float,
    *,
    company: str | None = "OpenAI",
    event: str = "self_development",
    chips: tuple[str, ...] = (),
    cps: tuple[str, ...] = (),
) -> EventFacts:
    return EventFacts(
        aid, story, T + timedelta(hours=hours), company, event, frozenset(chips), frozenset(cps)
    )


def test_reports_of_one_event_in_other_words_join_the_first_story() -> None:
    first = facts("a", "s-a", 0, cps=("broadcom",))
    second = facts("b", "s-b", 5, cps=("broadcom", "tsmc"))
    assert merge_by_event([second], [first]) == {"b": "s-a"}
    # two new reports in one run: the later joins the earlier
    assert merge_by_event([second, first], []) == {"b": "s-a"}


def test_same_day_reports_without_names_merge_but_not_across_days() -> None:
    zh = facts("zh", "s-zh", 0, company="Alibaba")
    en = facts("en", "s-en", 3, company="Alibaba")
    assert merge_by_event([en], [zh]) == {"en": "s-zh"}
    assert merge_by_event([facts("en", "s-en", 30, company="Alibaba")], [zh]) == {}


def test_different_facts_stay_apart() -> None:
    base = facts("a", "s-a", 0, chips=("tpu v7 ironwood",))
    assert merge_by_event([facts("b", "s-b", 1, company="Google", chips=("tpu v7 ironwood",))], [base]) == {}
    assert (
        merge_by_event([facts("b", "s-b", 1, event="chip_investment", chips=("tpu v7 ironwood",))], [base])
        == {}
    )
    assert merge_by_event([facts("b", "s-b", 1, chips=("trainium2",))], [base]) == {}
    assert merge_by_event([facts("b", "s-b", 100, chips=("tpu v7 ironwood",))], [base]) == {}
    assert merge_by_event([facts("b", "s-b", 1, company=None)], [facts("a", "s-a", 0, company=None)]) == {}


def test_a_widely_syndicated_story_costs_a_bounded_number_of_comparisons_per_copy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pipeline.analysis.stories import MEMBERS_COMPARED, _BandIndex

    compared: list[int] = []
    candidates = _BandIndex.candidates

    def counted(self: _BandIndex, hashvalues: Any) -> list[int]:
        rows = candidates(self, hashvalues)
        compared.append(len(rows))
        return rows

    monkeypatch.setattr(_BandIndex, "candidates", counted)
    title, text = EXAMPLES["E1A"]
    copies = 300
    new = [
        article(f"copy-{k:04d}-0123456789abcdef0123456789abcdef", f"{title} ({k})", text)
        for k in range(copies)
    ]
    assigned = StoryGrouper().assign(new, [])
    assert len({story for _, story, _ in assigned}) == 1  # every copy in the first copy's story
    assert len(compared) == copies
    # each copy is compared with at most MEMBERS_COMPARED earlier ones, not with all k before it
    assert max(compared) == MEMBERS_COMPARED


def test_the_most_similar_candidate_wins_and_ties_go_to_the_smallest_id() -> None:
    from pipeline.analysis.stories import _BandIndex, _lsh_params

    grouper = StoryGrouper()
    params = _lsh_params(grouper.threshold, grouper.num_perm)
    title, text = EXAMPLES["E1A"]
    lean = grouper.minhash(title, text)
    other = grouper.minhash(*EXAMPLES["E2"])
    index = _BandIndex(*params, num_perm=grouper.num_perm)
    for key, minhash in (("c", other), ("b", lean), ("a", lean)):
        index.insert(key, minhash.hashvalues)
    assert index.most_similar(lean.hashvalues, grouper.threshold) == "a"
    assert index.most_similar(other.hashvalues, grouper.threshold) == "c"
    # a near-copy of E1A's text only: a candidate, and the same story
    copy = grouper.minhash(title + " (update)", text)
    assert index.most_similar(copy.hashvalues, grouper.threshold) == "a"
    # an index holding only the other story has nothing at or above the threshold for E1A
    alone = _BandIndex(*params, num_perm=grouper.num_perm)
    alone.insert("c", other.hashvalues)
    assert alone.most_similar(lean.hashvalues, grouper.threshold) is None
    assert lean.jaccard(lean) == 1.0 and lean.jaccard(other) < grouper.threshold


def test_the_band_index_proposes_what_datasketch_proposes() -> None:
    """The same candidates as datasketch's MinHashLSH with the same bands, on the paired examples."""
    from datasketch import MinHashLSH

    from pipeline.analysis.stories import _BandIndex, _lsh_params

    grouper = StoryGrouper()
    params = _lsh_params(grouper.threshold, grouper.num_perm)
    reference = MinHashLSH(num_perm=grouper.num_perm, params=params)
    index = _BandIndex(*params, num_perm=grouper.num_perm)
    hashes = {key: grouper.minhash(title, text) for key, (title, text) in sorted(EXAMPLES.items())}
    keys = list(hashes)
    for key in keys[::2]:
        reference.insert(key, hashes[key])
        index.insert(key, hashes[key].hashvalues)
    proposed = 0
    for key in keys:
        expected = sorted(reference.query(hashes[key]))
        assert [keys[::2][row] for row in index.candidates(hashes[key].hashvalues)] == expected, key
        proposed += len(expected)
    assert proposed > len(keys[::2])  # some pairs besides each key's own entry were proposed
