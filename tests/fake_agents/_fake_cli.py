"""What the fake coding-agent CLIs in this folder share: the answer, the modes, the record.

Each fake (``claude``, ``codex``, ``gemini``, ``aider``, ``opencode``) parses
its arguments as the real CLI documents them (an unknown flag exits 2, as
argparse, like the real ones, does), reads the prompt the way the real one
does, and prints the real one's output shape. The answer is what an agent
would say under plan-tasks' FILE protocol: a FILE block for every file the
task names, then a line of findings.

How it answers (``FAKE_CLI_MODE`` in the environment, else a
``[fake-cli: MODE]`` marker in the prompt):

* ``answer`` (default): the answer, with usage (and cost where the CLI reports one);
* ``rate-limit-once``: a rate-limit error on attempt 1 (``PLAN_TASKS_ATTEMPT``), the answer after;
* ``rate-limit``: a rate-limit error, always;
* ``bad-request``: a bad-request error (the request is refused: no retry can help).

``FAKE_CLI_COST`` sets the cost of an answer in US dollars (default 0.0125).
Every call appends a JSON line to ``$FAKE_CLI_RECORD``, when set: the CLI, its
argv, the prompt it read, its working directory and its PLAN_TASKS_* variables.
"""

from __future__ import annotations

import json
import os
import re
import sys

NAMED_FILE = re.compile(r"^- `(?P<path>[^`]+)`(?:, currently:| \(does not exist yet\))$", re.MULTILINE)
TASK_HEADER = re.compile(r"^### Task (?P<id>\S+): (?P<title>.*)$", re.MULTILINE)
MARKER = re.compile(r"\[fake-cli: (?P<mode>[\w-]+)\]")
PLAN_TASKS_VARIABLES = ("PLAN_TASKS_TASK_ID", "PLAN_TASKS_PLAN", "PLAN_TASKS_ROOT", "PLAN_TASKS_ATTEMPT")


def record(cli: str, prompt: str) -> None:
    path = os.environ.get("FAKE_CLI_RECORD")
    if not path:
        return
    entry = {"cli": cli, "argv": sys.argv[1:], "prompt": prompt, "cwd": os.getcwd(),
             "env": {name: os.environ.get(name) for name in PLAN_TASKS_VARIABLES}}
    with open(path, "a", encoding="utf-8") as file:
        file.write(json.dumps(entry) + "\n")


def mode_of(prompt: str) -> str:
    """``answer``, ``rate-limit`` or ``bad-request``: what this call does."""
    marker = MARKER.search(prompt)
    mode = os.environ.get("FAKE_CLI_MODE") or (marker.group("mode") if marker else "answer")
    if mode == "rate-limit-once":
        return "rate-limit" if os.environ.get("PLAN_TASKS_ATTEMPT", "1") == "1" else "answer"
    return mode


def cost() -> float:
    return float(os.environ.get("FAKE_CLI_COST", "0.0125"))


def answer(prompt: str, cli: str) -> str:
    """FILE blocks for the files the task names, then the findings."""
    header = TASK_HEADER.search(prompt)
    task_id, title = (header.group("id"), header.group("title")) if header else ("?", "a task")
    parts = [f"FILE: {path}\n```text\n{title} (task {task_id}, by the fake {cli})\n```"
             for path in NAMED_FILE.findall(prompt)]
    parts.append(f"Task {task_id} done by the fake {cli}.")
    return "\n\n".join(parts)
