"""GSD ("Get Shit Done") plans: YAML front matter and XML-ish ``<task>`` elements.

```markdown
---
phase: 01-foundation        <- the phase: number 1, title "foundation"
plan: 02
depends_on: ["01-01"]       <- other plan files: named in a warning, not waited for
---
<tasks>
<task type="auto">
  <name>Task 1: Create grammY bot with plugins</name>      <- task 1
  <files>src/telegram/bot.ts</files>                        <- files, comma-separated
  <action>...</action> <verify>...</verify> <done>...</done> <- the task's body
</task>
</tasks>
```

GSD's executor runs a plan's tasks one after the other, so the phase is
sequential. Where the front matter is gone (``plan_tasks.parse`` may blank
it before dialects read the text), the phase comes from GSD's file layout
instead: ``.planning/phases/01-foundation/01-02-PLAN.md``. Nothing of the rest (``<objective>``, ``<verification>``,
``<success_criteria>``) is a task. The text is not Markdown (markdown-it
would cut an element at its first blank line), so it is read line by line:
only ``<task>`` elements outside code fences count.
"""

from __future__ import annotations

import re

from plan_tasks.errors import Location, Problem
from plan_tasks.model import Plan, Task
from plan_tasks.parse import inline
from plan_tasks.parse.draft import PlanDraft
from plan_tasks.parse.source import Fit, Source

NAME = "gsd"

FRONT_KEY = re.compile(r"^(?P<key>[A-Za-z_]+):\s*(?P<value>.*?)\s*$")
PHASE_VALUE = re.compile(r"^(?P<number>\d+(?:\.\d+)?)(?:[-_ ](?P<title>.*))?$")
TASK_OPEN = re.compile(r"^\s*<task(?:\s[^>]*)?>\s*$")
ELEMENT = re.compile(r"<(?P<tag>name|files|action|verify|done)>(?P<text>.*?)</(?P=tag)>", re.DOTALL)
TASK_NAME = re.compile(r"^(?:Task\s+(?P<id>\d+(?:\.\d+)*)\s*[:.-]\s*)?(?P<title>.*)$", re.IGNORECASE | re.DOTALL)
FENCE = re.compile(r"^\s*(```|~~~)")


def detect(source: Source) -> Fit | None:
    if "<tasks>" not in source.text:
        return None
    count = sum(1 for line in source.lines if TASK_OPEN.match(line))
    if not count:
        return None
    return Fit(0.9, f"a `<tasks>` list of {count} `<task>` element(s) (a GSD plan)")


PHASE_DIRECTORY = re.compile(r"^\d+(?:\.\d+)?-[\w.-]+$")
PLAN_FILE = re.compile(r"(?P<phase>\d+(?:\.\d+)?)-(?P<plan>\d+)-PLAN\.md$", re.IGNORECASE)


def _front_matter(lines: list[str], path: str) -> tuple[dict[str, str], int]:
    """Top-level ``key: value`` pairs of the front matter and the line after it;
    without front matter, ``phase`` and ``plan`` from GSD's file layout."""
    values: dict[str, str] = {}
    if lines[0] != "---":
        parts = path.replace("\\", "/").split("/")
        plan_file = PLAN_FILE.search(parts[-1])
        if len(parts) > 1 and PHASE_DIRECTORY.match(parts[-2]):
            values["phase"] = parts[-2]
        elif plan_file:
            values["phase"] = plan_file.group("phase")
        if plan_file:
            values["plan"] = plan_file.group("plan")
        return values, 0
    for number, line in enumerate(lines[1:], start=1):
        if line.strip() == "---":
            return values, number + 1
        match = FRONT_KEY.match(line)
        if match:
            values[match.group("key")] = match.group("value").strip("\"'")
    return values, 1


def _draft(path: str, front: dict[str, str]) -> PlanDraft:
    """The plan and its one phase: ``phase: 01-foundation`` is Phase 1, foundation."""
    draft = PlanDraft(path, NAME)
    phase_match = PHASE_VALUE.match(front.get("phase", ""))
    label = str(float(phase_match.group("number"))).removesuffix(".0") if phase_match else None
    title = (phase_match.group("title") or "").replace("-", " ") if phase_match else front.get("phase", "")
    plan_name = f"{front.get('phase', '').split('-')[0]}-{front['plan']}" if "plan" in front else None
    draft.title = f"{front.get('phase', path)} plan {front['plan']}" if "plan" in front else front.get("phase")
    if plan_name:
        title = f"{title} (plan {plan_name})" if title else f"plan {plan_name}"
    draft.add_phase(label, title, 2, sequential=True)
    return draft


def parse(source: Source) -> tuple[Plan, list[Problem]]:
    lines = source.lines
    front, body_start = _front_matter(lines, source.path)
    problems: list[Problem] = []
    draft = _draft(source.path, front)
    phase = draft.phases[0]
    if front.get("depends_on", "[]") not in ("[]", ""):
        problems.append(Problem(
            Location(source.path, next(n for n, line in enumerate(lines) if line.startswith("depends_on")) + 1, 1),
            f"this plan depends on plan(s) {front['depends_on'].strip('[]')}, which are other files: "
            "they are not waited for",
            "run the plans of a GSD phase in their waves, earlier plans first", severity="warning",
        ))
    in_fence, number = False, body_start
    while number < len(lines):
        if FENCE.match(lines[number]):
            in_fence = not in_fence
        elif not in_fence and TASK_OPEN.match(lines[number]):
            end = next((n for n in range(number + 1, len(lines)) if lines[n].strip() == "</task>"), len(lines))
            phase.tasks.append(_task(source, number, end, len(phase.tasks) + 1, problems))
            number = end
        number += 1
    if not phase.tasks:
        problems.append(Problem(Location(source.path, 1, 1), "no `<task>` elements found",
                                "a GSD plan lists its work as `<task type=\"auto\"><name>Task 1: ...</name>...</task>`"))
    return draft.build(), problems


def _task(source: Source, start: int, end: int, position: int, problems: list[Problem]) -> Task:
    text = "\n".join(source.lines[start + 1 : end])
    elements = {match.group("tag"): match.group("text").strip() for match in ELEMENT.finditer(text)}
    name = TASK_NAME.match(elements.get("name", ""))
    task_id = name.group("id") if name and name.group("id") else str(position)
    title = name.group("title").strip() if name else ""
    if not title:
        problems.append(Problem(Location(source.path, start + 1, 1), f"task {task_id} has no `<name>`",
                                "name it: `<name>Task 1: What it does</name>`"))
    files = [path for entry in elements.get("files", "").split(",") if (path := inline.normalize_path(entry.strip()))]
    body = "\n\n".join(f"{tag.capitalize()}:\n{elements[tag]}" for tag in ("action", "verify", "done") if elements.get(tag))
    return Task(id=task_id, title=title, phase_index=0, line=start + 1, column=1,
                body=body, files=tuple(dict.fromkeys(files)))
