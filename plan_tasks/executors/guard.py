"""Task process groups die with the run, even when the run is killed by SIGKILL.

A run starts one small guard process (the first time it starts a task
process) and tells it, over a pipe, the process group of every task process
it starts and ends. The run holds the pipe's only write end; when the run's
process dies, however it dies, the kernel closes that end, the guard reads
end-of-file and sends SIGKILL to every group still registered, then exits.

Why not ``prctl(PR_SET_PDEATHSIG)`` in each task process: the signal reaches
only that process, not the children it started (a shell script's commands),
and it fires when the *thread* that forked exits, not the process. One guard
per run covers whole groups, costs one process start per run rather than per
task, and needs no code between ``fork`` and ``exec``.

What it does not cover: a task process that leaves its group (``setsid``,
a daemon) is not in any group the guard knows.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

# Runs with -I -S: no site, no environment, imports nothing of plan-tasks.
GUARD_PROGRAM = """\
import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
groups = set()
for line in sys.stdin.buffer:
    sign, number = line[:1], line[1:].strip()
    if number.isdigit():
        (groups.add if sign == b"+" else groups.discard)(int(number))
for group in groups:
    try:
        os.killpg(group, signal.SIGKILL)
    except OSError:
        pass
"""

_lock = threading.Lock()
_guard: subprocess.Popen[bytes] | None = None
_guard_owner: int | None = None  # the pid that started it: a forked child must not write to its pipe


def _started() -> subprocess.Popen[bytes] | None:
    """The guard of this process, started on first use; None if it cannot run."""
    global _guard, _guard_owner
    if _guard is not None and _guard_owner == os.getpid() and _guard.poll() is None:
        return _guard
    try:
        _guard = subprocess.Popen([sys.executable, "-I", "-S", "-c", GUARD_PROGRAM], stdin=subprocess.PIPE,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError as error:
        print(f"plan-tasks: warning: no guard for task processes ({error}); "
              "they may outlive a run that is killed", file=sys.stderr)
        _guard = None
    _guard_owner = os.getpid()
    return _guard


def _send(line: str) -> None:
    with _lock:
        guard = _started()
        if guard is None or guard.stdin is None:
            return
        try:
            guard.stdin.write(line.encode("ascii"))
            guard.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass  # the guard is gone: the next message starts a new one


def watch(group: int) -> None:
    """Kill process group ``group`` if this process dies before :func:`forget` is called."""
    _send(f"+{group}\n")


def forget(group: int) -> None:
    """The group's leader has ended normally: stop watching it."""
    _send(f"-{group}\n")


def guard_pid() -> int | None:
    """The guard's process id, if one runs (for tests and diagnostics)."""
    with _lock:
        return _guard.pid if _guard is not None and _guard.poll() is None else None
