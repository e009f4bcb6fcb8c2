"""The shell executor: a task's fenced shell block or ``Run:`` line, run in the
project directory with ``-e`` (the first failing command fails the task)."""

from __future__ import annotations

import shutil

from plan_tasks.executors import shell_command
from plan_tasks.executors.outcome import TaskFailure, TaskOutcome, TaskRequest, classify_exit, output_over_limit
from plan_tasks.executors.log_stream import open_log
from plan_tasks.executors.process import run_process


def run_shell(request: TaskRequest) -> TaskOutcome:
    script = shell_command(request.task)
    if script is None:
        raise TaskFailure(f"task {request.task.id} has no shell block or `Run:` line", "permanent")
    shell = shutil.which("bash") or "/bin/sh"
    with open_log(request.log_path) as log:
        finished = run_process([shell, "-e", "-c", script], request.root, timeout=request.timeout,
                               log=log, output_limit=request.output_limit)
    if finished.over_limit and request.output_limit is not None:
        raise output_over_limit(request.output_limit, finished.output)
    if finished.timed_out:
        raise TaskFailure(f"timed out after {request.timeout:g} s\n{finished.output[-2000:]}", "transient",
                          finished.output)
    if finished.returncode != 0:
        how = f"killed by signal {-finished.returncode}" if finished.returncode < 0 else f"exit code {finished.returncode}"
        raise TaskFailure(f"{how}\n{finished.output[-2000:]}", classify_exit(finished.returncode, finished.output),
                          finished.output)
    return TaskOutcome(output=finished.output, findings=finished.output or None)
