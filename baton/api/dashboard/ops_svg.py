"""Line charts drawn on the server as SVG: no chart library, no script. ``path_of`` turns values into an SVG path;
``line_chart`` draws a few such lines over a shared scale, with their points (each with its value as a tooltip).

The colours come from ``operations.css`` by class (``series-<name>``), so light and dark both read well.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 720
HEIGHT = 220
LEFT = 52
RIGHT = 12
TOP = 12
BOTTOM = 28
GRID_LINES = 5
LABEL_EVERY = 10


@dataclass(frozen=True, slots=True)
class Series:
    """One line: ``name`` its CSS class (``series-<name>``), ``label`` what the legend says, one value a point
    (None: no value there, the line breaks)."""

    name: str
    label: str
    values: Sequence[float | None]


def _number(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def path_of(values: Sequence[float | None], *, width: float, height: float, ceiling: float) -> str:
    """SVG path data through the values: the i-th at x = i * width / (n - 1) (one value: x = 0), y from ``height``
    (0) up to 0 (``ceiling``), clamped to the box; a None ends the line and the next value starts another."""
    step = width / (len(values) - 1) if len(values) > 1 else 0.0
    parts: list[str] = []
    move = True
    for index, value in enumerate(values):
        if value is None:
            move = True
            continue
        share = min(max(value / ceiling, 0.0), 1.0) if ceiling > 0 else 0.0
        parts.append(f"{'M' if move else 'L'}{_number(index * step)} {_number(height - share * height)}")
        move = False
    return " ".join(parts)


def nice_ceiling(highest: float) -> float:
    """The smallest of 1, 2, 5, 10, 20, 50, ... at or above ``highest`` (1 for nothing above 0)."""
    ceiling = 1.0
    while ceiling < highest:
        for factor in (2.0, 2.5, 2.0):
            ceiling *= factor
            if ceiling >= highest:
                break
    return ceiling


def line_chart(title: str, series: Sequence[Series], labels: Sequence[str], format_value: str = "{:g}") -> Markup:
    """An SVG of ``series`` over ``labels`` (one a point, every ``LABEL_EVERY``-th written under the axis), its
    title read to screen readers; ``format_value`` writes a value in the axis and the tooltips."""
    inner_width, inner_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    highest = max((v for line in series for v in line.values if v is not None), default=0.0)
    ceiling = nice_ceiling(highest)
    count = len(labels)
    step = inner_width / (count - 1) if count > 1 else 0.0
    out = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        'xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<g transform="translate({LEFT} {TOP})">',
    ]
    for grid_line in range(GRID_LINES + 1):
        written = escape(format_value.format(ceiling * grid_line / GRID_LINES))
        y = _number(inner_height - inner_height * grid_line / GRID_LINES)
        out.append(f'<line class="grid" x1="0" x2="{inner_width}" y1="{y}" y2="{y}"/>')
        out.append(f'<text class="axis" x="-6" y="{y}" text-anchor="end" dy="4">{written}</text>')
    for index in range(0, count, LABEL_EVERY):
        x = _number(index * step)
        out.append(
            f'<text class="axis" x="{x}" y="{inner_height + 18}" text-anchor="middle">{escape(labels[index])}</text>'
        )
    for line in series:
        data = path_of(line.values, width=inner_width, height=inner_height, ceiling=ceiling)
        out.append(f'<path class="line series-{escape(line.name)}" d="{data}"/>')
        for index, value in enumerate(line.values):
            if value is None:
                continue
            x = _number(index * step)
            y = _number(inner_height - min(value / ceiling, 1.0) * inner_height)
            shown = escape(format_value.format(value))
            out.append(
                f'<circle class="point series-{escape(line.name)}" cx="{x}" cy="{y}" r="2.5" '
                f'data-series="{escape(line.name)}" data-label="{escape(labels[index])}" data-value="{_number(value)}">'
                f"<title>{escape(line.label)} at {escape(labels[index])}: {shown}</title></circle>"
            )
    out.append("</g></svg>")
    return Markup("".join(out))
