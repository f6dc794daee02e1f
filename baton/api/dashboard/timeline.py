"""A run's steps as a timeline: one bar per task, from when it was scheduled to when it ended, on one time axis.

The template draws the rows as SVG (``x``/``width`` attributes, no inline style, no script). The axis runs from the
earliest task's scheduled time to the latest time the run's tasks know of or, while the run goes on, to the moment
it is drawn (a running task's bar reaches it). One pass over the tasks: a 500-step run costs 500 rows and nothing
more.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from baton.model import Task

LABEL_WIDTH = 190
"""Room for the reference name left of the bars."""
BAR_AREA = 560
"""The width the whole run's span is drawn in."""
TEXT_WIDTH = 90
"""Room for the duration right of the bars."""
ROW_HEIGHT = 20
MIN_BAR = 2
"""A task shorter than a pixel still shows."""


@dataclass(frozen=True, slots=True)
class Bar:
    y: float
    task_id: str
    ref: str
    status: str
    x: float
    width: float
    duration: str
    """The task's time as text: ``1.2 s``, ``running`` while it has no end."""


@dataclass(slots=True)
class Timeline:
    bars: list[Bar] = field(default_factory=list)
    span: str = ""
    """The axis's length as text."""
    width: int = LABEL_WIDTH + BAR_AREA + TEXT_WIDTH
    height: int = 0
    label_width: int = LABEL_WIDTH
    row_height: int = ROW_HEIGHT


def duration_text(milliseconds: int) -> str:
    seconds = milliseconds / 1000
    if seconds < 1:
        return f"{milliseconds} ms"
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _began(task: Task) -> int:
    return task.scheduled_time or task.start_time or task.update_time


def timeline(tasks: list[Task], now: int = 0) -> Timeline:
    """The tasks in their order (``seq``), each a bar on the axis of the whole run; ``now`` (epoch ms) for a run
    that goes on, where the axis ends."""
    drawn = [task for task in tasks if _began(task)]
    result = Timeline(height=ROW_HEIGHT * len(drawn) + 4)
    if not drawn:
        return result
    first = min(_began(task) for task in drawn)
    last = max(now, *(max(task.end_time, task.update_time, task.start_time, _began(task)) for task in drawn))
    span = max(last - first, 1)
    result.span = duration_text(last - first)
    scale = BAR_AREA / span
    for row, task in enumerate(sorted(drawn, key=lambda t: t.seq)):
        began = _began(task)
        ended = task.end_time if task.end_time and task.status.is_terminal else last
        x = LABEL_WIDTH + (began - first) * scale
        width = max((max(ended, began) - began) * scale, MIN_BAR)
        result.bars.append(
            Bar(
                y=row * ROW_HEIGHT + 2,
                task_id=task.task_id,
                ref=task.reference_task_name,
                status=task.status.value,
                x=round(x, 1),
                width=round(width, 1),
                duration=duration_text(ended - began) + ("" if task.status.is_terminal else " so far"),
            )
        )
    return result
