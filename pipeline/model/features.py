"""What the models read: the masked model text, its character n-grams (or jieba words), and hand-built cues.

The text is the *masked* text of ``pipeline.analysis.extract.analyze`` (entity mentions replaced by marker
characters), so the model learns "a big-tech company unveils its own chip" rather than the names seen in
training. ``build_features`` returns the unfitted ``FeatureUnion`` of text n-grams and cues.
"""

from __future__ import annotations

import itertools
import logging
import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

from pipeline.analysis.extract import (
    MARK_AMOUNT,
    MARK_BIGTECH,
    MARK_CHIP,
    MARK_CHIPCO,
    MARK_OTHER_CHIP,
    MARK_UNIT,
    TITLE_SEPARATOR,
    Analysis,
    phrase_pattern,
    phrase_scanner,
)
from pipeline.text import HAN, Guarded

# The model reads the title and the lead: that is where news states what happened, and it keeps the
# input like the training data (feed summaries) when a long page body is appended.
MODEL_SUMMARY_CHARS = 1200
FEATURE_SETS = ("char", "jieba")

# --- model inputs ----------------------------------------------------------------------------------

_MARKS = f"{MARK_BIGTECH}{MARK_UNIT}{MARK_CHIP}{MARK_CHIPCO}{MARK_OTHER_CHIP}{MARK_AMOUNT}"
_TOKEN_RX = re.compile(rf"[{_MARKS}]|[a-z0-9]+(?:['’\-][a-z0-9]+)*|[{HAN}]+")
_HAN_RUN_RX = re.compile(f"[{HAN}]+")
_MARK_RX = re.compile(f"[{_MARKS}]")
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
        if _HAN_RUN_RX.fullmatch(token):
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
        counts, indices, indptr = _hashed_char_arrays(X, self.ngram_range, self.n_bits)
        n_docs = len(indptr) - 1
        data = np.log1p(counts) * self.idf_[indices]
        nonzero = data != 0  # columns without idf: what a sparse product would drop (eliminate_zeros)
        if not nonzero.all():
            data, indices = data[nonzero], indices[nonzero]
            indptr = np.concatenate([[0], np.cumsum(nonzero)])[indptr]  # entries kept before each row
        lengths = np.diff(indptr)
        # Row norms as ``counts.multiply(counts).sum(axis=1)`` computes them: the squares of each
        # non-empty row added up by one ``np.add.reduceat`` (so in the same order, to the same bits).
        squares = data * data
        if not squares.all():  # an underflow that the sparse product would drop: let it
            matrix = sp.csr_matrix((data, indices, indptr), shape=(n_docs, 1 << self.n_bits))
            norms_sq = np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel()
        else:
            norms_sq = np.zeros(n_docs)
            rows = np.flatnonzero(lengths)
            if len(rows):
                norms_sq[rows] = np.add.reduceat(squares, indptr[rows])
        norms = np.sqrt(norms_sq)
        norms[norms == 0] = 1.0
        # Row scaling as ``diags(1 / norms) @ counts`` computed it (one product per entry), with the
        # columns of each row in the order that product left them (descending), so that every later
        # sum adds the same numbers in the same order: scores stay bit for bit what they were.
        row_end = np.repeat(indptr[1:] + indptr[:-1] - 1, lengths)
        order = row_end - np.arange(len(data))
        return sp.csr_matrix(
            ((data * np.repeat(1.0 / norms, lengths))[order], indices[order], indptr),
            shape=(n_docs, 1 << self.n_bits),
        )


_PRIME = np.uint64(1099511628211)
_MIX = np.uint64(0x9E3779B97F4A7C15)


def hashed_char_counts(texts: Sequence[str], ngram_range: tuple[int, int], n_bits: int) -> sp.csr_matrix:
    """Counts of hashed character n-grams (lower-cased, whitespace collapsed), one row per text."""
    counts, columns, indptr = _hashed_char_arrays(texts, ngram_range, n_bits)
    matrix = sp.csr_matrix((counts, columns, indptr), shape=(len(indptr) - 1, 1 << n_bits))
    matrix.has_canonical_format = True
    return matrix


def _indptr(rows: np.ndarray, n_rows: int) -> np.ndarray:
    """The CSR row pointers of entries in rows ``rows`` (sorted)."""
    return np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n_rows))])


def _hashed_char_arrays(
    texts: Sequence[str], ngram_range: tuple[int, int], n_bits: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``hashed_char_counts`` as the arrays of a canonical CSR matrix: counts, columns, row pointers."""
    strings = [str(t) for t in texts]
    n_docs = len(strings)
    # One array for the whole batch, texts separated by NUL: an n-gram spanning a NUL is dropped.
    if any("\x00" in t for t in strings):  # a NUL inside a text becomes a space, after collapsing
        joined = "\x00".join(collapse_spaces(t.lower()).replace("\x00", " ") for t in strings) + "\x00"
        codes = _code_points(joined)
    else:
        # Lower-casing and collapsing the joined batch equals doing it text by text: NUL is neither
        # whitespace nor cased, so it ends a run of spaces and a word (final sigma) as a text's end does.
        codes = _collapsed_code_points(("\x00".join(strings) + "\x00").lower())
    # Keys (row << n_bits | column) in 32 bits when they fit: they sort twice as fast.
    key_type: Any = np.uint32 if (n_docs << n_bits) <= 1 << 32 else np.uint64
    seps_before = np.zeros(len(codes) + 1, dtype=np.int64)
    np.cumsum(codes == 0, out=seps_before[1:])  # NULs before each position
    rows = seps_before[1:].astype(key_type) << key_type(n_bits)  # the row of each position's text
    codes = codes.astype(np.uint64)
    shift = np.uint64(64 - n_bits)
    keys = []
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
            ok = seps_before[n : n + m] == seps_before[:m]  # no NUL inside the n-gram
            keys.append((rows[:m] | h.astype(key_type))[ok])
    # Counting = sorting the (row, column) keys and measuring the runs: the canonical CSR (sorted
    # columns, no duplicates) that building from coordinates and summing duplicates gives.
    key = np.concatenate(keys) if keys else np.zeros(0, dtype=key_type)
    key.sort()
    starts = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]])) if len(key) else np.zeros(0, int)
    counts = np.diff(np.append(starts, len(key))).astype(np.float64)
    unique = key[starts].astype(np.int64)
    return counts, unique & ((1 << n_bits) - 1), _indptr(unique >> n_bits, n_docs)


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


# Whitespace as ``str.isspace`` (and ``\\s``) has it: all of it below U+3001 (checked by a test).
_SPACE_LIMIT = 0x3001
_IS_SPACE = np.array([chr(c).isspace() for c in range(_SPACE_LIMIT)] + [False])


def _collapsed_code_points(text: str) -> np.ndarray:
    """The code points of ``collapse_spaces(text)``, collapsed over the array (several times faster than
    splitting and joining the string): each run of whitespace becomes one space."""
    codes = _code_points(text)
    space = _IS_SPACE[np.minimum(codes, _SPACE_LIMIT)]
    if not space.any():
        return codes
    keep = ~space
    keep[1:] |= ~space[:-1]  # a space stays when the character before it is not one
    keep[0] = True
    return np.where(space, np.uint32(32), codes)[keep]


def collapse_spaces(text: str) -> str:
    """``re.sub(r"\\s+", " ", text)``, three times faster: ``str.split()`` splits at exactly the characters
    ``\\s`` matches (``str.isspace``), and a space is put back where ``text`` starts or ends with one."""
    collapsed = " ".join(text.split())
    if text[:1].isspace():
        collapsed = " " + collapsed
    if text[-1:].isspace() and collapsed != " ":
        collapsed += " "
    return collapsed


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
_CUE_WORDS = [p.rstrip("*") for ps in _CUE_PHRASES.values() for p in ps]
_CUE_RX = re.compile("(?=(" + phrase_pattern(_CUE_WORDS).pattern + "))")
# The same hits as _CUE_RX.finditer (group 1 at m.start(1)), without trying each position in Python's loop.
_CUE_SCAN = phrase_scanner(_CUE_WORDS, overlapping=True)
_CUE_LOOKUP: dict[str, list[tuple[str, bool]]] = {}
for _key, _value in _CUE_OF.items():
    _CUE_LOOKUP.setdefault(_key.split("\x00")[0], []).append(_value)
# Matched phrase -> its cues when it ends a word, and its cues when a word runs on after it (those
# without the whole-word condition; None when they are the same), worked out once per spelling.
_PHRASE_CUES: dict[str, tuple[tuple[str, ...], tuple[str, ...] | None]] = {}


def _phrase_cues(phrase: str) -> tuple[tuple[str, ...], tuple[str, ...] | None]:
    cues = _PHRASE_CUES.get(phrase)
    if cues is None:
        key = _SPACE_RX.sub("", phrase.replace("-", ""))
        other_last = not phrase[-1:].isascii()
        pairs = [(cue, not (prefix or other_last)) for cue, prefix in _CUE_LOOKUP.get(key, ())]
        in_word = tuple(cue for cue, word_only in pairs if not word_only)
        cues = (tuple(cue for cue, _ in pairs), None if len(in_word) == len(pairs) else in_word)
        if len(_PHRASE_CUES) < 50_000:  # spellings vary only in separators: a bound that never bites
            _PHRASE_CUES[phrase] = cues
    return cues


def cue_hits(text: str) -> list[tuple[str, int]]:
    """(cue, offset) of every cue phrase in a lower-cased masked model text."""
    hits: list[tuple[str, int]] = []
    # The pattern is a look-ahead, so phrases inside longer ones count too ("chip" in "its own chip").
    scan = _CUE_RX.finditer(text) if _CUE_SCAN is None else _CUE_SCAN.finditer(text)
    size = len(text)
    for m in scan:
        start, end = m.span(1)
        if start < 0:
            continue  # a skipping match of _CUE_SCAN
        phrase = text[start:end]
        entry = _PHRASE_CUES.get(phrase)
        if entry is None:
            entry = _phrase_cues(phrase)
        cues, in_word = entry
        if in_word is not None and end < size and text[end].isascii() and text[end].isalnum():
            cues = in_word  # a word runs on: only the cues that need no word end
        for cue in cues:
            hits.append((cue, start))
    for m in _MADE_BY_RX.finditer(text):
        hits.append(("self_dev", m.start()))
    return hits


def cues_found(text: str) -> tuple[set[str], set[str]]:
    """(cues anywhere, cues in the title) of a lower-cased masked model text."""
    title_end = end_of_title(text)
    hits = cue_hits(text)
    return {c for c, _ in hits}, {c for c, at in hits if at < title_end}


def end_of_title(text: str) -> int:
    end = text.find(TITLE_SEPARATOR)
    return len(text) if end < 0 else end


# "Microsoft-designed", "Google-built": the company made it itself.
_MADE_BY_RX = re.compile(rf"[{MARK_BIGTECH}{MARK_UNIT}]\s?-\s?(?:designed|built|developed|made)")
ACTOR_MARKS = f"{MARK_BIGTECH}{MARK_UNIT}{MARK_CHIP}{MARK_CHIPCO}"
_CUSTOMER_RX = re.compile(
    rf"[{MARK_BIGTECH}{MARK_UNIT}][^{ACTOR_MARKS}。.;；]{{0,25}}(?:customer|client|客户|用户)|"
    rf"(?:customer|client|客户|买家|buyer)s?[^{ACTOR_MARKS}。.;；]{{0,12}}[{MARK_BIGTECH}{MARK_UNIT}]"
)
# A fund for chips ("集成电路产业基金", "semiconductor fund") counts as a chip investment.
_CHIP_FUND_RX = re.compile(
    r"(?:集成电路|半导体|半導體|芯片|晶片|semiconductor|chip)[^。.;；,，]{0,12}(?:基金|fund)"
)
_DIGEST_RX = re.compile(r"周报|周刊|日报|早报|晚报|早参|盘点|速览|roundup|digest|weekly|newsletter|briefing")
_CHIP_TARGET_RX = re.compile(
    r"芯片|晶片|半导体|半導體|集成电路|积体电路|晶圆|光刻|封测|封装|碳化硅|氮化镓|射频|滤波器|功率器件|"
    r"存储|传感器|模拟|处理器|基带|chipmaker|chip maker|chip designer|chip start|chip firm|chip company|"
    r"chip business|chip unit|semiconductor|foundry|wafer|lithograph|modem|sensor|analog|silicon|substrate|"
    r"eda\b|fpga|mcu|gpu|asic|risc-v|laser|photonic"
)


# --- cues appended after the first release: each reads the lower-cased masked text and its title ----------

_CLAUSE_END = "。.;；!！?？¶"
_CLAUSE_END_RX = re.compile(f"[{re.escape(_CLAUSE_END)}]")
# A news verb of the company's own chip unit: spun off, listed, reorganised, funded, closed.
_UNIT_EVENT_RX = re.compile(
    r"spin(?:s|ning)?[- ]?off|spun[- ]off|spins? out|ipo|listing|lists? |go(?:es)? public|restructur|"
    r"reorgani[sz]|independen|separate|shut|clos(?:e|es|ing)|disband|wind(?:s|ing)? down|funding|raises?|"
    r"分拆|拆分|独立|上市|递表|重组|架构调整|融资|解散|关闭|终止|裁撤|成立"
)
# Spending on its own work, not on a stake: "invest heavily in its own", "spend", "pour", "投入".
_SPEND_RX = re.compile(
    r"spend(?:s|ing)?|pour(?:s|ing|ed)? |invest(?:s|ing|ed)? heavily|heavily invest|invest(?:s|ing)? billions in (?:its|their) own|"
    r"投入|砸|加大.{0,4}投|重金"
)
# What an investment goes into, read right after the investment word (same clause).
_NONCHIP_TARGET_RX = re.compile(
    r"robot|humanoid|机器人|具身|人形|ai (?:start-?up|lab|developer|firm|company|model)|model (?:start-?up|developer|maker)|"
    r"chatbot|大模型|模型公司|lab\b|ev maker|electric[- ]vehicle|汽车|自动驾驶|autonomous|software|软件|"
    r"cloud|data cent|数据中心|satellite|卫星|battery|电池|game|游戏"
)
_INVEST_WORD_RX = re.compile(
    r"invest|stake|funding|round|back(?:s|ed|ing)? |acquir|takeover|buy(?:s|ing)? (?:a |the )?(?:start|firm|maker|compan|stake)|"
    r"投资|领投|参投|跟投|入股|持股|注资|收购|并购|战投"
)
_DENIAL_RX = re.compile(
    r"澄清|辟谣|否认|不实|传闻|谣言|无业务往来|没有依据|暂无合作|den(?:y|ies|ied)|rumou?r|untrue|groundless|"
    r"clarif|no business with|not part of"
)
_PROCUREMENT_RX = re.compile(
    r"采购|集采|中标|名单|目录|测评|招标|procure|tender|approved list|catalogu|whitelist|white list"
)
_CLOUD_RESULTS_RX = re.compile(
    r"(?:云|cloud|azure|aws)[^。.;；]{0,30}(?:收入|营收|营业额|增长|增速|revenue|sales|grew|growth|quarter|季度)"
)
_SALE_TITLE_RX = re.compile(r"\bon sale|price cut|\breview|\bhands-on|降价|开售|首销|评测|上手|发售|售价")
_DEVICE_TITLE_RX = re.compile(
    r"smartphone|phone|tablet|laptop|notebook|macbook|ipad|iphone|pixel|galaxy|watch|手机|手機|平板|笔记本|筆電|折叠屏|手表"
)


# Searched as they are where that is faster: expressions that begin with an alternation of words
# starting with common letters gain nothing from ``Guarded`` (measured on model texts short and long).
_UNIT_EVENT = _UNIT_EVENT_RX
_SPEND = Guarded(_SPEND_RX)  # the same searches, faster
_INVEST_WORD = _INVEST_WORD_RX
_NONCHIP_TARGET = _NONCHIP_TARGET_RX
_DENIAL = _DENIAL_RX
_PROCUREMENT = _PROCUREMENT_RX
_CLOUD_RESULTS = _CLOUD_RESULTS_RX


def _clauses_after(text: str, rx: re.Pattern[str], reach: int = 40) -> list[str]:
    """For each match of ``rx``: the rest of its clause, at most ``reach`` characters."""
    windows = []
    for m in rx.finditer(text):
        window = text[m.end() : m.end() + reach]
        end = _CLAUSE_END_RX.search(window)  # the first of the clause-ending characters
        windows.append(window if end is None else window[: end.start()])
    return windows


# Where the first sentence of a summary ends: a Chinese stop, ! or ?, or a full stop before a space. A full
# stop in the first 20 characters is passed over, so that "U.S." or a dateline does not end it.
_SENTENCE_END_RX = re.compile(r"[。！？!?；;]|\.(?=\s|$)")
_FULL_STOP_FROM = 20
_BIGTECH_MARKS_RX = re.compile(f"[{MARK_BIGTECH}{MARK_UNIT}{MARK_CHIP}]")


def mentioned_only_late(lowered: str, title_end: int) -> bool:
    """A big-tech company, its chip unit or its chip is named, but neither in the title nor in the first
    sentence of the summary: most of the time a passing mention, which the labelling guide reads as 0."""
    first = _BIGTECH_MARKS_RX.search(lowered)
    if first is None or first.start() < title_end:
        return False
    lead_start = title_end + len(TITLE_SEPARATOR)
    for end in _SENTENCE_END_RX.finditer(lowered, lead_start, first.start()):
        if end.group() != "." or end.start() >= lead_start + _FULL_STOP_FROM:
            return True  # the first sentence ended before the first mention
    return False


def _later_cues(lowered: str, title: str, found: set[str]) -> list[float]:
    """The appended cues (``LATER_CUE_NAMES``); ``found``: the cue phrases found in ``lowered``."""
    unit_or_own = MARK_UNIT in lowered or "self_dev" in found
    chipco = MARK_CHIPCO in lowered
    after_invest = _clauses_after(lowered, _INVEST_WORD)
    if after_invest:
        into = [
            float(any(MARK_CHIPCO in w or MARK_OTHER_CHIP in w for w in after_invest)),
            float(any(_CHIP_TARGET.search(w) for w in after_invest)),
            float(any(_NONCHIP_TARGET.search(w) for w in after_invest)),
            float(any(MARK_UNIT in w or MARK_CHIP in w for w in after_invest)),
        ]
    else:
        into = [0.0, 0.0, 0.0, 0.0]
    return [
        float(MARK_UNIT in lowered and bool(_UNIT_EVENT.search(lowered))),
        float(MARK_UNIT in title and bool(_UNIT_EVENT.search(title))),
        float(unit_or_own and bool(_SPEND.search(lowered)) and not chipco),
        *into,
        float(bool(_DENIAL.search(lowered))),
        float(bool(_PROCUREMENT.search(lowered))),
        float(bool(_CLOUD_RESULTS.search(title))),
        float(bool(_DEVICE_TITLE_RX.search(title)) and bool(_SALE_TITLE_RX.search(title))),
        float(mentioned_only_late(lowered, len(title))),
    ]


LATER_CUE_NAMES: tuple[str, ...] = (
    "unit_news",
    "unit_news_in_title",
    "spend_on_own",
    "invest_into_chipco",
    "invest_into_chip_target",
    "invest_into_nonchip",
    "invest_into_own_unit",
    "denial",
    "procurement",
    "cloud_results_title",
    "device_sale_title",
    "bigtech_only_late",
)

_CUSTOMER = Guarded(_CUSTOMER_RX)  # the same searches, faster (it begins with a look for a mark)
_CHIP_FUND = _CHIP_FUND_RX
_DIGEST = _DIGEST_RX
_CHIP_TARGET = _CHIP_TARGET_RX


def _actor_before(text: str, at: int, start: int) -> str:
    """The marker of the entity nearest before offset ``at`` (not before ``start``), or ""."""
    nearest = max(
        text.rfind(MARK_BIGTECH, start, at),
        text.rfind(MARK_UNIT, start, at),
        text.rfind(MARK_CHIP, start, at),
        text.rfind(MARK_CHIPCO, start, at),
    )  # one rfind per mark of ACTOR_MARKS
    return text[nearest] if nearest >= 0 else ""


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
    # Appended later (a model keeps the cues it was trained with: ``CueFeatures.n_features_out_``).
    *LATER_CUE_NAMES,
)
_ACTION_CUES = frozenset({"self_dev", "launch", "invest"})
_BT_MARKS = frozenset(MARK_BIGTECH + MARK_UNIT + MARK_CHIP)
_LEAD_CHARS = 160


def cue_vector(text: str) -> list[float]:
    """The hand-built cues of one masked model text, in ``CUE_NAMES`` order."""
    lowered = text.lower()
    title_end = end_of_title(lowered)
    title = lowered[:title_end]
    found: set[str] = set()
    in_title: set[str] = set()
    # Who does the action? The entity named nearest before an action word, in the title and the lead.
    title_actors: set[str] = set()
    lead_actors: set[str] = set()
    lead_start = title_end + len(TITLE_SEPARATOR)
    lead_end = lead_start + _LEAD_CHARS
    for cue, at in cue_hits(lowered):
        found.add(cue)
        if at < title_end:
            in_title.add(cue)
            if cue in _ACTION_CUES:
                title_actors.add(_actor_before(lowered, at, 0))
        elif lead_start <= at < lead_end and cue in _ACTION_CUES:
            lead_actors.add(_actor_before(lowered, at, lead_start))
    bt = MARK_BIGTECH + MARK_UNIT + MARK_CHIP
    first = _MARK_RX.search(title)
    first_mark = first.group() if first else ""
    bigtech_title = MARK_BIGTECH in title or MARK_UNIT in title or MARK_CHIP in title  # a mark of bt
    n_bigtech = text.count(MARK_BIGTECH) + text.count(MARK_UNIT) + text.count(MARK_CHIP)
    chip_title = "chip_word" in in_title or MARK_CHIP in title
    chipco = MARK_CHIPCO in text
    invest = "invest" in found
    chip_target = invest and (chipco or bool(_CHIP_TARGET.search(lowered)))  # read only with invest
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
        float(not title_actors.isdisjoint(_BT_MARKS)),
        float(MARK_CHIPCO in title_actors),
        float(not lead_actors.isdisjoint(_BT_MARKS)),
        float(MARK_CHIPCO in lead_actors),
        float(invest and chip_target),
        float(invest and not chip_target),
        float(bool(_CUSTOMER.search(lowered))),
        float(bool(_DIGEST.search(title)) or title.count("；") + title.count(";") >= 2),
        float(bool(_CHIP_FUND.search(lowered))),
        *_later_cues(lowered, title, found),
    ]


class CueFeatures(TransformerMixin, BaseEstimator):
    """Hand-built cues over masked model texts (stateless; ``scale`` weighs them against the n-grams)."""

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale

    def fit(self, X: Sequence[str], y: Any = None) -> CueFeatures:  # noqa: N803 - scikit-learn naming
        self.n_features_out_ = len(CUE_NAMES)
        return self

    def transform(self, X: Sequence[str]) -> sp.csr_matrix:  # noqa: N803
        return sp.csr_matrix(self.transform_dense(X))

    def transform_dense(self, X: Sequence[str]) -> np.ndarray:  # noqa: N803
        """The cues as a dense array (``transform`` holds the same numbers as a sparse matrix)."""
        # Cues are only ever appended: a model trained before a cue existed reads the first ones it knew.
        width = getattr(self, "n_features_out_", len(CUE_NAMES))
        rows = [cue_vector(text)[:width] for text in X]
        return np.asarray(rows, dtype=np.float64).reshape(len(rows), width) * self.scale

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        width = getattr(self, "n_features_out_", len(CUE_NAMES))
        return np.asarray([f"cue__{n}" for n in CUE_NAMES[:width]], dtype=object)


def transform_parts(features: Any, texts: Sequence[str]) -> tuple[sp.csr_matrix, np.ndarray] | None:
    """The output of ``build_features``' union for ``texts`` as its two parts, text columns (CSR) and cue
    columns (dense), without stacking them: what ``StackedRelevanceClassifier`` would split the stacked
    matrix back into, entry for entry. None when ``features`` is not such a union (then transform it)."""
    from sklearn.pipeline import FeatureUnion

    if type(features) is not FeatureUnion or features.transformer_weights is not None:
        return None
    steps = features.transformer_list
    if len(steps) != 2 or steps[0][0] != "text" or not isinstance(steps[1][1], CueFeatures):
        return None
    text = steps[0][1].transform(texts)
    cues = steps[1][1].transform_dense(texts)
    # The stacked matrix has one dtype: parts of another dtype would have been converted.
    if not (sp.issparse(text) and text.format == "csr" and text.dtype == cues.dtype == np.float64):
        return None
    return text, cues


def build_features(kind: str, *, cue_scale: float = 1.0) -> Any:
    """An unfitted FeatureUnion: text n-grams (``char`` or ``jieba`` words) plus the hand-built cues."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    if kind == "char":
        text = HashedCharTfidf(ngram_range=(1, 4), n_bits=18, min_df=2)
    elif kind == "jieba":
        text = TfidfVectorizer(analyzer=word_tokens, min_df=2, sublinear_tf=True, max_features=200_000)
    else:
        raise ValueError(f"unknown feature set {kind!r}; expected one of {FEATURE_SETS}")
    return FeatureUnion([("text", text), ("cues", CueFeatures(scale=cue_scale))])
