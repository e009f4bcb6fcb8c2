"""Task-heading plans: every task is a heading and the section under it.

```markdown
## Stage 2 (after Stage 1)                 <- a group: phase, stage, stream, wave, slice...
### Task 2.1: Add security hooks            <- task 2.1 (also `### Task 3:`, `#### 1.1 Title`,
- **Depends on:** Task 1.1 (same files)        `### T005 [D: T001] [x] Title`, `### Slice 4: ...`)
- **Files:**
  - Modify: `agents/dev-python.json`        <- a file the task writes
- Risk: high                                <- weight, as HIGH complexity
- [ ] **Step 1: Write the failing test**    <- a step, not a task
```

What it reads (docs/plan-format.md has the reference): group headings
(``Phase|Stage|Stream|Wave|Slice|Milestone|Part|Sprint|Iteration|Track`` and
a number or letter) become phases, numbered as :mod:`plan_tasks.parse.draft`
says; tasks outside any group share a phase named after the heading they sit
under. A ``Slice N`` heading is a task unless task headings sit under it.
A task's section ends at the next task or group heading or at a heading of
its level or higher (so ``## Verification``, ``### Testing``, ``### Agent
instructions`` are not tasks and end the task above them).

A task is done when its heading says so (``[x]``, ``✅``), its ``**Status:**``
is done, its group heading is marked done (``— completed``, ``✅``,
``(DONE)``), or it has step checkboxes and all are checked. ``~~Task 1.4~~``
is skipped. ``[sequential]`` on a task makes it wait for the task before it
in its phase; on a group heading, every task of the group waits for the one
before it. ``[P]`` (parallel) adds no edge: heading tasks wait only for what
they name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from plan_tasks.errors import Location, Problem
from plan_tasks.model import Plan, Task
from plan_tasks.parse.blocks import Heading, Outline
from plan_tasks.parse.draft import PhaseDraft, PlanDraft
from plan_tasks.parse.sections import read_id_list, read_section
from plan_tasks.parse.source import Fit, Source

NAME = "headings"

GROUP = re.compile(
    r"^(?:\*\*)?(?P<word>phase|stage|stream|wave|slice|milestone|part|sprint|iteration|track)\s+"
    r"(?P<label>\d+(?:\.\d+)*|[A-Z])(?![\w.])[*:.)]*\s*(?P<rest>.*)$",
    re.IGNORECASE,
)
TASK = re.compile(
    r"^(?P<struck>~~)?(?:\[(?P<mark>[ xX])\]\s+)?(?:\*\*)?"
    r"(?:(?P<word>task|slice)\s+(?P<id>\d+(?:\.\d+)*|T\d+)|(?P<bare>\d+\.\d+(?:\.\d+)?|T\d{3,}))"
    r"(?P<struck_end>~~)?(?:\*\*)?(?=[\s:.)\]—–-]|$)[:.)]?\s*(?P<rest>.*)$",
    re.IGNORECASE,
)
TAG = re.compile(r"\s*\[(?P<tag>[^\]\s]{1,12}|D:[^\]]*|sequential|parallel)\]", re.IGNORECASE)
SEQUENTIAL = re.compile(r"[\[(]sequential[\])]", re.IGNORECASE)
DONE_MARK = re.compile(r"✅|\((?:done|completed?)\)|[—–-]\s*(?:done|completed?)\b", re.IGNORECASE)
DONE_STATUS = re.compile(r"^(?:✅\s*)?(?:done|completed?|finished)\b", re.IGNORECASE)
SKIPPED_STATUS = re.compile(r"^(?:skipped|cancell?ed|dropped|won'?t do)\b", re.IGNORECASE)
DETECT_TASK = re.compile(r"^#{1,6}\s+(?:~~)?(?:\[[ xX]\]\s+)?(?:\*\*)?(?:(?:task|slice)\s+\d|\d+\.\d+\s|T\d{3,}\b)", re.IGNORECASE | re.MULTILINE)
# The seed's own task items: `- [ ] 1.2`, and its three-level steps `- 1.1.1` under a `### 1.1` heading
# (there the heading is a group of tasks, not a task).
SEED_ITEM = re.compile(r"^\s*[-*+]\s+(?:\[[ xX]\]\s+(?:\*\*)?\d+\.\d+|(?:\*\*)?\d+\.\d+\.\d+\s)", re.MULTILINE)
HINT = ("write each task as a heading such as `### Task 1.1: Title` (or `### Task 3:`, `#### 1.1 Title`) "
        "under `## Phase 1: Title` or `## Stage 1` headings; see docs/plan-format.md")


def _no_paragraphs(text: str) -> bool:
    return False


def detect(source: Source) -> Fit | None:
    """Task headings, counted on the raw text (cheap); seed checkbox tasks lower the fit."""
    found = list(DETECT_TASK.finditer(source.text))
    if not found:
        return None
    items = len(SEED_ITEM.findall(source.text))
    score = 0.85 if items < len(found) else 0.3
    start = found[0].start()
    end = source.text.find("\n", start)
    first = source.text[start : end if end >= 0 else None]
    line = source.text.count("\n", 0, start) + 1
    return Fit(score, f"{len(found)} task heading(s), the first `{first.strip()[:60]}` (line {line})")


@dataclass
class _Open:
    """The task heading being read, until its section ends."""

    heading: Heading
    match: re.Match[str]
    phase: PhaseDraft
    phase_index: int
    group_done: bool


class HeadingsParser:
    def __init__(self, source: Source) -> None:
        self.source = source
        self.outline: Outline = source.outline(_no_paragraphs)
        self.draft = PlanDraft(source.path, NAME)
        self.problems: list[Problem] = []
        self.sequential_run: list[str] = []  # consecutive `[sequential]` tasks and the one before
        self.sequential_line = 0

    def parse(self) -> tuple[Plan, list[Problem]]:
        headings = [block for block in self.outline.blocks if isinstance(block, Heading)]
        kinds = _classify(headings)
        group: tuple[PhaseDraft, int, int, bool] | None = None  # phase, its index, heading level, done mark
        implicit: tuple[PhaseDraft, int, int] | None = None  # phase outside groups, its index, its heading
        parents: list[Heading] = []  # open non-task headings, for naming an implicit phase
        task: _Open | None = None
        for heading, kind in zip(headings, kinds):
            if task is not None and (kind != "other" or heading.level <= task.heading.level):
                self._finish(task, heading.line)
                task = None
            if heading.level == 1 and self.draft.title is None:
                self.draft.title = heading.text.strip()
            if kind == "group":
                group = self._open_group(heading)
                implicit = None
            elif kind == "task":
                match = TASK.match(heading.text.strip())
                assert match is not None
                if group is None:
                    parent = next((h for h in reversed(parents) if h.level < heading.level), None)
                    if implicit is None or implicit[2] != (parent.line if parent else -1):
                        phase = self._open_implicit(parent)
                        implicit = (phase, self.draft.current_index, parent.line if parent else -1)
                    task = _Open(heading, match, implicit[0], implicit[1], False)
                else:
                    task = _Open(heading, match, group[0], group[1], group[3])
            else:
                if group is not None and heading.level <= group[2]:
                    group = None
                parents = [h for h in parents if h.level < heading.level] + [heading]
        if task is not None:
            self._finish(task, len(self.outline.lines))
        self._close_sequential_run()
        if not self.draft.task_count:
            self.problems.append(Problem(Location(self.source.path, 1, 1), "no task headings found", HINT))
        return self.draft.build(), self.problems

    def _open_group(self, heading: Heading) -> tuple[PhaseDraft, int, int, bool]:
        self._close_sequential_run()
        text = heading.text.strip().strip("*").strip()
        match = GROUP.match(text)
        assert match is not None
        label = match.group("label") if match.group("label")[0].isdigit() else None
        title = match.group("rest") if match.group("word").lower() == "phase" else text
        sequential = bool(SEQUENTIAL.search(text))
        title = SEQUENTIAL.sub(" ", title).strip(" —–-:")
        phase = self.draft.add_phase(label, title, heading.line + 1, sequential)
        return phase, self.draft.current_index, heading.level, bool(DONE_MARK.search(text))

    def _open_implicit(self, parent: Heading | None) -> PhaseDraft:
        self._close_sequential_run()
        title = parent.text.strip() if parent else (self.draft.title or "Tasks")
        return self.draft.add_phase(None, title, parent.line + 1 if parent else 1)

    def _finish(self, task: _Open, end: int) -> None:
        heading, match = task.heading, task.match
        lines = self.outline.lines
        source_line = lines[heading.line]
        task_id = match.group("id") or match.group("bare")
        column = source_line.find(task_id) + 1 if task_id in source_line else 1
        facts = read_section(lines, self.outline.code_lines, heading.line + 1, end, self.source.path, self.problems)
        rest = match.group("rest")
        tags = [tag.group("tag") for tag in TAG.finditer(rest)]
        title = TAG.sub(" ", rest).strip(" —–-:").removesuffix("~~").strip()
        if not title:
            self.problems.append(Problem(
                Location(self.source.path, heading.line + 1, column),
                f"task {task_id} has no title", f"write what the task does after its id: `### Task {task_id}: Title`",
            ))
        depends = facts.depends_on
        for tag in TAG.finditer(source_line):
            if tag.group("tag").upper().startswith("D:"):
                depends = read_id_list(source_line, tag.start("tag") + 2, heading.line, self.source.path, self.problems) + depends
        status = facts.status or ""
        checked = (
            (match.group("mark") or " ") in "xX" or any(t in ("x", "X") for t in tags) or "✅" in rest
            or task.group_done or facts.all_steps_checked or bool(DONE_STATUS.match(status))
        )
        skipped = bool(match.group("struck") and (match.group("struck_end") or rest.endswith("~~"))) or bool(
            SKIPPED_STATUS.match(status))
        body = "\n".join(lines[heading.line + 1 : end]).strip("\n")
        task.phase.tasks.append(Task(
            id=task_id, title=title, phase_index=task.phase_index,
            line=heading.line + 1, column=column, checked=checked, skipped=skipped, body=body,
            depends_on=tuple(depends), files=tuple(facts.files), complexity=facts.complexity,  # type: ignore[arg-type]
            code_blocks=tuple(facts.code_blocks),
        ))
        self._track_sequential(task, task_id, any(t.lower() == "sequential" for t in tags))

    def _track_sequential(self, task: _Open, task_id: str, marked: bool) -> None:
        """Runs of `[sequential]` tasks become one chain, with the task before the run."""
        phase_tasks = task.phase.tasks
        if marked:
            if not self.sequential_run:
                self.sequential_line = task.heading.line + 1
                self.sequential_run = [phase_tasks[-2].id] if len(phase_tasks) > 1 else []
            self.sequential_run.append(task_id)
        else:
            self._close_sequential_run()

    def _close_sequential_run(self) -> None:
        self.draft.chain_note(self.sequential_run, "tasks marked [sequential]", self.sequential_line)
        self.sequential_run = []


def _classify(headings: list[Heading]) -> list[str]:
    """``task``, ``group`` or ``other`` for each heading; a ``Slice N`` heading is
    a group when task headings sit under it, else a task."""
    kinds = []
    # A level-1 group heading is the plan's title (`# Phase 1 Execution Plan`) unless there are several.
    top_groups = sum(1 for heading in headings if heading.level == 1 and GROUP.match(heading.text.strip().strip("*").strip()))
    for index, heading in enumerate(headings):
        text = heading.text.strip()
        task = TASK.match(text)
        if task and (task.group("word") or "").lower() != "slice":
            kinds.append("task")
        elif task and not _has_task_below(headings, index):
            kinds.append("task")
        elif GROUP.match(text.strip("*").strip()) and (heading.level > 1 or top_groups > 1):
            kinds.append("group")
        else:
            kinds.append("other")
    return kinds


def _has_task_below(headings: list[Heading], index: int) -> bool:
    level = headings[index].level
    for heading in headings[index + 1:]:
        if heading.level <= level:
            return False
        match = TASK.match(heading.text.strip())
        if match and (match.group("word") or "").lower() != "slice":
            return True
    return False


def parse(source: Source) -> tuple[Plan, list[Problem]]:
    """Parse a task-heading plan; problems are returned, not raised."""
    return HeadingsParser(source).parse()
