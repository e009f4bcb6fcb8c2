"""Running a child process the way tasks need: in its own process group, with
a timeout enforced on the whole group, output captured.

Prefect's ``timeout_seconds`` cannot interrupt a blocking call in a worker
thread, so timeouts are enforced here, on the process itself: SIGTERM to the
group, then SIGKILL after a grace period, so grandchildren die too.
"""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

GRACE_SECONDS = 5.0
OUTPUT_LIMIT = 200_000  # characters kept of a task's output (the tail)


@dataclass(frozen=True)
class Finished:
    returncode: int  # negative: killed by that signal
    output: str
    timed_out: bool = False


def run_process(argv: list[str], cwd: Path, *, stdin: str | None = None, timeout: float | None = None,
                env: dict[str, str] | None = None) -> Finished:
    """Run ``argv`` to completion (or timeout); raises FileNotFoundError for a missing program."""
    process = subprocess.Popen(
        argv, cwd=cwd, env=env, text=True, encoding="utf-8", errors="replace",
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
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
