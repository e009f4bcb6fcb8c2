#!/usr/bin/env python3
"""An offline stand-in for a coding agent, answering in plan-tasks' FILE protocol.

plan-tasks' agent executor sends a prompt on stdin (plan, phase, task, the
files the task names with their current content, its dependencies' findings)
and reads back ``FILE: <path>`` + fenced blocks, which it writes itself. This
script answers like an agent would, without a model, so the example plan and
the tests run anywhere:

* every file the task names gets a small, plausible file (a Python module with
  a docstring, a Markdown note, a test file...) mentioning the task;
* the rest of the answer is a short summary, kept as the task's findings.

Markers in a task's text make it misbehave on purpose, for tests and demos:

* ``[fake-agent: sleep 0.5]``: take that long;
* ``[fake-agent: fail]``: fail permanently (exit 1);
* ``[fake-agent: flaky 2]``: fail transiently (exit 75) the first 2 attempts,
  counted in ``.fake-agent/<task id>.attempts`` under the project root;
* ``[fake-agent: escape]``: answer with a FILE outside the project;
* ``[fake-agent: count]``: add 1 to ``.fake-agent/<task id>.runs`` (a side-effect counter).
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

TASK_HEADER = re.compile(r"^### Task (?P<id>\S+): (?P<title>.*)$", re.MULTILINE)
NAMED_FILE = re.compile(r"^- `(?P<path>[^`]+)`(?:, currently:| \(does not exist yet\))$", re.MULTILINE)
MARKER = re.compile(r"\[fake-agent: (?P<what>\w+)(?: (?P<arg>[\d.]+))?\]")


def _counter(root: Path, name: str) -> int:
    """Add one to a counter file and return the new value (one writer per task)."""
    path = root / ".fake-agent" / name
    path.parent.mkdir(exist_ok=True)
    value = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(value))
    return value


def _content_for(path: str, task_id: str, title: str) -> tuple[str, str]:
    suffix = Path(path).suffix
    if suffix == ".py":
        name = Path(path).stem
        if name.startswith("test_"):
            return "python", f'"""Tests for task {task_id}: {title}"""\n\n\ndef test_{name[5:] or "it"}_exists():\n    assert True\n'
        return "python", f'"""{title} (task {task_id})."""\n\nTASK_ID = "{task_id}"\n'
    if suffix == ".md":
        return "markdown", f"# {title}\n\nWritten for task {task_id}.\n"
    return "text", f"{title} (task {task_id})\n"


def main() -> int:
    prompt = sys.stdin.read()
    root = Path(os.environ.get("PLAN_TASKS_ROOT", "."))
    header = TASK_HEADER.search(prompt)
    if not header:
        print("fake agent: no `### Task` header in the prompt", file=sys.stderr)
        return 2
    task_id, title = header.group("id"), header.group("title")
    # Only the task's own text counts: not its dependencies' findings, not file contents.
    end = prompt.find("\n## ", header.end())
    own_text = prompt[header.start() : end if end != -1 else len(prompt)]
    for marker in MARKER.finditer(own_text):
        what, arg = marker.group("what"), marker.group("arg")
        if what == "sleep":
            time.sleep(float(arg or 0.1))
        elif what == "count":
            _counter(root, f"{task_id}.runs")
        elif what == "fail":
            print(f"fake agent: task {task_id} cannot be done", file=sys.stderr)
            return 1
        elif what == "flaky" and _counter(root, f"{task_id}.attempts") <= int(float(arg or 1)):
            print("fake agent: service overloaded, try again", file=sys.stderr)
            return 75
        elif what == "escape":
            print("FILE: ../outside.txt\n```text\nnot allowed\n```")
            return 0
    # The named files' section ends where the prompt's next own section starts; the
    # files' contents in between may hold `## ` headings of their own.
    named = prompt.split("\n## Files this task names\n", 1)[1] if "\n## Files this task names\n" in prompt else ""
    for next_section in ("\n## Results of the tasks it depends on\n", "\n## How to answer\n"):
        named = named.split(next_section, 1)[0]
    files = NAMED_FILE.findall(named)
    for path in files:
        language, content = _content_for(path, task_id, title)
        print(f"FILE: {path}\n```{language}\n{content}```\n")
    print(f"Task {task_id} done: {title}. Wrote {len(files)} file(s).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
