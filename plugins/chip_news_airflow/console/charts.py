"""The feeds page's week chart: one bar per day, its height the items fetched, its colour the outcome."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chip_news_airflow.console.views import FeedDayOut

WIDTH, HEIGHT = 154, 36
GAP = 4


@dataclass(frozen=True)
class Bar:
    x: int
    y: int
    width: int
    height: int
    tone: str  # none (no attempt), ok, partial (some attempts failed), failed (all failed)
    title: str


@dataclass(frozen=True)
class WeekChart:
    width: int
    height: int
    bars: tuple[Bar, ...]
    label: str


def _tone(day: FeedDayOut) -> str:
    if day.attempts == 0:
        return "none"
    if day.failures == 0:
        return "ok"
    return "failed" if day.failures == day.attempts else "partial"


def week_chart(days: Sequence[FeedDayOut]) -> WeekChart:
    """Bars scaled to the busiest day; a day whose every attempt failed is a full-height alarm bar."""
    width = (WIDTH - GAP * (len(days) - 1)) // max(len(days), 1)
    most = max((d.items for d in days), default=0)
    bars = []
    for i, day in enumerate(days):
        tone = _tone(day)
        if tone == "failed":
            height = HEIGHT
        elif tone == "none":
            height = 1
        else:
            height = max(3, round(HEIGHT * day.items / most)) if most else 3
        title = (
            f"{day.day.isoformat()}: {day.attempts} runs, {day.failures} failed, "
            f"{day.items} items ({day.new_items} new)"
        )
        bars.append(Bar(i * (width + GAP), HEIGHT - height, width, height, tone, title))
    failed_days = sum(1 for b in bars if b.tone in ("failed", "partial"))
    label = f"last {len(days)} days: {sum(d.items for d in days)} items, failures on {failed_days} days"
    return WeekChart(WIDTH, HEIGHT, tuple(bars), label)
