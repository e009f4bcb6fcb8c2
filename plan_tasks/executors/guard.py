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

A task process starts behind a gate (:func:`gated`): a ``/bin/sh`` that waits
on its stdin until the run has registered its group, then ``exec``s the task.
Without it, a run killed in the moment between starting a task and
registering it would orphan that task; with it, the task either is
registered or sees the pipe close and exits without running.

What it does not cover: a task process that leaves its group (``setsid``,
a daemon) is not in any group the guard knows.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

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

# $0 is a name for ps; "$@" is the task's argv. End of file (the run died) exits without running it.
GATE_SCRIPT = 'read -r _ || exit 137; exec "$@"'
GATE_OPEN = b"\n"

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


def prepare() -> None:
    """Start this process's guard now if it is not running.

    Called before a task process starts: the guard takes tens of
    milliseconds to start, and a run killed in that window would leave the
    new task's group unwatched.
    """
    with _lock:
        _started()


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


def gated(argv: list[str], cwd: Path, env: dict[str, str] | None) -> list[str]:
    """``argv`` behind the gate: start it with a stdin pipe, register its group, then write :data:`GATE_OPEN`.

    The gate reads exactly that line from stdin (a shell's ``read`` takes a
    pipe byte by byte), so what follows on stdin is the task's own input.
    Raises FileNotFoundError for a program that is not there, as starting it
    directly would.
    """
    _check_program(argv[0], cwd, env)
    return ["/bin/sh", "-c", GATE_SCRIPT, "plan-tasks-gate", *argv]


def _check_program(program: str, cwd: Path, env: dict[str, str] | None) -> None:
    """Raise what ``subprocess.Popen`` would for a program it cannot start."""
    if os.sep in program:
        found = (Path(cwd) / program)
        if not found.is_file():
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), program)
        if not os.access(found, os.X_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), program)
    elif shutil.which(program, path=os.pathsep.join(os.get_exec_path(env))) is None:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), program)
