"""The news classifier: is an article about big tech's own chips or chip investments, and which kind.

A scikit-learn model over the *masked* text of ``pipeline.extract.analyze`` (entity mentions replaced by
marker characters): hashed character n-grams (``HashedCharTfidf``, or jieba words) plus hand-built cues
(``CueFeatures``). Relevance is ``StackedRelevanceClassifier`` (a text regression whose score joins the
cues in gradient-boosted trees; Platt-calibrated), with a decision threshold chosen on out-of-fold
predictions; the event type is a logistic regression. Two rules bound it: no watch-list company, or no
sign of chips at all, is never relevant. Models are saved with skops and loaded with an explicit list of
trusted types.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin

from pipeline.errors import ModelError
from pipeline.extract import (
    MARK_AMOUNT,
    MARK_BIGTECH,
    MARK_CHIP,
    MARK_CHIPCO,
    MARK_OTHER_CHIP,
    MARK_UNIT,
    TITLE_SEPARATOR,
    Analysis,
    analyze,
    phrase_pattern,
)
from pipeline.models import Classification, Extraction
from pipeline.watchlist import Watchlist

if TYPE_CHECKING:
    from pipeline.store import Store

log = logging.getLogger(__name__)

CHIP_INVESTMENT, SELF_DEVELOPMENT = "chip_investment", "self_development"
# The model reads the title and the lead: that is where news states what happened, and it keeps the
# input like the training data (feed summaries) when a long page body is appended.
MODEL_SUMMARY_CHARS = 1200
# Texts that are mostly unprintable are reported as errors rather than guessed at.
MIN_PRINTABLE_RATIO = 0.6
MODEL_FILE_NAME = "model.skops"
METADATA_FILE_NAME = "metadata.json"
CURRENT_POINTER = "current.json"


# --- model inputs ----------------------------------------------------------------------------------

_MARKS = f"{MARK_BIGTECH}{MARK_UNIT}{MARK_CHIP}{MARK_CHIPCO}{MARK_OTHER_CHIP}{MARK_AMOUNT}"
_TOKEN_RX = re.compile(rf"[{_MARKS}]|[a-z0-9]+(?:['’\-][a-z0-9]+)*|[\u3400-\u9fff]+")
_CJK_RUN_RX = re.compile(r"[\u3400-\u9fff]+")
_SPACE_RX = re.compile(r"\s+")


def model_text(analysis: Analysis) -> str:
    """What the text model reads: masked title, separator, masked start of the summary."""
    title, sep, summary = analysis.masked_text.partition(TITLE_SEPARATOR)
    return f"{title}{sep}{summary[:MODEL_SUMMARY_CHARS]}"


# Words of this domain that jieba's general dictionary splits ("自研" -> "自", "研").
_DOMAIN_WORDS = (
    "自研", "流片", "造芯", "领投", "参投", "跟投", "入股", "芯片", "晶片", "算力", "大模型", "量产", "集采",
    "半导体", "集成电路", "出口管制", "自主研发", "超节点", "推理芯片", "训练芯片",
)  # fmt: skip
_jieba_ready: list[Any] = []


def _jieba() -> Any:
    """jieba, loaded once, with the domain words added (its dictionary loads in about a second)."""
    if not _jieba_ready:
        import jieba

        jieba.setLogLevel(logging.WARNING)
        for word in _DOMAIN_WORDS:
            jieba.add_word(word)
        _jieba_ready.append(jieba)
    return _jieba_ready[0]


def word_tokens(text: str) -> list[str]:
    """Word unigrams and bigrams: jieba words for Chinese, lower-case words for English, markers as words."""
    jieba = _jieba()
    words: list[str] = []
    for token in _TOKEN_RX.findall(text.lower()):
        if _CJK_RUN_RX.fullmatch(token):
            words.extend(jieba.lcut(token, HMM=False))
        else:
            words.append(token)
    return words + [f"{a} {b}" for a, b in itertools.pairwise(words)]


class HashedCharTfidf(TransformerMixin, BaseEstimator):
    """Character n-gram TF-IDF by hashing, vectorised with numpy (several times faster than
    ``TfidfVectorizer(analyzer="char")``, whose n-gram loop is Python). Rows are L2-normalised; columns
    seen in fewer than ``min_df`` training texts are dropped."""

    def __init__(self, ngram_range: tuple[int, int] = (1, 4), n_bits: int = 20, min_df: int = 2) -> None:
        self.ngram_range = ngram_range
        self.n_bits = n_bits
        self.min_df = min_df

    def fit(self, X: Sequence[str], y: Any = None) -> HashedCharTfidf:  # noqa: N803 - scikit-learn naming
        counts = hashed_char_counts(X, self.ngram_range, self.n_bits)
        df = np.bincount(counts.indices, minlength=counts.shape[1])
        n = counts.shape[0]
        idf = np.log((1 + n) / (1 + df)) + 1.0
        idf[df < self.min_df] = 0.0
        self.idf_ = idf.astype(np.float32)
        return self

    def transform(self, X: Sequence[str]) -> sp.csr_matrix:  # noqa: N803
        counts = hashed_char_counts(X, self.ngram_range, self.n_bits)
        counts.data = np.log1p(counts.data) * self.idf_[counts.indices]
        norms = np.sqrt(np.asarray(counts.multiply(counts).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sp.csr_matrix(sp.diags(1.0 / norms) @ counts)


_PRIME = np.uint64(1099511628211)
_MIX = np.uint64(0x9E3779B97F4A7C15)


def hashed_char_counts(texts: Sequence[str], ngram_range: tuple[int, int], n_bits: int) -> sp.csr_matrix:
    """Counts of hashed character n-grams (lower-cased, whitespace collapsed), one row per text."""
    docs = [_SPACE_RX.sub(" ", str(t).lower()) for t in texts]
    # One array for the whole batch, texts separated by NUL: an n-gram spanning a NUL is dropped.
    joined = "\x00".join(d.replace("\x00", " ") for d in docs) + "\x00"
    codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    is_sep = codes == 0
    doc_of = np.cumsum(is_sep)
    seps_before = np.concatenate([[0], doc_of])
    shift = np.uint64(64 - n_bits)
    rows, cols = [], []
    total = len(codes)
    with np.errstate(over="ignore"):
        for n in range(ngram_range[0], ngram_range[1] + 1):
            m = total - n + 1
            if m <= 0:
                continue
            h = np.full(m, np.uint64(n), dtype=np.uint64)
            for k in range(n):
                h = (h * _PRIME) ^ codes[k : k + m]
            h = (h * _MIX) >> shift
            ok = (seps_before[n : n + m] - seps_before[:m]) == 0
            rows.append(doc_of[:m][ok])
            cols.append(h[ok])
    r = np.concatenate(rows) if rows else np.zeros(0, dtype=np.uint64)
    c = np.concatenate(cols) if cols else np.zeros(0, dtype=np.uint64)
    matrix = sp.csr_matrix(
        (np.ones(len(r), dtype=np.float64), (r.astype(np.int64), c.astype(np.int64))),
        shape=(len(docs), 1 << n_bits),
    )
    matrix.sum_duplicates()
    return matrix


# --- hand-built cues --------------------------------------------------------------------------------


# Phrases (lower case) by cue; a trailing "*" matches any ending ("invest*": invests, investment),
# otherwise an English phrase must end at a word boundary. One scan finds them all.
# fmt: off
_CUE_PHRASES: dict[str, tuple[str, ...]] = {
    "self_dev": (
        "自研", "自主研发", "自行研发", "自己的芯片", "自家芯片", "自主设计", "自研芯片", "流片",
        "造芯", "芯片团队", "芯片部门", "芯片业务", "芯片子公司", "芯片公司", "定制芯片", "联合设计",
        "联合研发", "in-house", "inhouse", "homegrown", "home-grown", "self-developed", "self-designed",
        "own-designed", "custom chip*", "custom silicon", "custom ai chip*", "custom accelerator*",
        "custom processor*", "custom asic*", "custom-built chip*", "custom-designed chip*",
        "its own chip*", "its own ai chip*", "its own silicon", "its own processor*",
        "its own accelerator*", "their own chip*", "tape out", "tapes out", "taped out", "tape-out",
        "tapeout", "chip unit", "chip team", "chip division", "chip effort*", "chip project*",
        "chip arm", "chip design team", "designed by", "co-design*", "co-develop*", "design its own",
        "designs its own", "designing its own",
    ),
    "launch": (
        "发布", "推出", "亮相", "量产", "首发", "部署", "测试", "训练", "研发", "设计", "上线", "点亮",
        "投产", "unveil*", "launch*", "introduc*", "debut*", "reveal*", "roll out", "rolls out",
        "rolled out", "deploy*", "mass produc*", "mass-produc*", "test*", "develop*", "design*",
        "train*", "announc*",
    ),
    "invest": (
        "投资", "领投", "参投", "跟投", "入股", "持股", "增持", "股东", "收购", "并购", "注资", "融资",
        "基金", "轮", "战投", "invest*", "stake*", "funding", "round", "led by", "leads", "backed",
        "backing", "acquir*", "takeover", "series a", "series b", "series c", "series d", "fund",
        "funds", "venture", "shareholder*",
    ),
    "purchase": (
        "采购", "购买", "订单", "抢购", "囤", "租用", "租赁", "大单", "集采", "客户", "buy", "buys",
        "buying", "bought", "purchas*", "order", "orders", "ordered", "supply deal*",
        "supply agreement*", "rent*", "cloud deal*", "compute deal*", "capacity", "gpus", "customer*",
        "instances",
    ),
    "export": (
        "出口管制", "禁令", "制裁", "实体清单", "关税", "禁售", "export control*", "export ban*",
        "sanction*", "tariff*", "entity list", "ban", "bans", "banned", "blacklist*",
    ),
    "chip_word": (
        "芯片", "晶片", "处理器", "加速器", "半导体", "chip", "chips", "processor*", "accelerator*",
        "silicon", "semiconductor*", "soc", "socs", "asic*", "gpu", "gpus", "cpu", "cpus", "npu", "tpu",
        "tpus", "dpu", "risc-v", "coprocessor*", "modem*", "基带", "soc芯片", "晶圆", "chipmaker*",
    ),
    "non_chip": (
        "大模型", "模型", "手机", "汽车", "财报", "营收", "净利", "股价", "机器人", "app", "apps",
        "model", "models", "smartphone*", "phone*", "earnings", "revenue*", "profit*", "shares",
        "stock*", "robot*", "ev", "evs", "car", "cars", "dividend*", "ipo", "上市",
    ),
    "raises": (
        "raise", "raises", "raised", "raising", "融资", "获投", "完成", "募资", "估值",
    ),
}
# fmt: on
_CUE_OF: dict[str, tuple[str, bool]] = {}  # phrase key -> (cue, prefix match)
for _cue, _phrases in _CUE_PHRASES.items():
    for _phrase in _phrases:
        _word = _phrase.rstrip("*")
        _CUE_OF.setdefault(
            _SPACE_RX.sub("", _word.replace("-", "")) + "\x00" + _cue, (_cue, _phrase.endswith("*"))
        )
_CUE_RX = re.compile(
    "(?=(" + phrase_pattern([p.rstrip("*") for ps in _CUE_PHRASES.values() for p in ps]).pattern + "))"
)
_CUE_LOOKUP: dict[str, list[tuple[str, bool]]] = {}
for _key, _value in _CUE_OF.items():
    _CUE_LOOKUP.setdefault(_key.split("\x00")[0], []).append(_value)


def _cue_hits(text: str) -> list[tuple[str, int]]:
    """(cue, offset) of every cue phrase in a lower-cased masked model text."""
    hits: list[tuple[str, int]] = []
    # The pattern is a look-ahead, so phrases inside longer ones count too ("chip" in "its own chip").
    for m in _CUE_RX.finditer(text):
        phrase = m.group(1)
        end = m.start() + len(phrase)
        whole_word = end >= len(text) or not (text[end].isascii() and text[end].isalnum())
        key = _SPACE_RX.sub("", phrase.replace("-", ""))
        for cue, prefix in _CUE_LOOKUP.get(key, ()):
            if prefix or whole_word or not phrase[-1:].isascii():
                hits.append((cue, m.start()))
    for m in _MADE_BY_RX.finditer(text):
        hits.append(("self_dev", m.start()))
    return hits


def _cues_found(text: str) -> tuple[set[str], set[str]]:
    """(cues anywhere, cues in the title) of a lower-cased masked model text."""
    title_end = _title_end(text)
    hits = _cue_hits(text)
    return {c for c, _ in hits}, {c for c, at in hits if at < title_end}


def _title_end(text: str) -> int:
    end = text.find(TITLE_SEPARATOR)
    return len(text) if end < 0 else end


# "Microsoft-designed", "Google-built": the company made it itself.
_MADE_BY_RX = re.compile(rf"[{MARK_BIGTECH}{MARK_UNIT}]\s?-\s?(?:designed|built|developed|made)")
_ACTOR_MARKS = f"{MARK_BIGTECH}{MARK_UNIT}{MARK_CHIP}{MARK_CHIPCO}"
_CUSTOMER_RX = re.compile(
    rf"[{MARK_BIGTECH}{MARK_UNIT}][^{_ACTOR_MARKS}。.;；]{{0,25}}(?:customer|client|客户|用户)|"
    rf"(?:customer|client|客户|买家|buyer)s?[^{_ACTOR_MARKS}。.;；]{{0,12}}[{MARK_BIGTECH}{MARK_UNIT}]"
)
# A fund for chips ("集成电路产业基金", "semiconductor fund") counts as a chip investment.
_CHIP_FUND_RX = re.compile(
    r"(?:集成电路|半导体|半導體|芯片|晶片|semiconductor|chip)[^。.;；,，]{0,12}(?:基金|fund)"
)
# An own chip named as a device's spec ("running on a Kirin 9020", "搭载麒麟9020") in a device story: the
# news is the phone or laptop, the chip at most a mention.
_CHIP_AS_SPEC_RX = re.compile(
    rf"(?:running on|runs on|run on|powered by|equipped with|built around|uses the|use the|spec sheet lists|"
    rf"moves to|搭载|搭載|配备|配備|采用|採用|内置|內建)\s?(?:the |a |an |its |new )?[^{_ACTOR_MARKS}。.;；]{{0,12}}{MARK_CHIP}"
)
_DEVICE_RX = re.compile(
    r"smartphone|phone|tablet|laptop|notebook|macbook|ipad|iphone|pixel|galaxy|watch|tri-fold|foldable|"
    r"手机|手機|平板|笔记本|筆電|折叠屏|折疊|三折|手表|手錶|新机|新機"
)
_DIGEST_RX = re.compile(r"周报|周刊|日报|早报|晚报|早参|盘点|速览|roundup|digest|weekly|newsletter|briefing")
_CHIP_TARGET_RX = re.compile(
    r"芯片|晶片|半导体|半導體|集成电路|积体电路|晶圆|光刻|封测|封装|碳化硅|氮化镓|射频|滤波器|功率器件|"
    r"存储|传感器|模拟|处理器|基带|chipmaker|chip maker|chip designer|chip start|chip firm|chip company|"
    r"chip business|chip unit|semiconductor|foundry|wafer|lithograph|modem|sensor|analog|silicon|substrate|"
    r"eda\b|fpga|mcu|gpu|asic|risc-v|laser|photonic"
)


def _actor_before(text: str, at: int, start: int) -> str:
    """The marker of the entity nearest before offset ``at`` (not before ``start``), or ""."""
    for k in range(at - 1, start - 1, -1):
        if text[k] in _ACTOR_MARKS:
            return text[k]
    return ""


CUE_NAMES: tuple[str, ...] = (
    "bigtech_in_title",
    "bigtech_count",
    "unit_present",
    "own_chip_in_title",
    "own_chip_present",
    "chipco_in_title",
    "chipco_first_in_title",
    "bigtech_first_in_title",
    "other_chip_present",
    "self_dev",
    "self_dev_in_title",
    "launch_in_title",
    "invest",
    "invest_with_chipco",
    "chipco_raises",
    "purchase",
    "export",
    "chip_word_in_title",
    "chip_word",
    "non_chip_in_title",
    "amount",
    "no_bigtech",
    "bigtech_title_and_chip_word",
    "bigtech_title_and_self_dev",
    "title_bigtech_acts",
    "title_chipco_acts",
    "lead_bigtech_acts",
    "lead_chipco_acts",
    "invest_chip_target",
    "invest_no_chip_target",
    "bigtech_customer",
    "digest_title",
    "chip_fund",
)
_ACTION_CUES = frozenset({"self_dev", "launch", "invest"})
_LEAD_CHARS = 160


def cue_vector(text: str) -> list[float]:
    """The hand-built cues of one masked model text, in ``CUE_NAMES`` order."""
    lowered = text.lower()
    title_end = _title_end(lowered)
    title = lowered[:title_end]
    hits = _cue_hits(lowered)
    found = {c for c, _ in hits}
    in_title = {c for c, at in hits if at < title_end}
    bt = MARK_BIGTECH + MARK_UNIT + MARK_CHIP
    first_mark = next((ch for ch in title if ch in _MARKS), "")
    bigtech_title = any(m in title for m in bt)
    n_bigtech = sum(text.count(m) for m in bt)
    chip_title = "chip_word" in in_title or MARK_CHIP in title
    chipco = MARK_CHIPCO in text
    # Who does the action? The entity named nearest before an action word, in the title and the lead.
    lead_start = title_end + len(TITLE_SEPARATOR)
    actors: dict[str, set[str]] = {"title": set(), "lead": set()}
    for cue, at in hits:
        if cue not in _ACTION_CUES:
            continue
        if at < title_end:
            actors["title"].add(_actor_before(lowered, at, 0))
        elif lead_start <= at < lead_start + _LEAD_CHARS:
            actors["lead"].add(_actor_before(lowered, at, lead_start))
    invest = "invest" in found
    chip_target = chipco or bool(_CHIP_TARGET_RX.search(lowered))
    return [
        float(bigtech_title),
        math.log1p(n_bigtech),
        float(MARK_UNIT in text),
        float(MARK_CHIP in title),
        float(MARK_CHIP in text),
        float(MARK_CHIPCO in title),
        float(first_mark == MARK_CHIPCO),
        float(first_mark in bt and first_mark != ""),
        float(MARK_OTHER_CHIP in text),
        float("self_dev" in found),
        float("self_dev" in in_title),
        float("launch" in in_title),
        float(invest),
        float(invest and chipco),
        float(chipco and "raises" in found),
        float("purchase" in found),
        float("export" in found),
        float(chip_title),
        float("chip_word" in found or chip_title),
        float("non_chip" in in_title),
        float(MARK_AMOUNT in text),
        float(n_bigtech == 0),
        float(bigtech_title and chip_title),
        float(bigtech_title and "self_dev" in found),
        float(bool(actors["title"] & set(bt))),
        float(MARK_CHIPCO in actors["title"]),
        float(bool(actors["lead"] & set(bt))),
        float(MARK_CHIPCO in actors["lead"]),
        float(invest and chip_target),
        float(invest and not chip_target),
        float(bool(_CUSTOMER_RX.search(lowered))),
        float(bool(_DIGEST_RX.search(title)) or title.count("；") + title.count(";") >= 2),
        float(bool(_CHIP_FUND_RX.search(lowered))),
    ]


# Any sign that the text is about chips at all: a chip product, unit or company, or a chip word.
_CHIP_SIGNAL_RX = re.compile(
    rf"[{MARK_CHIP}{MARK_UNIT}{MARK_CHIPCO}{MARK_OTHER_CHIP}]|芯|晶片|半导体|半導體|集成电路|積體電路|处理器|處理器|"
    r"加速器|算力卡|基带|基帶|晶圆|晶圓|光刻|传感器|傳感器|射频|射頻|滤波器|碳化硅|氮化镓|衬底|封测|"
    r"(?<![a-z])(?:chips?|chipmakers?|chipsets?|silicon|semiconductors?|processors?|coprocessors?|"
    r"microprocessors?|accelerators?|foundry|foundries|wafers?|modems?|asics?|socs?|[gctnd]pus?|risc-v|"
    r"tape[sd]?[- ]?out|fabs?|sensors?|lithography|eda|sic|gan|substrates?|lasers?|photonics?)(?![a-z])",
    re.IGNORECASE,
)


def chip_only_as_device_spec(text: str) -> bool:
    """A device story (phone, laptop ...) naming the company's own chip only as a spec, with no word of
    in-house chip work: the guide's "phones where the chip is at most a mention"."""
    lowered = text.lower()
    title = lowered[: _title_end(lowered)]
    if MARK_CHIP in title or not _DEVICE_RX.search(title) or not _CHIP_AS_SPEC_RX.search(lowered):
        return False
    hits = _cue_hits(lowered)
    if any(cue == "chip_word" and at < len(title) for cue, at in hits):
        return False  # the headline is about a chip
    return not any(cue == "self_dev" for cue, _ in hits)


def has_chip_signal(text: str) -> bool:
    """Whether a masked model text mentions chips at all (product, unit, chip company or chip word)."""
    return bool(_CHIP_SIGNAL_RX.search(text))


class CueFeatures(TransformerMixin, BaseEstimator):
    """Hand-built cues over masked model texts (stateless; ``scale`` weighs them against the n-grams)."""

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale

    def fit(self, X: Sequence[str], y: Any = None) -> CueFeatures:  # noqa: N803 - scikit-learn naming
        self.n_features_out_ = len(CUE_NAMES)
        return self

    def transform(self, X: Sequence[str]) -> sp.csr_matrix:  # noqa: N803
        rows = [cue_vector(text) for text in X]
        return sp.csr_matrix(
            np.asarray(rows, dtype=np.float64).reshape(len(rows), len(CUE_NAMES)) * self.scale
        )

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray([f"cue__{n}" for n in CUE_NAMES], dtype=object)


class StackedRelevanceClassifier(ClassifierMixin, BaseEstimator):
    """Relevance in two stages, with calibrated probabilities.

    A logistic regression over the text n-grams gives a score; gradient-boosted trees combine that score
    with the hand-built cues, which is where interactions live (an "own chip" phrase counts when a big-tech
    company is the one acting, an investment when the target makes chips). The trees learn from
    out-of-fold text scores, so they do not over-trust a score the regression saw in training.

    Probabilities are Platt-calibrated (as ``CalibratedClassifierCV(method="sigmoid")``) on out-of-fold
    outputs of the whole stack; those out-of-fold probabilities are kept (``oof_proba_``) so the decision
    threshold is chosen on predictions the model did not train on. ``X`` is the FeatureUnion output:
    text columns first, then the ``n_cues`` cue columns.

    Trees need data: below ``min_stack_items`` training items the second stage is skipped and the
    regression reads the text and the cues together (``stacked_`` is False).
    """

    def __init__(
        self,
        n_cues: int,
        *,
        C: float = 16.0,  # noqa: N803 - scikit-learn naming
        cv: int = 5,
        max_depth: int = 3,
        max_iter: int = 200,
        learning_rate: float = 0.1,
        random_state: int = 0,
        min_stack_items: int = 300,
    ) -> None:
        self.n_cues = n_cues
        self.min_stack_items = min_stack_items
        self.C = C
        self.cv = cv
        self.max_depth = max_depth
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.random_state = random_state

    def _split(self, X: Any) -> tuple[Any, np.ndarray]:  # noqa: N803
        X = sp.csr_matrix(X)  # noqa: N806
        width = X.shape[1] - self.n_cues
        return X[:, :width], np.asarray(X[:, width:].toarray())

    def _folds(self, y: np.ndarray, groups: Any, seed: int) -> Any:
        from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

        folds = min(self.cv, int(min(y.sum(), len(y) - y.sum())))
        if folds < 2:
            raise ValueError("relevance training needs at least two items of each class")
        if groups is None:
            return StratifiedKFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y)
        return StratifiedGroupKFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y, groups)

    def _text_model(self) -> Any:
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(
            C=self.C, class_weight="balanced", solver="liblinear", random_state=self.random_state
        )

    def _fit_stack(self, text: Any, cues: np.ndarray, y: np.ndarray, groups: Any) -> tuple[Any, Any]:
        from sklearn.ensemble import HistGradientBoostingClassifier

        if not self.stacked_:
            return self._text_model().fit(sp.hstack([text, cues], format="csr"), y), None
        inner = np.zeros(len(y))
        for train, test in self._folds(y, groups, self.random_state + 1):
            model = self._text_model().fit(text[train], y[train])
            inner[test] = model.decision_function(text[test])
        text_model = self._text_model().fit(text, y)
        trees = HistGradientBoostingClassifier(
            max_depth=self.max_depth,
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            class_weight="balanced",
            random_state=self.random_state,
        ).fit(np.column_stack([inner, cues]), y)
        return text_model, trees

    def fit(self, X: Any, y: Any, groups: Any = None) -> StackedRelevanceClassifier:  # noqa: N803
        """Fit; ``groups`` keeps items of one group (one news event told several ways) in one fold."""
        from sklearn.linear_model import LogisticRegression

        y = np.asarray(y).astype(int)
        groups_arr = None if groups is None else np.asarray(groups)
        self.stacked_ = len(y) >= self.min_stack_items
        text, cues = self._split(X)
        raw = np.zeros(len(y))
        for train, test in self._folds(y, groups_arr, self.random_state):
            text_model, trees = self._fit_stack(
                text[train], cues[train], y[train], None if groups_arr is None else groups_arr[train]
            )
            raw[test] = self._raw(text_model, trees, text[test], cues[test])
        platt = LogisticRegression(C=1e4).fit(raw.reshape(-1, 1), y)
        self.slope_ = float(platt.coef_[0, 0])
        self.intercept_ = float(platt.intercept_[0])
        self.oof_proba_ = self._sigmoid(raw)
        self.text_model_, self.trees_ = self._fit_stack(text, cues, y, groups_arr)
        self.classes_ = np.array([0, 1])
        return self

    def _sigmoid(self, raw: np.ndarray) -> np.ndarray:
        return np.asarray(1.0 / (1.0 + np.exp(-(self.slope_ * raw + self.intercept_))))

    @staticmethod
    def _raw(text_model: Any, trees: Any, text: Any, cues: np.ndarray) -> np.ndarray:
        if trees is None:
            return np.asarray(text_model.decision_function(sp.hstack([text, cues], format="csr")))
        stacked = np.column_stack([text_model.decision_function(text), cues])
        return np.asarray(trees.decision_function(stacked))

    def decision_function(self, X: Any) -> np.ndarray:  # noqa: N803
        text, cues = self._split(X)
        return self._raw(self.text_model_, self.trees_, text, cues)

    def predict_proba(self, X: Any) -> np.ndarray:  # noqa: N803
        p = self._sigmoid(self.decision_function(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Any) -> np.ndarray:  # noqa: N803
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


# --- the classifier --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassifyItem:
    """One article to classify."""

    id: str
    title: str
    summary: str
    lang: str | None = None


@dataclass(frozen=True)
class Prediction:
    """A classifier's full output for one item: probability and event type even when not relevant."""

    item_id: str
    probability: float
    event_type: str | None
    event_probability: float
    extraction: Extraction
    language: str
    error: str | None = None


# Every type a model file may contain. skops refuses anything else; never load with trusted=True.
TRUSTED_TYPES: tuple[str, ...] = (
    "pipeline.classifier.CueFeatures",
    "pipeline.classifier.HashedCharTfidf",
    "pipeline.classifier.word_tokens",
    "pipeline.classifier.StackedRelevanceClassifier",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.link.Interval",
    "sklearn.feature_extraction.text.TfidfVectorizer",
    "sklearn.feature_extraction.text.TfidfTransformer",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.pipeline.FeatureUnion",
    "sklearn.pipeline.Pipeline",
    "builtins.dict",
    "builtins.list",
    "builtins.tuple",
    "builtins.str",
    "builtins.int",
    "builtins.float",
    "builtins.bool",
    "builtins.NoneType",
    "numpy.ndarray",
    "numpy.float64",
    "numpy.int64",
    "numpy.dtype",
    "scipy.sparse._csr.csr_matrix",
)


class NewsClassifier:
    """A trained relevance + event-type model; ``classify`` also extracts the structured fields."""

    def __init__(
        self,
        *,
        features: Any,
        relevance: Any,
        event: Any | None,
        threshold: float,
        version: str,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self.features = features
        self.relevance = relevance
        self.event = event
        self.threshold = float(threshold)
        self.version = version
        self.metadata: dict[str, Any] = dict(metadata or {})

    # --- prediction --------------------------------------------------------------------------------

    def predict(self, items: Sequence[ClassifyItem], *, watchlist: Watchlist) -> list[Prediction]:
        """Probabilities, event types and extractions; a bad item gets ``error`` set, never an exception."""
        analyses: list[Analysis | None] = []
        errors: list[str | None] = []
        for item in items:
            analysis, error = _analyze_item(item, watchlist)
            analyses.append(analysis)
            errors.append(error)
        ok = [i for i, a in enumerate(analyses) if a is not None]
        texts_by_index = {i: model_text(analyses[i]) for i in ok}  # type: ignore[arg-type]
        probs = np.zeros(len(items))
        event_probs = np.zeros(len(items))
        if ok:
            texts = [texts_by_index[i] for i in ok]
            try:
                rel, ev = self._scores(texts)
                probs[ok], event_probs[ok] = rel, ev
            except Exception as e:  # one item must not fail the batch: retry one by one
                log.warning("batch scoring failed (%s); scoring items one by one", e)
                for i in ok:
                    try:
                        rel, ev = self._scores([texts_by_index[i]])
                        probs[i], event_probs[i] = rel[0], ev[0]
                    except Exception as item_error:
                        log.warning("cannot score item %s: %s", items[i].id, item_error)
                        errors[i] = f"scoring failed: {item_error}"
                        analyses[i] = None
        out: list[Prediction] = []
        for i, item in enumerate(items):
            analysis = analyses[i]
            if analysis is None:
                out.append(Prediction(str(item.id), 0.0, None, 0.0, Extraction(), "en", errors[i]))
                continue
            p_invest = float(event_probs[i])
            event_type = CHIP_INVESTMENT if p_invest >= 0.5 else SELF_DEVELOPMENT
            probability = float(probs[i])
            if not analysis.extraction.companies or not has_chip_signal(texts_by_index[i]):
                # The definition needs a watch-list company and chips: without either, never relevant.
                # (The model, trained on chip-news negatives, cannot know that on its own.)
                probability = min(probability, self.threshold * 0.5)
            elif chip_only_as_device_spec(texts_by_index[i]):
                probability = min(probability, self.threshold * 0.5)
            out.append(
                Prediction(
                    item_id=str(item.id),
                    probability=probability,
                    event_type=event_type,
                    event_probability=max(p_invest, 1 - p_invest),
                    extraction=analysis.extraction,
                    language=analysis.language,
                    error=errors[i],
                )
            )
        return out

    def classify(self, items: Sequence[ClassifyItem], *, watchlist: Watchlist) -> list[Classification]:
        """One ``Classification`` per item, in order (``article_id`` = ``item.id``); never raises per item."""
        results: list[Classification] = []
        for p in self.predict(items, watchlist=watchlist):
            relevant = p.error is None and p.probability >= self.threshold
            results.append(
                Classification(
                    article_id=p.item_id,
                    relevant=relevant,
                    score=round(p.probability, 6),
                    event_type=p.event_type if relevant else None,
                    model_version=self.version,
                    extraction=p.extraction,
                    error=p.error,
                )
            )
        return results

    def _scores(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        X = self.features.transform(texts)  # noqa: N806 - scikit-learn naming
        rel = self.relevance.predict_proba(X)[:, 1]
        if self.event is None:
            ev = np.array(
                [1.0 if "invest" in _cues_found(t.lower())[0] and MARK_CHIPCO in t else 0.0 for t in texts]
            )
        else:
            classes = list(self.event.classes_)
            ev = self.event.predict_proba(X)[:, classes.index(CHIP_INVESTMENT)]
        return rel, ev

    # --- persistence -------------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        """Write the model (skops) to ``path`` and its metadata as JSON beside it (``metadata.json``)."""
        import skops.io as sio

        path.parent.mkdir(parents=True, exist_ok=True)
        metadata = {**self.metadata, "version": self.version, "threshold": self.threshold}
        payload = {
            "format": 1,
            "features": self.features,
            "relevance": self.relevance,
            "event": self.event,
            "threshold": self.threshold,
            "version": self.version,
            "metadata_json": json.dumps(metadata, ensure_ascii=False, default=str),
        }
        tmp = path.with_name(path.name + ".tmp")
        sio.dump(payload, tmp)
        tmp.replace(path)
        path.with_name(METADATA_FILE_NAME).write_text(
            json.dumps(metadata, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8"
        )

    @classmethod
    def load(cls, path: Path) -> NewsClassifier:
        """Load a model saved by ``save``; ``ModelError`` if missing, corrupt or holding untrusted types."""
        import skops.io as sio

        path = Path(path)
        if not path.is_file():
            raise ModelError(f"model file not found: {path}")
        try:
            untrusted = sio.get_untrusted_types(file=path)
        except Exception as e:
            raise ModelError(f"model file {path} is corrupt or not a skops file: {e}") from e
        unexpected = sorted(set(untrusted) - set(TRUSTED_TYPES))
        if unexpected:
            raise ModelError(f"model file {path} holds untrusted types {unexpected}; refusing to load it")
        try:
            payload = sio.load(path, trusted=[t for t in untrusted if t in TRUSTED_TYPES])
        except Exception as e:
            raise ModelError(f"cannot load model file {path}: {e}") from e
        if not isinstance(payload, dict) or payload.get("format") != 1:
            raise ModelError(f"model file {path} is not a chip-news classifier (format 1)")
        try:
            metadata = json.loads(payload["metadata_json"])
            return cls(
                features=payload["features"],
                relevance=payload["relevance"],
                event=payload["event"],
                threshold=float(payload["threshold"]),
                version=str(payload["version"]),
                metadata=metadata,
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ModelError(f"model file {path} is incomplete: {e}") from e


def _analyze_item(item: ClassifyItem, watchlist: Watchlist) -> tuple[Analysis | None, str | None]:
    """Analyse one item, or say why it cannot be classified."""
    try:
        title = _as_text(item.title)
        summary = _as_text(item.summary)
        if not title.strip() and not summary.strip():
            return None, "empty article: no title or summary"
        sample = (title + summary)[:5000]
        printable = sum(1 for ch in sample if ch.isprintable() or ch in "\n\t")
        if printable < MIN_PRINTABLE_RATIO * len(sample):
            return None, "binary or undecodable text"
        return analyze(title, summary, language=item.lang, watchlist=watchlist), None
    except Exception as e:  # a bug for one odd input must not lose the batch
        log.exception("extraction failed for item %s", getattr(item, "id", "?"))
        return None, f"extraction failed: {type(e).__name__}: {e}"


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value if isinstance(value, str) else str(value)


# --- the promoted model ----------------------------------------------------------------------------


def model_path(model_dir: Path, version: str) -> Path:
    """Where ``version`` lives: ``<model_dir>/<version>/model.skops``."""
    return model_dir / version / MODEL_FILE_NAME


def load_current(model_dir: Path, store: Store | None = None) -> NewsClassifier:
    """The promoted model: the store's registry when it has one, else ``<model_dir>/current.json``."""
    if store is not None:
        record = store.current_model()
        if record:
            path = Path(record["path"])
            if not path.is_file():
                fallback = model_path(model_dir, record["version"])
                if fallback.is_file():
                    path = fallback
            return NewsClassifier.load(path)
    pointer = model_dir / CURRENT_POINTER
    if not pointer.is_file():
        raise ModelError(f"no trained model in {model_dir}: run `python -m pipeline train`")
    try:
        data = json.loads(pointer.read_text(encoding="utf-8"))
        version = str(data["version"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ModelError(f"model pointer {pointer} is unreadable: {e}") from e
    return NewsClassifier.load(model_path(model_dir, version))
