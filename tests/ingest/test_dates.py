from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from pipeline.ingest.dates import CHINA_TZ, event_time, parse_date

T0830_CHINA = datetime(2025, 9, 15, 0, 30, tzinfo=UTC)  # 08:30 in Beijing


@pytest.mark.parametrize(
    ("value", "language", "expected"),
    [
        # RFC 822 / 1123
        ("Mon, 15 Sep 2025 08:30:00 +0800", "en", T0830_CHINA),
        ("Mon, 15 Sep 2025 08:30:00 GMT", "zh", datetime(2025, 9, 15, 8, 30, tzinfo=UTC)),
        ("15 Sep 2025 08:30 -0500", "en", datetime(2025, 9, 15, 13, 30, tzinfo=UTC)),
        ("Mon, 15 Sep 25 08:30:00 EDT", "en", datetime(2025, 9, 15, 12, 30, tzinfo=UTC)),
        ("Mon, 15 Sep 2025 08:30:00 +0800 (CST)", "en", T0830_CHINA),
        ("Seg, 24 Set 2018 19:42:40 -0300", "en", datetime(2018, 9, 24, 22, 42, 40, tzinfo=UTC)),
        # CST: China Standard Time for Chinese feeds, US Central for the others
        ("Mon, 15 Sep 2025 08:30:00 CST", "zh", T0830_CHINA),
        ("Mon, 15 Sep 2025 08:30:00 CST", "zh-CN", T0830_CHINA),
        ("Mon, 15 Sep 2025 08:30:00 CST", "en", datetime(2025, 9, 15, 14, 30, tzinfo=UTC)),
        ("2025-09-15 08:30:00 CST", "zh", T0830_CHINA),
        # ISO 8601
        ("2025-09-15T08:30:00+08:00", "en", T0830_CHINA),
        ("2025-09-15T00:30:00Z", "zh", T0830_CHINA),
        ("2025-09-15T00:30:00.123456Z", "en", datetime(2025, 9, 15, 0, 30, 0, tzinfo=UTC)),
        ("2025-09-15", "en", datetime(2025, 9, 15, tzinfo=UTC)),
        # naive times: China time in Chinese feeds, UTC in English ones
        ("2025-09-15 08:30:00", "zh", T0830_CHINA),
        ("2025-09-15 08:30:00", "en", datetime(2025, 9, 15, 8, 30, tzinfo=UTC)),
        ("2025/9/15 8:30", "zh", T0830_CHINA),
        ("2025/09/15 08:30:05", "en", datetime(2025, 9, 15, 8, 30, 5, tzinfo=UTC)),
        # Chinese formats (China time whatever the feed's language)
        ("2025年9月15日 08:30", "zh", T0830_CHINA),
        ("2025年9月15日 08:30", "en", T0830_CHINA),
        ("2025年9月15日", "zh", datetime(2025, 9, 14, 16, 0, tzinfo=UTC)),
        ("２０２５年９月１５日　０８：３０", "zh", T0830_CHINA),  # full-width digits and colon
        ("2025年09月15日 8时30分", "zh", T0830_CHINA),
        ("北京时间 2025年9月15日 下午4:30", "zh", datetime(2025, 9, 15, 8, 30, tzinfo=UTC)),
        ("发布时间：2025年9月15日 星期一 08:30", "zh", T0830_CHINA),
        # English long form
        ("September 15, 2025 8:30 PM EST", "en", datetime(2025, 9, 16, 1, 30, tzinfo=UTC)),
        ("Sep 15, 2025", "en", datetime(2025, 9, 15, tzinfo=UTC)),
        # Unix timestamps
        ("1757896200", "en", T0830_CHINA),
        ("1757896200000", "zh", T0830_CHINA),
    ],
)
def test_parse_date(value: str, language: str, expected: datetime) -> None:
    parsed = parse_date(value, language=language)
    assert parsed == expected
    assert parsed is not None and parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "   ",
        "刚刚",
        "yesterday",
        "2025-13-45 25:99",
        "Mon, 32 Foo 2025 08:30:00 GMT",
        "31 Feb 2025",
    ],
)
def test_parse_date_gives_none_for_what_it_cannot_read(value: str | None) -> None:
    assert parse_date(value, language="zh") is None


def test_parse_date_defaults_to_english() -> None:
    assert parse_date("2025-09-15 08:30:00") == datetime(2025, 9, 15, 8, 30, tzinfo=UTC)


def test_china_tz_is_utc_plus_8() -> None:
    assert datetime(2025, 1, 1, tzinfo=CHINA_TZ).utcoffset() == timedelta(hours=8)


FIRST_SEEN = datetime(2025, 9, 15, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("published", "expected"),
    [
        (None, FIRST_SEEN),  # missing
        (FIRST_SEEN - timedelta(days=3), FIRST_SEEN - timedelta(days=3)),  # the past is kept
        (FIRST_SEEN + timedelta(minutes=5), FIRST_SEEN + timedelta(minutes=5)),  # within the clock skew
        (FIRST_SEEN + timedelta(minutes=10), FIRST_SEEN + timedelta(minutes=10)),  # skew boundary
        (FIRST_SEEN + timedelta(minutes=11), FIRST_SEEN),  # future-dated item
        (FIRST_SEEN + timedelta(days=365), FIRST_SEEN),
    ],
)
def test_event_time(published: datetime | None, expected: datetime) -> None:
    assert event_time(published, FIRST_SEEN) == expected


def test_event_time_custom_skew_and_zones() -> None:
    published = datetime(2025, 9, 15, 21, 0, tzinfo=timezone(timedelta(hours=8)))  # 13:00 UTC
    assert event_time(published, FIRST_SEEN) == FIRST_SEEN
    assert event_time(published, FIRST_SEEN, skew=timedelta(hours=2)) == datetime(2025, 9, 15, 13, tzinfo=UTC)
    assert event_time(published, FIRST_SEEN, skew=timedelta(hours=2)).tzinfo is UTC


def test_event_time_takes_naive_values_as_utc() -> None:
    assert event_time(datetime(2025, 9, 15, 11, 0), datetime(2025, 9, 15, 12, 0)) == datetime(
        2025, 9, 15, 11, 0, tzinfo=UTC
    )
