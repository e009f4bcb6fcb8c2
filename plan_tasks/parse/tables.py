"""Task tables: a Markdown table per group of tasks, one row per task.

```markdown
## Phase 2: Expand (Week 3)
### Track C: Smart Automation
| ID      | Task                          | Priority | Status  | Deps              |
|---------|-------------------------------|----------|---------|-------------------|
| DEV-246 | NL bookkeeping (`api/nl.ts`)  | High     | ✅ Done | DEV-230, DEV-232  |
| DEV-247 | NL bookkeeping UI             | High     | Ready   | DEV-246           |
```

A table is a task table when its header has an ``ID`` column and a task
column (``Task``, ``Title``, ``Description`` or ``Name``); other tables
(progress summaries, review assignments) are not read. Optional columns:
``Deps``/``Dependencies``/``Depends on`` (ids, ranges, ``—``/``none``, ``All
Track X`` for every task under the ``Track X`` heading, ``All phases`` for
every task of the earlier phases), ``Status`` (``Done``, ``✅``, ``Complete``
are completed; ``Skipped``, ``Cancelled`` skipped; anything else pending),
``Priority``/``Risk`` (the weight). Backticked paths in the task cell are the
task's files. Phases are group headings as in task-heading plans
(:mod:`plan_tasks.parse.headings`); other headings name the tracks.

CommonMark (markdown-it's ``commonmark`` preset) has no tables: a table is a
paragraph whose lines start with ``|``, read here cell by cell, so lines in
code blocks are never rows.
"""

from __future__ import annotations

import re

from plan_tasks.errors import Location, Problem
from plan_tasks.model import Plan, Task, TaskRef
from plan_tasks.parse import inline
from plan_tasks.parse.blocks import Heading, Paragraph
from plan_tasks.parse.draft import PhaseDraft, PlanDraft
from plan_tasks.parse.headings import GROUP, SEED_ITEM
from plan_tasks.parse.sections import ANY_TASK_ID, LEVELS, read_id_list
from plan_tasks.parse.source import Fit, Source

NAME = "table"

HEADER = re.compile(r"^\s*\|\s*(?:\*\*)?ID(?:\*\*)?\s*\|", re.IGNORECASE | re.MULTILINE)
COLUMNS = {
    "id": ("id",),
    "title": ("task", "title", "description", "name"),
    "depends": ("deps", "dependencies", "depends on", "depends", "blocked by"),
    "status": ("status", "state"),
    "priority": ("priority", "risk", "complexity"),
}
DONE = re.compile(r"✅|\b(?:done|complete|completed|finished)\b|^\[x\]", re.IGNORECASE)
SKIPPED = re.compile(r"\b(?:skipped|cancell?ed|dropped)\b|^~~", re.IGNORECASE)
ALL_OF = re.compile(r"^\s*all\s+(?P<what>phases|(?:track|stream|phase)\s+\S+)\s*$", re.IGNORECASE)
SINGLE_ID = re.compile(rf"^{ANY_TASK_ID}$", re.IGNORECASE)
NONE = re.compile(r"^\s*(?:—|–|-|none|n/a)?\s*$", re.IGNORECASE)


def _is_table(text: str) -> bool:
    return text.startswith("|")


def detect(source: Source) -> Fit | None:
    headers = [match for match in HEADER.finditer(source.text)]
    if not headers:
        return None
    line = source.text.count("\n", 0, headers[0].start()) + 1
    score = 0.3 if SEED_ITEM.search(source.text) else 0.8  # a seed plan may show a table of its tasks
    return Fit(score, f"{len(headers)} table(s) with an `ID` column, the first at line {line}")


PIPE = re.compile(r"(?<!\\)\|")


def _cells(line: str) -> list[tuple[str, int]]:
    """The cells of a table row with their 0-based columns; pipes in code spans do not split."""
    if "\\|" in line or ("`" in line and any("|" in span.group(0) for span in inline.CODE_SPAN.finditer(line))):
        masked = inline.mask_code_spans(line)[0]
        bounds = [match.start() for match in PIPE.finditer(masked)]
    else:  # the common row: every pipe splits
        bounds, position = [], line.find("|")
        while position >= 0:
            bounds.append(position)
            position = line.find("|", position + 1)
    if not bounds:
        return []
    if line[bounds[-1] + 1 :].strip():
        bounds.append(len(line))  # a row without its closing pipe
    cells = []
    for start, end in zip(bounds, bounds[1:]):
        raw = line[start + 1 : end]
        stripped = raw.lstrip()
        cells.append((stripped.rstrip(), start + 1 + len(raw) - len(stripped)))
    return cells


def _title_spans(title: str) -> tuple[str, list[str]]:
    """The task cell's prose (code spans blanked) and its code spans, for its paths.
    Blanking costs a call per span; when no `/` is left outside the spans, no bare
    path can be there, so the prose is not needed."""
    if "`" not in title:
        return title, []
    spans = [match.group(2).strip() for match in inline.CODE_SPAN.finditer(title)]
    if "/" not in inline.CODE_SPAN.sub("", title):
        return "", spans
    return inline.mask_code_spans(title)


def _columns(header: list[tuple[str, int]]) -> dict[str, int]:
    names = [cell.strip("* ").lower() for cell, _ in header]
    found: dict[str, int] = {}
    for key, accepted in COLUMNS.items():
        for index, name in enumerate(names):
            if name in accepted and key not in found:
                found[key] = index
    return found


class TableParser:
    def __init__(self, source: Source) -> None:
        self.source = source
        self.outline = source.outline(_is_table)
        self.draft = PlanDraft(source.path, NAME)
        self.problems: list[Problem] = []
        self.group: tuple[PhaseDraft, int] | None = None  # the open phase and its heading level
        self.section = ""  # the innermost heading: a track name
        self.members: dict[str, list[str]] = {}  # "track f" -> task ids, "phase 4" -> task ids
        self.pending_all: list[tuple[Task, str, int, int]] = []  # rows saying `All ...`

    def parse(self) -> tuple[Plan, list[Problem]]:
        for block in self.outline.blocks:
            if isinstance(block, Heading):
                self._heading(block)
            elif isinstance(block, Paragraph):
                self._table(block)
        self._resolve_all()
        if not self.draft.task_count:
            self.problems.append(Problem(Location(self.source.path, 1, 1), "no task table found",
                                         "a task table has a header row with `ID` and `Task` columns"))
        return self.draft.build(), self.problems

    def _heading(self, heading: Heading) -> None:
        text = heading.text.strip().strip("*").strip()
        if heading.level == 1:
            self.draft.title = self.draft.title or text
            return
        group = GROUP.match(text)
        if group and group.group("word").lower() == "phase":
            label = group.group("label") if group.group("label")[0].isdigit() else None
            phase = self.draft.add_phase(label, group.group("rest").strip(" —–-:"), heading.line + 1)
            self.group = (phase, heading.level)
        elif self.group is not None and heading.level <= self.group[1]:
            self.group = None
        self.section = text.split(":", 1)[0].strip().lower()

    def _table(self, paragraph: Paragraph) -> None:
        rows = paragraph.text.split("\n")
        if len(rows) < 3 or not re.match(r"^\s*\|?[\s:|-]+$", rows[1]):
            return
        columns = _columns(_cells(rows[0]))
        if "id" not in columns or "title" not in columns:
            return
        if self.group is None:
            self.group = (self.draft.add_phase(None, self.section or "Tasks", paragraph.line + 1), 99)
        for offset, row in enumerate(rows[2:], start=2):
            cells = _cells(row)
            if len(cells) > columns["id"] and cells[columns["id"]][0]:
                self._row(cells, columns, paragraph.line + offset)

    def _row(self, cells: list[tuple[str, int]], columns: dict[str, int], number: int) -> None:
        empty = ("", 0)
        cell = {key: cells[index] if index < len(cells) else empty for key, index in columns.items()}
        written_id, id_column = cell["id"]
        task_id = written_id.strip("*~` ")
        title = cell["title"][0]
        status = cell.get("status", empty)[0]
        priority = cell.get("priority", empty)[0].strip("* ").split(" ")[0].lower()
        masked, spans = _title_spans(title)
        depends, all_of = self._depends(cell.get("depends", empty), number)
        task = Task(
            id=task_id, title=title, phase_index=self.draft.current_index, line=number + 1, column=id_column + 1,
            checked=bool(status) and bool(DONE.search(status)),
            skipped=(bool(status) and bool(SKIPPED.search(status))) or written_id.startswith("~~"),
            depends_on=tuple(depends), files=tuple(dict.fromkeys(inline.paths_in_line(masked, spans))),
            complexity=LEVELS.get(priority),  # type: ignore[arg-type]
        )
        phase = self.draft.phases[-1]
        phase.tasks.append(task)
        self.members.setdefault(self.section, []).append(task_id)
        self.members.setdefault(f"phase {phase.label}", []).append(task_id)
        if all_of:
            self.pending_all.append((task, all_of.group("what"), number + 1, cell["depends"][1] + 1))

    def _depends(self, depends_cell: tuple[str, int], number: int) -> tuple[list[TaskRef], re.Match[str] | None]:
        """The ids of a Deps cell, or its ``All ...`` match (resolved once every row is read)."""
        text, column = depends_cell
        if SINGLE_ID.match(text):  # the common cell: one id
            return [TaskRef(id=text, line=number + 1, column=column + 1)], None
        all_of = ALL_OF.match(text) if text[:3].lower() == "all" else None
        if all_of or NONE.match(text):
            return [], all_of
        line = self.outline.lines[number][: column + len(text)]  # this cell only
        return read_id_list(line, column, number, self.source.path, self.problems), None

    def _resolve_all(self) -> None:
        """``All Track F`` and ``All phases``, once every row is known."""
        for task, what, line, column in self.pending_all:
            if what.lower() == "phases":
                ids = [t.id for phase in self.draft.phases[: task.phase_index] for t in phase.tasks]
            else:
                ids = self.members.get(what.lower(), [])
            if not ids:
                self.problems.append(Problem(Location(self.source.path, line, column),
                                             f"`All {what}` names no tasks", "name a heading that holds tasks"))
            refs = tuple(TaskRef(id=i, line=line, column=column) for i in ids if i != task.id)
            phase = self.draft.phases[task.phase_index]
            position = next(index for index, t in enumerate(phase.tasks) if t is task)
            phase.tasks[position] = task.model_copy(update={"depends_on": task.depends_on + refs})


def parse(source: Source) -> tuple[Plan, list[Problem]]:
    return TableParser(source).parse()
