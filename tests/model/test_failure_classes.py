"""The failure classes named in issue 10, on the model trained from data/train.

The texts here are written for these tests (not in the training files): the founding story told in other
words, and device stories whose chip is a spec (a rule, so the verdict holds for any model).
"""

from __future__ import annotations

from pathlib import Path

from pipeline.analysis.extract import analyze
from pipeline.config.watchlist import Watchlist
from pipeline.model.classifier import ClassifyItem, NewsClassifier
from pipeline.model.features import model_text
from pipeline.model.rules import chip_only_as_device_spec
from pipeline.models import SELF_DEVELOPMENT
from pipeline.settings import PROJECT_ROOT

WATCHLIST = Watchlist.load(PROJECT_ROOT / "config" / "watchlist.yaml")

# The 证券时报 story of 15 September 2025, in our own words: shares of Baidu and Alibaba jump on news that
# their own chips are training AI models.
SEED = ClassifyItem(
    "seed",
    "自研芯片训练大模型获证实 百度阿里股价大涨",
    "周一百度港股收涨超15%，阿里巴巴涨近8%。消息称，阿里巴巴已用平头哥自研芯片训练部分AI模型，"
    "百度则在昆仑芯P800集群上训练文心大模型的新版本。分析人士认为，大厂自研算力芯片可降低成本、"
    "保障供应，但研发投入大、周期长。",
    "zh",
)


def test_the_seed_story_is_self_development_led_by_baidu_or_alibaba(trained_model_file: Path) -> None:
    model = NewsClassifier.load(trained_model_file)
    [result] = model.classify([SEED], watchlist=WATCHLIST)
    assert result.relevant
    assert result.event_type == SELF_DEVELOPMENT
    assert result.extraction.companies[0] in {"Baidu", "Alibaba"}


def _device_spec(title: str, summary: str, lang: str) -> bool:
    return chip_only_as_device_spec(model_text(analyze(title, summary, language=lang, watchlist=WATCHLIST)))


def test_a_device_on_sale_is_not_chip_news_even_with_the_chip_in_its_headline() -> None:
    assert _device_spec(
        "Huawei Mate X6 foldable goes on sale with a Kirin 9020 inside",
        "The foldable phone has a larger hinge-free screen and satellite calling.",
        "en",
    )
    assert _device_spec("苹果iPad Air降价 升级M3芯片", "新款平板起售价下调，颜色增加。", "zh")


def test_a_device_story_about_its_own_chip_work_stays_chip_news() -> None:
    assert not _device_spec(
        "Xiaomi 15S Pro goes on sale with the self-developed XRING O1",
        "Xiaomi's first in-house 3nm processor powers the phone.",
        "en",
    )
    assert not _device_spec(
        "Google unveils Tensor G5, its first chip made by TSMC", "The chip powers the Pixel 10.", "en"
    )
