"""Claude plan-mode and phase-bundle checklists: id-less ``- [ ]`` items under phases.

What it reads (docs/plan-format.md, "Checklists"):

* phase headings ``## Phase 1: Title``, ``### Phase 2 - Title``, ``## Fase 1``
  (``[SEQUENTIAL]`` chains the phase's tasks, ``[PARALLEL]`` lets them share
  files, ``✅`` marks them done);
* every top-level checkbox item of a phase is a task, its id ``<phase>.<n>``
  in document order (``1.1``, ``1.2``, ... ``2.1``): stable as long as items
  are not inserted above it; sub-headings inside a phase (``#### Bundle
  1.1``) keep their items in the phase;
* nested checkbox items are steps of their task; items under a criteria
  sub-heading (``Acceptance``, ``Success Criteria``, ``VERIFY``) are not tasks;
* ``~~struck~~``/``[skip]`` items are skipped, ``(DONE)`` ones completed.

Id-less checkboxes are everywhere in prose, so the dialect fits last (after
every dialect with ids) and wants at least two items in phases: one stray
checkbox under a phase-like heading (an example whose fence closed early) is
not a plan.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from plan_tasks.errors import Problem
from plan_tasks.model import Plan
from plan_tasks.parse.blocks import Heading, ListItem
from plan_tasks.parse.builder import PhaseDraft, PlanBuilder, is_criteria_section, read_marks
from plan_tasks.parse.detect import count_matches, first_match, fit_from_counts
from plan_tasks.parse.seed import DONE_TAG, PARALLEL_TAG, SEQUENTIAL_TAG, read_notes
from plan_tasks.parse.source import Fit, Source

NAME = "checklist"

PHASE_HEADING = re.compile(
    r"^(?:\*\*)?(?:phase|fase)\s+(?P<label>\d+(?:\.\d+)*)(?:\*\*)?(?:\s*[:—–-](?:\*\*)?\s*|\s+|$)(?P<title>.*)$",
    re.IGNORECASE,
)
ITEM = re.compile(r"^\[(?P<mark>[ xX])\]\s+(?P<title>.*)$")
HAS_ID = re.compile(r"^(?:~~)?(?:\*\*)?\d+\.\d+")
DETECT_ITEM = re.compile(r"^[-*+]\s+\[[ xX]\]\s+(?!(?:~~)?(?:\*\*)?\d+\.\d)")
DETECT_PHASE = re.compile(r"^#{1,6}\s+(?:\*\*)?(?:phase|fase)\s+\d", re.IGNORECASE)
MINIMUM_TASKS = 2
FORMAT_HINT = "checklist plans read as `- [ ] Description` items under `## Phase 1: Title` headings"


def detect(source: Source) -> Fit | None:
    items = count_matches(source, DETECT_ITEM)
    phases = count_matches(source, DETECT_PHASE, "heading")
    described = f"{items} id-less `- [ ]` item(s) under {phases} `## Phase N` heading(s)"
    return fit_from_counts(items, described, phases > 0, first_match(source, DETECT_ITEM), 0.5)


def parse(source: Source) -> tuple[Plan, list[Problem]]:
    return _ChecklistParser(source).parse()


@dataclass
class _Section:
    phase: PhaseDraft | None = None
    done: bool = False
    criteria_level: int = 0  # inside a criteria sub-heading of this level (0: not)


class _ChecklistParser:
    def __init__(self, source: Source) -> None:
        self.builder = PlanBuilder(source.outline(_may_hold_note), source.path, NAME)
        self.section = _Section()

    def parse(self) -> tuple[Plan, list[Problem]]:
        builder = self.builder
        builder.walk(self._read_heading, self._read_item, lambda paragraph: read_notes(builder, paragraph))
        if len(builder.tasks) < MINIMUM_TASKS:
            builder.tasks = []  # one stray checkbox under a phase-like heading is an example, not a plan
        return builder.finish(f"{len(builder.phases)} phase(s)", FORMAT_HINT)

    def _read_heading(self, heading: Heading) -> None:
        self.builder.read_title(heading)
        text = heading.text.strip()
        section = self.section
        match = PHASE_HEADING.match(text)
        if match:
            title = match.group("title")
            flags = [bool(tag.search(title)) for tag in (SEQUENTIAL_TAG, PARALLEL_TAG, DONE_TAG)]
            for tag in (SEQUENTIAL_TAG, PARALLEL_TAG, DONE_TAG):
                title = tag.sub(" ", title)
            label = match.group("label")
            phase = PhaseDraft(heading.line + 1, heading.level, int(label.split(".")[0]), label,
                               title.strip(), flags[0], flags[1])
            self.builder.phases.append(phase)
            self.section = _Section(phase, flags[2])
        elif section.phase is not None and heading.level <= section.phase.level:
            self.section = _Section()
        elif section.phase is not None:
            if section.criteria_level and heading.level <= section.criteria_level:
                section.criteria_level = 0
            if is_criteria_section(text):
                section.criteria_level = heading.level

    def _read_item(self, item: ListItem) -> None:
        section = self.section
        match = ITEM.match(item.lead.split("\n", 1)[0])
        if section.phase is None or section.criteria_level or not match or HAS_ID.match(match.group("title")):
            return
        phase = section.phase
        task_id = f"{phase.label}.{len(phase.task_ids) + 1}"
        column = self.builder.outline.lines[item.line].find("]") + 3
        marks = read_marks(match.group("title").strip(), match.group("mark") in "xX" or section.done)
        self.builder.add_task(item, task_id, marks, column)


def _may_hold_note(text: str) -> bool:
    return "xecution" in text
