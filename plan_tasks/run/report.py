"""Progress of a run as people and machines see it. No Prefect here.

Each task event (``plan.task.started|completed|failed|skipped``) goes to
three places: a line on the terminal with counts and an ETA from the durations
so far; a JSON line in ``--events-jsonl FILE`` (for CI logs); and a callback
that the Prefect flow uses to emit the same event to Prefect.
"""

from __future__ import annotations

import json
import os
import queue
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from plan_tasks.redact import redact, redact_value
from plan_tasks.run.scheduler import Progress
from plan_tasks.status.document import now_iso

SYMBOLS = {"started": "▶", "completed": "✓", "failed": "✗", "skipped": "⊘", "retrying": "↻", "interrupted": "■"}
TAIL_LINES = 5  # of a failed task's output, shown under its line (its log file has the rest)
EmitCallback = Callable[[str, dict[str, Any]], None]


class RunReporter:
    def __init__(self, plan_name: str, progress: Progress, max_parallel: int, *,
                 events_jsonl: str | None = None, emit: EmitCallback | None = None,
                 stream: TextIO | None = None) -> None:
        self.plan_name = plan_name
        self.progress = progress
        self.max_parallel = max_parallel
        self._emit = emit
        self._stream = stream if stream is not None else sys.stderr
        self._lock = threading.Lock()
        self._jsonl = open(events_jsonl, "a", encoding="utf-8") if events_jsonl else None  # noqa: SIM115
        # A run's events are reported from a thread of their own, in order: a line, a JSON
        # line and a Prefect event cost milliseconds, which the phase loops (a start) and the
        # tasks' done callbacks (an end) would otherwise pay on their own threads for every task.
        self._outbox: queue.SimpleQueue[tuple[Any, ...] | None] = queue.SimpleQueue()
        self._sender: threading.Thread | None = None
        if emit is not None:
            self._sender = threading.Thread(target=self._send_events, name="plan-tasks-events", daemon=True)
            self._sender.start()

    def task_event(self, kind: str, task_id: str, title: str, **payload: Any) -> None:
        """Report an event: queued, then written and sent in order by the reporter's own thread."""
        occurred, counts = now_iso(), self._counts()  # as they are now, not when the line is written
        if self._sender is None:
            self._report(kind, task_id, title, occurred, counts, payload)
        else:
            self._outbox.put((kind, task_id, title, occurred, counts, payload))

    def _report(self, kind: str, task_id: str, title: str, occurred: str, counts: str,
                payload: dict[str, Any]) -> None:
        output = redact(payload.pop("output", ""))  # for the terminal only: events carry the log's path instead
        payload = redact_value(payload)  # what the JSONL file, Prefect events and the terminal get
        record = {"event": f"plan.task.{kind}", "occurred": occurred, "plan": self.plan_name,
                  "task": task_id, "title": title, **{k: v for k, v in payload.items() if v is not None}}
        with self._lock:
            if self._jsonl:
                self._jsonl.write(json.dumps(record, ensure_ascii=False) + "\n")
                self._jsonl.flush()
            text = self._line(kind, task_id, title, counts, payload) + "\n"
            if kind == "failed":
                text += _failure_details(output, payload.get("log"))
            self._stream.write(text)
            self._stream.flush()
        if self._emit and kind not in ("retrying", "interrupted"):
            self._emit(kind, record)

    def _send_events(self) -> None:
        while (item := self._outbox.get()) is not None:
            if item[0] == "__flush__":
                item[1].set()
                continue
            try:
                self._report(*item)
            except Exception as error:  # noqa: BLE001 - one event that cannot be reported must not stop the others
                print(f"plan-tasks: warning: could not report an event: {error}", file=sys.stderr)

    def _counts(self) -> str:
        progress = self.progress
        eta = progress.eta_seconds(self.max_parallel)
        eta_text = f", ETA {eta:.0f} s" if eta is not None and progress.settled < progress.total else ""
        return (f"[{progress.settled:>{len(str(progress.total))}}/{progress.total}] "
                f"{progress.running} running, {progress.failed} failed{eta_text}")

    def _line(self, kind: str, task_id: str, title: str, counts: str, payload: dict[str, Any]) -> str:
        detail = ""
        if kind == "completed" and payload.get("duration_seconds") is not None:
            detail = f"  {payload['duration_seconds']:.1f} s"
            cost = (payload.get("usage") or {}).get("costUsd")
            detail += f", ${cost:.4f}" if isinstance(cost, (int, float)) else ""
        elif kind in ("failed", "retrying") and payload.get("error"):
            detail = f"  {payload.get('category', '')}: {str(payload['error']).splitlines()[0][:100]}"
        elif kind in ("skipped", "interrupted") and payload.get("reason"):
            detail = f"  ({payload['reason']})"
        return f"{counts:<40} {SYMBOLS.get(kind, '·')} {task_id} {title[:70]}{detail}"

    def flush(self) -> None:
        """Return once every event reported so far is written and sent."""
        if self._sender is not None:
            done = threading.Event()
            self._outbox.put(("__flush__", done))
            done.wait(timeout=60)

    def close(self) -> None:
        """Report the events still queued, then close the JSONL file."""
        if self._sender is not None:
            self._outbox.put(None)
            self._sender.join(timeout=60)
        if self._jsonl:
            self._jsonl.close()


def _failure_details(output: str, log: str | None) -> str:
    """The last lines a failed task printed, and where the rest is."""
    lines = [line.rstrip() for line in output.splitlines() if line.strip()][-TAIL_LINES:]
    text = "".join(f"      │ {line[:200]}\n" for line in lines)
    if log:
        text += f"      whole output: {log}\n"
    return text


def display_path(path: Path) -> str:
    """A path as the user can use it from where they typed the command:
    relative to the current directory when it is below it, else absolute."""
    absolute = path.resolve()
    try:
        return absolute.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(absolute) if os.path.isabs(path) or ".." in path.parts else absolute.as_posix()
