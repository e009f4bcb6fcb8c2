"""A status.json that is a symlink: saves replace the file it leads to, atomically, and
the link stays a link; a link that leads nowhere, in a loop or to a folder is refused
with a located error, exit 2, and nothing is created (but the lock file) or replaced."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from plan_tasks.cli.main import main

PLAN = "docs/plans/auth.md"
STATUS = "docs/plan-outputs/auth/status.json"


@pytest.fixture
def project(auth_project: Path) -> Path:
    return auth_project


def cli(root: Path, *args: str) -> int:
    return main([*args, "--root", str(root), "--plan", PLAN])


def test_marking_through_a_symlinked_status_replaces_the_target_and_keeps_the_link(project: Path) -> None:
    assert cli(project, "init") == 0
    shared = project.parent / "shared" / "auth-status.json"
    shared.parent.mkdir()
    os.replace(project / STATUS, shared)
    (project / STATUS).symlink_to(os.path.relpath(shared, (project / STATUS).parent))
    inode_before = shared.stat().st_ino
    assert cli(project, "mark-complete", "1.3") == 0
    assert (project / STATUS).is_symlink() and (project / STATUS).resolve() == shared
    task = next(task for task in json.loads(shared.read_text(encoding="utf-8"))["tasks"] if task["id"] == "1.3")
    assert task["status"] == "completed"
    assert shared.stat().st_ino != inode_before  # renamed into place, not rewritten in place
    assert sorted(path.name for path in shared.parent.iterdir()) == ["auth-status.json"]  # no temporary left


def test_a_chain_of_symlinks_is_followed_to_the_file(project: Path) -> None:
    assert cli(project, "init") == 0
    real = project / "real-status.json"
    os.replace(project / STATUS, real)
    middle = project / "middle.json"
    middle.symlink_to(real)
    (project / STATUS).symlink_to(middle)
    assert cli(project, "mark-started", "1.3") == 0
    assert middle.is_symlink() and (project / STATUS).is_symlink()
    assert '"in_progress"' in real.read_text(encoding="utf-8")


def files(root: Path) -> list[str]:
    """Everything under ``root`` but the lock file, which a writer takes before it looks."""
    return sorted(str(path) for path in root.rglob("*") if path.name != ".status.lock")


def _dangling(root: Path) -> Path:
    (root / STATUS).parent.mkdir(parents=True)
    (root / STATUS).symlink_to(root / "elsewhere" / "status.json")
    return root / "elsewhere" / "status.json"


def _loop(root: Path) -> Path:
    (root / STATUS).parent.mkdir(parents=True)
    (root / STATUS).symlink_to(root / STATUS)
    return root / STATUS


def _folder(root: Path) -> Path:
    (root / STATUS).parent.mkdir(parents=True)
    (root / "a-folder").mkdir()
    (root / STATUS).symlink_to(root / "a-folder")
    return root / "a-folder"


@pytest.mark.parametrize(("make_link", "message"), [
    (_dangling, "which cannot be followed (No such file or directory)"),
    (_loop, "which cannot be followed"),
    (_folder, "which is not a regular file"),
], ids=["dangling", "loop", "folder"])
@pytest.mark.parametrize("command", [("init",), ("status",)], ids=lambda command: command[0])
def test_a_symlink_that_leads_to_no_file_is_refused_and_nothing_is_created(
        project: Path, capsys: pytest.CaptureFixture[str], make_link: object, message: str,
        command: tuple[str, ...]) -> None:
    make_link(project)  # type: ignore[operator]
    link_before = os.readlink(project / STATUS)
    tree_before = files(project)
    capsys.readouterr()
    assert cli(project, *command) == 2
    first, hint = capsys.readouterr().err.splitlines()[:2]
    assert first.startswith(f"{STATUS}:1:1: error: status file is a symlink to ") and message in first, first
    assert hint.startswith("  hint: point the link at an existing status.json")
    assert os.readlink(project / STATUS) == link_before
    assert files(project) == tree_before
