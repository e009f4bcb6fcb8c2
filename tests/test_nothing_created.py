"""A command that changes status.json, given a plan that does not exist or has no status
yet, exits 2 with a located error and leaves nothing on disk: no output folder, no lock
file, no findings folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from plan_tasks.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
PLAN = "docs/plans/auth.md"

CHANGING_COMMANDS: list[tuple[str, ...]] = [
    ("mark-started", "1.3"), ("mark-complete", "1.3"), ("mark-failed", "1.3"), ("mark-skipped", "1.3"),
    ("increment-retry", "1.3"), ("start-run",), ("complete-run", "run-1"),
    ("write-findings", "1.3", "--content", "x"), ("validate",), ("reset", "--all"), ("reset", "1.3"),
]


def argv(command: tuple[str, ...], root: Path, plan: str) -> list[str]:
    name, rest = command[0], list(command[1:])
    if name == "reset":
        return [name, plan, *rest, "--root", str(root)]
    return [name, *rest, "--root", str(root), "--plan", plan]


def tree(root: Path) -> list[str]:
    return sorted(path.relative_to(root).as_posix() for path in root.rglob("*"))


@pytest.fixture
def project(auth_project: Path) -> Path:
    return auth_project


@pytest.mark.parametrize("command", CHANGING_COMMANDS, ids="-".join)
@pytest.mark.parametrize(("plan", "message"), [
    ("docs/plans/nope.md", "docs/plans/nope.md: error: plan file does not exist"),
    (PLAN, "docs/plan-outputs/auth/status.json: error: no status for docs/plans/auth.md yet"),
], ids=["plan-missing", "status-missing"])
def test_changing_a_plan_without_status_creates_nothing(project: Path, capsys: pytest.CaptureFixture[str],
                                                        command: tuple[str, ...], plan: str, message: str) -> None:
    before = tree(project)
    capsys.readouterr()
    code = main(argv(command, project, plan))
    captured = capsys.readouterr()
    assert code == 2, captured
    assert captured.err.splitlines()[0] == message
    assert captured.err.splitlines()[1].startswith("  hint: ")
    assert tree(project) == before


def test_marking_through_a_current_plan_pointer_to_nothing_creates_nothing(project: Path) -> None:
    (project / ".claude").mkdir()
    (project / ".claude" / "current-plan.txt").write_text("docs/plans/gone.md\n", encoding="utf-8")
    before = tree(project)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, "-m", "plan_tasks", "mark-complete", "1.1"], cwd=project, env=env,
                            capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith("docs/plans/gone.md: error: plan file does not exist")
    assert tree(project) == before
