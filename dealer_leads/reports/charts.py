"""Charts drawn on the server as SVG: pure functions from numbers to markup, nothing loaded."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

BAR = 22  # px per bar row
LABEL_WIDTH = 150
VALUE_WIDTH = 70
WIDTH = 560
COLOURS = ("#2563eb", "#0891b2", "#16a34a", "#ca8a04", "#dc2626")


def _text(x: float, y: float, value: str, anchor: str = "start", css: str = "") -> str:
    klass = f' class="{css}"' if css else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{klass}>{escape(value)}</text>'


def bar_chart(
    rows: Sequence[tuple[str, float | None]], *, title: str, unit: str = "", colour: int = 0
) -> Markup:
    """Horizontal bars, one per (label, value); a value of None draws no bar and says "—"."""
    height = BAR * max(1, len(rows)) + 8
    plot = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    top = max((value for _label, value in rows if value), default=0) or 1
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for index, (label, value) in enumerate(rows):
        y = 4 + index * BAR
        parts.append(_text(LABEL_WIDTH - 6, y + 15, _short(label), "end"))
        if value:
            width = max(1.0, plot * value / top)
            parts.append(
                f'<rect x="{LABEL_WIDTH}" y="{y + 3}" width="{width:.1f}" height="{BAR - 6}" '
                f'rx="2" fill="{COLOURS[colour % len(COLOURS)]}"/>'
            )
        shown = "—" if value is None else f"{_number(value)}{unit}"
        parts.append(_text(WIDTH - VALUE_WIDTH + 6, y + 15, shown, css="value"))
    parts.append("</svg>")
    return Markup("".join(parts))


def funnel_chart(stages: Sequence[tuple[str, int]], *, title: str) -> Markup:
    """The funnel as bars narrowing stage by stage, each with its count."""
    return bar_chart([(label, float(count)) for label, count in stages], title=title, colour=2)


def column_chart(
    columns: Sequence[tuple[str, float | None]], *, title: str, unit: str = ""
) -> Markup:
    """Vertical columns (24 hours of the day, say), labels under every third column."""
    height, bottom, left = 180, 30, 8
    step = (WIDTH - 2 * left) / max(1, len(columns))
    top = max((value for _label, value in columns if value), default=0) or 1
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        _text(left, 12, f"highest: {_number(top)}{unit}", css="value"),
    ]
    plot = height - bottom - 20
    for index, (label, value) in enumerate(columns):
        x = left + index * step
        if value:
            bar = max(1.0, plot * value / top)
            parts.append(
                f'<rect x="{x + 2:.1f}" y="{height - bottom - bar:.1f}" width="{step - 4:.1f}" '
                f'height="{bar:.1f}" fill="{COLOURS[1]}"><title>{escape(label)}: '
                f"{_number(value)}{escape(unit)}</title></rect>"
            )
        if index % 3 == 0:
            parts.append(_text(x + step / 2, height - bottom + 16, label, "middle"))
    parts.append("</svg>")
    return Markup("".join(parts))


def progress_bar(actual: int, target: int | None, *, label: str) -> Markup:
    """A bar filled to actual/target (capped at the end, the figure says how far past)."""
    if not target:
        return Markup("")
    share = min(1.0, actual / target)
    colour = COLOURS[2] if actual >= target else COLOURS[0]
    return Markup(
        f'<svg class="progress" viewBox="0 0 200 12" preserveAspectRatio="none" role="img" '
        f'aria-label="{escape(label)}: {actual} of {target}" xmlns="http://www.w3.org/2000/svg">'
        f'<rect width="200" height="12" rx="3" fill="#e5e7eb"/>'
        f'<rect width="{200 * share:.1f}" height="12" rx="3" fill="{colour}"/></svg>'
    )


def _number(value: float) -> str:
    return f"{value:.0f}" if value >= 10 or float(value).is_integer() else f"{value:.1f}"


def _short(label: str, limit: int = 22) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"
