"""Running a child process the way tasks need: in its own process group, with
a timeout enforced on the whole group, output captured.

Prefect's ``timeout_seconds`` cannot interrupt a blocking call in a worker
thread, so timeouts are enforced here, on the process itself: SIGTERM to the
group, then SIGKILL after a grace period, so grandchildren die too.

Every running group is known to :func:`stop_all`, which a run calls when it is
stopped (Ctrl-C, SIGTERM): it terminates them all and keeps new ones from
starting, so nothing a task started outlives the run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

GRACE_SECONDS = 5.0
OUTPUT_LIMIT = 200_000  # characters kept of a task's output (the tail)
STOP_GRACE_SECONDS = 2.0  # a stopped run's task groups get this long after SIGTERM, then SIGKILL

_running: dict[int, subprocess.Popen[str]] = {}  # process group id -> its leader, while it runs
_running_lock = threading.Lock()
_stopping = threading.Event()


@dataclass(frozen=True)
class Finished:
    returncode: int  # negative: killed by that signal
    output: str
    timed_out: bool = False


def run_process(argv: list[str], cwd: Path, *, stdin: str | None = None, timeout: float | None = None,
                env: dict[str, str] | None = None, on_start: Callable[[int], None] | None = None) -> Finished:
    """Run ``argv`` to completion (or timeout); raises FileNotFoundError for a missing program.
    ``on_start`` is called with the process id (also its process group id) right after it starts."""
    process = subprocess.Popen(
        argv, cwd=cwd, env=env, text=True, encoding="utf-8", errors="replace",
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    if on_start is not None:
        on_start(process.pid)
    with _running_lock:
        _running[process.pid] = process
        stopping = _stopping.is_set()
    if stopping:  # started as the run was being stopped: stop_all did not see it
        _signal_group(process.pid, signal.SIGKILL)
    try:
        return _wait(process, stdin, timeout)
    finally:
        with _running_lock:
            _running.pop(process.pid, None)


def _wait(process: subprocess.Popen[str], stdin: str | None, timeout: float | None) -> Finished:
    try:
        output, _ = process.communicate(stdin, timeout=timeout)
        return Finished(process.returncode, output[-OUTPUT_LIMIT:])
    except subprocess.TimeoutExpired:
        _stop_group(process)
        output, _ = process.communicate()
        return Finished(process.returncode, (output or "")[-OUTPUT_LIMIT:], timed_out=True)
    except BaseException:
        _stop_group(process)  # interrupted (Ctrl-C, cancellation): leave no orphans
        process.communicate()
        raise


def stop_all(grace: float = STOP_GRACE_SECONDS) -> int:
    """Terminate every running task process group (SIGTERM, then SIGKILL after
    ``grace``) and refuse new ones; returns how many groups were running."""
    with _running_lock:
        _stopping.set()
        processes = list(_running.values())
    for process in processes:
        _signal_group(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in processes:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        # The leader may be gone while the rest of its group lives on: kill the group anyway.
        _signal_group(process.pid, signal.SIGKILL)
    return len(processes)


def kill_all() -> None:
    """SIGKILL every running task process group at once (the second Ctrl-C)."""
    with _running_lock:
        _stopping.set()
        pids = list(_running)
    for pid in pids:
        _signal_group(pid, signal.SIGKILL)


def allow_new_processes() -> None:
    """Undo :func:`stop_all`'s refusal (the next run in the same process)."""
    _stopping.clear()


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _stop_group(process: subprocess.Popen[str]) -> None:
    for sig, wait in ((signal.SIGTERM, GRACE_SECONDS), (signal.SIGKILL, None)):
        try:
            os.killpg(process.pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
