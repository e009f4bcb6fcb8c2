"""The command line: exit codes, stdout and stderr of `validate`, `show` and
`graph`, run as a real `python -m plan_tasks` subprocess (through ``main`` for
finer cases). Bad input never shows a Python traceback."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from plan_tasks.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
PLANS = Path(__file__).parent / "fixtures" / "plans"
# Real-world shaped plans, read through the `plan_file` fixture (conftest.py): the
# one written for these tests runs everywhere, the corpus one where the corpus is.
WRITTEN = "valid/search-rebuild.md"
CORPUS = "corpus:seed-format/documentation-cleanup.md"
SMALL = "valid/small.md"  # relative to PLANS, the working directory of run_cli
SMALL_OK = (
    "valid/small.md: ok: 8 tasks in 2 phases, 1 dependency, 3 sequential and "
    "1 file-conflict edges, critical path weight 8"
)


def run_cli(*args: str, cwd: Path = PLANS, stdout: int | None = subprocess.PIPE) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run(
        [sys.executable, "-m", "plan_tasks", *args],
        stdout=stdout, stderr=subprocess.PIPE, text=True, cwd=cwd, env=env, timeout=120,
    )


def assert_no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr, result.stderr


# -- validate ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("plan_file", "summary"),
    [
        (WRITTEN, "ok: 19 tasks in 4 phases, 3 dependencies, 6 sequential and 1 file-conflict edges, "
                  "critical path weight 15"),
        (CORPUS, "ok: 47 tasks in 7 phases, "),
    ],
    indirect=["plan_file"], ids=["written", "corpus"],
)
def test_validate_prints_one_ok_line_per_valid_plan_and_exits_0(plan_file: Path, summary: str) -> None:
    result = run_cli("validate", SMALL, str(plan_file))
    assert (result.returncode, result.stderr) == (0, "")
    small, other = result.stdout.splitlines()
    assert small == SMALL_OK
    assert other.startswith(f"{plan_file}: {summary}")


def test_validate_prints_every_problem_with_location_and_hint_and_exits_2() -> None:
    result = run_cli("validate", "invalid/three-mistakes.md")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "invalid/three-mistakes.md:6:36: error: task 1.2 depends on itself\n"
        "  hint: remove the dependency, or name the task it really waits for\n"
        "invalid/three-mistakes.md:7:7: error: duplicate task id 1.1 (first defined at line 5)\n"
        "  hint: give every task its own id; renumber this one\n"
        "invalid/three-mistakes.md:11:41: error: task 2.1 depends on unknown task 2.4\n"
        "  hint: refer to tasks by the ids of their `- [ ] N.M` lines\n"
        "invalid/three-mistakes.md: invalid: 3 errors\n"
    )


def test_validate_prints_the_ok_line_of_valid_plans_next_to_invalid_ones() -> None:
    result = run_cli("validate", "invalid/cycle.md", SMALL)
    assert result.returncode == 2
    assert result.stdout == SMALL_OK + "\n"
    assert result.stderr.startswith("invalid/cycle.md:8:36: error: dependency cycle: 1.2 -> 1.3 -> 1.2\n  hint: ")
    assert result.stderr.endswith("invalid/cycle.md: invalid: 1 error\n")


# -- bad input ---------------------------------------------------------------


BAD_PLANS = [
    pytest.param(
        "missing.md", None, "missing.md:1:1: error: cannot read plan: No such file or directory", id="missing file"
    ),
    pytest.param("a-directory", "dir", "a-directory:1:1: error: cannot read plan: Is a directory", id="directory"),
    pytest.param(
        "latin1.md", b"# Plan\n\n## Phase 1: Setup\n\n- [ ] 1.1 Caf\xe9\n",
        "latin1.md:5:14: error: plan is not valid UTF-8 (byte 0xe9)", id="non-UTF-8 file",
    ),
    pytest.param(
        "empty.md", b"", "empty.md:1:1: error: no tasks found (no `## Phase N: Title` headings)", id="empty file"
    ),
]


@pytest.mark.parametrize("command", [["validate"], ["show"], ["show", "--json"], ["graph"]], ids=" ".join)
@pytest.mark.parametrize(("name", "content", "first_line"), BAD_PLANS)
def test_bad_plan_file_exits_2_with_a_located_error_and_no_traceback(
    tmp_path: Path, command: list[str], name: str, content: bytes | str | None, first_line: str
) -> None:
    if content == "dir":
        (tmp_path / name).mkdir()
    elif content is not None:
        (tmp_path / name).write_bytes(content)
    result = run_cli(*command, name, cwd=tmp_path)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.splitlines()[0] == first_line
    assert result.stderr.splitlines()[1].startswith("  hint: ")
    assert_no_traceback(result)


def test_validate_without_plans_or_pointer_names_the_missing_plan(tmp_path: Path) -> None:
    # With no PLAN, `validate` checks status.json against its plan: the seed's
    # `validate`. With neither --plan nor .claude/current-plan.txt there is no plan.
    result = subprocess.run([sys.executable, "-m", "plan_tasks", "validate"], cwd=tmp_path,
                            capture_output=True, text=True)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "plan-tasks: error: no plan given\n"
        "  hint: pass `--plan PATH` (or write the plan's path to .claude/current-plan.txt, as the seed system does)\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", "--phase-gate", "1.5", SMALL], "`--phase-gate` takes a number from 0 to 1, not 1.5"),
        (["show", "--phase-gate", "abc", SMALL], "`--phase-gate` takes a number from 0 to 1, not 'abc'"),
        (["show", "--phase-gate", "nan", SMALL], "`--phase-gate` takes a number from 0 to 1, not nan"),
        (["graph", "--format", "png", SMALL], "invalid choice: 'png'"),
        ([], "the following arguments are required: COMMAND"),
    ],
    ids=["gate above 1", "gate not a number", "gate nan", "unknown format", "no command"],
)
def test_bad_arguments_are_usage_errors_with_exit_2(args: list[str], message: str) -> None:
    result = run_cli(*args)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith("usage: plan-tasks")
    assert message in result.stderr
    assert_no_traceback(result)


@pytest.mark.parametrize(
    "command", [["show"], ["show", "--json"], ["graph"], ["graph", "--format", "json"]], ids=" ".join
)
def test_an_invalid_plan_makes_show_and_graph_print_its_problems_and_return_2(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*command, str(PLANS / "invalid" / "self-dependency.md")]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        f"{PLANS / 'invalid' / 'self-dependency.md'}:6:41: error: task 1.2 depends on itself\n"
        "  hint: remove the dependency, or name the task it really waits for\n"
    )


@pytest.mark.parametrize("plan_file", [WRITTEN, CORPUS], indirect=True, ids=["written", "corpus"])
@pytest.mark.parametrize(
    "command",
    [["show", "PLAN"], ["show", "--json", "PLAN"], ["graph", "--format", "dot", "PLAN"], ["validate", "PLAN"]],
    ids=" ".join,
)
def test_a_reader_that_closed_the_pipe_gets_no_traceback(command: list[str], plan_file: Path) -> None:
    # `plan-tasks show x.md | head -1` where head has already gone: the write end
    # is all that is left of the pipe, so every write fails with EPIPE.
    command = [str(plan_file) if arg == "PLAN" else arg for arg in command]
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = run_cli(*command, stdout=write_end)
    finally:
        os.close(write_end)
    assert result.stderr == ""
    assert result.returncode == 0


# -- show --------------------------------------------------------------------


def show(*args: str, capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert main(["show", *args]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    return out.splitlines()


def test_show_lists_phases_groups_waits_with_reasons_and_the_critical_path(capsys: pytest.CaptureFixture[str]) -> None:
    lines = show(str(PLANS / SMALL), capsys=capsys)
    assert lines[0] == "Small plan"
    assert lines[1].endswith(": 8 tasks in 2 phases, 1 done, 5 groups (phases in order)")
    for expected in [
        "Phase 1: Foundations  (5 tasks)",
        "  done: 1.1",
        "  group 1 (parallel)    1.2 Create the schema in `src/schema.py` HIGH",
        "                        1.4 Add the loader in `src/load.py`",
        "  group 2 (parallel)    1.3 Migrate the data in `src/schema.py`"
        "  [after 1.2: execution note: 1.2 creates the schema 1.3 migrates]",
        "                        1.5 Cache the loader results in `src/load.py`  [after 1.4: both touch src/load.py]",
        "Phase 2: Wiring [SEQUENTIAL]  (3 tasks)",
        "  group 3               2.1 Wire the CLI to `src/load.py` CRITICAL (depends: 1.4)  [depends on 1.4]",
        "  group 4               2.2 Document the CLI in `docs/cli.md`  [after 2.1: [SEQUENTIAL] phase]",
        "  group 5               2.3 Check the docs in `docs/cli.md`  [after 2.2: [SEQUENTIAL] phase]",
        "Critical path (weight 8): 1.2 -> 1.3 -> 2.1 -> 2.2 -> 2.3",
    ]:
        assert expected in lines


def test_show_with_gate_zero_groups_by_dependencies_only(capsys: pytest.CaptureFixture[str]) -> None:
    lines = show("--phase-gate", "0", str(PLANS / SMALL), capsys=capsys)
    assert lines[1].endswith(": 8 tasks in 2 phases, 1 done, 4 groups (dependencies only)")
    assert "Critical path (weight 6): 1.4 -> 2.1 -> 2.2 -> 2.3" in lines


@pytest.mark.parametrize(
    ("plan_file", "phase", "reason", "waiting"),
    [
        (WRITTEN, "Phase 1: Staging Area  (8 tasks)",
         "[after 1.2: execution note: 1.2 creates the staging folder that 1.3-1.6 fill]",
         "1.3 Copy the products index into var/search/staging/products.idx"),
        (CORPUS, "Phase 1: Quick Wins - File Cleanup  (10 tasks)",
         "[after 1.3: execution note: 1.3 creates directory that 1.4-1.7 require]",
         "1.4 Move docs/standards/analysis-command-selection-guide.md"),
    ],
    indirect=["plan_file"], ids=["written", "corpus"],
)
def test_show_of_a_real_plan_explains_its_execution_note_chain(
    plan_file: Path, phase: str, reason: str, waiting: str, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = show(str(plan_file), capsys=capsys)
    assert phase in lines
    waits = [line for line in lines if reason in line]
    assert len(waits) == 1 and waiting in waits[0]
    assert lines[-1].startswith("Critical path (weight ")


# -- show --json -------------------------------------------------------------


TASK_KEYS = {"id": str, "title": str, "status": str, "depends_on": list, "files": list, "weight": int, "line": int}


def show_json(plan: str, capsys: pytest.CaptureFixture[str], *options: str) -> dict:
    assert main(["show", "--json", *options, plan]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("plan_file", [SMALL, WRITTEN, CORPUS], indirect=True, ids=["small", "written", "corpus"])
def test_show_json_has_the_documented_keys_and_types(plan_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert plan_file.is_file(), f"plan missing: {plan_file}"
    data = show_json(str(plan_file), capsys)
    assert isinstance(data["title"], str)
    assert isinstance(data["phases"], list) and data["phases"]
    for phase in data["phases"]:
        assert isinstance(phase["number"], int) and isinstance(phase["title"], str)
        for task in phase["tasks"]:
            for key, kind in TASK_KEYS.items():
                assert isinstance(task[key], kind), (task["id"], key)
            assert task["status"] in {"pending", "completed"}
            assert all(isinstance(item, str) for item in task["depends_on"] + task["files"])
    assert all(isinstance(group, list) and all(isinstance(t, str) for t in group) for group in data["groups"])
    assert isinstance(data["critical_path"]["tasks"], list)
    assert isinstance(data["critical_path"]["weight"], int)


def test_show_json_reports_groups_statuses_and_critical_path(capsys: pytest.CaptureFixture[str]) -> None:
    data = show_json(str(PLANS / SMALL), capsys)
    assert data["title"] == "Small plan"
    assert [(phase["number"], phase["title"]) for phase in data["phases"]] == [(1, "Foundations"), (2, "Wiring")]
    tasks = {task["id"]: task for phase in data["phases"] for task in phase["tasks"]}
    assert tasks["1.1"]["status"] == "completed"
    assert tasks["1.2"] == {**tasks["1.2"], "status": "pending", "files": ["src/schema.py"], "weight": 2, "line": 8}
    assert tasks["2.1"]["depends_on"] == ["1.4"]
    assert data["groups"] == [["1.2", "1.4"], ["1.3", "1.5"], ["2.1"], ["2.2"], ["2.3"]]
    assert data["critical_path"] == {"tasks": ["1.2", "1.3", "2.1", "2.2", "2.3"], "weight": 8}


# -- graph -------------------------------------------------------------------


def graph_output(fmt: str, plan: str = str(PLANS / SMALL)) -> str:
    result = run_cli("graph", "--format", fmt, plan)
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    return result.stdout


def test_graph_defaults_to_mermaid() -> None:
    assert run_cli("graph", SMALL).stdout == graph_output("mermaid")


def test_graph_mermaid_is_a_flowchart_with_labelled_edges_and_phase_order() -> None:
    text = graph_output("mermaid")
    lines = text.splitlines()
    assert lines[0].startswith("flowchart")
    assert '  subgraph p0["Phase 1: Foundations"]' in lines
    assert "  p0 -.->|phase order| p1" in lines
    assert '  t1_4 -->|"depends: 2.1 depends on 1.4"| t2_1' in lines
    assert '  t1_2 -->|"sequential: execution note: 1.2 creates the schema 1.3 migrates"| t1_3' in lines
    assert '  t1_4 -->|"file: both touch src/load.py"| t1_5' in lines
    assert sum(1 for line in lines if " -->|" in line) == 5


@pytest.mark.parametrize("plan_file", [WRITTEN, CORPUS], indirect=True, ids=["written", "corpus"])
def test_graph_dot_is_a_balanced_digraph_with_labelled_edges(plan_file: Path) -> None:
    # Both plans have titles with quotes, backslashes and brackets to escape.
    text = graph_output("dot", str(plan_file))
    assert text.startswith("digraph plan {")
    unquoted = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    assert unquoted.count("{") == unquoted.count("}")
    assert unquoted.count("[") == unquoted.count("]")
    for line in unquoted.splitlines()[1:-1]:
        assert line.rstrip().endswith((";", "{", "}")), line
    small = graph_output("dot")
    assert '  t1_4 -> t1_5 [label="file: both touch src/load.py"];' in small.splitlines()
    assert 'style=dashed, label="phase order"' in small


def test_graph_json_has_nodes_edges_and_phase_order() -> None:
    data = json.loads(graph_output("json"))
    assert [node["id"] for node in data["nodes"]] == ["1.1", "1.2", "1.3", "1.4", "1.5", "2.1", "2.2", "2.3"]
    assert {(edge["from"], edge["to"], edge["kind"]) for edge in data["edges"]} == {
        ("1.4", "2.1", "depends"),
        ("1.2", "1.3", "sequential"),
        ("1.4", "1.5", "file"),
        ("2.1", "2.2", "sequential"),
        ("2.2", "2.3", "sequential"),
    }
    assert data["phase_order"] == [{"from": "Phase 1: Foundations", "to": "Phase 2: Wiring"}]
