"""What a plan task does when it runs.

* ``shell``: a fenced ``sh``/``bash``/``shell`` block in the task body, or a
  ``Run: `command``` line, runs in the project directory;
* ``agent``: the seed's read-only agent pattern: a command gets a prompt on
  stdin and answers with ``FILE: <path>`` blocks that plan-tasks, not the
  agent, writes (``agent`` and ``file_blocks``);
* ``python``: ``Call: `package.module:function``` calls a function with the task.

A task with none of these uses the run's default executor. Executors know
nothing of Prefect: they take a :class:`~plan_tasks.executors.outcome.TaskRequest`
and return a :class:`TaskOutcome` or raise :class:`TaskFailure`, whose
category (transient or permanent) decides whether a retry can help.
"""

from __future__ import annotations

import re

from plan_tasks.model import Task

SHELL_LANGUAGES = frozenset({"sh", "bash", "shell", "zsh", "console"})
RUN_LINE = re.compile(r"^\s*(?:[-*+]\s+)?\**Run:?\**:?\s*`(?P<command>[^`]+)`", re.IGNORECASE | re.MULTILINE)
CALL_LINE = re.compile(r"^\s*(?:[-*+]\s+)?\**Call:?\**:?\s*`(?P<target>[\w.]+:[\w.]+)`", re.IGNORECASE | re.MULTILINE)
EXECUTORS = ("shell", "agent", "python")


def shell_command(task: Task) -> str | None:
    """The shell script a task carries, if any: its fenced shell blocks, or a `Run:` line."""
    blocks = [block.content for block in task.code_blocks if block.info.split()[:1] and block.info.split()[0] in SHELL_LANGUAGES]
    if blocks:
        return "\n".join(blocks)
    match = RUN_LINE.search(task.title) or RUN_LINE.search(task.body)
    return match.group("command") if match else None


def python_target(task: Task) -> str | None:
    match = CALL_LINE.search(task.title) or CALL_LINE.search(task.body)
    return match.group("target") if match else None


def choose_executor(task: Task, default: str) -> str:
    """Which executor runs the task: its own content first, else the default."""
    if python_target(task):
        return "python"
    if shell_command(task):
        return "shell"
    return default
