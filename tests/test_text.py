from __future__ import annotations

import re

import pytest

from pipeline.text import Guarded, clean_text, clean_title, html_to_text, unescape_entities


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Ali\u200bbaba\u200c \u200dT-\u2060Head\ufeff", "Alibaba T-Head"),
        (
            "RTL \u202eevil\u202c \u202a\u202b\u202d and \u2066iso\u2067\u2068\u2069 \u200e\u200f\u061c",
            "RTL evil and iso",
        ),
        ("NUL\x00 bell\x07 esc\x1b del\x7f c1\x85\x9f", "NUL bell esc del c1"),
        ("keeps\ttab\nand newline", "keeps\ttab\nand newline"),
        ("windows\r\nline\rends", "windows\nline\nends"),
        ("e\u0301te\u0301", "été"),  # NFC
        ("many    spaces\u00a0\u00a0and\u3000ideographic  \t tab", "many spaces and ideographic tab"),
        ("  line one  \n   line two \n\n\n\n line three  ", "line one\nline two\n\nline three"),
        ("soft\u00adhyphen", "softhyphen"),
        ("para\u2029graph", "para\ngraph"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_clean_text(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


def test_clean_text_leaves_chinese_and_emoji_alone() -> None:
    text = "阿里巴巴：平头哥发布「玄铁」芯片 🚀"
    assert clean_text(text) == text


@pytest.mark.parametrize(
    ("raw", "title"),
    [
        ("<b>Alibaba</b> &amp;amp; T-Head", "Alibaba &amp; T-Head"),
        ("AT&amp;T &amp; Intel", "AT&T & Intel"),
        ("<script>alert(1)</script>Tencent", "Tencent"),
        ("Line<br>break\nand\tmore", "Line break and more"),
        ("&lt;script&gt; is text here", "<script> is text here"),
        ("Q&A: R&D at AT&T &copy 2025", "Q&A: R&D at AT&T &copy 2025"),
        ("&#8216;Trump shock&#8217; &#146;", "‘Trump shock’ ’"),
        ("  <p>腾讯投资</p><p>芯片公司</p>  ", "腾讯投资 芯片公司"),
        ("Zero\u200bwidth\u202e", "Zerowidth"),
        ('<a href=http://x.example/">Chip news</a>', "Chip news"),
    ],
)
def test_clean_title(raw: str, title: str) -> None:
    assert clean_title(raw) == title


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>One</p><p>Two<br/>Three</p>", "One\nTwo\nThree"),
        ("<p>wrapped\n   source\nlines</p>", "wrapped source lines"),
        ("plain\ntext keeps\nits lines", "plain\ntext keeps\nits lines"),
        ("<ul><li>a</li><li>b</li></ul>", "a\nb"),
        ("<div>x<script>var s = '</p>';</script>y</div>", "xy"),
        ("before<style>p { color: red }</style>after", "beforeafter"),
        ("keep<!-- hidden <p>comment</p> -->going", "keepgoing"),
        ('<a href="/x" title="a > b">link</a> text', "link text"),
        ("<table><tr><td>1</td><td>2</td></tr></table>", "1 2"),
        ("&amp;lt;b&amp;gt; double-escaped", "&lt;b&gt; double-escaped"),
        ("x<iframe src='/a'/>y<svg><text>svg text</text></svg>z", "xyz"),
        ('<a href=http://x.example/">unbalanced</a> quote', "unbalanced quote"),
        ("<b title='it's'>odd</b> quotes", "odd quotes"),
        ("<p>if <math><mi>x</mi><mo>=</mo><mn>1</mn></math> then</p>", "if x=1 then"),
        ("<math><semantics><mi>y</mi><annotation-xml>z</annotation-xml></semantics></math>", "y"),
        ("unclosed <script>alert(1)", "unclosed"),
        ("<p>Body&nbsp;text&hellip;</p>", "Body text…"),
        ("plain text, no markup", "plain text, no markup"),
        ("", ""),
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


def test_html_to_text_on_hostile_markup() -> None:
    """Unclosed comments and scripts hide the rest, as in a browser. (Its linear time is measured by
    ``make bench``, bench/hostile.py.)"""
    assert html_to_text("before " + "<!--" * 2_000 + "<script" * 2_000) == "before"
    assert html_to_text("before " + "<script" * 2_000 + "<!--" * 2_000) == "before"


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("&amp;amp;", "&amp;"),
        ("&lt;&gt;&quot;&apos;", "<>\"'"),
        ("&#x1F680;&#128640;", "🚀🚀"),
        ("&#0;&#xD800;&#99999999;", "\ufffd\ufffd\ufffd"),
        ("&unknown; &copy", "&unknown; &copy"),
        ("no entities", "no entities"),
    ],
)
def test_unescape_entities_once(raw: str, text: str) -> None:
    assert unescape_entities(raw) == text


# --- Guarded: the same matches as the plain regular expression ------------------------------------------

_GUARD_TEXTS = [
    "",
    "A4 paper and an A17 Pro chip; xA5 is not one, nor -A6",
    "Apple's M2 Pro, M3 Max and M4 — not M7 or HM2",
    "the N1 chip, R1 wireless, W2芯片 and H1 headphones",
    "Kelvin sign \u212a1 and long s \u017fupplier buy from customers like us",
    "CUSTOMERS SUCH AS ⒝ and ⒝ customer\n",
    "他说。她说！真的？是的；还有…最后. Done. Mr. Smith went to Washington. 3.5 billion",
    "İstanbul ΣΑΣ ends in sigma Σ",
    "\n\n  \t",
]


@pytest.mark.parametrize(
    ("pattern", "flags", "guarded"),
    [
        (r"(?<![A-Za-z0-9\-])A([4-9]|1\d)([XZ])?(?:\s+(Bionic|Pro|Fusion))?(?![A-Za-z0-9\-])", 0, True),
        (r"(?<![A-Za-z0-9\-])([NRWH][12])(?=\s*(?:chip|芯片|wireless|无线))", 0, True),
        (r"(?:customer|client|客户)s?|(?:buy|from)\s", re.IGNORECASE, True),
        (
            r"(?:to|for|from|with|by|uses?|customers?(?: such as| including)?|like|向|为)\s*$",
            re.IGNORECASE,
            True,
        ),
        (r"[。！？；]+[”’」』)）\"']*|…+|[!?]+(?=\s|$)|\.+(?=\s|$)", 0, True),
        (r"s|k", re.IGNORECASE, True),
        (r"\d+", 0, False),  # first characters unknown (a category): searched as it is
        (r"x*", 0, False),  # can match empty
        (r"Σ", 0, False),  # a literal first: the engine already skips ahead by it
    ],
)
def test_guarded_finds_what_the_regex_finds(pattern: str, flags: int, guarded: bool) -> None:
    regex = re.compile(pattern, flags)
    fast = Guarded(regex)
    assert (fast.guard is not None) == guarded
    for text in _GUARD_TEXTS:
        expected = [(m.span(), m.groups()) for m in regex.finditer(text)]
        assert [(m.span(), m.groups()) for m in fast.finditer(text)] == expected, text
        plain, quick = regex.search(text), fast.search(text)
        assert (quick and (quick.span(), quick.groups())) == (plain and (plain.span(), plain.groups()))
