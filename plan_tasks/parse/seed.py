"""The seed system's plan format: ``## Phase N: Title`` and ``- [ ] N.M description``.

What it reads, in the seed's own terms (see docs/plan-format.md for the full
reference):

* phase headings ``## Phase N: Title`` (any heading level, ``:``/``-``/``—``
  separators, Phase 0, decimal ``Phase 3.1``; ``[SEQUENTIAL]`` in the heading
  chains the phase's tasks);
* tasks: top-level checkbox items whose text starts with an id ``N.M`` or
  ``N.M.K``; nested items are steps of their parent task, as in the seed;
* ``**Execution Note:** Tasks 3.1-3.4 are [SEQUENTIAL] - reason``;
* ``Depends on: 1.2, 1.3``, ``**Depends on:** Task 1.1``, ``(depends: 2.1)``;
* backticked or ``dir/file.ext`` paths, and ``**Files:**`` lists;
* ``CRITICAL``/``HIGH``/``MEDIUM``/``LOW`` complexity words.

A phase ends at the next heading of the same or a higher level; checkbox items
in a section that is not a phase (``## Success Criteria``) are not tasks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePath

from plan_tasks.errors import Location, Problem
from plan_tasks.model import CodeBlock, ExecutionNote, Phase, Plan, Task, TaskRef
from plan_tasks.parse import inline
from plan_tasks.parse.blocks import Heading, ListItem, Outline, Paragraph, read_outline
from plan_tasks.parse.ids import RANGE_PATTERN, TASK_ID, RangeProblem, expand_range

DIALECT = "seed"

PHASE_HEADING = re.compile(
    r"^(?:\*\*)?phase\s+(?P<label>\d+(?:\.\d+)*)(?:\*\*)?(?:\s*[:—–-](?:\*\*)?\s*|\s+|$)(?P<title>.*)$",
    re.IGNORECASE,
)
SEQUENTIAL_TAG = re.compile(r"\s*\[SEQUENTIAL\]\s*", re.IGNORECASE)
TASK_LEAD = re.compile(
    rf"^\[(?P<mark>[ xX])\]\s+(?:\*\*)?(?P<id>{TASK_ID})(?:\*\*)?[:.)]?(?:\*\*)?(?:\s+(?P<title>.*)|$)"
)
NOTE = re.compile(
    r"\*\*Execution Note:?\*\*:?\s*Tasks?\s+"
    r"(?P<ids>\d[\d.]*(?:\s*(?:,|&|-|–|—|\band\b|\bto\b|\bthrough\b)\s*\d[\d.]*)*)"
    r"\s+(?:are|is)\s+\[SEQUENTIAL\](?P<reason>[^\n]*)",
    re.IGNORECASE,
)
LIST_MARKER = re.compile(r"^\s*(?:[-*+]|\d{1,9}[.)])[ \t]+")
TASK_LIKE_LINE = re.compile(rf"^\s*(?:[-*+]|\d+[.)])\s+\[[ xX]\]\s+{TASK_ID}\s")
FORMAT_HINT = (
    "plan-tasks reads tasks written as `- [ ] 1.1 Description` under `## Phase 1: Title` "
    "headings (the seed format; see docs/plan-format.md)"
)


@dataclass
class _TaskFacts:
    depends_on: list[TaskRef] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    complexity: str | None = None


@dataclass
class _PhaseDraft:
    heading: Heading
    number: int
    label: str
    title: str
    sequential: bool
    task_ids: list[str] = field(default_factory=list)


class SeedParser:
    """Turns the text of one plan into a :class:`Plan` plus the problems found."""

    def __init__(self, text: str, path: str) -> None:
        self.path = path
        self.outline: Outline = read_outline(text, keep_paragraph=_may_hold_note)
        self.problems: list[Problem] = []
        self.title: str | None = None
        self.phases: list[_PhaseDraft] = []
        self.tasks: list[Task] = []
        self.notes: list[ExecutionNote] = []
        self._section = ""  # the non-phase heading that ended the last phase

    def parse(self) -> tuple[Plan, list[Problem]]:
        current: _PhaseDraft | None = None
        for block in self.outline.blocks:
            if isinstance(block, Heading):
                current = self._read_heading(block, current)
            elif isinstance(block, ListItem):
                self._read_item(block, current)
            elif isinstance(block, Paragraph):
                self._read_notes(block)
        if not self.tasks:
            self._report_no_tasks()
        return self._build(), self.problems

    # -- blocks ------------------------------------------------------------

    def _read_heading(self, heading: Heading, current: _PhaseDraft | None) -> _PhaseDraft | None:
        if heading.level == 1 and self.title is None:
            self.title = heading.text.strip()
        match = PHASE_HEADING.match(heading.text.strip())
        if match:
            title = match.group("title")
            sequential = bool(SEQUENTIAL_TAG.search(title))
            title = SEQUENTIAL_TAG.sub(" ", title).strip()
            if heading.text.lstrip().startswith("**") and title.endswith("**"):
                title = title[:-2].rstrip()  # `**Phase 1: Setup**`
            label = match.group("label")
            phase = _PhaseDraft(heading, int(label.split(".")[0]), label, title, sequential)
            self.phases.append(phase)
            return phase
        if current is not None and heading.level <= current.heading.level:
            self._section = heading.text.strip()
            return None  # `## Success Criteria` and the like end the phase
        return current

    def _read_item(self, item: ListItem, phase: _PhaseDraft | None) -> None:
        first_line = item.lead.split("\n", 1)[0]
        match = TASK_LEAD.match(first_line)
        if not match:
            return
        task_id = match.group("id")
        source_line = self.outline.lines[item.line]
        column = source_line.find(task_id, source_line.find("]")) + 1
        if phase is None:
            if not self.phases:
                self.problems.append(Problem(
                    Location(self.path, item.line + 1, column),
                    f"task {task_id} is outside any phase",
                    "put it under a phase heading such as `## Phase 1: Title`",
                ))
            else:
                # The seed would file it under the previous phase; say why it is not a task.
                self.problems.append(Problem(
                    Location(self.path, item.line + 1, column),
                    f"{task_id} is not a task: it is under `{self._section}`, which is not a phase",
                    "move it under a `## Phase N: Title` heading to run it, or drop the id "
                    "if it is a checklist item",
                    severity="warning",
                ))
            return
        title = (match.group("title") or "").strip()
        if not title:
            self.problems.append(Problem(
                Location(self.path, item.line + 1, column),
                f"task {task_id} has no description",
                f"write what the task does after its id: `- [ ] {task_id} Create the parser`",
            ))
        facts = self._scan_task_lines(item)
        body = _dedent_body(self.outline.lines[item.line + 1 : item.end], _content_column(source_line))
        self.tasks.append(Task(
            id=task_id,
            title=title,
            phase_index=len(self.phases) - 1,
            line=item.line + 1,
            column=column,
            checked=match.group("mark") in "xX",
            body=body,
            depends_on=tuple(facts.depends_on),
            files=tuple(dict.fromkeys(facts.files)),
            complexity=facts.complexity,  # type: ignore[arg-type]
            code_blocks=tuple(CodeBlock(info=f.info, content=f.content, line=f.line + 1) for f in item.fences),
        ))
        phase.task_ids.append(task_id)

    def _scan_task_lines(self, item: ListItem) -> _TaskFacts:
        facts = _TaskFacts()
        lines, is_code = self.outline.lines, self.outline.code_lines
        in_files_list = False
        for number in range(item.line, item.end):
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
            for mention in inline.dependency_mentions(masked):
                ids, problem = expand_range(mention.start, mention.end)
                self._add_range_problem(problem, number, mention.column)
                facts.depends_on.extend(TaskRef(id=i, line=number + 1, column=mention.column + 1) for i in ids)
            complexity = inline.highest_complexity(masked)
            if complexity:
                facts.complexity = inline.heaviest(complexity, facts.complexity)
        return facts

    def _read_notes(self, paragraph: Paragraph) -> None:
        # A note written in backticks documents the syntax; it declares nothing.
        text = "\n".join(inline.mask_code_spans(line)[0] for line in paragraph.text.split("\n"))
        for match in NOTE.finditer(text):
            line = paragraph.line + text.count("\n", 0, match.start())
            source = self.outline.lines[line]
            ids_text = match.group("ids")
            ids_column = max(source.find(ids_text), 0)
            refs: list[TaskRef] = []
            for mention in RANGE_PATTERN.finditer(ids_text):
                column = ids_column + mention.start()
                ids, problem = expand_range(mention.group("start"), mention.group("end"))
                self._add_range_problem(problem, line, column)
                refs.extend(TaskRef(id=i, line=line + 1, column=column + 1) for i in ids)
            self.notes.append(ExecutionNote(
                task_range=ids_text.strip(),
                tasks=tuple(refs),
                reason=_note_reason(paragraph.text[match.start("reason") : match.end("reason")]),
                line=line + 1,
                column=max(source.find("**Execution Note"), 0) + 1,
            ))

    # -- results -----------------------------------------------------------

    def _add_range_problem(self, problem: RangeProblem | None, line: int, column: int) -> None:
        if problem:
            self.problems.append(Problem(Location(self.path, line + 1, column + 1), problem.message, problem.hint))

    def _report_no_tasks(self) -> None:
        in_code = sum(
            1 for number, line in enumerate(self.outline.lines)
            if self.outline.code_lines[number] and TASK_LIKE_LINE.match(line)
        )
        where = f"{len(self.phases)} phase(s)" if self.phases else "no `## Phase N: Title` headings"
        message = f"no tasks found ({where})"
        if in_code:
            message += f"; {in_code} task-like line(s) sit inside code blocks, which are examples, not tasks"
        self.problems.append(Problem(Location(self.path, 1, 1), message, FORMAT_HINT))

    def _build(self) -> Plan:
        phases = tuple(
            Phase(
                index=index,
                number=draft.number,
                label=draft.label,
                title=draft.title,
                line=draft.heading.line + 1,
                sequential=draft.sequential,
                task_ids=tuple(draft.task_ids),
            )
            for index, draft in enumerate(self.phases)
        )
        return Plan(
            path=self.path,
            title=self.title or PurePath(self.path).stem,
            dialect=DIALECT,
            phases=phases,
            tasks=tuple(self.tasks),
            notes=tuple(self.notes),
        )


def parse_seed_plan(text: str, path: str) -> tuple[Plan, list[Problem]]:
    """Parse newline-normalized ``text``; problems are returned, not raised."""
    return SeedParser(text, path).parse()


def _may_hold_note(text: str) -> bool:
    return "xecution" in text


def _note_reason(raw: str) -> str:
    reason = raw.strip()
    reason = re.sub(r"^[-–—:]\s*", "", reason)
    if reason.startswith("(") and reason.endswith(")"):
        reason = reason[1:-1].strip()
    return reason


def _content_column(first_line: str) -> int:
    """Where a list item's content starts (`- ` is 2, `10. ` is 4): its body's indent."""
    marker = LIST_MARKER.match(first_line)
    return len(marker.group(0)) if marker else 0


def _dedent_body(lines: list[str], indent: int) -> str:
    """The item's nested lines, relative to the item's content column."""
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    while lines and not lines[0].strip():
        lines = lines[1:]
    return "\n".join(_strip_indent(line, indent) for line in lines)


def _strip_indent(line: str, indent: int) -> str:
    width = len(line) - len(line.lstrip(" "))
    return line[min(width, indent):]
