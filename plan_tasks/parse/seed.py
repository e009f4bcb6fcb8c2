"""The seed system's plan format: ``## Phase N: Title`` and ``- [ ] N.M description``.

What it reads, in the seed's own terms (see docs/plan-format.md for the full
reference):

* phase headings ``## Phase N: Title`` (any heading level, ``:``/``-``/``—``
  separators, Phase 0, decimal ``Phase 3.1``; ``[SEQUENTIAL]`` in the heading
  chains the phase's tasks, ``[PARALLEL]`` lets them share files, ``✅`` marks
  them done);
* tasks: top-level checkbox items whose text starts with an id ``N.M`` or
  ``N.M.K``; nested items are steps of their parent task, as in the seed;
  ``- N.M.K Title`` items without a checkbox under a ``### N.M Title``
  sub-heading (three-level plans); struck through (``~~1.4 Dropped~~``) or
  ``[skip]`` is a skipped task, ``(DONE)`` a completed one;
* ``**Execution Note:** Tasks 3.1-3.4 are [SEQUENTIAL] - reason`` (or
  ``[PARALLEL]``);
* ``Depends on: 1.2, 1.3``, ``**Depends on:** Task 1.1``, ``(depends: 2.1)``;
* backticked or ``dir/file.ext`` paths, and ``**Files:**`` lists;
* ``CRITICAL``/``HIGH``/``MEDIUM``/``LOW`` complexity words.

A phase ends at the next heading of the same or a higher level; checkbox items
in a section that is not a phase (``## Success Criteria``) are not tasks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from plan_tasks.errors import Problem
from plan_tasks.model import ExecutionNote, Plan, TaskRef
from plan_tasks.parse.blocks import Heading, ListItem, Paragraph
from plan_tasks.parse.builder import PhaseDraft, PlanBuilder, read_marks
from plan_tasks.parse.detect import CHECKBOX_ITEM, count_matches, first_match, fit_from_counts
from plan_tasks.parse.ids import RANGE_PATTERN, TASK_ID, expand_range
from plan_tasks.parse.inline import mask_code_spans
from plan_tasks.parse.source import Fit, Source

NAME = "seed"

PHASE_HEADING = re.compile(
    r"^(?:\*\*)?phase\s+(?P<label>\d+(?:\.\d+)*)(?:\*\*)?(?:\s*[:—–-](?:\*\*)?\s*|\s+|$)(?P<title>.*)$",
    re.IGNORECASE,
)
SEQUENTIAL_TAG = re.compile(r"\s*\[SEQUENTIAL\]\s*", re.IGNORECASE)
PARALLEL_TAG = re.compile(r"\s*\[PARALLEL\]\s*", re.IGNORECASE)
DONE_TAG = re.compile(r"\s*✅\s*")
TASK_LEAD = re.compile(
    rf"^\[(?P<mark>[ xX])\]\s+(?P<strike>~~)?(?:\*\*)?(?P<id>{TASK_ID})(?:~~)?(?:\*\*)?[:.)]?(?:\*\*)?(?:\s+(?P<title>.*)|$)"
)
STRUCK_ITEM = re.compile(r"^~~\s*(?P<inner>\[[ xX]\].*?)~~(?P<rest>.*)$")  # `- ~~[ ] 1.4 Dropped~~`
STEP_LEAD = re.compile(r"^(?P<strike>~~)?(?:\*\*)?(?P<id>\d+\.\d+\.\d+)(?:\*\*)?[:.)]?\s+(?P<title>.+)$")
SUBGROUP_HEADING = re.compile(r"^(?:\*\*)?(?P<id>\d+\.\d+)(?:\*\*)?[:.)]?\s")
NOTE = re.compile(
    r"\*\*Execution Note:?\*\*:?\s*Tasks?\s+"
    r"(?P<ids>\d[\d.]*(?:\s*(?:,|&|-|–|—|\band\b|\bto\b|\bthrough\b)\s*\d[\d.]*)*)"
    r"\s+(?:are|is)\s+\[(?P<kind>SEQUENTIAL|PARALLEL)\](?P<reason>[^\n]*)",
    re.IGNORECASE,
)
TASK_LIKE_LINE = re.compile(rf"^\s*(?:[-*+]|\d+[.)])\s+\[[ xX]\]\s+{TASK_ID}\s")
DETECT_TASK = re.compile(rf"^[-*+]\s+(?:(?:~~)?\[[ xX]\]\s+(?:~~)?(?:\*\*)?{TASK_ID}\b|\d+\.\d+\.\d+\s)")
DETECT_PHASE = re.compile(r"^#{1,6}\s+(?:\*\*)?phase\s+\d", re.IGNORECASE)
FORMAT_HINT = (
    "plan-tasks reads tasks written as `- [ ] 1.1 Description` under `## Phase 1: Title` "
    "headings (the seed format; see docs/plan-format.md)"
)


def detect(source: Source) -> Fit | None:
    tasks = count_matches(source, DETECT_TASK)
    phases = count_matches(source, DETECT_PHASE, "heading")
    described = f"{tasks} `- [ ] N.M` task item(s) under {phases} `## Phase N:` heading(s)"
    near = first_match(source, CHECKBOX_ITEM) if not tasks else None
    return fit_from_counts(tasks, described, phases > 0, near, 0.8)


def parse(source: Source) -> tuple[Plan, list[Problem]]:
    return SeedParser(source, PHASE_HEADING, NAME, FORMAT_HINT).parse()


def parse_seed_plan(text: str, path: str) -> tuple[Plan, list[Problem]]:
    """Parse newline-normalized ``text`` in the seed format; problems are returned, not raised."""
    return parse(Source(text, path))


@dataclass
class _Section:
    phase: PhaseDraft | None = None
    phase_level: int = 0
    done: bool = False  # `✅` in the phase heading
    subgroup: str | None = None  # `### 1.1 Title`: the parent of `- 1.1.1` items
    name: str = ""  # the non-phase heading that ended the last phase


class SeedParser:
    """The seed format and its near relatives (OpenSpec's ``## 1. Title`` phases)."""

    def __init__(self, source: Source, phase_heading: re.Pattern[str], dialect: str, hint: str) -> None:
        self.builder = PlanBuilder(source.outline(_may_hold_note), source.path, dialect)
        self.phase_heading = phase_heading
        self.hint = hint
        self.section = _Section()

    def parse(self) -> tuple[Plan, list[Problem]]:
        builder = self.builder
        builder.walk(self._read_heading, self._read_item, lambda paragraph: read_notes(builder, paragraph))
        where = f"{len(builder.phases)} phase(s)" if builder.phases else "no `## Phase N: Title` headings"
        return builder.finish(where, self.hint, TASK_LIKE_LINE)

    def _read_heading(self, heading: Heading) -> None:
        self.builder.read_title(heading)
        section = self.section
        match = self.phase_heading.match(heading.text.strip())
        if match:
            title = match.group("title")
            sequential, parallel, done = (bool(tag.search(title)) for tag in (SEQUENTIAL_TAG, PARALLEL_TAG, DONE_TAG))
            for tag in (SEQUENTIAL_TAG, PARALLEL_TAG, DONE_TAG):
                title = tag.sub(" ", title)
            title = title.strip()
            if heading.text.lstrip().startswith("**") and title.endswith("**"):
                title = title[:-2].rstrip()  # `**Phase 1: Setup**`
            label = match.group("label")
            phase = PhaseDraft(heading.line + 1, heading.level, int(label.split(".")[0]), label, title,
                               sequential, parallel)
            self.builder.phases.append(phase)
            self.section = _Section(phase, heading.level, done)
        elif section.phase is not None and heading.level <= section.phase_level:
            self.section = _Section(name=heading.text.strip())  # `## Success Criteria` ends the phase
        elif section.phase is not None:
            sub = SUBGROUP_HEADING.match(heading.text.strip())
            section.subgroup = sub.group("id") if sub else None

    def _read_item(self, item: ListItem) -> None:
        first_line = item.lead.split("\n", 1)[0]
        struck = STRUCK_ITEM.match(first_line) if first_line.startswith("~~") else None
        if struck:
            first_line = struck.group("inner") + struck.group("rest")
        match = TASK_LEAD.match(first_line)
        if not match:
            self._read_step_item(item, first_line)
            return
        task_id = match.group("id")
        source_line = self.builder.outline.lines[item.line]
        column = source_line.find(task_id, source_line.find("]")) + 1
        if not self._in_phase(task_id, item, column):
            return
        title = (match.group("title") or "").strip()
        struck_id = bool(struck or match.group("strike"))
        if struck_id:
            title = title.replace("~~", "").strip()
        marks = read_marks(title, match.group("mark") in "xX" or self.section.done)
        if struck_id:
            marks = replace(marks, skipped=True)
        if not marks.title:
            self.builder.problem(item.line, column - 1, f"task {task_id} has no description",
                                 f"write what the task does after its id: `- [ ] {task_id} Create the parser`")
        self.builder.add_task(item, task_id, marks, column)

    def _read_step_item(self, item: ListItem, first_line: str) -> None:
        """``- 1.1.1 Review`` under ``### 1.1 Title``: a task of a three-level plan."""
        subgroup = self.section.subgroup
        match = STEP_LEAD.match(first_line) if subgroup else None
        if not match or not match.group("id").startswith(f"{subgroup}."):
            return
        task_id = match.group("id")
        source_line = self.builder.outline.lines[item.line]
        column = source_line.find(task_id) + 1
        if self._in_phase(task_id, item, column):
            marks = read_marks(match.group("title").replace("~~", "").strip(), self.section.done)
            if match.group("strike"):
                marks = replace(marks, skipped=True)
            self.builder.add_task(item, task_id, marks, column)

    def _in_phase(self, task_id: str, item: ListItem, column: int) -> bool:
        if self.section.phase is not None:
            return True
        if not self.builder.phases:
            self.builder.problem(item.line, column - 1, f"task {task_id} is outside any phase",
                                 "put it under a phase heading such as `## Phase 1: Title`")
        else:
            # The seed would file it under the previous phase; say why it is not a task.
            self.builder.problem(
                item.line, column - 1,
                f"{task_id} is not a task: it is under `{self.section.name}`, which is not a phase",
                "move it under a `## Phase N: Title` heading to run it, or drop the id "
                "if it is a checklist item",
                severity="warning",
            )
        return False


def read_notes(builder: PlanBuilder, paragraph: Paragraph) -> None:
    """``**Execution Note:** Tasks 3.1-3.4 are [SEQUENTIAL] - reason`` (or ``[PARALLEL]``)."""
    # A note written in backticks documents the syntax; it declares nothing.
    text = "\n".join(mask_code_spans(line)[0] for line in paragraph.text.split("\n"))
    for match in NOTE.finditer(text):
        line = paragraph.line + text.count("\n", 0, match.start())
        source = builder.outline.lines[line]
        ids_text = match.group("ids")
        ids_column = max(source.find(ids_text), 0)
        refs: list[TaskRef] = []
        for mention in RANGE_PATTERN.finditer(ids_text):
            column = ids_column + mention.start()
            ids, problem = expand_range(mention.group("start"), mention.group("end"))
            builder.add_range_problem(problem, line, column)
            refs.extend(TaskRef(id=i, line=line + 1, column=column + 1) for i in ids)
        builder.notes.append(ExecutionNote(
            task_range=ids_text.strip(),
            tasks=tuple(refs),
            reason=_note_reason(paragraph.text[match.start("reason") : match.end("reason")]),
            line=line + 1,
            column=max(source.find("**Execution Note"), 0) + 1,
            kind="parallel" if match.group("kind").upper() == "PARALLEL" else "sequential",
        ))


def _may_hold_note(text: str) -> bool:
    return "xecution" in text


def _note_reason(raw: str) -> str:
    reason = raw.strip()
    reason = re.sub(r"^[-–—:]\s*", "", reason)
    if reason.startswith("(") and reason.endswith(")"):
        reason = reason[1:-1].strip()
    return reason
