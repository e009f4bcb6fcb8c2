"""The report's two charts as inline SVG: the Gantt timeline and the slots busy under it.

One row per task, grouped under its phase; one bar per attempt, coloured by how
it ended (CSS classes, styled by ``timeline.page``), a dotted line across the
wait before a retry, the critical path's bars outlined and its labels in bold,
a cross where a task was skipped. Every mark carries a ``<title>``, which
browsers show on hover, so no script is needed. Rows get shorter as tasks get
more numerous (20 px up to 60 tasks, 11 px past 300): a 1,000-task run is a
page that scrolls under a sticky time axis, not a blur.
"""

from __future__ import annotations

import math
from html import escape

from plan_tasks.timeline.model import Bar, Row, Timeline

LABEL_WIDTH = 300  # px for "id title" left of the bars
CHART_WIDTH = 880  # px for the run's duration
PHASE_HEIGHT = 22
AXIS_HEIGHT = 24
CONCURRENCY_HEIGHT = 110


def row_height(rows: int) -> tuple[int, int]:
    """Row height and font size (px) for a run of ``rows`` tasks."""
    if rows <= 60:
        return 20, 12
    if rows <= 300:
        return 14, 10
    return 11, 9


def format_seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} m {int(seconds % 60):02d} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} m"


def tick_step(duration: float, wanted: int = 8) -> float:
    """A round step (1, 2 or 5 times a power of ten seconds) giving about ``wanted`` ticks."""
    raw = max(duration, 1e-3) / wanted
    power = 10 ** math.floor(math.log10(raw))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= raw)


class Scale:
    """Seconds from the run's start to x pixels."""

    def __init__(self, duration: float) -> None:
        self.duration = max(duration, 1e-3)

    def x(self, seconds: float) -> float:
        return round(LABEL_WIDTH + CHART_WIDTH * min(max(seconds, 0.0), self.duration) / self.duration, 1)


def axis(timeline: Timeline) -> str:
    """The time axis, an SVG of its own (the page keeps it in view while the rows scroll)."""
    scale, step = Scale(timeline.duration), tick_step(timeline.duration)
    parts = [f'<svg class="axis" width="{LABEL_WIDTH + CHART_WIDTH + 20}" height="{AXIS_HEIGHT}" role="img" '
             f'aria-label="time since the run started">']
    for index in range(int(timeline.duration / step) + 1):
        x = scale.x(index * step)
        parts.append(f'<line x1="{x}" x2="{x}" y1="16" y2="{AXIS_HEIGHT}"/>'
                     f'<text x="{x}" y="12" text-anchor="middle">{escape(format_seconds(index * step))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def gantt(timeline: Timeline) -> str:
    """Phases and their rows, one bar per attempt."""
    rows = timeline.rows
    height, font = row_height(len(rows))
    scale, step = Scale(timeline.duration), tick_step(timeline.duration)
    total = len(timeline.phases) * PHASE_HEIGHT + len(rows) * height + 4
    width = LABEL_WIDTH + CHART_WIDTH + 20
    parts = [f'<svg class="gantt" width="{width}" height="{total}" style="font-size:{font}px" role="img" '
             f'aria-label="one bar per task attempt, by phase">']
    parts += [f'<line class="grid" x1="{scale.x(i * step)}" x2="{scale.x(i * step)}" y1="0" y2="{total}"/>'
              for i in range(int(timeline.duration / step) + 1)]
    y = 0
    for name, phase_rows in timeline.phases:
        parts.append(f'<rect class="phase" x="0" y="{y}" width="{width}" height="{PHASE_HEIGHT}"/>'
                     f'<text class="phase" x="4" y="{y + 15}">{escape(name)} ({len(phase_rows)} '
                     f'task{"s" if len(phase_rows) != 1 else ""})</text>')
        y += PHASE_HEIGHT
        for index, row in enumerate(phase_rows):
            parts.append(_row(row, y, height, scale, stripe=index % 2 == 1, characters=label_characters(font)))
            y += height
    parts.append("</svg>")
    return "".join(parts)


def label_characters(font: int) -> int:
    """How many characters of a label fit left of the bars (a character is about 0.6 em wide)."""
    return int((LABEL_WIDTH - 16) / (font * 0.6))


def _row(row: Row, y: int, height: int, scale: Scale, stripe: bool, characters: int) -> str:
    label = f"{row.task_id} {row.title}"
    short = label if len(label) <= characters else label[:characters - 1] + "…"
    middle = y + height / 2
    parts = [f'<g class="row{" critical" if row.critical else ""}">']
    if stripe:
        parts.append(f'<rect class="stripe" x="0" y="{y}" width="{LABEL_WIDTH + CHART_WIDTH + 20}" height="{height}"/>')
    parts.append(f'<text class="label" x="4" y="{middle + height * 0.3:.1f}"><title>{escape(label)}</title>'
                 f'{escape(short)}</text>')
    previous: Bar | None = None
    for bar in row.bars:
        if previous is not None:  # the wait before a retry
            parts.append(f'<line class="wait" x1="{scale.x(previous.end)}" x2="{scale.x(bar.start)}" '
                         f'y1="{middle}" y2="{middle}"/>')
        parts.append(_bar(bar, row, y + 2, height - 4, scale))
        previous = bar
    if row.skipped_at is not None:
        x = scale.x(row.skipped_at)
        reason = f": {row.skip_reason}" if row.skip_reason else ""
        parts.append(f'<text class="skip" x="{x}" y="{middle + height * 0.3:.1f}">✕<title>{escape(row.task_id)} '
                     f'skipped{escape(reason)}</title></text>')
    parts.append("</g>")
    return "".join(parts)


def _bar(bar: Bar, row: Row, y: float, height: float, scale: Scale) -> str:
    x = scale.x(bar.start)
    width = max(scale.x(bar.end) - x, 1.5)
    kind = bar.outcome if bar.outcome != "failed" or bar.category != "transient" else "transient"
    detail = f", {bar.category}" if bar.category else ""
    error = f"\n{bar.error}" if bar.error else ""
    log = f"\nlog: {bar.log}" if bar.log else ""
    title = (f"{row.task_id} attempt {bar.attempt}: {bar.outcome}{detail}, {format_seconds(bar.seconds)} "
             f"(from {format_seconds(bar.start)} to {format_seconds(bar.end)}){error}{log}")
    retry = (f'<text class="attempt" x="{x + 3:.1f}" y="{y + height * 0.8:.1f}">{bar.attempt}</text>'
             if bar.attempt > 1 and width > 14 else "")
    return (f'<rect class="bar {kind}" x="{x}" y="{y}" width="{width:.1f}" height="{height}">'
            f'<title>{escape(title)}</title></rect>{retry}')


def concurrency(timeline: Timeline) -> str:
    """Slots busy over time, a step area, with ``--max-parallel`` as a dashed line."""
    steps = timeline.concurrency
    peak = max([busy for _, busy in steps] + [timeline.max_parallel or 0, 1])
    scale = Scale(timeline.duration)
    top, bottom = 18, CONCURRENCY_HEIGHT - 6

    def y_of(slots: float) -> float:
        return round(bottom - (bottom - top) * slots / peak, 1)

    path = [f"M {scale.x(0)} {bottom}"]
    for moment, busy in steps:
        path.append(f"H {scale.x(moment)} V {y_of(busy)}")
    path.append(f"H {scale.x(timeline.duration)} V {bottom} Z")
    parts = [f'<svg class="concurrency" width="{LABEL_WIDTH + CHART_WIDTH + 20}" height="{CONCURRENCY_HEIGHT}" '
             f'role="img" aria-label="slots busy over time">',
             f'<text x="4" y="{top + 4}">slots busy</text>',
             f'<text x="4" y="{bottom}">peak {max(busy for _, busy in steps)}'
             f'{f" of {timeline.max_parallel}" if timeline.max_parallel else ""}</text>']
    for slots in range(peak + 1):
        parts.append(f'<line class="grid" x1="{LABEL_WIDTH}" x2="{LABEL_WIDTH + CHART_WIDTH}" y1="{y_of(slots)}" '
                     f'y2="{y_of(slots)}"/><text class="slots" x="{LABEL_WIDTH - 6}" y="{y_of(slots) + 4}" '
                     f'text-anchor="end">{slots}</text>' if peak <= 12 or slots % math.ceil(peak / 6) == 0 else "")
    parts.append(f'<path class="busy" d="{" ".join(path)}"/>')
    if timeline.max_parallel:
        y = y_of(timeline.max_parallel)
        parts.append(f'<line class="limit" x1="{LABEL_WIDTH}" x2="{LABEL_WIDTH + CHART_WIDTH}" y1="{y}" y2="{y}">'
                     f'<title>--max-parallel {timeline.max_parallel}</title></line>'
                     f'<text class="limit" x="{LABEL_WIDTH + CHART_WIDTH - 4}" y="{y - 3}" text-anchor="end">'
                     f'max-parallel {timeline.max_parallel}</text>')
    parts.append("</svg>")
    return "".join(parts)
