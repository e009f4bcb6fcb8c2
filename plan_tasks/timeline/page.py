"""The timeline report: one self-contained HTML file (inline CSS and SVG, no script,
nothing fetched), made of the run's summary, the Gantt chart and the slots busy
under it (``timeline.svg``), and the table of failures with each one's reason
and log. It opens from disk, from a CI artifact or an e-mail alike.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from plan_tasks.timeline import svg
from plan_tasks.timeline.model import Row, Timeline, outcome_of, summarize

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:16px 24px;color:#1f2328;background:#fff}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:22px 0 6px}
.muted{color:#656d76}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #d0d7de;padding:3px 8px;text-align:left;
vertical-align:top}th{background:#f6f8fa}
table.summary td:first-child{color:#656d76}
.legend span{display:inline-block;margin-right:14px;font-size:13px}
.legend i{display:inline-block;width:14px;height:10px;margin-right:4px;vertical-align:middle}
.sticky{position:sticky;top:0;background:#fff;z-index:1;border-bottom:1px solid #d0d7de}
svg{display:block;font-family:inherit}
svg text{fill:#1f2328}
svg.axis text,text.slots{font-size:11px;fill:#656d76}svg.axis line{stroke:#8c959f}
line.grid{stroke:#eaeef2}rect.stripe{fill:#f6f8fa}
rect.phase{fill:#ddf4ff}text.phase{font-weight:600;font-size:12px}
.completed,i.completed{fill:#2da44e;background:#2da44e}
.failed,i.failed{fill:#cf222e;background:#cf222e}
.transient,i.transient{fill:#d4a72c;background:#d4a72c}
.interrupted,i.interrupted{fill:#8c959f;background:#8c959f}
i.skipped{background:none;color:#cf222e;font-style:normal;width:auto}
text.skip{fill:#cf222e;text-anchor:middle}
rect.bar:hover{opacity:.75}
g.critical rect.bar{stroke:#0a3069;stroke-width:2}g.critical text.label{font-weight:700}
i.critical{outline:2px solid #0a3069;background:#2da44e}
text.attempt{fill:#fff;font-size:9px}
line.wait{stroke:#656d76;stroke-dasharray:2 2}
path.busy{fill:#54aeff;fill-opacity:.45;stroke:#0969da}
line.limit{stroke:#cf222e;stroke-dasharray:6 4}text.limit{fill:#cf222e;font-size:11px}
pre{margin:0;white-space:pre-wrap;max-width:640px;font-size:12px}
"""

LEGEND = ("completed", "failed", "transient", "interrupted")
LEGEND_TEXT = {"completed": "completed", "failed": "failed", "transient": "failed, retried (transient)",
               "interrupted": "interrupted (stopped with the run)"}


def render_page(timeline: Timeline, link: Callable[[str], str] = lambda path: path) -> str:
    """The whole report. ``link`` turns a log's path (relative to the project root)
    into a link that works from where the report is written."""
    title = f"{timeline.plan_title}: run {timeline.run_id}"
    legend = "".join(f'<span><i class="{kind}"></i>{LEGEND_TEXT[kind]}</span>' for kind in LEGEND)
    legend += ('<span><i class="critical"></i>critical path</span>'
               '<span><i class="skipped">✕</i>skipped (a task it depends on failed)</span>')
    parts = ['<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"/>',
             '<meta name="viewport" content="width=device-width, initial-scale=1"/>',
             f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>",
             f"<h1>{escape(timeline.plan_title)}</h1>",
             f'<p class="muted">{escape(timeline.plan_ref)}, run {escape(timeline.run_id)}, started '
             f"{escape(timeline.started_at)}</p>",
             _summary(timeline),
             '<h2>Timeline</h2><p class="legend">', legend,
             '</p><p class="muted">One bar per attempt; hover over a bar for its times, error and log.</p>']
    if timeline.rows:
        parts += ['<div class="sticky">', svg.axis(timeline), "</div>", svg.gantt(timeline),
                  svg.concurrency(timeline), svg.axis(timeline)]
    else:
        parts.append("<p>No task ran in this run.</p>")
    parts += [_failures(timeline.rows, link), _skipped(timeline.rows), "</body></html>\n"]
    return "".join(parts)


def _summary(timeline: Timeline) -> str:
    counts = summarize(timeline)
    utilization = counts["utilization"]
    critical = " → ".join(_shortened(list(timeline.critical_path))) or "none"
    share = (f" ({100 * timeline.critical_seconds / timeline.duration:.0f}% of the run)"
             if timeline.duration > 0 and timeline.critical_path else "")
    rows = [
        ("duration", svg.format_seconds(timeline.duration)),
        ("tasks", f"{counts['tasks']} handled: {counts['completed']} completed, {counts['failed']} failed, "
                  f"{counts['skipped']} skipped, {counts['interrupted']} interrupted"
                  + (f"; {timeline.not_run} not in this run" if timeline.not_run else "")),
        ("attempts", f"{counts['attempts']} ({counts['retries']} {'retry' if counts['retries'] == 1 else 'retries'})"),
        ("slots", f"max-parallel {timeline.max_parallel or 'not recorded'}, peak {counts['peakSlots']} busy"
                  + (f", {100 * utilization:.0f}% of the slot time used" if utilization is not None else "")),
        ("critical path", f"{critical}: {svg.format_seconds(timeline.critical_seconds)}{share}"),
    ]
    body = "".join(f"<tr><td>{escape(name)}</td><td>{escape(value)}</td></tr>" for name, value in rows)
    return f'<h2>Summary</h2><table class="summary">{body}</table>'


def _shortened(path: list[str], ends: int = 6) -> list[str]:
    """A long path as its first and last tasks around a count (the bars show every one of them)."""
    if len(path) <= 2 * ends + 1:
        return path
    return [*path[:ends], f"… {len(path) - 2 * ends} more …", *path[-ends:]]


def _failures(rows: list[Row], link: Callable[[str], str]) -> str:
    failed = [row for row in rows if outcome_of(row) in ("failed", "interrupted")]
    if not failed:
        return "<h2>Failures</h2><p>None.</p>"
    lines = []
    for row in failed:
        last = row.bars[-1]
        log = f'<a href="{escape(link(last.log))}">{escape(last.log)}</a>' if last.log else ""
        lines.append(f"<tr><td>{escape(row.task_id)}</td><td>{escape(row.title)}</td><td>{len(row.bars)}</td>"
                     f"<td>{escape(last.outcome)}{escape(f' ({last.category})' if last.category else '')}</td>"
                     f"<td><pre>{escape(last.error or '')}</pre></td><td>{log}</td></tr>")
    return ("<h2>Failures</h2><table><tr><th>task</th><th>title</th><th>attempts</th><th>outcome</th>"
            f"<th>reason</th><th>log</th></tr>{''.join(lines)}</table>")


def _skipped(rows: list[Row]) -> str:
    skipped = [row for row in rows if outcome_of(row) == "skipped"]
    if not skipped:
        return ""
    lines = "".join(f"<tr><td>{escape(row.task_id)}</td><td>{escape(row.title)}</td>"
                    f"<td>{escape(row.skip_reason or '')}</td></tr>" for row in skipped)
    return (f"<details><summary>{len(skipped)} skipped because a task they depend on failed</summary>"
            f"<table><tr><th>task</th><th>title</th><th>reason</th></tr>{lines}</table></details>")
