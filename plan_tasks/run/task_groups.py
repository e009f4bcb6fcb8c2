"""Task process groups a run started, recorded so that a run after a dead one can stop them.

Each task process starts a process group of its own (``executors.process``);
its id and its start time (``/proc/<pid>/stat``) are appended to
``.run-processes`` beside status.json as it starts. A run that ends, however
it ends short of dying, empties the record. A run that died (SIGKILL, power
cut) leaves it behind; the next run, taking over its run lock, stops every
recorded group that still lives (SIGTERM, then SIGKILL) before it starts any
task, so a task cannot run twice at once.

A recorded id is signalled only while it surely is the same group: its leader
alive with the recorded start time, or its leader gone while the group lives
on (Linux does not hand out a process id again while a group of that id has
members). Without ``/proc`` a group whose leader is alive is left alone: its
start time cannot be compared.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from plan_tasks.status.paths import PlanPaths

RECORD_NAME = ".run-processes"
STOP_GRACE_SECONDS = 2.0


class GroupRecorder:
    """Appends each task process group of this run to the record, from any thread."""

    def __init__(self, paths: PlanPaths) -> None:
        self.path = paths.output_dir / RECORD_NAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("", encoding="utf-8")  # this run's record starts empty

    def record(self, pid: int) -> None:
        # One O_APPEND write per line: lines from concurrent tasks never interleave.
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(descriptor, f"{pid} {_start_time(pid) or '-'}\n".encode())
        finally:
            os.close(descriptor)

    def close(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def stop_leftover_groups(paths: PlanPaths, grace: float = STOP_GRACE_SECONDS) -> list[int]:
    """Stop the recorded task groups of a run that died; returns the ids of those that lived."""
    path = paths.output_dir / RECORD_NAME
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    living = []
    for line in lines:
        fields = line.split()
        if len(fields) == 2 and fields[0].isdigit() and _is_leftover(int(fields[0]), fields[1]):
            living.append(int(fields[0]))
    for group in living:
        _signal(group, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while any(_group_exists(group) for group in living) and time.monotonic() < deadline:
        time.sleep(0.05)
    for group in living:
        _signal(group, signal.SIGKILL)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    return living


def after_dead_run(paths: PlanPaths, holder: Any) -> None:
    """What a run does on taking over the lock of a run that died: say so, stop what it left running."""
    stopped = stop_leftover_groups(paths)
    left = f"; stopped {len(stopped)} task process group(s) it left running" if stopped else ""
    print(f"{paths.plan_ref}: {holder.describe()} ended without releasing the plan (killed?); "
          f"taking it over{left}", file=sys.stderr, flush=True)


def _is_leftover(group: int, recorded_start: str) -> bool:
    start = _start_time(group)
    if start is not None:
        return start == recorded_start  # the leader lives: the same process, or a new one with a reused id
    if not Path("/proc").is_dir() and _process_exists(group):
        return False  # cannot tell a reused id from ours
    return _group_exists(group)


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), None when unknown or gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)", which may hold spaces
    return fields[19] if len(fields) > 19 else None


def _process_exists(pid: int) -> bool:
    return _answers(os.kill, pid)


def _group_exists(group: int) -> bool:
    return _answers(os.killpg, group)


def _answers(send: Callable[[int, int], None], target: int) -> bool:
    """Whether signal 0 finds ``target`` (a process for ``os.kill``, a group for ``os.killpg``)."""
    try:
        send(target, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, only not ours
    return True


def _signal(group: int, number: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, number)
