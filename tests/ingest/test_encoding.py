from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.ingest import encoding
from pipeline.ingest.encoding import (
    codec_for_label,
    decode_document,
    looks_like_mojibake,
    repair_mojibake,
    sniff_xml_encoding,
)

FEEDS = Path(__file__).parents[1] / "data" / "feeds"
CHINESE = "阿里巴巴旗下平头哥发布新一代自研芯片，腾讯投资芯片设计公司。"


def fixture(name: str) -> bytes:
    return (FEEDS / name).read_bytes()


@pytest.fixture
def no_detector(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if charset-normalizer is consulted (it should not be when a declaration fits)."""
    import charset_normalizer

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("charset-normalizer was run although a declared encoding decodes cleanly")

    monkeypatch.setattr(charset_normalizer, "from_bytes", refuse)


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("gb2312", "gb18030"),
        ("GBK", "gb18030"),
        ("x-gbk", "gb18030"),
        ('"gb18030"', "gb18030"),
        ("ISO-8859-1", "cp1252"),
        ("us-ascii", "cp1252"),
        ("big5", "big5hkscs"),
        ("Shift_JIS", "cp932"),
        ("UTF8", "utf-8"),
        ("koi8-r", "koi8-r"),
        ("ISO-10646-UCS-2", "utf-16"),
        ("csucs4", "utf-32"),
        ("ms-hebr", "cp1255"),
        ("euc_kr", "cp949"),  # charset-normalizer's spelling
        ("no-such-charset", None),
        ("", None),
    ],
)
def test_codec_for_label(label: str, codec: str | None) -> None:
    assert codec_for_label(label) == codec


def test_gbk_with_xml_declaration(no_detector: None) -> None:
    decoded = decode_document(fixture("gbk_declared.xml"))
    assert (decoded.encoding, decoded.source) == ("gb18030", "xml-declaration")
    assert "阿里巴巴旗下平头哥发布新一代自研芯片" in decoded.text


def test_gbk_without_any_declaration_is_detected() -> None:
    decoded = decode_document(fixture("gbk_undeclared.xml"))
    assert (decoded.encoding, decoded.source) == ("gb18030", "detected")
    assert "腾讯投资芯片设计公司" in decoded.text


@pytest.mark.parametrize("charset", ["ISO-8859-1", "latin-1", "windows-1252"])
def test_gbk_behind_a_lying_latin1_header_is_corrected(charset: str) -> None:
    headers = {"Content-Type": f"application/rss+xml; charset={charset}"}
    decoded = decode_document(fixture("gbk_undeclared.xml"), headers)
    assert decoded.encoding == "gb18030"
    assert "百度昆仑芯完成新一轮融资" in decoded.text
    assert not looks_like_mojibake(decoded.text)


def test_gbk_behind_a_lying_latin1_xml_declaration_is_corrected() -> None:
    decoded = decode_document(fixture("gbk_declared_latin1.xml"))
    assert decoded.encoding == "gb18030"
    assert "科技新闻" in decoded.text


def test_gb2312_label_reads_characters_gb2312_lacks(no_detector: None) -> None:
    decoded = decode_document(fixture("gb2312_label_gb18030.xml"))
    assert decoded.encoding == "gb18030"
    for text in ("朱镕基", "王堃", "陶喆", "龚䶮", "🚀"):
        assert text in decoded.text
    assert "\ufffd" not in decoded.text


def test_utf8_bytes_labelled_gbk_are_read_as_utf8(no_detector: None) -> None:
    decoded = decode_document(fixture("utf8_labelled_gbk.xml"), {"content-type": "text/xml; charset=gbk"})
    assert (decoded.encoding, decoded.source) == ("utf-8", "detected")
    assert "阿里巴巴" in decoded.text


def test_bom_wins_and_is_stripped(no_detector: None) -> None:
    decoded = decode_document(fixture("utf8_bom.xml"), {"content-type": "text/xml; charset=gbk"})
    assert (decoded.encoding, decoded.source) == ("utf-8", "bom")
    assert decoded.text.startswith("<?xml")


def test_utf16_bom() -> None:
    body = "\ufeff<rss><channel><title>芯片</title></channel></rss>".encode("utf-16-le")
    decoded = decode_document(body)
    assert (decoded.encoding, decoded.source) == ("utf-16-le", "bom")
    assert "<title>芯片</title>" in decoded.text


@pytest.mark.parametrize(
    ("head", "family"),
    [
        # XML 1.0 appendix F, "without a byte order mark".
        (b"\x00\x00\x00<", "utf-32-be"),
        (b"<\x00\x00\x00", "utf-32-le"),
        (b"\x00<\x00?", "utf-16-be"),
        (b"<\x00?\x00", "utf-16-le"),
        (b"\x4c\x6f\xa7\x94", "ebcdic"),
        # Not only "<?": a document may start with its root element or with white space.
        (b"\x00<\x00r", "utf-16-be"),
        (b"\n\x00<\x00", "utf-16-le"),
        (b"<?xm", None),
        (b"<rss", None),
        (b"\x00\x01\x02\x03", None),
    ],
)
def test_sniff_xml_encoding(head: bytes, family: str | None) -> None:
    assert sniff_xml_encoding(head + b"rest") == family
    assert sniff_xml_encoding(head[:3]) is None  # too short to tell


def test_ucs2_label_without_bom_is_utf16_in_the_byte_order_of_the_bytes(no_detector: None) -> None:
    text = f'<?xml version="1.0" encoding="ISO-10646-UCS-2"?><rss><channel><title>{CHINESE}</title></channel></rss>'
    decoded = decode_document(text.encode("utf-16-be"))
    assert (decoded.encoding, decoded.source) == ("utf-16-be", "xml-declaration")
    assert decoded.text == text


@pytest.mark.parametrize("codec", ["cp037", "cp500", "cp1140"])
def test_ebcdic_document_is_read_in_the_code_page_it_declares(codec: str, no_detector: None) -> None:
    text = (
        f'<?xml version="1.0" encoding="{codec}"?><rss><channel><title>Ø [Zürich] ¬</title></channel></rss>'
    )
    decoded = decode_document(text.encode(codec))
    assert (decoded.encoding, decoded.source) == (codec, "xml-declaration")
    assert decoded.text == text


def test_gbk_bytes_declared_utf8_are_still_read_as_gbk() -> None:
    body = f'<?xml version="1.0" encoding="utf-8"?><rss><channel><title>{CHINESE}</title></channel></rss>'
    decoded = decode_document(body.encode("gbk"))
    assert decoded.encoding == "gb18030"
    assert CHINESE in decoded.text


@pytest.mark.parametrize(
    "declaration", ['<?xml version="1.0" encoding="UTF-8"?>', "", '<?xml version="1.0"?>']
)
def test_utf8_with_a_cut_character_keeps_the_rest(declaration: str, no_detector: None) -> None:
    # No declaration means UTF-8 in XML. "态" loses its last byte; everything else must come through.
    body = f"{declaration}<rss><title>{CHINESE}</title><p>芯片行业动态</p></rss>".encode().replace(
        "态".encode(), "态".encode()[:2]
    )
    decoded = decode_document(body)
    assert decoded.encoding == "utf-8"
    assert decoded.replaced == 1
    assert decoded.text == f"{declaration}<rss><title>{CHINESE}</title><p>芯片行业动\ufffd</p></rss>"


def test_http_header_used_when_the_document_declares_nothing(no_detector: None) -> None:
    body = f"<rss><channel><title>{CHINESE}</title></channel></rss>".encode("gb18030")
    decoded = decode_document(body, {"Content-Type": "text/xml; charset=GB2312"})
    assert (decoded.encoding, decoded.source) == ("gb18030", "http-header")
    assert CHINESE in decoded.text


def test_html_meta_charset(no_detector: None) -> None:
    page = (
        f'<html><head><meta http-equiv="Content-Type" content="text/html; charset=gbk"></head><body>{CHINESE}'
    )
    decoded = decode_document(page.encode("gbk"), {"content-type": "text/html"}, kind="html")
    assert (decoded.encoding, decoded.source) == ("gb18030", "html-meta")
    assert CHINESE in decoded.text


def test_html_meta_is_ignored_for_xml() -> None:
    page = f'<html><head><meta charset="gbk"></head><body>{CHINESE}'.encode("gbk")
    assert decode_document(page, kind="xml").source == "detected"


def test_ascii_document_reports_its_declaration(no_detector: None) -> None:
    decoded = decode_document(b'<?xml version="1.0" encoding="ISO-8859-1"?><rss/>')
    assert (decoded.encoding, decoded.source, decoded.text) == (
        "cp1252",
        "xml-declaration",
        '<?xml version="1.0" encoding="ISO-8859-1"?><rss/>',
    )
    assert decode_document(b"<rss/>") == encoding.DecodedText("<rss/>", "utf-8", "default")


def test_latin1_label_reads_windows_1252_punctuation(no_detector: None) -> None:
    body = '<?xml version="1.0" encoding="iso-8859-1"?><t>L’été à Paris — «café»</t>'.encode("cp1252")
    decoded = decode_document(body)
    assert "L’été à Paris — «café»" in decoded.text


def test_undeclared_portuguese_is_windows_1252_not_baltic() -> None:
    body = "<rss><channel><title>Últimas Notícias: eleição em São Paulo</title></channel></rss>".encode(
        "cp1252"
    )
    decoded = decode_document(body)
    assert "Últimas Notícias: eleição em São Paulo" in decoded.text


def test_double_encoded_utf8_is_repaired() -> None:
    text = "<t>Kältewelle in Europa: Flüchtlinge – Москва</t>"
    body = text.encode("utf-8").decode("latin-1").encode("utf-8")
    decoded = decode_document(body, {"content-type": "text/xml; charset=utf-8"})
    assert decoded.text == text
    assert decoded.repaired


def test_empty_body() -> None:
    assert decode_document(b"") == encoding.DecodedText("", "utf-8", "default")


@pytest.mark.parametrize(
    "text",
    [
        "CafÃ© au lait",
        "Trumpâ€™s tweet",
        "National â€º Publisher",
        "å¤§å®¶å¥½",  # 大家好 as UTF-8 read as Latin-1
        CHINESE.encode("gbk").decode("latin-1"),
        CHINESE.encode("utf-8").decode("gb18030", errors="replace"),
        "锟斤拷锟斤拷锟斤拷",
        "dash\x96here",  # a windows-1252 byte that went through Latin-1
    ],
)
def test_looks_like_mojibake_catches(text: str) -> None:
    assert looks_like_mojibake(text)


@pytest.mark.parametrize(
    "text",
    [
        "plain ASCII",
        CHINESE,
        "Kältewelle in Europa: Flüchtlinge und Obdachlose",
        "L’été à Paris — «CAFÉ»",
        "SÃO PAULO, ÁGUA, AÇÃO",
        "naïve résumé à\u00a0côté",
        "Торгівля між Росією та Китаєм",
        "建国35周年纪念，华表，和平鸽",
    ],
)
def test_looks_like_mojibake_passes_real_text(text: str) -> None:
    assert not looks_like_mojibake(text)


@pytest.mark.parametrize(
    ("broken", "fixed"),
    [
        ("KÃ¤ltewelle", "Kältewelle"),
        ("National â€º Publisher ’ genuine", "National › Publisher ’ genuine"),
        ("Ð’ ÐœÐ¾Ñ\x81ÐºÐ²Ðµ", "В Москве"),
        ("ÖÐ¹úÐ¾Æ¬", "中国芯片"),
        ("«CAFÉ» stays", "«CAFÉ» stays"),
    ],
)
def test_repair_mojibake(broken: str, fixed: str) -> None:
    assert repair_mojibake(broken) == fixed
