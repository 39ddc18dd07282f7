"""Dates as feeds write them, to UTC.

Understood: RFC 822/1123 (``Mon, 15 Sep 2025 08:30:00 +0800``), ISO 8601, ``2025-09-15 08:30:00``,
``2025/9/15 8:30``, ``Sep 15, 2025 8:30 PM``, Chinese ``2025年9月15日 08:30`` (also with 上午/下午 and
北京时间), and Unix timestamps. A time without a zone is China time in a Chinese feed (or when the date
itself is written in Chinese) and UTC otherwise; ``CST`` is China Standard Time there too, and US
Central Standard Time in other feeds.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

from pipeline.text import HAN_RE

CHINA_TZ = ZoneInfo("Asia/Shanghai")

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",),
            ("jun", "june"), ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"),
            ("oct", "october"), ("nov", "november"), ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}  # fmt: skip
# Abbreviations European feeds use that English does not (none collides with an English one).
_MONTHS.update(
    {
        "ene": 1, "gen": 1, "janv": 1, "fev": 2, "fév": 2, "févr": 2, "mär": 3, "mrz": 3, "abr": 4,
        "avr": 4, "mai": 5, "mag": 5, "juin": 6, "giu": 6, "juil": 7, "lug": 7, "ago": 8, "aoû": 8,
        "set": 9, "okt": 10, "out": 10, "ott": 10, "dez": 12, "dic": 12, "déc": 12,
    }
)  # fmt: skip

# Zone abbreviations seen in feeds, in hours east of UTC. "CST" is decided by the feed's language.
_ZONES: dict[str, float] = {
    "UT": 0, "UTC": 0, "GMT": 0, "Z": 0, "WET": 0,
    "EST": -5, "EDT": -4, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
    "AKST": -9, "AKDT": -8, "HST": -10,
    "BST": 1, "CET": 1, "CEST": 2, "MET": 1, "MEST": 2, "WEST": 1, "EET": 2, "EEST": 3, "MSK": 3,
    "IST": 5.5, "SGT": 8, "HKT": 8, "BJT": 8, "CCT": 8, "AWST": 8, "JST": 9, "KST": 9,
    "AEST": 10, "AEDT": 11, "NZST": 12, "NZDT": 13,
}  # fmt: skip
_US_CENTRAL = timezone(timedelta(hours=-6), "CST")

_ZONE = r"(?P<zone>Z|[+-]\d{2}(?::?\d{2})?|(?:GMT|UTC)[+-]\d{1,2}(?::?\d{2})?|[A-Za-z]{1,5})"
_RFC822_RE = re.compile(
    r"^(?:[^\W\d_]{2,9}\.?,?\s*)?(?P<day>\d{1,2})[\s-]+(?P<month>[^\W\d_]{3,9})\.?,?[\s-]+(?P<year>\d{2,4})"
    r"(?:[\sT,]+(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.\d+)?)?)?"
    rf"\s*(?:{_ZONE})?\s*(?:\([^)]*\))?$"
)
_US_RE = re.compile(
    r"^(?:[A-Za-z]{2,9}\.?,?\s+)?(?P<month>[A-Za-z]{3,9})\.?\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<year>\d{4})"
    r"(?:(?:\s+|\s*,\s*|\s+at\s+)(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?"
    r"\s*(?P<ampm>[AaPp]\.?[Mm]\.?)?)?"
    rf"\s*(?:{_ZONE})?$"
)
_NUMERIC_RE = re.compile(
    r"^(?P<year>\d{4})[-/.](?P<month>\d{1,2})[-/.](?P<day>\d{1,2})"
    r"(?:(?:T|\s+)(?P<hour>\d{1,2}):(?P<minute>\d{1,2})(?::(?P<second>\d{1,2})(?:[.,]\d+)?)?)?"
    rf"\s*(?:{_ZONE})?$"
)
_CHINESE_RE = re.compile(
    r"(?P<year>\d{4})\s*年\s*(?P<month>\d{1,2})\s*月\s*(?P<day>\d{1,2})\s*[日号]?"
    r"(?:\s*(?:星期|周|礼拜)[一二三四五六日天])?"
    r"(?:\s*(?P<period>凌晨|早上|上午|中午|下午|晚上)?\s*(?P<hour>\d{1,2})\s*[:时點点]\s*(?P<minute>\d{1,2})?"
    r"\s*(?:[:分]\s*(?P<second>\d{1,2})\s*秒?)?)?"
)
_CHINA_TIME_RE = re.compile(r"北京时间|北京時間")
_EPOCH_RE = re.compile(r"^\d{10}(?:\d{3})?$")


def _is_chinese(language: str) -> bool:
    return language.lower().startswith("zh")


def _zone(name: str | None, chinese: bool) -> tzinfo | None:
    """The zone a token names; None when there is none; raises ValueError for an unknown token."""
    if not name:
        return None
    upper = name.upper()
    if upper == "CST":
        return CHINA_TZ if chinese else _US_CENTRAL
    if upper in _ZONES:
        return timezone(timedelta(hours=_ZONES[upper]))
    offset = upper.removeprefix("GMT").removeprefix("UTC")
    match = re.fullmatch(r"([+-])(\d{1,2})(?::?(\d{2}))?", offset)
    if not match:
        raise ValueError(f"unknown zone {name!r}")
    minutes = int(match.group(2)) * 60 + int(match.group(3) or 0)
    if minutes > 18 * 60:
        raise ValueError(f"offset out of range {name!r}")
    return timezone(timedelta(minutes=minutes if match.group(1) == "+" else -minutes))


def _year(text: str) -> int:
    year = int(text)
    if len(text) == 2:
        year += 2000 if year < 50 else 1900
    return year


def _build(fields: dict[str, str | None], month: int, chinese: bool, naive_tz: tzinfo) -> datetime:
    hour = int(fields.get("hour") or 0)
    period = fields.get("ampm") or fields.get("period")
    if period:
        afternoon = period in ("下午", "晚上") or period[0] in "Pp"
        if afternoon and hour < 12:
            hour += 12
        elif (period[0] in "Aa" or period in ("凌晨", "早上", "上午")) and hour == 12:
            hour = 0
    moment = datetime(
        _year(fields["year"] or ""),
        month,
        int(fields["day"] or ""),
        hour,
        int(fields.get("minute") or 0),
        int(fields.get("second") or 0),
    )
    tz = _zone(fields.get("zone"), chinese) or naive_tz
    return moment.replace(tzinfo=tz)


def _parse(text: str, chinese: bool) -> datetime | None:
    naive_tz: tzinfo = CHINA_TZ if chinese else UTC
    if _EPOCH_RE.match(text):
        seconds = int(text) / (1000 if len(text) == 13 else 1)
        return datetime.fromtimestamp(seconds, UTC)
    match = _NUMERIC_RE.match(text)
    if match:
        return _build(match.groupdict(), int(match["month"]), chinese, naive_tz)
    match = _RFC822_RE.match(text) or _US_RE.match(text)
    if match:
        month = _MONTHS.get(match["month"].lower())
        return _build(match.groupdict(), month, chinese, naive_tz) if month else None
    if HAN_RE.search(text):
        match = _CHINESE_RE.search(text)
        if match:
            # A date written in Chinese is China time, whatever the feed's language says.
            return _build(match.groupdict(), int(match["month"]), True, CHINA_TZ)
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=naive_tz)


def parse_date(value: str | None, *, language: str = "en") -> datetime | None:
    """A feed's date string as an aware UTC datetime, or None when it is missing or not understood."""
    if not value:
        return None
    text = unicodedata.normalize("NFKC", value).strip()
    if not text:
        return None
    chinese = _is_chinese(language)
    if _CHINA_TIME_RE.search(text):
        chinese = True
        text = _CHINA_TIME_RE.sub(" ", text).strip(" ()[]")
    try:
        moment = _parse(text, chinese)
        return moment.astimezone(UTC) if moment is not None else None
    except (ValueError, OverflowError, OSError):
        return None


def event_time(
    published: datetime | None, first_seen: datetime, *, skew: timedelta = timedelta(minutes=10)
) -> datetime:
    """When an item happened, for windows and ordering: ``published``, unless it is missing or later than
    ``first_seen + skew`` (a feed that dates items in the future), in which case ``first_seen``.

    Naive datetimes are taken as UTC; the result is UTC.
    """
    seen = first_seen if first_seen.tzinfo else first_seen.replace(tzinfo=UTC)
    if published is None:
        return seen.astimezone(UTC)
    when = published if published.tzinfo else published.replace(tzinfo=UTC)
    if when > seen + skew:
        return seen.astimezone(UTC)
    return when.astimezone(UTC)
