"""The watch-list file: the default content, alias lookup, and errors that name the file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config.watchlist import Watchlist
from pipeline.errors import ConfigError
from pipeline.settings import PROJECT_ROOT

DEFAULT = PROJECT_ROOT / "config" / "watchlist.yaml"

GUIDE_COMPANIES = {
    "Alibaba", "Baidu", "Tencent", "ByteDance", "Huawei", "Xiaomi", "JD.com", "Meituan", "Kuaishou", "NetEase",
    "Lenovo", "OPPO", "vivo", "Google", "Amazon", "Microsoft", "Meta", "Apple", "OpenAI", "Tesla",
}  # fmt: skip


@pytest.fixture(scope="module")
def default() -> Watchlist:
    return Watchlist.load(DEFAULT)


def test_default_watchlist_has_the_guides_companies(default: Watchlist) -> None:
    assert {c.name for c in default.companies} == GUIDE_COMPANIES
    assert {c.region for c in default.companies} == {"CN", "US"}
    alibaba = default.company("Alibaba")
    assert alibaba is not None and {"BABA", "9988.HK"} <= set(alibaba.tickers)
    assert "T-Head" in alibaba.chip_units
    tencent = default.company("Tencent")
    assert tencent is not None and "0700.HK" in tencent.tickers
    assert {c.name for c in default.chip_companies} >= {"Nvidia", "TSMC", "Enflame", "Cambricon", "Broadcom"}
    assert {c.name for c in default.chips} >= {"Hanguang 800", "TPU", "Trainium", "Maia", "MTIA", "Kunlun"}


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("平头哥", "Alibaba"),
        ("t-head", "Alibaba"),
        ("达摩院", "Alibaba"),
        ("昆仑芯", "Baidu"),
        ("HiSilicon", "Huawei"),
        ("海思", "Huawei"),
        ("TikTok", "ByteDance"),
        ("字节跳动", "ByteDance"),
        ("AWS", "Amazon"),
        ("Annapurna Labs", "Amazon"),
        ("Alphabet", "Google"),
        ("GOOGL", "Google"),
        ("9988.hk", "Alibaba"),
        ("Facebook", "Meta"),
        ("哲库", "OPPO"),
    ],
)
def test_company_lookup_by_alias(default: Watchlist, alias: str, canonical: str) -> None:
    company = default.company(alias)
    assert company is not None and company.name == canonical


def test_unknown_company_is_none(default: Watchlist) -> None:
    assert default.company("Nvidia") is None
    assert default.chip_company("英伟达") is not None


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "watchlist.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("companies:\n  - name: A\n    region: CN\n    alias: [x]\n", "unknown key"),
        ("companies:\n  - name: A\n    region: CN\n  - name: B\n    region: XX\n", "region"),
        (
            "companies:\n  - name: A\n    region: CN\n    aliases: [x]\n  - name: B\n    region: US\n    aliases: [X]\n",
            "already names",
        ),
        (
            "companies:\n  - name: A\n    region: CN\nchips:\n  - name: C\n    owner: Nobody\n    aliases: [c1]\n",
            "owner",
        ),
        (
            "companies:\n  - name: A\n    region: CN\nchips:\n  - name: C\n    owner: A\n    patterns:\n"
            "      - {regex: 'TPU(', name: C}\n",
            "invalid regular expression",
        ),
        ("companies:\n  - region: CN\n", "'name'"),
        ("companies: []\n", "at least one"),
        ("- just a list\n", "top level"),
        ("companies:\n  - name: A\n    region: CN\n    aliases: [\n", "invalid YAML"),
    ],
)
def test_invalid_files_name_file_and_entry(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        Watchlist.load(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_error_names_the_line(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "companies:\n  - name: A\n    region: CN\n  - name: B\n    region: CN\n    bogus: 1\n"
    )
    with pytest.raises(ConfigError, match=r"name='B', line 4"):
        Watchlist.load(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        Watchlist.load(tmp_path / "nope.yaml")


def test_content_hash_changes_with_content(tmp_path: Path) -> None:
    a = Watchlist.load(_write(tmp_path, "companies:\n  - {name: A, region: CN, aliases: [a1]}\n"))
    b = Watchlist.load(_write(tmp_path, "companies:\n  - {name: A, region: CN, aliases: [a2]}\n"))
    assert a.content_hash != b.content_hash
