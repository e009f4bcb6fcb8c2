"""Facts a task section states in labelled lines: ``**Depends on:**``,
``**Files:**``, ``Risk:`` / ``Priority:``, ``**Status:**``, step checkboxes and
fenced code.

Dialects whose tasks are sections (a heading and the lines under it: task
headings, Task Master task files) read them here, one pass over the lines,
skipping code and HTML (``Outline.code_lines``) except to collect fences.
Only *labelled* lines count: a path or an id in prose is a reference, not a
file the task writes or a task it waits for (a task heading's prose is
richer than a checkbox line's, and quotes other tasks' files freely).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from plan_tasks.errors import Location, Problem
from plan_tasks.model import CodeBlock, TaskRef
from plan_tasks.parse import inline
from plan_tasks.parse.ids import REVERSED, TOO_LONG, expand_range, numbers_between, too_long

ANY_TASK_ID = r"(?:[A-Z][A-Z0-9]*-\d+|T\d+|\d+(?:\.\d+)*)"
"""``1``, ``1.2``, ``3.1.4``, ``T001``, ``DEV-230``: every id shape these dialects write."""

_BOLD = r"(?:\*\*|__)?"
_FIELD = rf"^\s*(?:[-*+]\s+)?{_BOLD}(?P<label>%s){_BOLD}\s*:{_BOLD}\s*(?P<rest>.*)$"
DEPENDS_FIELD = re.compile(_FIELD % r"depends\s+on|dependencies|depends|blocked\s+by", re.IGNORECASE)
FILES_FIELD = re.compile(_FIELD % r"files?", re.IGNORECASE)
WEIGHT_FIELD = re.compile(_FIELD % r"risk|priority|complexity", re.IGNORECASE)
STATUS_FIELD = re.compile(_FIELD % r"status", re.IGNORECASE)
ID_MENTION = re.compile(
    rf"(?:\b(?:tasks?|slices?|steps?)\s+)?(?<![\w.-])(?P<start>{ANY_TASK_ID})(?:\s*(?:-|–|—|\bto\b|\bthrough\b)\s*(?P<end>{ANY_TASK_ID}))?\b",
    re.IGNORECASE,
)
PARENTHESES = re.compile(r"\([^)]*\)")
STEP = re.compile(r"^\s*(?:[-*+]|\d{1,9}[.)])\s+\[(?P<mark>[ xX])\]")
FILE_ACTION = re.compile(r"^(?:create|modify|test|update|delete|add|new|edit)\s*:\s*", re.IGNORECASE)
FENCE_OPEN = re.compile(r"^ {0,3}(?P<marker>`{3,}|~{3,})(?P<info>.*)$")
LEVELS = {"critical": "CRITICAL", "high": "HIGH", "medium": "MEDIUM", "low": "LOW"}


@dataclass
class SectionFacts:
    depends_on: list[TaskRef] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    complexity: str | None = None
    status: str | None = None  # a ``**Status:**`` field's value, as written
    steps: int = 0
    steps_checked: int = 0
    code_blocks: list[CodeBlock] = field(default_factory=list)

    @property
    def all_steps_checked(self) -> bool:
        return self.steps > 0 and self.steps == self.steps_checked


def read_section(
    lines: list[str], code_lines: bytearray, start: int, end: int, path: str, problems: list[Problem]
) -> SectionFacts:
    """The facts of lines ``start``..``end`` (0-based, end exclusive)."""
    facts = SectionFacts()
    files_indent: int | None = None  # indent of an open ``**Files:**`` list's label line
    number = start
    while number < end:
        line = lines[number]
        if code_lines[number]:
            fence = FENCE_OPEN.match(line)
            if fence:
                number = _read_fence(lines, code_lines, number, end, fence, facts)
                continue
            number += 1
            continue
        if files_indent is not None:
            entry = _files_entry(line, files_indent)
            if entry is not False:
                if entry:
                    facts.files.append(entry)
                number += 1
                continue
            files_indent = None
        files_indent = _read_line(line, number, facts, path, problems)
        number += 1
    facts.files = list(dict.fromkeys(facts.files))
    return facts


def _read_line(line: str, number: int, facts: SectionFacts, path: str, problems: list[Problem]) -> int | None:
    """Read one labelled line; returns the indent of a ``**Files:**`` label that opens a list."""
    step = STEP.match(line)
    if step:
        facts.steps += 1
        facts.steps_checked += step.group("mark") != " "
        return None
    masked, spans = inline.mask_code_spans(line)
    field_match = FILES_FIELD.match(masked)
    if field_match:
        rest = field_match.group("rest")
        facts.files.extend(inline.paths_in_line(rest, spans))
        if not rest.strip():
            return len(line) - len(line.lstrip()) if inline.BULLET.match(line) else -1
        return None
    depends = DEPENDS_FIELD.match(masked)
    if depends:
        facts.depends_on.extend(read_id_list(masked, depends.start("rest"), number, path, problems))
        return None
    weight = WEIGHT_FIELD.match(masked)
    if weight:
        level = weight.group("rest").strip(" *_").split()[:1]
        if level and level[0].lower().strip(".,") in LEVELS:
            found = LEVELS[level[0].lower().strip(".,")]
            facts.complexity = inline.heaviest(found, facts.complexity)
        return None
    status = STATUS_FIELD.match(masked)
    if status and facts.status is None:
        facts.status = status.group("rest").strip(" *_")
    return None


def _files_entry(line: str, label_indent: int) -> str | None | bool:
    """The path on a line of an open ``**Files:**`` list; None for an entry that
    names no file; False when the line ends the list: anything but a bullet
    deeper than the label (a label that is not a bullet has indent -1)."""
    bullet = inline.BULLET.match(line)
    if not bullet or STEP.match(line) or len(line) - len(line.lstrip()) <= label_indent:
        return False
    rest = FILE_ACTION.sub("", bullet.group("rest").strip())
    words = rest.split()
    return inline.normalize_path(words[0].strip("`,")) if words else None


def _read_fence(lines: list[str], code_lines: bytearray, number: int, end: int,
                fence: re.Match[str], facts: SectionFacts) -> int:
    """Collect a fenced block; returns the line after it."""
    marker = fence.group("marker")
    closing = re.compile(rf"^ {{0,3}}{re.escape(marker[0])}{{{len(marker)},}}\s*$")
    body: list[str] = []
    cursor = number + 1
    while cursor < end and code_lines[cursor] and not closing.match(lines[cursor]):
        body.append(lines[cursor])
        cursor += 1
    content = "\n".join(body) + "\n" if body else ""
    facts.code_blocks.append(CodeBlock(info=fence.group("info").strip(), content=content, line=number + 1))
    return cursor + 1


def read_id_list(masked: str, offset: int, number: int, path: str, problems: list[Problem]) -> list[TaskRef]:
    """Task ids (and ranges) after ``offset`` on a line; ``none`` and prose in
    parentheses (``Task 1.1 (same files)``) name none."""
    text = masked[offset:]
    if "(" in text:
        text = PARENTHESES.sub(lambda match: " " * len(match.group(0)), text)
    refs: list[TaskRef] = []
    for mention in ID_MENTION.finditer(text):
        column = offset + mention.start("start") + 1
        ids, problem = expand_any_range(mention.group("start"), mention.group("end"))
        if problem:
            problems.append(Problem(Location(path, number + 1, column), problem[0], problem[1]))
        refs.extend(TaskRef(id=task_id, line=number + 1, column=column) for task_id in ids)
    return refs


_NUMBERED = re.compile(r"^(?P<prefix>\D*?)(?P<digits>\d+)$")


def expand_any_range(start: str, end: str | None) -> tuple[list[str], tuple[str, str] | None]:
    """``1.1-1.3`` as :func:`ids.expand_range`; ``T004-T011`` and ``DEV-1-DEV-3``
    by their trailing number, keeping its zero padding."""
    if end is None or end == start:
        return [start], None
    if "." in start or "." in end:
        ids, problem = expand_range(start, end)
        return ids, (problem.message, problem.hint) if problem else None
    first, last = _NUMBERED.match(start), _NUMBERED.match(end)
    if not first or not last or first.group("prefix") != last.group("prefix"):
        return [start, end], (f"range {start}-{end} mixes two kinds of id", f"list the tasks instead: {start}, {end}")
    numbers = numbers_between(first.group("digits"), last.group("digits"))  # bounded, as dotted ranges
    if numbers == REVERSED:
        return [start, end], (f"range {start}-{end} is reversed", f"write the lower id first: {end}-{start}")
    if numbers == TOO_LONG:
        problem = too_long(start, end)
        return [start, end], (problem.message, problem.hint)
    assert isinstance(numbers, range)
    width = len(first.group("digits")) if first.group("digits").startswith("0") else 0
    return [f"{first.group('prefix')}{number:0{width}d}" for number in numbers], None
