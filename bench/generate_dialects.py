"""The benchmark plan of ``generate_plan.py`` written in each checkbox dialect.

    python bench/generate_dialects.py DIALECT OUT.md [--phases 100] [--tasks-per-phase 100] [--seed 0]

``generate_dialect_plan(dialect, phases, tasks_per_phase, seed=0)`` rewrites
the seed-format plan line by line, so every dialect gets the same tasks,
bodies, files, fences and dependencies, written its own way:

* ``seed``: the plan as generated;
* ``openspec``: ``## N. Title`` headings instead of ``## Phase N: Title``;
* ``checklist``: task lines without their ids (``- [ ] Title``), which then
  get the same ``N.M`` ids back from their position;
* ``speckit``: ``- [ ] T00001 [P] Title`` (every other task ``[P]``),
  ``Depends on: T00042``, and a closing ``## Dependencies`` section with one
  ``Txxxxx before Tyyyyy`` statement per phase;
* ``kiro``: cc-sdd's flat form, a major task ``- [ ] N. Title`` per phase and
  ``- [ ] N.M (P) Title`` sub-tasks with ``_Requirements: N.M_`` detail lines;
* ``headings``: each task a ``### Task N.M: Title`` heading, its body
  unindented below it and ``**Depends on:** Task N.K`` lines (the mark of a
  checked task becomes ``— done`` in its heading).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate_plan import generate_plan  # noqa: E402

PHASE = re.compile(r"^## Phase (?P<number>\d+): (?P<title>.*)$")
TASK = re.compile(r"^- \[(?P<mark>[ x])\] (?P<id>\d+\.\d+) (?P<title>.*)$")
ID = re.compile(r"\b(\d+\.\d+)\b")


def _openspec(lines: list[str]) -> list[str]:
    return [PHASE.sub(r"## \g<number>. \g<title>", line) for line in lines]


def _checklist(lines: list[str]) -> list[str]:
    return [TASK.sub(r"- [\g<mark>] \g<title>", line) for line in lines]


def _speckit(lines: list[str]) -> list[str]:
    ids: dict[str, str] = {}
    for line in lines:
        task = TASK.match(line)
        if task:
            ids[task.group("id")] = f"T{len(ids) + 1:05d}"
    out, first_of_phase = [], []
    for line in lines:
        task = TASK.match(line)
        if task:
            number = int(ids[task.group("id")][1:])
            parallel = "[P] " if number % 2 else ""
            if task.group("id").endswith(".1"):
                first_of_phase.append(ids[task.group("id")])
            out.append(f"- [{task.group('mark')}] {ids[task.group('id')]} {parallel}{task.group('title')}")
        elif line.lstrip().startswith("- Depends on:") or line.startswith("**Execution Note"):
            out.append(ID.sub(lambda match: ids.get(match.group(1), match.group(1)), line))
        else:
            out.append(line)
    out += ["## Dependencies", ""]
    out += [f"- {earlier} before {later}" for earlier, later in zip(first_of_phase, first_of_phase[1:])]
    return out


def _kiro(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        phase, task = PHASE.match(line), TASK.match(line)
        if phase:
            out.append(f"- [ ] {phase.group('number')}. {phase.group('title')}")
        elif task:
            parallel = "(P) " if int(task.group("id").split(".")[1]) % 2 else ""
            out += [f"- [{task.group('mark')}] {task.group('id')} {parallel}{task.group('title')}",
                    f"  - _Requirements: {task.group('id')}_"]
        elif line.startswith("**Execution Note"):
            continue  # not cc-sdd's; (P) marks say the order instead
        else:
            out.append(line)
    return out


DEPENDS = re.compile(r"^\s*- Depends on: (?P<ids>.*)$")


def _headings(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        task, depends = TASK.match(line), DEPENDS.match(line)
        if task:
            done = " — done" if task.group("mark") == "x" else ""
            out += [f"### Task {task.group('id')}: {task.group('title')}{done}", ""]
        elif depends:
            out.append(f"**Depends on:** Task {depends.group('ids')}")
        elif line.startswith("**Execution Note"):
            continue  # the seed's notes; task-heading plans say `[sequential]` on the task instead
        else:
            out.append(line[2:] if line.startswith("  ") else line)
    return out


REWRITES: dict[str, Callable[[list[str]], list[str]]] = {
    "seed": lambda lines: lines,
    "speckit": _speckit,
    "kiro": _kiro,
    "openspec": _openspec,
    "checklist": _checklist,
    "headings": _headings,
}


def generate_dialect_plan(dialect: str, phases: int, tasks_per_phase: int, seed: int = 0) -> str:
    """The generated plan of ``phases`` x ``tasks_per_phase`` tasks, written in ``dialect``."""
    return "\n".join(REWRITES[dialect](generate_plan(phases, tasks_per_phase, seed).split("\n")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write a synthetic plan in one dialect, for benchmarks.")
    parser.add_argument("dialect", choices=sorted(REWRITES))
    parser.add_argument("out", help="where to write the plan ('-' for stdout)")
    parser.add_argument("--phases", type=int, default=100)
    parser.add_argument("--tasks-per-phase", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    text = generate_dialect_plan(args.dialect, args.phases, args.tasks_per_phase, args.seed)
    if args.out == "-":
        sys.stdout.write(text)
    else:
        Path(args.out).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
