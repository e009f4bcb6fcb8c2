"""The timeline report and the JUnit file, from status documents written here: no Prefect.

What a real run writes is checked in ``test_run_report.py``; here the data are
exact, so the bars, the critical path, the slots busy and the JUnit elements
can be compared with what they must be, at 10 tasks and at 1,000.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from junit_schema import junit_problems
from plan_tasks.cli.main import main
from plan_tasks.errors import PlanError
from plan_tasks.load import load_text
from plan_tasks.run.attempts import ATTEMPTS_KEPT, add_attempt, attempt_entry
from plan_tasks.timeline.junit import render_junit, xml_text
from plan_tasks.timeline.model import build_timeline, choose_run, summarize
from plan_tasks.timeline.page import render_page

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2026, 12, 1, 9, 0, 0, tzinfo=timezone.utc)
RUN = "run-1"


def iso(seconds: float) -> str:
    return (START + timedelta(seconds=seconds)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def plan_text(phases: int, per_phase: int, depends: dict[str, str] | None = None) -> str:
    """A plan of ``phases`` x ``per_phase`` tasks; ``depends`` maps a task id to the one it depends on."""
    depends = depends or {}
    lines = ["# Implementation Plan: Synthetic", ""]
    for phase in range(1, phases + 1):
        lines += [f"## Phase {phase}: Part {phase}", ""]
        for number in range(1, per_phase + 1):
            task_id = f"{phase}.{number}"
            after = f" (depends on {depends[task_id]})" if task_id in depends else ""
            lines.append(f"- [ ] {task_id} Task {task_id} of the synthetic plan{after}")
        lines.append("")
    return "\n".join(lines)


def document(attempts: dict[str, list[tuple[float, float, str]]], *, end: float | None,
             skipped: dict[str, float] | None = None, max_parallel: int = 3,
             other_run: dict[str, list[tuple[float, float, str]]] | None = None) -> dict[str, Any]:
    """A status document: ``attempts`` of this run per task as (start, end, outcome) in seconds."""
    tasks: dict[str, dict[str, Any]] = {}
    for run_id, per_task in ((RUN, attempts), ("run-0", other_run or {})):
        for task_id, spans in per_task.items():
            task = tasks.setdefault(task_id, {"id": task_id, "status": spans[-1][2]})
            for number, (began, ended, outcome) in enumerate(spans, 1):
                task.setdefault("planTasks", {}).setdefault("attempts", []).append(attempt_entry(
                    run_id, number, iso(began), iso(ended), outcome,
                    category=("transient" if number < len(spans) else "permanent") if outcome == "failed" else None,
                    error="boom" if outcome == "failed" else None, log=f"docs/plan-outputs/x/logs/{task_id}.log"))
    for task_id, at in (skipped or {}).items():
        tasks[task_id] = {"id": task_id, "status": "skipped", "completedAt": iso(at), "skipReason": "depends on failed",
                          "planTasks": {"skipCause": "failure"}}
    run = {"runId": RUN, "startedAt": iso(0), "planTasks": {"maxParallel": max_parallel}}
    if end is not None:
        run["completedAt"] = iso(end)
    return {"tasks": list(tasks.values()), "runs": [{"runId": "run-0", "startedAt": iso(-100)}, run]}


def timeline_of(text: str, status: dict[str, Any], run_id: str | None = None) -> Any:
    loaded = load_text(text, "synthetic.md")
    return build_timeline(status, loaded, choose_run(status, run_id, "status.json"), "synthetic.md")


# -- the timeline's data ------------------------------------------------------------

def test_every_attempt_of_the_run_is_a_bar_at_its_recorded_times_and_other_runs_are_left_out() -> None:
    status = document({"1.1": [(1.0, 3.0, "failed"), (4.0, 5.5, "completed")], "1.2": [(1.0, 2.0, "completed")]},
                      end=6.0, other_run={"1.3": [(-90.0, -80.0, "completed")]})
    timeline = timeline_of(plan_text(1, 3), status)
    bars = {row.task_id: [(bar.attempt, bar.start, bar.end, bar.outcome) for bar in row.bars] for row in timeline.rows}
    assert bars == {"1.1": [(1, 1.0, 3.0, "failed"), (2, 4.0, 5.5, "completed")], "1.2": [(1, 1.0, 2.0, "completed")]}
    assert timeline.duration == 6.0 and timeline.not_run == 1 and timeline.max_parallel == 3


@pytest.mark.parametrize(("durations", "expected"), [
    ({"1.1": 3.0, "1.2": 1.0, "1.3": 5.0}, ["1.3"]),  # alone, 5 s outweighs the chain 1.1 -> 1.2 (4 s)
    ({"1.1": 3.0, "1.2": 2.5, "1.3": 5.0}, ["1.1", "1.2"]),  # the chain (5.5 s) outweighs it
    ({"1.1": 1.0, "1.2": 1.0, "1.3": 1.0, "2.1": 4.0}, ["1.1", "1.2", "2.1"]),  # across phases, by dependency
], ids=["single-task", "chain", "across-phases"])
def test_the_critical_path_is_the_heaviest_chain_of_dependent_task_durations(
        durations: dict[str, float], expected: list[str]) -> None:
    text = plan_text(2, 3, depends={"1.2": "1.1", "2.1": "1.2"})
    status = document({task_id: [(0.0, seconds, "completed")] for task_id, seconds in durations.items()}, end=10.0)
    timeline = timeline_of(text, status)
    assert list(timeline.critical_path) == expected
    assert timeline.critical_seconds == pytest.approx(sum(durations[task_id] for task_id in expected))
    assert {row.task_id for row in timeline.rows if row.critical} == set(expected)


def test_slots_busy_over_time_step_up_at_each_start_and_down_at_each_end() -> None:
    status = document({"1.1": [(0.0, 4.0, "completed")], "1.2": [(1.0, 2.0, "completed")],
                       "1.3": [(1.0, 3.0, "completed")]}, end=5.0)
    timeline = timeline_of(plan_text(1, 3), status)
    assert list(timeline.concurrency) == [(0.0, 0), (0.0, 1), (1.0, 3), (2.0, 2), (3.0, 1), (4.0, 0)]
    summary = summarize(timeline)
    assert summary["peakSlots"] == 3 and summary["busySlotSeconds"] == pytest.approx(7.0)
    assert summary["utilization"] == pytest.approx(7.0 / (3 * 5.0))


def test_a_task_skipped_during_the_run_has_a_row_and_one_skipped_before_it_has_none() -> None:
    status = document({"1.1": [(0.0, 1.0, "failed")]}, end=3.0, skipped={"1.2": 1.1, "1.3": -50.0})
    timeline = timeline_of(plan_text(1, 3), status)
    assert [(row.task_id, row.skipped_at) for row in timeline.rows] == [("1.1", None), ("1.2", 1.1)]


def test_a_run_recorded_before_attempts_were_kept_gets_a_bar_per_task_from_its_own_times() -> None:
    status = {"tasks": [{"id": "1.1", "status": "completed", "startedAt": iso(1), "completedAt": iso(2)},
                        {"id": "1.2", "status": "failed", "startedAt": iso(1.5), "completedAt": iso(4),
                         "retryCount": 1},
                        {"id": "1.3", "status": "completed", "startedAt": iso(-60), "completedAt": iso(-59)}],
              "runs": [{"runId": RUN, "startedAt": iso(0), "completedAt": iso(5)}]}
    timeline = timeline_of(plan_text(1, 3), status)
    assert [(row.task_id, [(bar.attempt, bar.start, bar.end, bar.outcome) for bar in row.bars])
            for row in timeline.rows] == [("1.1", [(1, 1.0, 2.0, "completed")]), ("1.2", [(2, 1.5, 4.0, "failed")])]
    assert timeline.max_parallel is None


@pytest.mark.parametrize(("runs", "run_id", "message"), [
    ([], None, "records no run yet"),
    ([{"runId": RUN, "startedAt": iso(0)}], "run-9", "no run run-9 in status.json"),
], ids=["no-run", "unknown-run"])
def test_choosing_a_run_that_is_not_there_is_a_plan_error(runs: list[Any], run_id: str | None, message: str) -> None:
    with pytest.raises(PlanError, match=message):
        choose_run({"tasks": [], "runs": runs}, run_id, "status.json")


def test_a_task_keeps_its_last_attempts_only() -> None:
    status = {"tasks": [{"id": "1.1", "status": "pending"}]}
    for number in range(1, ATTEMPTS_KEPT + 6):
        add_attempt(status, "1.1", attempt_entry(RUN, number, iso(number), iso(number + 1), "completed"))
    kept = status["tasks"][0]["planTasks"]["attempts"]
    assert [entry["attempt"] for entry in kept] == list(range(6, ATTEMPTS_KEPT + 6))


# -- the page -------------------------------------------------------------------------

REMOTE = re.compile(r"https?://|<script|<link|<img|@import|url\(|\bsrc=", re.IGNORECASE)


def large_run(phases: int = 10, per_phase: int = 100) -> tuple[str, dict[str, Any]]:
    """1,000 tasks: each task waits for the one above it in its phase; every 50th fails once first."""
    depends = {f"{phase}.{number}": f"{phase}.{number - 1}"
               for phase in range(1, phases + 1) for number in range(2, per_phase + 1)}
    attempts, clock = {}, 0.0
    for phase in range(1, phases + 1):
        for number in range(1, per_phase + 1):
            spans = [(clock, clock + 0.7, "failed")] if number % 50 == 0 else []
            start = clock + (1.0 if spans else 0.0)
            attempts[f"{phase}.{number}"] = [*spans, (start, start + 0.5, "completed")]
            clock = start + 0.5
    return plan_text(phases, per_phase, depends), document(attempts, end=clock + 1, max_parallel=5)


@pytest.mark.parametrize("size", [(2, 5), (10, 100)], ids=["10-tasks", "1000-tasks"])
def test_the_page_holds_every_task_and_attempt_and_stays_self_contained_and_small(size: tuple[int, int]) -> None:
    text, status = large_run(*size)
    timeline = timeline_of(text, status)
    page = render_page(timeline)
    attempts = sum(len(task["planTasks"]["attempts"]) for task in status["tasks"])
    assert page.count('<rect class="bar ') == attempts
    for task in status["tasks"]:
        assert f">{task['id']} Task {task['id']}" in page
    assert REMOTE.findall(page) == []
    assert len(page.encode()) < 3_000_000
    ElementTree.fromstring(page.split("\n", 1)[1])  # well-formed: nothing left unclosed


def test_the_page_lists_each_failure_with_its_reason_and_a_link_to_its_log() -> None:
    status = document({"1.1": [(0.0, 1.0, "failed")], "1.2": [(0.0, 1.0, "completed")]}, end=2.0)
    page = render_page(timeline_of(plan_text(1, 2), status), link=lambda path: f"../../{path}")
    failures = page.split("<h2>Failures</h2>", 1)[1]
    assert "<td>1.1</td>" in failures and "<td>1.2</td>" not in failures
    assert "boom" in failures and 'href="../../docs/plan-outputs/x/logs/1.1.log"' in failures


# -- JUnit ----------------------------------------------------------------------------

def test_the_junit_file_has_every_element_and_attribute_the_junit_schema_requires(tmp_path: Path) -> None:
    log = tmp_path / "docs/plan-outputs/x/logs/1.1.log"
    log.parent.mkdir(parents=True)
    log.write_text("===== t task 1.1 attempt 1\nfirst try\n----- t task 1.1 attempt 1: failed\n"
                   "===== t task 1.1 attempt 2\nline one\n\x1b[31mred\x1b[0m and a NUL \x00 here\n"
                   "----- t task 1.1 attempt 2: failed, permanent: boom\n")
    status = document({"1.1": [(0.0, 1.0, "failed"), (1.5, 2.0, "failed")], "1.2": [(0.0, 1.0, "completed")],
                       "2.1": [(2.0, 3.0, "interrupted")]}, end=4.0, skipped={"1.3": 2.1})
    xml = render_junit(timeline_of(plan_text(2, 3), status), tmp_path)
    root = ElementTree.fromstring(xml.encode())
    assert junit_problems(root) == []
    cases = {case.get("name").split(" ")[0]: case for case in root.iter("testcase")}
    assert set(cases) == {"1.1", "1.2", "1.3", "2.1"}
    failure = cases["1.1"].find("failure")
    assert failure.get("type") == "permanent" and failure.get("message") == "boom"
    assert failure.text == "line one\nred and a NUL  here\n"  # the last attempt's output, as XML can hold it
    assert cases["1.1"].get("time") == "1.500" and cases["1.1"].get("classname") == "Phase 1: Part 1"
    assert cases["1.3"].find("skipped") is not None and cases["2.1"].find("error").get("type") == "interrupted"
    suites = {suite.get("name"): suite for suite in root.iter("testsuite")}
    assert {name: (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped"))
            for name, suite in suites.items()} == {"Phase 1: Part 1": ("3", "1", "0", "1"),
                                                   "Phase 2: Part 2": ("1", "0", "1", "0")}


def test_the_schema_check_finds_what_is_missing() -> None:
    # Guards the guard: a testsuite without its required parts is reported.
    broken = ElementTree.fromstring('<testsuites><testsuite name="x"><testcase name="a"/></testsuite></testsuites>')
    problems = junit_problems(broken)
    for missing in ("testsuite: no `hostname`", "testsuite: no <properties>", "testcase: no `classname`",
                    "testsuite: no <system-out>"):
        assert any(missing in problem for problem in problems), problems


@pytest.mark.parametrize(("text", "expected"), [
    ("plain", "plain"), ("\x1b[1;32mok\x1b[0m", "ok"), ("a\x00b\x07c", "abc"), ("tab\tnew\nline", "tab\tnew\nline"),
    ("\ufffe\U0001f600", "\U0001f600"),
], ids=["plain", "colour", "control", "whitespace", "non-character"])
def test_text_for_xml_drops_what_xml_cannot_hold(text: str, expected: str) -> None:
    assert xml_text(text) == expected


# -- the `report` command -----------------------------------------------------------

@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PLAN_TASKS_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "synthetic.md").write_text(plan_text(1, 3), encoding="utf-8")
    return tmp_path


def write_status(project: Path, status: dict[str, Any]) -> Path:
    target = project / "docs/plan-outputs/synthetic/status.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps({"planPath": "synthetic.md", **status}), encoding="utf-8")
    return target


def test_the_report_command_writes_the_page_and_the_junit_file(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_status(project, document({"1.1": [(0.0, 1.0, "completed")]}, end=2.0))
    assert main(["report", "synthetic.md", "--junit", "out/junit.xml"]) == 0
    page = (project / "docs/plan-outputs/synthetic/report.html").read_text(encoding="utf-8")
    assert f"run {RUN}" in page
    assert junit_problems(ElementTree.parse(project / "out/junit.xml").getroot()) == []
    assert capsys.readouterr().out.splitlines() == [
        f"report: docs/plan-outputs/synthetic/report.html (1 task of run {RUN})", "junit: out/junit.xml"]


@pytest.mark.parametrize(("argv", "message"), [
    (["--out", "synthetic.md"], re.escape("error: `--out` 'synthetic.md' does not end in .html or .htm")),
    (["--junit", "junit.txt"], re.escape("error: `--junit` 'junit.txt' does not end in .xml")),
    (["--run", "run-9"], r"status\.json:1:\d+: error: no run run-9 in status\.json"),  # where it lists its runs
], ids=["out-not-html", "junit-not-xml", "unknown-run"])
def test_the_report_command_refuses_bad_input_with_exit_2_and_writes_nothing(
        project: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    write_status(project, document({"1.1": [(0.0, 1.0, "completed")]}, end=2.0))
    before = sorted(path for path in project.rglob("*") if "cache" not in path.parts)
    plan = (project / "synthetic.md").read_bytes()
    assert main(["report", "synthetic.md", *argv]) == 2
    error = capsys.readouterr().err
    assert re.search(message, error) and "\n  hint: " in error, error
    assert sorted(path for path in project.rglob("*") if "cache" not in path.parts) == before
    assert (project / "synthetic.md").read_bytes() == plan


def test_the_report_command_without_status_says_to_run_the_plan_first(project: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "synthetic.md"]) == 2
    assert "status.json" in capsys.readouterr().err
    assert not (project / "docs").exists()


def test_the_report_command_never_imports_prefect(project: Path) -> None:
    write_status(project, document({"1.1": [(0.0, 1.0, "completed")]}, end=2.0))
    probe = ("import sys; from plan_tasks.cli.main import main; code = main(['report', 'synthetic.md']); "
             "print(code, sorted(m for m in sys.modules if m == 'prefect' or m.startswith('prefect.')))")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    finished = subprocess.run([sys.executable, "-c", probe], cwd=project, env=env, capture_output=True, text=True,
                              timeout=120)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.splitlines()[-1] == "0 []"
