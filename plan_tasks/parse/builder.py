"""What every list-item dialect shares: turning items into tasks, phases into a plan.

A dialect decides which headings are phases and which list items are tasks,
and with which id; :class:`PlanBuilder` does the rest the same way for all of
them: it reads a task's dependencies, files, complexity words, fenced code and
body from its source lines (``plan_tasks.parse.inline``), keeps the problems,
and builds the :class:`~plan_tasks.model.Plan`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePath

from plan_tasks.errors import Location, Problem
from plan_tasks.model import CodeBlock, ExecutionNote, Phase, Plan, Task, TaskRef
from plan_tasks.parse import inline
from plan_tasks.parse.blocks import Heading, ListItem, Outline, Paragraph
from plan_tasks.parse.ids import RangeProblem, expand_range

LIST_MARKER = re.compile(r"^\s*(?:[-*+]|\d{1,9}[.)])[ \t]+")
# Checklists of criteria are never tasks, in any dialect.
CRITERIA_SECTION = re.compile(
    r"\b(?:success\s+criteria|acceptance(?:\s+criteria)?|validation\s+checklist|definition\s+of\s+done|"
    r"verify\b|verification|checklist|quality\s+gates?)",
    re.IGNORECASE,
)
STRUCK = re.compile(r"^~~(?P<inner>.+?)~~(?P<rest>.*)$", re.DOTALL)
DONE_MARK = re.compile(r"\s*\(DONE\)", re.IGNORECASE)
SKIP_MARK = re.compile(r"\s*\[skip\]", re.IGNORECASE)


@dataclass
class TaskFacts:
    depends_on: list[TaskRef] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    complexity: str | None = None


@dataclass
class PhaseDraft:
    line: int  # 1-based
    level: int  # the heading's level (0 when the phase has no heading)
    number: int
    label: str
    title: str
    sequential: bool = False
    parallel: bool = False
    task_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Marks:
    """What a task's own text says of its state: ``[x]``, ``~~struck~~``, ``(DONE)``, ``[skip]``."""

    title: str
    checked: bool
    skipped: bool


def read_marks(title: str, checked: bool) -> Marks:
    """The title without its marks, and what they mean."""
    if "~~" not in title and "[" not in title and "(" not in title:
        return Marks(title, checked, False)  # the common case, without three searches
    skipped = False
    struck = STRUCK.match(title)
    if struck:
        title, skipped = (struck.group("inner").strip() + " " + struck.group("rest").strip()).strip(), True
    if SKIP_MARK.search(title):
        title, skipped = SKIP_MARK.sub("", title).strip(), True
    if DONE_MARK.search(title):
        title, checked = DONE_MARK.sub("", title).strip(), True
    return Marks(title, checked, skipped)


class ParallelMarks:
    """spec-kit's ``[P]`` and cc-sdd's ``(P)``: a marked task may run with the
    others of its phase; an unmarked one waits for every task before it."""

    def __init__(self, marker: str) -> None:
        self.marker = marker
        self.barrier: str | None = None  # the last unmarked task of the phase
        self.since_barrier: list[str] = []  # marked tasks after it

    def new_phase(self) -> None:
        self.barrier, self.since_barrier = None, []

    def order_refs(self, task_id: str, parallel: bool, phase_label: str, line: int, column: int) -> list[TaskRef]:
        """The tasks ``task_id`` waits for because it has no marker (1-based line and column)."""
        if parallel:
            self.since_barrier.append(task_id)
            return []
        reason = f"{task_id} has no {self.marker}: it waits for the tasks before it in phase {phase_label}"
        earlier = ([self.barrier] if self.barrier else []) + self.since_barrier
        self.barrier, self.since_barrier = task_id, []
        return [TaskRef(id=i, line=line, column=column, kind="sequential", reason=reason) for i in earlier]


class PlanBuilder:
    """Phases, tasks and notes of one plan as a dialect finds them, and its problems."""

    def __init__(self, outline: Outline, path: str, dialect: str) -> None:
        self.outline = outline
        self.path = path
        self.dialect = dialect
        self.problems: list[Problem] = []
        self.title: str | None = None
        self.phases: list[PhaseDraft] = []
        self.tasks: list[Task] = []
        self.notes: list[ExecutionNote] = []

    # -- reading ---------------------------------------------------------------

    def walk(
        self,
        on_heading: Callable[[Heading], None],
        on_item: Callable[[ListItem], None],
        on_paragraph: Callable[[Paragraph], None] | None = None,
    ) -> None:
        """Hand every block of the outline, in document order, to the dialect."""
        for block in self.outline.blocks:
            if isinstance(block, Heading):
                on_heading(block)
            elif isinstance(block, ListItem):
                on_item(block)
            elif on_paragraph is not None:
                on_paragraph(block)

    def finish(self, where: str, hint: str, task_like: re.Pattern[str] | None = None) -> tuple[Plan, list[Problem]]:
        """The plan and its problems; "no tasks found" (``where``: what was found) when empty."""
        if not self.tasks:
            self.report_no_tasks(where, hint, task_like)
        return self.build(), self.problems

    def read_title(self, heading: Heading) -> None:
        if heading.level == 1 and self.title is None:
            self.title = heading.text.strip()

    def problem(self, line: int, column: int, message: str, hint: str, severity: str = "error") -> None:
        """A problem at a 0-based line and column."""
        self.problems.append(Problem(Location(self.path, line + 1, column + 1), message, hint, severity))  # type: ignore[arg-type]

    def add_range_problem(self, problem: RangeProblem | None, line: int, column: int) -> None:
        if problem:
            self.problem(line, column, problem.message, problem.hint)

    def add_task(
        self,
        item: ListItem,
        task_id: str,
        marks: Marks,
        column: int,
        *,
        extra_refs: tuple[TaskRef, ...] = (),
        scan_lines: range | None = None,
    ) -> Task:
        """A task of the current (last) phase, read from ``item``'s lines."""
        facts = self.scan_task_lines(scan_lines or range(item.line, item.end))
        first_line = self.outline.lines[item.line]
        body = dedent_body(self.outline.lines[item.line + 1 : item.end], content_column(first_line))
        task = Task(
            id=task_id,
            title=marks.title,
            phase_index=len(self.phases) - 1,
            line=item.line + 1,
            column=column,
            checked=marks.checked,
            body=body,
            depends_on=tuple(facts.depends_on) + extra_refs,
            files=tuple(dict.fromkeys(facts.files)),
            complexity=facts.complexity,  # type: ignore[arg-type]
            code_blocks=tuple(CodeBlock(info=f.info, content=f.content, line=f.line + 1) for f in item.fences),
            **({"skipped": True} if marks.skipped else {}),  # a default is not validated: cheaper
        )
        self.tasks.append(task)
        self.phases[-1].task_ids.append(task_id)
        return task

    def scan_task_lines(self, lines_range: range) -> TaskFacts:
        facts = TaskFacts()
        lines, is_code = self.outline.lines, self.outline.code_lines
        in_files_list = False
        for number in lines_range:
            if is_code[number]:
                continue
            masked, spans = inline.mask_code_spans(lines[number])
            marker = inline.FILES_MARKER.match(masked)
            if marker:
                in_files_list = not marker.group("rest").strip()
            elif in_files_list:
                entry = inline.files_list_entry(lines[number])
                if entry:
                    facts.files.append(entry)
                    continue
                in_files_list = not lines[number].strip()
            facts.files.extend(inline.paths_in_line(masked, spans))
            if "epend" in masked:
                facts.depends_on.extend(self.dependency_refs(masked, number))
            complexity = inline.highest_complexity(masked)
            if complexity:
                facts.complexity = inline.heaviest(complexity, facts.complexity)
        return facts

    def dependency_refs(self, masked: str, number: int) -> list[TaskRef]:
        refs: list[TaskRef] = []
        for mention in inline.dependency_mentions(masked):
            ids, problem = expand_range(mention.start, mention.end)
            self.add_range_problem(problem, number, mention.column)
            refs.extend(TaskRef(id=i, line=number + 1, column=mention.column + 1) for i in ids)
        return refs

    # -- results ---------------------------------------------------------------

    def report_no_tasks(self, where: str, hint: str, task_like: re.Pattern[str] | None = None) -> None:
        """The "no tasks found" error, counting task-like lines that sit in code."""
        message = f"no tasks found ({where})"
        if task_like is not None:
            outline = self.outline
            in_code = sum(
                1 for number, line in enumerate(outline.lines) if outline.code_lines[number] and task_like.match(line)
            )
            if in_code:
                message += f"; {in_code} task-like line(s) sit inside code blocks, which are examples, not tasks"
        self.problems.append(Problem(Location(self.path, 1, 1), message, hint))

    def build(self) -> Plan:
        phases = tuple(
            Phase(
                index=index,
                number=draft.number,
                label=draft.label,
                title=draft.title,
                line=draft.line,
                sequential=draft.sequential,
                parallel=draft.parallel,
                task_ids=tuple(draft.task_ids),
            )
            for index, draft in enumerate(self.phases)
        )
        return Plan(
            path=self.path,
            title=self.title or PurePath(self.path).stem,
            dialect=self.dialect,
            phases=phases,
            tasks=tuple(self.tasks),
            notes=tuple(self.notes),
        )


def is_criteria_section(heading_text: str) -> bool:
    """``## Success Criteria``, ``### Validation Checklist``, ``**VERIFY 1.2**``: not tasks."""
    return bool(CRITERIA_SECTION.search(heading_text))


def content_column(first_line: str) -> int:
    """Where a list item's content starts (`- ` is 2, `10. ` is 4): its body's indent."""
    marker = LIST_MARKER.match(first_line)
    return len(marker.group(0)) if marker else 0


def dedent_body(lines: list[str], indent: int) -> str:
    """The item's nested lines, relative to the item's content column."""
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    while lines and not lines[0].strip():
        lines = lines[1:]
    return "\n".join(_strip_indent(line, indent) for line in lines)


def _strip_indent(line: str, indent: int) -> str:
    width = len(line) - len(line.lstrip(" "))
    return line[min(width, indent):]
