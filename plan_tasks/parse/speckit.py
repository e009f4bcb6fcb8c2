"""GitHub spec-kit's ``tasks.md``: ``- [ ] T001 [P] [US1] Description in path``.

What it reads (docs/plan-format.md, "spec-kit"):

* phases ``## Phase 1: Setup``, ``## Phase 3.2: Tests First``, ``## Phase 3:
  User Story 1 - Title (Priority: P1)``; ``###`` headings inside a phase are
  sub-groups of it; the template's ``## Phase N: Polish`` is numbered after the
  phase before it;
* tasks: checkbox items ``T001`` (any number of digits), ``[X]``/``[x]`` done;
  ``[P]`` tasks of a phase may run together, a task without ``[P]`` waits for
  every task before it in its phase; ``[US1]`` stays in the title;
* ``(depends on T012, T013)`` and ``Depends on: T004-T011`` in a task;
* the "Dependencies" sections' unambiguous statements: ids (or ranges) on both
  sides of ``before``/``blocks`` or ``requires``/``depends on``/``after``
  (``T004-T011 before T012``), in prose or in a plain (info-less) fence, as
  the legacy template writes them; statements with ids on one side only
  ("T001 before any other task") are left to the phase order;
* file paths from the description, as in every dialect.

Template placeholders (``TXXX``) are not tasks: each gets a warning.
"""

from __future__ import annotations

import re

from plan_tasks.errors import Problem
from plan_tasks.model import Plan, TaskRef
from plan_tasks.parse.blocks import Heading, ListItem
from plan_tasks.parse.builder import ParallelMarks, PhaseDraft, PlanBuilder, is_criteria_section, read_marks
from plan_tasks.parse.detect import count_matches, fit_from_counts
from plan_tasks.parse.source import Fit, Source

NAME = "speckit"

PHASE_HEADING = re.compile(
    r"^(?:\*\*)?phase\s+(?P<label>\d+(?:\.\d+)*|N)\b(?:\*\*)?(?:\s*[:—–-]\s*|\s+|$)(?P<title>.*)$", re.IGNORECASE
)
TASK_ID = r"T\d{3,}"
TASK_LEAD = re.compile(rf"^\[(?P<mark>[ xX])\]\s+(?P<strike>~~)?(?:\*\*)?(?P<id>{TASK_ID}|T[X#]{{2,}})(?:\*\*)?[:.]?(?:\s+(?P<title>.*)|$)")
PARALLEL = re.compile(r"\[P\]\s*")
ID_OR_RANGE = re.compile(rf"(?P<start>{TASK_ID})(?:\s*[-–—]\s*(?P<end>{TASK_ID}))?")
ID_LIST = rf"{TASK_ID}(?:\s*[-–—]\s*{TASK_ID})?(?:\s*(?:,|&|\band\b)\s*{TASK_ID}(?:\s*[-–—]\s*{TASK_ID})?)*"
DEPENDS = re.compile(rf"\bdepends\s+on\b[\s:*_]*(?P<list>{ID_LIST})|\bdepends[\s*_]*:[\s:*_]*(?P<list2>{ID_LIST})", re.IGNORECASE)
BEFORE = re.compile(r"\b(?:before|blocks?)\b", re.IGNORECASE)
AFTER = re.compile(r"\b(?:requires?|depends\s+on|after|needs)\b", re.IGNORECASE)
DEPENDENCIES_HEADING = re.compile(r"\bdependenc", re.IGNORECASE)
DETECT_TASK = re.compile(rf"^[-*+]\s+\[[ xX]\]\s+(?:~~)?(?:\*\*)?{TASK_ID}\b")
DETECT_PHASE = re.compile(r"^#{1,6}\s+phase\s+(?:\d|N\b)", re.IGNORECASE)
FORMAT_HINT = "spec-kit tasks read as `- [ ] T001 [P] Description` under `## Phase 1: Title` headings"


def detect(source: Source) -> Fit | None:
    tasks = count_matches(source, DETECT_TASK)
    phases = count_matches(source, DETECT_PHASE, "heading")
    return fit_from_counts(tasks, f"{tasks} `- [ ] T001` item(s) under {phases} `## Phase N:` heading(s)",
                           phases > 0, None, 0.9)


def parse(source: Source) -> tuple[Plan, list[Problem]]:
    return _SpeckitParser(source).parse()


def expand_ids(start: str, end: str | None) -> list[str]:
    """``T004-T011`` -> T004, T005, ..., T011 (zero-padded as written)."""
    if end is None:
        return [start]
    first, last = int(start[1:]), int(end[1:])
    width = len(start) - 1
    return [f"T{number:0{width}d}" for number in range(first, last + 1)] if first <= last else [start, end]


class _SpeckitParser:
    def __init__(self, source: Source) -> None:
        self.source = source
        self.builder = PlanBuilder(source.outline(_no_paragraph), source.path, NAME)
        self.phase: PhaseDraft | None = None
        self.section = ""
        self.order = ParallelMarks("[P]")
        self.dependency_sections: list[tuple[int, int]] = []  # (first, end) 0-based lines

    def parse(self) -> tuple[Plan, list[Problem]]:
        builder = self.builder
        builder.walk(self._read_heading, self._read_item)
        self._close_dependency_section(len(builder.outline.lines))
        self._read_dependency_sections()
        return builder.finish(f"{len(builder.phases)} phase(s)", FORMAT_HINT)

    def _read_heading(self, heading: Heading) -> None:
        self.builder.read_title(heading)
        text = heading.text.strip()
        if self.dependency_sections and self.dependency_sections[-1][1] < 0:
            self._close_dependency_section(heading.line, heading.level)
        match = PHASE_HEADING.match(text)
        if match:
            label = match.group("label")
            if label.upper() == "N":  # the template's `Phase N: Polish`: numbered after the last phase
                label = str(self.builder.phases[-1].number + 1 if self.builder.phases else 1)
            self.phase = PhaseDraft(heading.line + 1, heading.level, int(label.split(".")[0]), label,
                                    match.group("title").strip())
            self.builder.phases.append(self.phase)
            self.order.new_phase()
        elif self.phase is not None and heading.level > self.phase.level and not is_criteria_section(text):
            return  # `### Tests for User Story 1`: a sub-group of the phase
        else:
            self.phase, self.section = None, text
        if DEPENDENCIES_HEADING.search(text) and not match:
            self.dependency_sections.append((heading.line + 1, -heading.level))

    def _close_dependency_section(self, line: int, level: int = 0) -> None:
        if self.dependency_sections and self.dependency_sections[-1][1] < 0:
            first, negative_level = self.dependency_sections[-1]
            if level == 0 or level <= -negative_level:
                self.dependency_sections[-1] = (first, line)

    def _read_item(self, item: ListItem) -> None:
        match = TASK_LEAD.match(item.lead.split("\n", 1)[0])
        if not match:
            return
        task_id = match.group("id")
        source_line = self.builder.outline.lines[item.line]
        column = source_line.find(task_id) + 1
        if not task_id[1:].isdigit():
            self.builder.problem(item.line, column - 1, f"{task_id} is a template placeholder, not a task",
                                 "give it a number after the last task's (e.g. T029) to make it a task",
                                 severity="warning")
            return
        if self.phase is None:
            where = f"under `{self.section}`, which is not a phase" if self.section else "outside any phase"
            self.builder.problem(item.line, column - 1, f"{task_id} is not a task: it is {where}",
                                 "move it under a `## Phase N: Title` heading to run it", severity="warning")
            return
        title = (match.group("title") or "").strip()
        if match.group("strike"):  # `- [ ] ~~T006 Dropped~~`
            title = "~~" + title
        parallel = bool(PARALLEL.search(title[:6]))
        title = PARALLEL.sub("", title, count=1).strip() if parallel else title
        marks = read_marks(title, match.group("mark") in "xX")
        order = self.order.order_refs(task_id, parallel, self.phase.label, item.line + 1, column)
        refs = self._explicit_refs(item) + order
        self.builder.add_task(item, task_id, marks, column, extra_refs=tuple(refs))

    def _explicit_refs(self, item: ListItem) -> list[TaskRef]:
        refs = []
        lines = self.builder.outline.lines
        for number in range(item.line, item.end):
            if "epend" not in lines[number]:
                continue
            for declaration in DEPENDS.finditer(lines[number]):
                group = "list" if declaration.group("list") else "list2"
                offset = declaration.start(group)
                for mention in ID_OR_RANGE.finditer(declaration.group(group)):
                    column = offset + mention.start() + 1
                    refs.extend(TaskRef(id=i, line=number + 1, column=column)
                                for i in expand_ids(mention.group("start"), mention.group("end")))
        return refs

    def _read_dependency_sections(self) -> None:
        added: dict[str, list[TaskRef]] = {}
        for first, end in self.dependency_sections:
            for number in self._statement_lines(first, end):
                for waiter, ref in self._statement(number):
                    added.setdefault(waiter, []).append(ref)
        if added:
            self.builder.tasks = [
                task.model_copy(update={"depends_on": task.depends_on + tuple(added[task.id])})
                if task.id in added else task
                for task in self.builder.tasks
            ]

    def _statement_lines(self, first: int, end: int) -> list[int]:
        """Prose lines of the section, and lines of its info-less fences."""
        plain = set()
        for token in self.source.tokens:
            if token.type == "fence" and token.map and first <= token.map[0] < end and token.info.strip() in ("", "text"):
                plain.update(range(token.map[0] + 1, token.map[1] - 1))
        code = self.builder.outline.code_lines
        return [number for number in range(first, end) if not code[number] or number in plain]

    def _statement(self, number: int) -> list[tuple[str, TaskRef]]:
        """``T004-T011 before T012``: (waiting task, ref) pairs; none when ambiguous."""
        line = self.builder.outline.lines[number]
        for pattern, forward in ((BEFORE, True), (AFTER, False)):
            keywords = list(pattern.finditer(line))
            if len(keywords) != 1:
                continue
            left, right = line[: keywords[0].start()], line[keywords[0].end():]
            left_ids, right_ids = _ids_in(left), [(i, c + keywords[0].end()) for i, c in _ids_in(right)]
            if not left_ids or not right_ids:
                return []
            upstream, waiting = (left_ids, right_ids) if forward else (right_ids, left_ids)
            reason = f"Dependencies (line {number + 1}): {line.strip(' -*')}"
            return [
                (waiter, TaskRef(id=source_id, line=number + 1, column=column + 1, reason=reason))
                for waiter, _ in waiting
                for source_id, column in upstream
                if waiter != source_id
            ]
        return []


def _ids_in(text: str) -> list[tuple[str, int]]:
    return [
        (task_id, mention.start())
        for mention in ID_OR_RANGE.finditer(text)
        for task_id in expand_ids(mention.group("start"), mention.group("end"))
    ]


def _no_paragraph(text: str) -> bool:
    return False

