"""status.json under concurrent writers and crashes, with real processes.

Eight worker processes (``fixtures/status/worker.py``) wait on a barrier file,
then change one status.json 100 times each through the store's transactions:
no update may be lost. A writer killed with SIGKILL in the middle of
rewriting a large status.json must leave one whole version behind.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from plan_tasks.cli.main import main
from plan_tasks.status import document as doc
from plan_tasks.status.store import dump

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "status"
WORKER = FIXTURES / "worker.py"
REWRITER = FIXTURES / "rewriter.py"
WORKERS = 8
CHANGES = 100
START_TIMEOUT = 30.0
PLAN = "docs/plans/plan.md"
STATUS = "docs/plan-outputs/plan/status.json"
JS_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="uses SIGKILL and POSIX file semantics")


def child_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, **extra, "PLAN_TASKS_CACHE_DIR": str(tmp_path / "cache"),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}


def wait_until(condition: Callable[[], bool], what: str, timeout: float = START_TIMEOUT) -> None:
    """A bounded wait for child processes to get going (not a sleep to make a test pass)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.005)


def write_plan(root: Path, phases: int, tasks_per_phase: int) -> None:
    lines = ["# Concurrency plan", ""]
    for phase in range(1, phases + 1):
        lines += [f"## Phase {phase}: Worker {phase}", ""]
        lines += [f"- [ ] {phase}.{task} Task {task} of worker {phase}" for task in range(1, tasks_per_phase + 1)]
        lines.append("")
    plan = root / PLAN
    plan.parent.mkdir(parents=True)
    plan.write_text("\n".join(lines), encoding="utf-8")


def init_project(tmp_path: Path, phases: int, tasks_per_phase: int) -> Path:
    root = tmp_path / "project"
    write_plan(root, phases, tasks_per_phase)
    assert main(["init", "--plan", PLAN, "--root", str(root)]) == 0
    return root


@pytest.fixture(autouse=True)
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAN_TASKS_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An initialised project whose plan has one phase of CHANGES tasks per worker (800 tasks)."""
    return init_project(tmp_path, WORKERS, CHANGES)


@pytest.fixture
def small_project(tmp_path: Path) -> Path:
    """An initialised project with a plan of two phases of five tasks."""
    return init_project(tmp_path, 2, 5)


def run_workers(root: Path, tmp_path: Path, jobs: list[list[str]], **env: str) -> list[tuple[float, float]]:
    """Start one worker per job, release them together, wait; return each one's (start, end)."""
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    go = barrier / "go"
    processes = [
        subprocess.Popen([sys.executable, str(WORKER), str(root), PLAN, str(barrier / f"ready-{n}"), str(go), *job],
                         env=child_env(tmp_path, **env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for n, job in enumerate(jobs)
    ]
    try:
        wait_until(lambda: all((barrier / f"ready-{n}").exists() or processes[n].poll() is not None
                               for n in range(len(jobs))), "the workers to start")
        go.touch()
        outputs = [process.communicate(timeout=120) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    spans = []
    for process, (out, err) in zip(processes, outputs):
        assert (process.returncode, err) == (0, ""), err
        start, end = map(float, out.split())
        spans.append((start, end))
    return spans


def assert_overlapped(spans: list[tuple[float, float]]) -> None:
    """Every worker was running at one common moment: the test really raced them."""
    assert max(start for start, _ in spans) < min(end for _, end in spans), spans


def load(root: Path) -> dict:
    return json.loads((root / STATUS).read_text(encoding="utf-8"))


# -- the lock: no lost update -----------------------------------------------------------


def test_eight_processes_marking_their_own_100_tasks_lose_no_mark(project: Path, tmp_path: Path) -> None:
    jobs = [["mark", *(f"{worker}.{task}" for task in range(1, CHANGES + 1))] for worker in range(1, WORKERS + 1)]
    assert_overlapped(run_workers(project, tmp_path, jobs))
    status = load(project)
    not_completed = [task["id"] for task in status["tasks"] if task["status"] != "completed"]
    assert not_completed == [], f"{len(not_completed)} marks lost"
    assert all(JS_ISO.match(task["completedAt"]) for task in status["tasks"])
    assert status["summary"] == doc.recalculate_summary(status) == {
        "totalTasks": 800, "completed": 800, "pending": 0, "in_progress": 0, "failed": 0, "skipped": 0,
    }
    assert status["currentPhase"] == f"Phase {WORKERS}: Worker {WORKERS}"


def test_eight_processes_counting_retries_of_one_task_lose_no_count(small_project: Path, tmp_path: Path) -> None:
    jobs = [["retry", "2.3", str(CHANGES)] for _ in range(WORKERS)]
    assert_overlapped(run_workers(small_project, tmp_path, jobs))
    task = next(task for task in load(small_project)["tasks"] if task["id"] == "2.3")
    assert task["retryCount"] == WORKERS * CHANGES


def test_without_the_lock_the_same_workload_loses_counts(small_project: Path, tmp_path: Path) -> None:
    # Shows the test above can fail: each worker replaces the store's lock by one that does nothing.
    jobs = [["retry", "2.3", str(CHANGES)] for _ in range(WORKERS)]
    assert_overlapped(run_workers(small_project, tmp_path, jobs, PLAN_TASKS_TEST_NO_LOCK="1"))
    task = next(task for task in load(small_project)["tasks"] if task["id"] == "2.3")
    assert task["retryCount"] < WORKERS * CHANGES


# -- atomic replacement: a killed writer leaves a whole file -------------------------------


def big_status(status: str, tasks: int = 16_000) -> bytes:
    """A status.json of about 3 MB with every task in ``status``."""
    entries = [doc.PlanTaskEntry(f"{n // 100 + 1}.{n % 100 + 1}", f"Phase {n // 100 + 1}: Part {n // 100 + 1}",
                                 f"Task {n} with a description long enough to make the file large")
               for n in range(tasks)]
    document = doc.new_document("docs/plans/big.md", "Big", entries, "hash")
    for task in document["tasks"]:
        task["status"] = status
    doc.refresh(document)
    return (dump(document) + "\n").encode("utf-8")


def test_a_writer_killed_at_random_moments_leaves_one_whole_version(tmp_path: Path) -> None:
    versions = [big_status("pending"), big_status("completed")]
    assert versions[0] != versions[1] and all(len(version) > 2_000_000 for version in versions)
    sources = [tmp_path / "a.json", tmp_path / "b.json"]
    for source, version in zip(sources, versions):
        source.write_bytes(version)
    directory = tmp_path / "outputs"
    directory.mkdir()
    target = directory / "status.json"
    seed = random.randrange(2**32)
    chance = random.Random(seed)
    for kill in range(20):
        writer = subprocess.Popen([sys.executable, str(REWRITER), str(target), *map(str, sources)],
                                  env=child_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert writer.stdout is not None and writer.stdout.readline() == b"ready\n", writer.stderr
            time.sleep(chance.uniform(0.0, 0.06))  # the random moment of the crash
        finally:
            writer.send_signal(signal.SIGKILL)
            writer.communicate(timeout=30)
        assert writer.returncode == -signal.SIGKILL, f"kill {kill}: the writer ended on its own (seed {seed})"
        left = target.read_bytes()
        assert left in versions, f"kill {kill}: status.json is {len(left)} bytes, not a whole version (seed {seed})"
        json.loads(left)
    others = [path.name for path in directory.iterdir() if path != target]
    assert others, f"no kill landed in the middle of a write (seed {seed}): the test proved nothing"
    assert all(name.startswith(".status.json.") and name.endswith(".tmp") for name in others), others
