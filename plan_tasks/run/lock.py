"""One run per plan: an exclusive lock that a `plan-tasks run` holds from start to end.

The lock is ``.run.lock`` beside status.json (so two runs of one status file
exclude each other, whatever path they were given), locked with ``flock``
(``msvcrt.locking`` on Windows). The operating system releases such a lock
when its process dies, however it dies: a run killed with SIGKILL leaves no
lock that anyone must delete, and the next run takes it over at once. The
file's content names the holder (run id, host, pid, start time) for the
message a second run prints; a holder that is still named when the lock is
free again was a run that died, and the new run says so and cleans up after
it (``task_groups``).

A second run refuses at once (:class:`RunLocked`, exit 2) or, with
``wait=True``, polls until the first run ends. The lock is reentrant in one
process: the CLI takes it before the Prefect server starts (so a refusal is
immediate) and the flow takes it again (flows run from a deployment need it
too).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plan_tasks.errors import PlanError
from plan_tasks.status.paths import PlanPaths

LOCK_NAME = ".run.lock"
WAIT_POLL_SECONDS = 0.2


class RunLocked(PlanError):
    """Another run of the same plan (the same status.json) is going on."""


@dataclass(frozen=True)
class Holder:
    """Who holds (or held) a plan's run lock, as its file records it."""

    host: str
    pid: int
    started_at: str
    run_id: str | None = None

    def describe(self) -> str:
        run = f"run {self.run_id}" if self.run_id else "a run"
        return f"{run} (pid {self.pid} on {self.host}, since {self.started_at})"

    @classmethod
    def of_this_process(cls) -> Holder:
        return cls(socket.gethostname(), os.getpid(), time.strftime("%Y-%m-%d %H:%M:%S"))


@dataclass
class _Held:
    descriptor: int
    holder: Holder
    count: int = 1


_held: dict[str, _Held] = {}  # lock file path -> this process's hold on it
_held_guard = threading.Lock()


def lock_path(paths: PlanPaths) -> Path:
    return paths.output_dir / LOCK_NAME


@contextlib.contextmanager
def hold_run_lock(paths: PlanPaths, *, wait: bool = False,
                  on_dead_holder: Callable[[Holder], None] | None = None,
                  on_wait: Callable[[Holder | None], None] | None = None) -> Iterator[Holder]:
    """Hold the plan's run lock for the block; yields this process's :class:`Holder`.

    Raises :class:`RunLocked` when another run holds it, unless ``wait``: then
    ``on_wait(holder)`` is called once and the lock is polled for. When the
    lock was free but its file still names a holder (a run that died),
    ``on_dead_holder(holder)`` is called once the lock is ours.
    """
    path = lock_path(paths)
    key = str(path)
    with _held_guard:
        held = _held.get(key)
        if held is not None:
            held.count += 1
    if held is not None:
        try:
            yield held.holder
        finally:
            with _held_guard:
                held.count -= 1
        return
    held = _acquire(paths, path, wait, on_wait)
    previous = _read_holder(held.descriptor)  # still named: that run died holding the lock
    _write_holder(held.descriptor, held.holder)
    with _held_guard:
        _held[key] = held
    try:
        if previous is not None and on_dead_holder is not None:
            on_dead_holder(previous)
        yield held.holder
    finally:
        with _held_guard:
            _held.pop(key, None)
        _release(held.descriptor)


def note_run_id(paths: PlanPaths, run_id: str) -> None:
    """Record the run id in the lock this process holds (it exists only once status.json says so)."""
    with _held_guard:
        held = _held.get(str(lock_path(paths)))
        if held is None:
            return
        held.holder = Holder(held.holder.host, held.holder.pid, held.holder.started_at, run_id)
        _write_holder(held.descriptor, held.holder)


def _acquire(paths: PlanPaths, path: Path, wait: bool, on_wait: Callable[[Holder | None], None] | None) -> _Held:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    announced = False
    try:
        while not _try_lock(descriptor):
            holder = _read_holder(descriptor)
            if not wait:
                raise _refusal(paths, holder)
            if not announced and on_wait is not None:
                on_wait(holder)
            announced = True
            time.sleep(WAIT_POLL_SECONDS)
    except BaseException:
        os.close(descriptor)
        raise
    return _Held(descriptor, Holder.of_this_process())


def _refusal(paths: PlanPaths, holder: Holder | None) -> RunLocked:
    who = holder.describe() if holder else "another run"
    return RunLocked(
        f"{paths.plan_ref} is already being run by {who}",
        f"wait for it with `plan-tasks run {paths.plan_ref} --wait`, or stop it (Ctrl-C in its terminal, "
        f"or `kill {holder.pid}` on {holder.host})" if holder else
        f"wait for it with `plan-tasks run {paths.plan_ref} --wait`",
        paths.relative(paths.status_file),
    )


def _read_holder(descriptor: int) -> Holder | None:
    """The holder the lock file names; None when empty (released cleanly) or unreadable
    (being written: the caller reads it again on its next poll)."""
    try:
        raw = os.pread(descriptor, 4096, 0) if hasattr(os, "pread") else _read_from_start(descriptor)
        data: Any = json.loads(raw.decode("utf-8")) if raw.strip() else None
        if not isinstance(data, dict):
            return None
        return Holder(str(data["host"]), int(data["pid"]), str(data["startedAt"]),
                      str(data["runId"]) if data.get("runId") else None)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _read_from_start(descriptor: int) -> bytes:
    os.lseek(descriptor, 0, os.SEEK_SET)
    return os.read(descriptor, 4096)


def _write_holder(descriptor: int, holder: Holder) -> None:
    data = json.dumps({"runId": holder.run_id, "host": holder.host, "pid": holder.pid,
                       "startedAt": holder.started_at}).encode("utf-8") + b"\n"
    os.ftruncate(descriptor, 0)
    os.lseek(descriptor, 0, os.SEEK_SET)
    os.write(descriptor, data)


def _release(descriptor: int) -> None:
    """Empty the file (a clean end: nobody to clean up after), then unlock."""
    try:
        os.ftruncate(descriptor, 0)
    finally:
        _unlock(descriptor)
        os.close(descriptor)


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    # A byte far past the holder's record: Windows locks are mandatory, and the
    # holder's record must stay readable by the run that is refused.
    _LOCK_OFFSET = 1 << 20

    def _try_lock(descriptor: int) -> bool:
        os.lseek(descriptor, _LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(descriptor, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(descriptor: int) -> None:
        os.lseek(descriptor, _LOCK_OFFSET, os.SEEK_SET)
        with contextlib.suppress(OSError):
            msvcrt.locking(descriptor, msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _try_lock(descriptor: int) -> bool:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(descriptor: int) -> None:
        fcntl.flock(descriptor, fcntl.LOCK_UN)
