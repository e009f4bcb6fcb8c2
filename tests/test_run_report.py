"""`plan-tasks run --report --junit` on a real Prefect server, and the report in a real browser.

One run of ``fixtures/plans_run/timeline.md`` (tasks side by side, a transient
failure retried, a permanent failure and the task skipped because of it),
shared by the tests below: every attempt in status.json with its times, the
report holding each of them, the JUnit file, the outcome artifact's link, and
the page as headless Chromium draws it (``browser.py``).
"""

from __future__ import annotations

import collections
import json
import re
import shutil
import sys
import xml.etree.ElementTree as ElementTree
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from browser import png_pixels, screenshot
from junit_schema import junit_problems
from plan_tasks.cli.main import parse_arguments
from plan_tasks.errors import PlanError
from plan_tasks.run.settings import build_settings

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = Path(__file__).parent / "fixtures" / "plans_run" / "timeline.md"
AGENT = (sys.executable, str(ROOT / "examples" / "fake_agent.py"))


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- the settings -------------------------------------------------------------------------

def test_report_given_without_a_path_means_the_default_place() -> None:
    assert parse_arguments(["run", "plan.md", "--report"]).report == "auto"
    assert parse_arguments(["run", "plan.md", "--report", "out/r.html"]).report == "out/r.html"
    assert parse_arguments(["run", "plan.md"]).report is None


@pytest.mark.parametrize(("setting", "value", "message"), [
    ("report", "plan.md", "`--report`: 'plan.md' does not end in .html or .htm"),
    ("junit", "results.json", "`--junit`: 'results.json' does not end in .xml"),
], ids=["report-would-overwrite-the-plan", "junit-not-xml"])
def test_a_report_file_with_the_wrong_suffix_is_refused_before_the_run(tmp_path: Path, setting: str, value: str,
                                                                       message: str) -> None:
    with pytest.raises(PlanError) as raised:
        build_settings({"plan": "plan.md", "root": str(tmp_path), setting: value})
    assert raised.value.message == message and raised.value.hint


# -- a real run ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def run(prefect_server: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from plan_tasks.prefect.flow import run_plan
    from plan_tasks.run.settings import RunSettings

    root = tmp_path_factory.mktemp("timeline")
    shutil.copy(FIXTURE, root / "timeline.md")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PLAN_TASKS_CACHE_DIR", str(root / ".cache"))
        state = run_plan(settings=RunSettings(plan="timeline.md", root=str(root), agent_command=AGENT,
                                              retry_delay_seconds=0.1, max_parallel=3, report="auto",
                                              junit=str(root / "out" / "junit.xml")), return_state=True)
    status = json.loads((root / "docs/plan-outputs/timeline/status.json").read_text(encoding="utf-8"))
    return {"root": root, "state": state, "status": status, "tasks": {task["id"]: task for task in status["tasks"]},
            "report": root / "docs/plan-outputs/timeline/report.html", "junit": root / "out" / "junit.xml"}


def attempts_of(run: dict[str, Any], task_id: str) -> list[dict[str, Any]]:
    return run["tasks"][task_id].get("planTasks", {}).get("attempts", [])


def test_every_attempt_is_on_record_with_its_run_times_outcome_and_log(run: dict[str, Any]) -> None:
    run_entry = run["status"]["runs"][-1]
    outcomes = {task_id: [(entry["attempt"], entry["outcome"], entry.get("category"))
                          for entry in attempts_of(run, task_id)] for task_id in run["tasks"]}
    assert outcomes == {"1.1": [(1, "completed", None)], "1.2": [(1, "completed", None)],
                        "1.3": [(1, "failed", "transient"), (2, "completed", None)], "1.4": [(1, "completed", None)],
                        "2.1": [(1, "failed", "permanent")], "2.2": [], "2.3": [(1, "completed", None)]}
    assert run_entry["planTasks"] == {"maxParallel": 3}
    began, ended = parse_time(run_entry["startedAt"]), parse_time(run_entry["completedAt"])
    for task_id, task in run["tasks"].items():
        for entry in attempts_of(run, task_id):
            assert entry["run"] == run_entry["runId"]
            assert entry.get("log") == (None if entry["outcome"] == "completed" else
                                        f"docs/plan-outputs/timeline/logs/{task_id}.log")
            assert began <= parse_time(entry["startedAt"]) <= parse_time(entry["endedAt"]) <= ended
        if attempts_of(run, task_id):  # the last attempt is the one status.json's own fields describe
            last = attempts_of(run, task_id)[-1]
            assert abs((parse_time(last["startedAt"]) - parse_time(task["startedAt"])).total_seconds()) < 0.5
            assert abs((parse_time(last["endedAt"]) - parse_time(task["completedAt"])).total_seconds()) < 0.5
    first, second = attempts_of(run, "1.3")
    assert parse_time(first["endedAt"]) <= parse_time(second["startedAt"])  # the retry after the failure


def test_the_report_draws_every_attempt_at_its_times_and_fetches_nothing(run: dict[str, Any]) -> None:
    from plan_tasks.timeline.svg import format_seconds

    page = run["report"].read_text(encoding="utf-8")
    started = parse_time(run["status"]["runs"][-1]["startedAt"])
    for task_id in run["tasks"]:
        for entry in attempts_of(run, task_id):
            begin = (parse_time(entry["startedAt"]) - started).total_seconds()
            end = (parse_time(entry["endedAt"]) - started).total_seconds()
            assert (f"{task_id} attempt {entry['attempt']}: {entry['outcome']}" in page
                    and f"(from {format_seconds(begin)} to {format_seconds(end)})" in page), (task_id, entry)
    assert page.count('<rect class="bar ') == 7
    assert page.count('<rect class="bar transient"') == 1 and page.count('<rect class="bar failed"') == 1
    assert "2.2 skipped: depends on failed task 2.1" in page
    assert re.findall(r"https?://|<script|<link|@import|url\(|\bsrc=", page) == []
    assert "agent failed (exit code 1): fake agent: task 2.1 cannot be done" in page.split("<h2>Failures</h2>")[1]


def test_the_junit_file_meets_the_schema_and_reports_the_failure_with_its_output(run: dict[str, Any]) -> None:
    root = ElementTree.parse(run["junit"]).getroot()
    assert junit_problems(root) == []
    cases = {case.get("name").split(" ")[0]: case for case in root.iter("testcase")}
    assert sorted(cases) == sorted(run["tasks"])
    failure = cases["2.1"].find("failure")
    assert failure.get("type") == "permanent" and "task 2.1 cannot be done" in failure.text
    assert cases["2.2"].find("skipped") is not None
    assert [case for case, element in cases.items() if len(element)] == ["2.1", "2.2"]
    assert root.get("tests") == "7" and root.get("failures") == "1" and root.get("skipped") == "1"


def test_the_outcome_artifact_links_the_report(run: dict[str, Any]) -> None:
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[run["state"].state_details.flow_run_id])))
    outcomes = [artifact for artifact in artifacts if artifact.key == "timeline-outcomes"]
    assert len(outcomes) == 1
    assert f"({run['report'].resolve().as_uri()})" in outcomes[0].description


def test_the_report_opens_in_a_headless_browser_and_is_not_blank(run: dict[str, Any], tmp_path: Path) -> None:
    pixels = png_pixels(screenshot(run["report"], tmp_path / "report.png", width=1000, height=700))
    colours = collections.Counter(pixel[:3] for pixel in pixels)
    background = colours.most_common(1)[0][1] / len(pixels)
    assert len(colours) > 20 and background < 0.95, f"{len(colours)} colours, {background:.0%} background"
    for colour in ((0x2D, 0xA4, 0x4E), (0xCF, 0x22, 0x2E), (0xD4, 0xA7, 0x2C)):  # completed, failed, transient bars
        assert colours[colour] > 50, f"no bar drawn in {colour}"


def test_the_github_actions_example_runs_the_bundled_plan_with_report_and_junit() -> None:
    import shlex

    import yaml

    workflow = yaml.safe_load((ROOT / "examples" / "github-actions.yml").read_text(encoding="utf-8"))
    steps = workflow["jobs"]["run-plan"]["steps"]
    runs = [shlex.split(step["run"]) for step in steps if "plan-tasks run" in step.get("run", "")]
    assert len(runs) == 1 and runs[0][:2] == ["plan-tasks", "run"]
    args = parse_arguments(runs[0][1:])
    assert (ROOT / args.plan).is_file() and args.report == "auto" and args.junit == "plan-junit.xml"
    uploaded = next(step for step in steps if step.get("uses", "").startswith("actions/upload-artifact"))
    assert uploaded["if"] == "always()"
    assert {"demo-project/docs/plan-outputs/", args.junit} <= set(uploaded["with"]["path"].split())
