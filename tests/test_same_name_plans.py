"""Two plans with the same file name in different folders: the seed's layout keys status
by file name, so they would share docs/plan-outputs/<name>/status.json. The second is
told whose status it is (located at `planPath`) and how to rename, and nothing is
written; the same plan spelled another way, or moved, still reads its own status."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from plan_tasks.cli.main import main

PLAN_A = "docs/plans/a/auth.md"
PLAN_B = "docs/plans/b/auth.md"
STATUS = "docs/plan-outputs/auth/status.json"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PLAN_TASKS_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "project"
    for plan, title in ((PLAN_A, "A"), (PLAN_B, "B")):
        (root / plan).parent.mkdir(parents=True)
        (root / plan).write_text(f"# Plan {title}\n\n## Phase 1: {title}\n- [ ] 1.1 first\n- [ ] 1.2 second\n",
                                 encoding="utf-8")
    assert main(["init", "--plan", PLAN_A, "--root", str(root)]) == 0
    return root


def argv(command: tuple[str, ...], root: Path, plan: str) -> list[str]:
    if command[0] in ("run", "show", "reset"):
        return [command[0], str(root / plan), *command[1:], "--root", str(root)]
    return [*command, "--plan", plan, "--root", str(root)]


@pytest.mark.parametrize("command", [
    ("init",), ("status",), ("next",), ("next", "--policy", "seed"), ("mark-complete", "1.1"), ("mark-skipped", "1.2"),
    ("increment-retry", "1.1"), ("start-run",), ("progress",), ("validate",), ("reset", "--all"),
    ("show",), ("run", "--dry-run"),
], ids="-".join)
def test_a_second_plan_of_the_same_name_is_told_whose_status_it_found(
        project: Path, capsys: pytest.CaptureFixture[str], command: tuple[str, ...]) -> None:
    before = (project / STATUS).read_bytes()
    text = before.decode("utf-8")
    line = text.count("\n", 0, text.index(f'"{PLAN_A}"')) + 1
    column = text.index(f'"{PLAN_A}"') - text.rfind("\n", 0, text.index(f'"{PLAN_A}"'))
    capsys.readouterr()
    assert main(argv(command, project, PLAN_B)) == 2
    first, hint = capsys.readouterr().err.splitlines()[:2]
    assert first == (f"{STATUS}:{line}:{column}: error: this status belongs to {PLAN_A}, not to {PLAN_B}: "
                     "plans are told apart by file name (auth.md), so both would use docs/plan-outputs/auth/")
    assert hint == (f"  hint: give one of them another file name, e.g. `git mv {PLAN_B} docs/plans/b/b-auth.md`; "
                    "its status then lives in docs/plan-outputs/b-auth/")
    assert (project / STATUS).read_bytes() == before


def test_after_the_rename_each_plan_keeps_its_own_status(project: Path) -> None:
    renamed = "docs/plans/b/b-auth.md"
    os.replace(project / PLAN_B, project / renamed)
    assert main(["mark-complete", "1.1", "--plan", renamed, "--root", str(project)]) == 2  # no status yet
    assert main(["init", "--plan", renamed, "--root", str(project)]) == 0
    assert main(["mark-complete", "1.1", "--plan", renamed, "--root", str(project)]) == 0
    own = json.loads((project / "docs/plan-outputs/b-auth/status.json").read_text(encoding="utf-8"))
    first = json.loads((project / STATUS).read_text(encoding="utf-8"))
    assert own["planPath"] == renamed and own["tasks"][0]["status"] == "completed"
    assert first["planPath"] == PLAN_A and first["tasks"][0]["status"] == "pending"


def test_a_moved_plan_still_reads_the_status_it_left(project: Path) -> None:
    (project / "docs/plans/c").mkdir()
    os.replace(project / PLAN_A, project / "docs/plans/c/auth.md")
    assert main(["mark-complete", "1.1", "--plan", "docs/plans/c/auth.md", "--root", str(project)]) == 0


@pytest.mark.parametrize("recorded", ["./docs/plans/a/auth.md", "docs/plans/a/../a/auth.md", "<absolute>",
                                      "docs/plans/via-link/auth.md"])
def test_the_same_plan_recorded_in_another_spelling_is_the_same_plan(project: Path, recorded: str) -> None:
    (project / "docs/plans/via-link").symlink_to(project / "docs/plans/a")
    document = json.loads((project / STATUS).read_text(encoding="utf-8"))
    document["planPath"] = str(project / PLAN_A) if recorded == "<absolute>" else recorded
    (project / STATUS).write_text(json.dumps(document, indent=2), encoding="utf-8")
    assert main(["mark-complete", "1.1", "--plan", PLAN_A, "--root", str(project)]) == 0


def test_a_mistyped_plan_path_sharing_the_name_is_pointed_at_the_plan_that_exists(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mark-complete", "1.1", "--plan", "docs/plans/typo/auth.md", "--root", str(project)]) == 2
    hint = capsys.readouterr().err.splitlines()[1]
    assert hint == f"  hint: docs/plans/typo/auth.md does not exist; did you mean `--plan {PLAN_A}`?"
