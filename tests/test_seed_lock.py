"""The seed CLI's `status.json.lock` (proper-lockfile's directory lock) honoured and taken.

The seed's `status-cli.js` is played by a tiny Node script that locks the
file with the real npm package proper-lockfile (installed once per session
into a temporary directory; the Node tests skip, saying why, where ``node``,
``npm`` or the package registry is missing). The stale-lock case needs no
Node: a directory with an old mtime is exactly what a killed holder leaves.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from plan_tasks.status.paths import resolve_plan
from plan_tasks.status.seed_lock import STALE_SECONDS, UPDATE_SECONDS, hold_seed_lock
from plan_tasks.status.store import locked

PLAN = """\
# Plan: Locked

## Phase 1: Work

- [ ] 1.1 First
- [ ] 1.2 Second
"""

LOCK_SCRIPT = """\
const lockfile = require('proper-lockfile');
const [file, holdSeconds] = process.argv.slice(2);
lockfile.lock(file).then((release) => {
  console.log('locked');
  setTimeout(() => release().then(() => console.log('released')), Number(holdSeconds) * 1000);
}).catch((error) => { console.log(error.code); process.exit(3); });
"""


@pytest.fixture(scope="session")
def node_lock(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Node script that holds proper-lockfile's lock on a file for N seconds."""
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.skip("node and npm are needed to run the real proper-lockfile")
    directory = tmp_path_factory.mktemp("proper-lockfile")
    installed = subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund", "proper-lockfile@4"],
                               cwd=directory, capture_output=True, text=True, timeout=300)
    if installed.returncode != 0:
        pytest.skip(f"npm could not install proper-lockfile: {installed.stderr.strip()[-300:]}")
    script = directory / "lock.js"
    script.write_text(LOCK_SCRIPT, encoding="utf-8")
    return script


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PLAN_TASKS_CACHE_DIR", str(tmp_path / "plan-cache"))
    (tmp_path / "plan.md").write_text(PLAN, encoding="utf-8")
    assert plan_tasks(tmp_path, "init").returncode == 0
    return tmp_path


def plan_tasks(root: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "plan_tasks", *argv, "--plan", "plan.md"], cwd=root,
                          capture_output=True, text=True, timeout=120)


def status_file(root: Path) -> Path:
    return root / "docs/plan-outputs/plan/status.json"


@pytest.fixture
def seed_holds_lock(node_lock: Path, project: Path) -> Iterator[subprocess.Popen[str]]:
    """The seed's lock on the project's status.json, held for two seconds from now."""
    holder = subprocess.Popen(["node", str(node_lock), str(status_file(project)), "2"], stdout=subprocess.PIPE,
                              text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    try:
        yield holder
    finally:
        holder.kill()
        holder.wait()


def test_marking_waits_while_the_seed_cli_holds_its_lock(seed_holds_lock: subprocess.Popen[str],
                                                         project: Path) -> None:
    began = time.monotonic()
    marked = plan_tasks(project, "mark-complete", "1.1")
    waited = time.monotonic() - began
    assert marked.returncode == 0, marked.stderr
    assert seed_holds_lock.stdout is not None and seed_holds_lock.stdout.readline().strip() == "released"
    assert waited >= 1.5, f"marked after {waited:.1f} s, while the seed held the lock for 2 s"
    assert '"status": "completed"' in status_file(project).read_text(encoding="utf-8")
    assert not (status_file(project).parent / "status.json.lock").exists()


def test_the_seed_cli_is_refused_while_plan_tasks_changes_the_status(node_lock: Path, project: Path) -> None:
    def seed_tries() -> str:
        tried = subprocess.run(["node", str(node_lock), str(status_file(project)), "0"], capture_output=True,
                               text=True, timeout=60)
        return tried.stdout.split()[0]

    with locked(resolve_plan("plan.md", str(project))):
        assert seed_tries() == "ELOCKED"
    assert seed_tries() == "locked"


def test_a_stale_seed_lock_is_taken_over_at_once(project: Path) -> None:
    lock = status_file(project).parent / "status.json.lock"
    lock.mkdir()
    old = time.time() - STALE_SECONDS - 5  # its holder stopped refreshing it: killed
    os.utime(lock, (old, old))
    began = time.monotonic()
    marked = plan_tasks(project, "mark-complete", "1.2")
    assert marked.returncode == 0, marked.stderr
    assert time.monotonic() - began < STALE_SECONDS / 2
    assert not lock.exists()


@pytest.mark.slow
def test_a_lock_plan_tasks_holds_long_stays_fresh_for_the_seed(node_lock: Path, project: Path) -> None:
    with hold_seed_lock(status_file(project), timeout=1.0) as directory:
        time.sleep(UPDATE_SECONDS + 1.5)
        age = time.time() - directory.stat().st_mtime
        assert age < UPDATE_SECONDS, f"the lock's mtime is {age:.1f} s old"
