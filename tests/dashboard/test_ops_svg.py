"""The operations charts' SVG, drawn on the server: the path through the values, the scale's ceiling, and the
chart with a point for each value, its tooltip and its text escaped."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from baton.api.dashboard.ops_svg import Series, line_chart, nice_ceiling, path_of
from baton.model.metrics import LATENCY_BOUNDS_MS
from baton.service.metrics import percentile_of_buckets

SVG = "{http://www.w3.org/2000/svg}"


def test_a_path_runs_through_each_value_from_the_bottom_up_to_the_ceiling() -> None:
    assert path_of([0, 5, 10], width=100, height=50, ceiling=10) == "M0 50 L50 25 L100 0"


def test_a_missing_value_breaks_the_line_and_the_next_one_starts_another() -> None:
    assert path_of([1, None, 2, 2], width=30, height=10, ceiling=2) == "M0 5 M20 0 L30 0"


def test_values_beyond_the_box_are_clamped_and_a_single_value_sits_at_the_left() -> None:
    assert path_of([-3, 40], width=10, height=10, ceiling=20) == "M0 10 L10 0"
    assert path_of([1.5], width=10, height=10, ceiling=3) == "M0 5"
    assert path_of([], width=10, height=10, ceiling=3) == ""
    assert path_of([None, None], width=10, height=10, ceiling=3) == ""


def test_the_ceiling_is_the_next_one_two_or_five() -> None:
    assert [nice_ceiling(v) for v in (0, 0.5, 1, 1.01, 2, 3, 7, 10, 11, 26, 501)] == [
        1, 1, 1, 2, 2, 5, 10, 10, 20, 50, 1000,
    ]  # fmt: skip


def test_a_chart_has_a_line_per_series_and_a_point_per_value_with_its_tooltip() -> None:
    labels = [f"12:{minute:02d}" for minute in range(60)]
    started = [0.0] * 59 + [3.0]
    p99: list[float | None] = [None] * 58 + [20.0, 50.0]
    svg = line_chart(
        "Runs <per> minute",
        [Series("started", "Started", started), Series("p99", "p99 & more", p99)],
        labels,
        "{:g} ms",
    )
    root = ET.fromstring(str(svg))
    assert root.get("role") == "img" and root.get("aria-label") == "Runs <per> minute"
    paths = {path.get("class"): path.get("d") for path in root.iter(f"{SVG}path")}
    assert set(paths) == {"line series-started", "line series-p99"}
    assert paths["line series-p99"].count("M") == 1 and paths["line series-p99"].count("L") == 1
    points = list(root.iter(f"{SVG}circle"))
    assert len(points) == 60 + 2
    last = [p for p in points if p.get("data-series") == "started"][-1]
    assert last.get("data-label") == "12:59" and last.get("data-value") == "3"
    tooltip = last.find(f"{SVG}title")
    assert tooltip is not None and tooltip.text == "Started at 12:59: 3 ms"
    highest = [p for p in points if p.get("data-series") == "p99"][-1]
    assert highest.get("cy") == "0"  # 50 is the ceiling: the top of the box
    axis = [text.text for text in root.iter(f"{SVG}text")]
    assert "50 ms" in axis and "0 ms" in axis and "12:00" in axis and "12:50" in axis
    assert not re.search(r"<per>|& more", str(svg))


def test_a_percentile_is_the_bound_of_the_bucket_it_falls_in() -> None:
    assert percentile_of_buckets({}, 0.5) is None
    counts = {0: 50, 3: 45, 8: 4, len(LATENCY_BOUNDS_MS): 1}
    assert percentile_of_buckets(counts, 0.50) == LATENCY_BOUNDS_MS[0]
    assert percentile_of_buckets(counts, 0.95) == LATENCY_BOUNDS_MS[3]
    assert percentile_of_buckets(counts, 0.99) == LATENCY_BOUNDS_MS[8]
    assert percentile_of_buckets(counts, 1.0) == LATENCY_BOUNDS_MS[-1]
