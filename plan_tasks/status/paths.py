"""Where a plan's status lives, as the seed system lays it out.

``docs/plan-outputs/<plan file name without .md>/`` under the project root
holds ``status.json``, ``findings/`` and ``timestamps/``. Which plan a command
means is ``--plan PATH``, else the seed's pointer ``.claude/current-plan.txt``.

Two plans with the same file name in different folders would share one status
folder; status.json records its plan's ``planPath``, so the second plan is told
whose status it found (:func:`other_plan`) instead of rewriting it.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import NamedTuple

from plan_tasks.errors import Location, PlanError

OUTPUT_BASE = "docs/plan-outputs"
CURRENT_PLAN_FILE = ".claude/current-plan.txt"


class NoPlanGiven(PlanError):
    """No `--plan` and no `.claude/current-plan.txt` to fall back on."""


class PlanMissing(PlanError):
    """The plan named does not exist (and has no status of its own either)."""


class PlanPaths(NamedTuple):
    """Every path a plan's status needs, resolved against the project root."""

    root: Path
    plan: Path  # absolute
    plan_ref: str  # as status.json records it: relative to root where possible, POSIX
    dialect: str | None = None  # the plan format `--format` forces; None: detected

    @property
    def name(self) -> str:
        return output_dir_name(self.plan_ref)

    @property
    def output_dir(self) -> Path:
        return self.root / OUTPUT_BASE / self.name

    @property
    def status_file(self) -> Path:
        return self.output_dir / "status.json"

    @property
    def lock_file(self) -> Path:
        # Not `status.json.lock`: the seed's proper-lockfile makes a directory of that name.
        return self.output_dir / ".status.lock"

    @property
    def findings_dir(self) -> Path:
        return self.output_dir / "findings"

    @property
    def timestamps_dir(self) -> Path:
        return self.output_dir / "timestamps"

    def findings_file(self, task_id: str) -> Path:
        return self.findings_dir / f"{task_id.replace('.', '-')}.md"

    def relative(self, path: Path) -> str:
        """A path as the seed prints it: relative to the project root."""
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()


def output_dir_name(plan_ref: str) -> str:
    """``docs/plans/my-plan.md`` -> ``my-plan`` (the seed's ``path.basename(p, '.md')``).

    A ``.json`` plan loses its extension too, and a plan inside a ``.taskmaster``
    directory is prefixed: ``.taskmaster/tasks/tasks.json`` -> ``taskmaster-tasks``,
    which names the project's tool and cannot clash with a spec-kit ``tasks.md``.
    """
    posix = PurePosixPath(plan_ref.replace("\\", "/"))
    name = posix.name
    for extension in (".md", ".json"):
        if name.endswith(extension) and len(name) > len(extension):
            name = name[: -len(extension)]
            break
    return f"taskmaster-{name}" if ".taskmaster" in posix.parts[:-1] else name


def resolve_plan(plan: str | None, root: str | None = None, dialect: str | None = None) -> PlanPaths:
    """The plan a command means: ``--plan``, else ``.claude/current-plan.txt``
    (read in ``dialect`` when ``--format`` names one)."""
    root_path = Path(root or os.getcwd()).resolve()
    if plan is None:
        pointer = root_path / CURRENT_PLAN_FILE
        try:
            plan = pointer.read_text(encoding="utf-8").strip() or None
        except OSError:
            plan = None
        if plan is None:
            raise NoPlanGiven(
                "no plan given",
                f"pass `--plan PATH` (or write the plan's path to {CURRENT_PLAN_FILE}, as the seed system does)",
            )
    plan_path = Path(plan)
    if plan_path.is_absolute():
        absolute = plan_path.resolve()
    else:
        # Relative to the project root, as the seed reads it; failing that, relative to
        # where the command runs (`run examples/plan.md --root build/demo`).
        absolute = (root_path / plan_path).resolve()
        if not absolute.exists() and plan_path.exists():
            absolute = plan_path.resolve()
    try:
        plan_ref = absolute.relative_to(root_path).as_posix()
    except ValueError:
        plan_ref = absolute.as_posix()
    return PlanPaths(root_path, absolute, plan_ref, dialect)


def require_plan_or_status(paths: PlanPaths) -> PlanPaths:
    """``paths``, unless neither the plan nor its status.json exists: then PlanMissing.

    A status whose plan has gone is still usable (marking reads only status.json),
    so only a name that leads nowhere is refused, with what was looked for.
    """
    if paths.plan.is_file() or paths.status_file.is_file():
        return paths
    hint = f"check the path; a relative one is read from the project root ({paths.root}), then from here"
    if paths.plan.exists():
        raise PlanMissing("the plan is not a file", "pass the path of a Markdown plan file", paths.plan_ref)
    raise PlanMissing("plan file does not exist", hint, paths.plan_ref)


class PlanConflict(PlanError):
    """status.json belongs to another plan that has the same file name."""


def other_plan(paths: PlanPaths, recorded: object) -> str | None:
    """The plan status.json belongs to (its ``planPath``), when that is another plan file.

    None when it is this plan however spelled (relative, absolute, a symlink), when it
    names no file any more (the plan was moved or renamed: its status moved with it), or
    when there is no ``planPath`` (a file made by hand)."""
    if type(recorded) is not str or recorded == paths.plan_ref:
        return None
    candidate = Path(recorded)
    if not candidate.is_absolute():
        candidate = paths.root / candidate
    try:
        if not candidate.is_file():
            return None
        if paths.plan.exists() and os.path.samefile(candidate, paths.plan):
            return None
    except (OSError, ValueError):  # a path the system cannot look at (NUL, too long) leads to no file
        return None
    return recorded


def conflict(paths: PlanPaths, other: str, location: Location) -> PlanConflict:
    """The error for a second plan whose file name is taken: whose status it is, and the rename."""
    plan = PurePosixPath(paths.plan_ref)
    folder = plan.parent.name or "other"
    renamed = plan.with_name(f"{folder}-{plan.name}").as_posix()
    hint = (f"give one of them another file name, e.g. `git mv {paths.plan_ref} {renamed}`; "
            f"its status then lives in {OUTPUT_BASE}/{output_dir_name(renamed)}/")
    if not paths.plan.exists():  # a mistyped --plan that happens to share the name
        hint = f"{paths.plan_ref} does not exist; did you mean `--plan {other}`?"
    return PlanConflict(
        f"this status belongs to {other}, not to {paths.plan_ref}: plans are told apart by file name "
        f"({plan.name}), so both would use {paths.relative(paths.output_dir)}/",
        hint,
        location,
    )
