"""Server-rendered SVG charts for admin pages: geometry computed here, drawn by the templates in
``templates/admin/sync/charts/``. Nothing is fetched from a CDN; the page works without JavaScript."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

PALETTE = ("#2f6fb0", "#e0803a", "#3a9d5d", "#b0413e", "#7d5ba6", "#8c6d31", "#c25fa5", "#5a8f9e")
WIDTH, HEIGHT, LEFT, BOTTOM = 640, 180, 36, 18


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    color: str
    title: str


@dataclass(frozen=True)
class Line:
    label: str
    color: str
    points: str  # "x,y x,y …" for <polyline>
    dots: list[tuple[float, float, str]]  # (x, y, title)


@dataclass(frozen=True)
class Tick:
    x: float
    y: float
    text: str


@dataclass
class Chart:
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    bottom: int = BOTTOM
    rects: list[Rect] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)  # (label, color)
    x_ticks: list[Tick] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    empty: bool = True

    @property
    def plot_bottom(self) -> int:
        return self.height - self.bottom

    @property
    def total_height(self) -> int:
        return self.height + 4


def _scale_top(value: float) -> float:
    """A round axis maximum at or above ``value`` (1, 2, 5 × 10ⁿ)."""
    if value <= 0:
        return 1.0
    step = 1.0
    while step * 10 <= value:
        step *= 10
    for factor in (1, 2, 5, 10):
        if step * factor >= value:
            return step * factor
    return step * 10


def _number(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"


# How a slot is labelled: days by default; hourly charts (the system health page) pass "%H:00".
DAY_FORMAT = "%d %b"


def _axes(chart: Chart, days: Sequence[date], top: float, slot: float, fmt: str = DAY_FORMAT) -> None:
    plot = chart.plot_bottom
    for n in range(3):
        value = top * n / 2
        chart.y_ticks.append(Tick(x=chart.left - 4, y=plot - (plot - 6) * n / 2, text=_number(value)))
    every = max(1, len(days) // 7)
    for n, day in enumerate(days):
        if n % every == 0:
            chart.x_ticks.append(
                Tick(x=chart.left + slot * (n + 0.5), y=chart.height - 4, text=day.strftime(fmt))
            )


def stacked_bars(
    days: Sequence[date], series: Mapping[str, Sequence[float]], *, unit: str = "", fmt: str = DAY_FORMAT
) -> Chart:
    """One bar per day, stacked by series (leads per day by source)."""
    chart = Chart()
    totals = [sum(values[n] for values in series.values()) for n in range(len(days))]
    top = _scale_top(max(totals, default=0))
    slot = (chart.width - chart.left) / max(1, len(days))
    plot = chart.plot_bottom
    scale = (plot - 6) / top
    chart.legend = [(label, PALETTE[n % len(PALETTE)]) for n, label in enumerate(series)]
    for n, day in enumerate(days):
        y = float(plot)
        for (label, color), values in zip(chart.legend, series.values(), strict=True):
            value = values[n]
            if not value:
                continue
            height = value * scale
            y -= height
            chart.rects.append(
                Rect(
                    x=round(chart.left + slot * n + slot * 0.15, 1),
                    y=round(y, 1),
                    width=round(slot * 0.7, 1),
                    height=round(height, 1),
                    color=color,
                    title=f"{day.strftime(fmt)}: {label} {_number(value)}{unit}",
                )
            )
    chart.empty = not any(totals)
    _axes(chart, days, top, slot, fmt)
    return chart


def lines(days: Sequence[date], series: Mapping[str, Sequence[float]], *, fmt: str = DAY_FORMAT) -> Chart:
    """One line per series over the days (sessions and conversions per day)."""
    chart = Chart()
    top = _scale_top(max((v for values in series.values() for v in values), default=0))
    slot = (chart.width - chart.left) / max(1, len(days))
    plot = chart.plot_bottom
    scale = (plot - 6) / top
    for n, (label, values) in enumerate(series.items()):
        color = PALETTE[n % len(PALETTE)]
        dots = [
            (
                round(chart.left + slot * (i + 0.5), 1),
                round(plot - v * scale, 1),
                f"{days[i].strftime(fmt)}: {label} {_number(v)}",
            )
            for i, v in enumerate(values)
        ]
        chart.lines.append(
            Line(label=label, color=color, points=" ".join(f"{x},{y}" for x, y, _ in dots), dots=dots)
        )
        chart.legend.append((label, color))
    chart.empty = not any(v for values in series.values() for v in values)
    _axes(chart, days, top, slot, fmt)
    return chart


def bars(rows: Sequence[tuple[str, float, str]]) -> Chart:
    """Horizontal bars, one per (label, value, text) row (cost per lead, conversion by source)."""
    chart = Chart(height=max(40, 26 * len(rows) + 8), left=180, bottom=0)
    top = max((value for _label, value, _text in rows), default=0) or 1
    span = chart.width - chart.left - 90
    for n, (label, value, text) in enumerate(rows):
        color = PALETTE[n % len(PALETTE)]
        chart.rects.append(
            Rect(
                x=chart.left,
                y=n * 26 + 4,
                width=round(max(1.0, span * value / top), 1),
                height=18,
                color=color,
                title=text,
            )
        )
        chart.y_ticks.append(Tick(x=chart.left - 6, y=n * 26 + 17, text=label[:32]))
        chart.x_ticks.append(Tick(x=chart.left + span * value / top + 6, y=n * 26 + 17, text=text))
    chart.empty = not rows
    return chart
