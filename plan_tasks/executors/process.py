"""Running a child process the way tasks need: in its own process group, with
a timeout enforced on the whole group, output streamed as it arrives.

Output goes to the attempt's log (``log_stream``) and, for an agent, to a
file its answer is read back from, chunk by chunk while the process runs;
only its tail stays in memory, so memory is bounded whatever a task
prints. An output limit ends the process group once it has printed that much.

Prefect's ``timeout_seconds`` cannot interrupt a blocking call in a worker
thread, so timeouts are enforced here, on the process itself: SIGTERM to the
group, then SIGKILL after a grace period, so grandchildren die too.

Every running group is known to :func:`stop_all`, which a run calls when it is
stopped (Ctrl-C, SIGTERM): it terminates them all and keeps new ones from
starting, so nothing a task started outlives the run. Each group is also
registered with the run's guard (``executors.guard``), which kills it if the
run itself dies, even by SIGKILL.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from plan_tasks.executors import guard
from plan_tasks.executors.log_stream import LogWriter

GRACE_SECONDS = 5.0
TAIL_CHARACTERS = 200_000  # of a task's output kept in memory (the terminal, findings, classification)
TAIL_BYTES = 4 * TAIL_CHARACTERS  # enough bytes for that many characters of UTF-8
CHUNK_BYTES = 1 << 16
DRAIN_SECONDS = 2.0  # after a kill, how long to read what is left before giving up on the pipe
STOP_GRACE_SECONDS = 2.0  # a stopped run's task groups get this long after SIGTERM, then SIGKILL

_start_listener: Callable[[int], None] | None = None  # told every task process group as it starts
_running: dict[int, subprocess.Popen[bytes]] = {}  # process group id -> its leader, while it runs
_running_lock = threading.Lock()
_stopping = threading.Event()


@dataclass(frozen=True)
class Finished:
    returncode: int  # negative: killed by that signal
    output: str  # the tail of the output (TAIL_CHARACTERS), decoded leniently
    timed_out: bool = False
    over_limit: bool = False  # printed more than the output limit: the group was killed
    output_start: int = 0  # where this process's output begins in the output file
    output_bytes: int = 0  # how much of it is there (at most the limit)


class _Output:
    """Where the bytes go: the raw output file and the log (up to the limit), and a bounded tail."""

    def __init__(self, file: BinaryIO | None, log: LogWriter | None, limit: int | None) -> None:
        self.file = file
        self.log = log
        self.limit = limit
        self.start = file.seek(0, os.SEEK_END) if file is not None else 0
        self.size = 0
        self.over_limit = False
        self.tail = bytearray()

    def take(self, chunk: bytes) -> None:
        if self.limit is not None and self.size + len(chunk) > self.limit:
            chunk = chunk[:self.limit - self.size]
            self.over_limit = True
        if self.file is not None and chunk:
            self.file.write(chunk)
        if self.log is not None and chunk:
            self.log.write(chunk)
        self.size += len(chunk)
        self.tail += chunk
        if len(self.tail) > 2 * TAIL_BYTES:  # trimmed now and then, not on every chunk
            del self.tail[:-TAIL_BYTES]

    def finished(self, returncode: int, timed_out: bool) -> Finished:
        if self.file is not None:
            self.file.flush()
        if self.log is not None:
            self.log.flush()
        text = bytes(self.tail[-TAIL_BYTES:]).decode("utf-8", errors="replace")[-TAIL_CHARACTERS:]
        return Finished(returncode, text, timed_out=timed_out, over_limit=self.over_limit,
                        output_start=self.start, output_bytes=self.size)


@contextlib.contextmanager
def answer_file() -> Iterator[BinaryIO]:
    """An anonymous temporary file for output that is read back whole (an agent's answer)."""
    with tempfile.TemporaryFile() as anonymous:
        yield anonymous


def run_process(argv: list[str], cwd: Path, *, stdin: str | None = None, timeout: float | None = None,
                env: dict[str, str] | None = None, output: BinaryIO | None = None, log: LogWriter | None = None,
                output_limit: int | None = None, on_start: Callable[[int], None] | None = None) -> Finished:
    """Run ``argv`` to completion, timeout or output limit; raises FileNotFoundError for a missing program.

    Output (stdout and stderr together) is appended as it arrives, at most
    ``output_limit`` bytes of it, to ``output`` as printed and to ``log``
    through the log filter; ``on_start`` is called with the process id (its
    group id too) right after it starts.
    """
    guard.prepare()  # started before the task: the gate would otherwise wait on the guard's start
    process = subprocess.Popen(
        guard.gated(argv, cwd, env), cwd=cwd, env=env, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    guard.watch(process.pid)
    for listener in (_start_listener, on_start):
        if listener is not None:
            listener(process.pid)
    with _running_lock:
        _running[process.pid] = process
        stopping = _stopping.is_set()
    if stopping:  # started as the run was being stopped: stop_all did not see it
        _signal_group(process.pid, signal.SIGKILL)
    if stdin is None:
        _feed(process, guard.GATE_OPEN)  # one byte into an empty pipe: never blocks
    try:
        return _wait(process, stdin, timeout, _Output(output, log, output_limit))
    finally:
        with _running_lock:
            _running.pop(process.pid, None)
        guard.forget(process.pid)
        _drain(process.stdout)


def _wait(process: subprocess.Popen[bytes], stdin: str | None, timeout: float | None, sink: _Output) -> Finished:
    deadline = None if timeout is None else time.monotonic() + timeout
    if stdin is not None:
        threading.Thread(target=_feed, args=(process, guard.GATE_OPEN + stdin.encode("utf-8")), daemon=True,
                         name="plan-tasks-stdin").start()
    assert process.stdout is not None
    try:
        ended = _read(process.stdout, sink, deadline)
        if sink.over_limit:
            _signal_group(process.pid, signal.SIGKILL)  # it printed too much: no grace to print more
            _drain(process.stdout)
            return sink.finished(process.wait(), timed_out=False)
        if ended:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            return sink.finished(process.wait(timeout=remaining), timed_out=False)
    except subprocess.TimeoutExpired:
        pass  # the output ended but the process did not, before the deadline
    except BaseException:
        _stop_group(process)  # interrupted (Ctrl-C, cancellation): leave no orphans
        _drain(process.stdout)
        raise
    _stop_group(process)
    _read(process.stdout, sink, time.monotonic() + DRAIN_SECONDS)
    _drain(process.stdout)
    return sink.finished(process.wait(), timed_out=True)


def _feed(process: subprocess.Popen[bytes], data: bytes) -> None:
    """Write the prompt, then close stdin; a process that stops reading early is its own business."""
    assert process.stdin is not None
    try:
        process.stdin.write(data)
        process.stdin.close()
    except (BrokenPipeError, OSError, ValueError):
        pass


def _read(pipe: BinaryIO, sink: _Output, deadline: float | None) -> bool:
    """Move output to ``sink`` until end of file (True), the deadline or the limit (False)."""
    descriptor = pipe.fileno()
    with selectors.DefaultSelector() as selector:
        selector.register(descriptor, selectors.EVENT_READ)
        while not sink.over_limit:
            wait = None if deadline is None else deadline - time.monotonic()
            if wait is not None and wait <= 0:
                return False
            if not selector.select(wait):
                continue
            chunk = os.read(descriptor, CHUNK_BYTES)
            if not chunk:
                return True
            sink.take(chunk)
    return False


def _drain(pipe: BinaryIO | None) -> None:
    """Close our end of the pipe: a process that escaped the group may hold its end open forever."""
    if pipe is not None:
        try:
            pipe.close()
        except OSError:
            pass


def set_start_listener(listener: Callable[[int], None] | None) -> None:
    """Tell ``listener`` the group of every task process this process starts
    (the run's driver records them for the cleanup after a crash); None stops it."""
    global _start_listener
    _start_listener = listener


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


def _stop_group(process: subprocess.Popen[bytes]) -> None:
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
