"""status.json values of the wrong type: every command that reads the file answers
``status.json:LINE:COL: error: ...`` (LINE:COL at the offending value) with a hint,
exits 2 and leaves the file as it was.

Each case edits a real status.json (written by `init` for ``fixtures/ready/auth.md``)
and puts a marker where the wrong value starts; the expected location is the
marker's. The commands run in-process through ``main``; a few run as real
``python -m plan_tasks`` processes to check exit codes and the absence of tracebacks.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from plan_tasks.cli.main import main
from plan_tasks.status.locate import line_and_column, locate
from plan_tasks.status.schema import find_problems

ROOT = Path(__file__).resolve().parents[1]
READY = Path(__file__).parent / "fixtures" / "ready"
PLAN = "docs/plans/auth.md"
STATUS = "docs/plan-outputs/auth/status.json"
HERE = "__WRONG_VALUE_HERE__"
MARK = "\u27e6"  # where the wrong value starts; removed before the file is written


def _task(document: dict[str, Any], task_id: str) -> dict[str, Any]:
    return next(task for task in document["tasks"] if task["id"] == task_id)


def _set(task_id: str, key: str) -> Callable[[dict[str, Any]], None]:
    return lambda document: _task(document, task_id).__setitem__(key, HERE)


def _replace_task(position: int) -> Callable[[dict[str, Any]], None]:
    return lambda document: document["tasks"].__setitem__(position, HERE)


# (case id, change putting HERE where the wrong value goes, the wrong value as JSON, message)
CASES: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    ("retryCount-string", _set("1.3", "retryCount"), '"x"',
     'task 1.3: `retryCount` is "x", not a whole number from 0 to 9007199254740991'),
    ("retryCount-negative", _set("1.3", "retryCount"), "-1",
     "task 1.3: `retryCount` is -1, not a whole number from 0 to 9007199254740991"),
    ("retryCount-boolean", _set("1.3", "retryCount"), "true",
     "task 1.3: `retryCount` is true, not a whole number from 0 to 9007199254740991"),
    ("retryCount-fraction", _set("1.3", "retryCount"), "1.5",
     "task 1.3: `retryCount` is 1.5, not a whole number from 0 to 9007199254740991"),
    ("status-number", _set("1.2", "status"), "5",
     "task 1.2: `status` is 5, not a string (pending, in_progress, completed, failed or skipped)"),
    ("id-number", _set("1.4", "id"), "1.4", "task 4: `id` is 1.4, not a string"),
    ("notes-number", _set("1.1", "notes"), "42", "task 1.1: `notes` is 42, not a string"),
    ("startedAt-object", _set("2.1", "startedAt"), '{"at": 1}', 'task 2.1: `startedAt` is {"at": 1}, not a string'),
    ("tasks-object", lambda document: document.__setitem__("tasks", HERE), '{"1.1": "pending"}',
     'status file: `tasks` is {"1.1": "pending"}, not a list'),
    ("task-string", _replace_task(1), '"1.2"', "task 2 of `tasks` is not an object"),
    ("task-without-id", lambda document: _task(document, "2.2").pop("id") and None, None,
     "task 6 has no `id`: it must have one, a string"),
    ("runs-string", lambda document: document.__setitem__("runs", HERE), '"none"',
     'status file: `runs` is "none", not a list'),
    ("run-number", lambda document: document.__setitem__("runs", [HERE]), "7", "run 1 of `runs` is not an object"),
    ("run-count-string", lambda document: document.__setitem__("runs", [{"runId": "run-1", "completed": HERE}]),
     '"3"', 'run run-1: `completed` is "3", not a whole number from 0 to 9007199254740991'),
    ("summary-list", lambda document: document.__setitem__("summary", HERE), "[]",
     "status file: `summary` is [], not an object"),
    # the odd values issue 12 names, and their neighbours
    ("retryCount-1e400", _set("1.3", "retryCount"), "1e400",
     "task 1.3: `retryCount` is Infinity, not a whole number from 0 to 9007199254740991"),
    ("retryCount-past-javascript", _set("1.3", "retryCount"), "9007199254740992",
     "task 1.3: `retryCount` is 9007199254740992, not a whole number from 0 to 9007199254740991"),
    ("duration-NaN", _set("2.1", "duration"), "NaN",
     "task 2.1: `duration` is NaN, not a number of milliseconds (at most 9007199254740991 either way)"),
    ("duration-minus-1e400", _set("2.1", "duration"), "-1e400",
     "task 2.1: `duration` is -Infinity, not a number of milliseconds (at most 9007199254740991 either way)"),
    ("startedAt-number", _set("2.1", "startedAt"), "1764475729463",
     "task 2.1: `startedAt` is 1764475729463, not a string"),
    ("runs-object", lambda document: document.__setitem__("runs", HERE), '{"run-1": {}}',
     'status file: `runs` is {"run-1": {}}, not a list'),
    ("status-list", _set("1.2", "status"), '["completed"]',
     'task 1.2: `status` is ["completed"], not a string (pending, in_progress, completed, failed or skipped)'),
    ("createdAt-number", lambda document: document.__setitem__("createdAt", HERE), "0",
     "status file: `createdAt` is 0, not a string"),
    ("planTasks-removedTasks-string", lambda document: document["planTasks"].__setitem__("removedTasks", HERE), '"x"',
     'status file: `planTasks.removedTasks` is "x", not a list'),
    ("task-planTasks-skipCause-number", lambda document: _task(document, "1.2").__setitem__("planTasks", {"skipCause": HERE}),
     "3", "task 1.2: `planTasks.skipCause` is 3, not a string"),
    ("lone-surrogate-in-description", _set("1.3", "description"), '"tests \\ud83d"',
     "task 1.3: `description` holds a lone surrogate (\\ud83d), which is not text"),
    ("lone-surrogate-in-id", _set("1.3", "id"), '"1.3\\udc00"',
     "task 3: `id` holds a lone surrogate (\\udc00), which is not text"),
    ("lone-surrogate-in-runId", lambda document: document.__setitem__("runs", [{"runId": HERE}]), '"run-\\ud800"',
     "run 1: `runId` holds a lone surrogate (\\ud800), which is not text"),
    ("lone-surrogate-in-an-unknown-key", lambda document: document.__setitem__("seedExtra", {"k": [HERE]}),
     '"\\udfff"', "status file: `seedExtra.k[0]` holds a lone surrogate (\\udfff), which is not text"),
]

COMMANDS: list[tuple[str, ...]] = [
    ("status",), ("init",), ("next",), ("next", "5", "--policy", "seed"), ("next", "--explain"),
    ("mark-started", "1.3"), ("mark-complete", "1.3"), ("mark-failed", "1.3"), ("mark-skipped", "1.3"),
    ("phases",), ("progress",), ("retryable",), ("exhausted",), ("increment-retry", "1.3"),
    ("start-run",), ("complete-run", "run-1"), ("write-findings", "1.3", "--content", "x"),
    ("read-findings", "1.3"), ("validate",), ("plans",), ("plans", "--json"),
    ("reset", "--all"), ("reset", "1.3"), ("show",), ("show", "--json"),
    ("run", "--dry-run"), ("run", "--executor", "shell"),
]
PLAN_ARGUMENT = {"run", "show", "reset"}  # these name the plan as their first argument, as `run PLAN` does


def argv(command: tuple[str, ...], root: Path) -> list[str]:
    name, rest = command[0], list(command[1:])
    if name in PLAN_ARGUMENT:
        return [name, str(root / PLAN), *rest, "--root", str(root)]
    if name == "plans":
        return [name, *rest, "--root", str(root)]
    return [name, *rest, "--root", str(root), "--plan", PLAN]


def write_case(root: Path, change: Callable[[dict[str, Any]], None], wrong: str | None) -> tuple[bytes, int, int]:
    """Apply a case to status.json; returns the bytes written and the expected line and column."""
    status_file = root / STATUS
    document = json.loads(status_file.read_text(encoding="utf-8"))
    change(document)
    text = json.dumps(document, indent=2, ensure_ascii=False)
    if wrong is None:  # a missing key: reported at the object that lacks it
        text = text.replace('{\n      "phase": "Phase 2: Endpoints",\n      "description": "Add the logout',
                            MARK + '{\n      "phase": "Phase 2: Endpoints",\n      "description": "Add the logout')
    else:
        text = text.replace(json.dumps(HERE), MARK + wrong)
    assert text.count(MARK) == 1
    line, column = line_and_column(text, text.index(MARK))
    data = text.replace(MARK, "").encode("utf-8")
    status_file.write_bytes(data)
    return data, line, column


@pytest.fixture(scope="module")
def initialized(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project after `init` (made once; each test copies it)."""
    root = tmp_path_factory.mktemp("types") / "project"
    (root / "docs" / "plans").mkdir(parents=True)
    shutil.copyfile(READY / "auth.md", root / PLAN)
    assert main(["init", "--root", str(root), "--plan", PLAN]) == 0
    return root


@pytest.fixture
def project(initialized: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PLAN_TASKS_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "project"
    shutil.copytree(initialized, root)
    return root


@pytest.mark.parametrize("command", COMMANDS, ids=lambda command: "-".join(command))
@pytest.mark.parametrize(("change", "wrong", "message"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_a_wrong_type_in_status_json_is_located_reported_with_a_hint_and_leaves_the_file_alone(
        project: Path, capsys: pytest.CaptureFixture[str], command: tuple[str, ...],
        change: Callable[[dict[str, Any]], None], wrong: str | None, message: str) -> None:
    before, line, column = write_case(project, change, wrong)
    capsys.readouterr()
    code = main(argv(command, project))
    captured = capsys.readouterr()
    assert code == 2, captured
    if command[0] != "plans":  # `plans` still lists the plans it could read
        assert captured.out == ""
    first, hint = captured.err.splitlines()[:2]
    assert first == f"{STATUS}:{line}:{column}: error: {message}"
    assert hint.startswith("  hint: ") and f"git checkout -- {STATUS}" in hint
    assert (project / STATUS).read_bytes() == before
    assert sorted(path.name for path in (project / STATUS).parent.iterdir()
                  if not path.is_dir()) in (["status.json"], [".status.lock", "status.json"])


@pytest.mark.parametrize("command", [("next",), ("retryable",), ("exhausted",), ("increment-retry", "1.3"),
                                     ("mark-complete", "1.3"), ("run", "--dry-run")], ids=lambda c: c[0])
def test_a_wrong_type_makes_the_real_process_exit_2_without_a_traceback(project: Path, command: tuple[str, ...]) -> None:
    before, line, column = write_case(project, _set("1.3", "retryCount"), '"x"')
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, "-m", "plan_tasks", *argv(command, project)],
                            capture_output=True, text=True, env=env, timeout=120)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith(f"{STATUS}:{line}:{column}: error: task 1.3: `retryCount` is \"x\"")
    assert "Traceback" not in result.stderr
    assert (project / STATUS).read_bytes() == before


def test_every_wrong_value_of_a_file_is_reported_not_only_the_first(project: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    document = json.loads((project / STATUS).read_text(encoding="utf-8"))
    _task(document, "1.2")["status"] = 5
    _task(document, "2.3")["retryCount"] = "x"
    (project / STATUS).write_text(json.dumps(document, indent=2), encoding="utf-8")
    assert main(argv(("status",), project)) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("  hint:")]
    assert [error.split(": error: ")[1] for error in errors] == [
        "task 1.2: `status` is 5, not a string (pending, in_progress, completed, failed or skipped)",
        'task 2.3: `retryCount` is "x", not a whole number from 0 to 9007199254740991']


def test_unknown_keys_and_null_optional_values_are_accepted(project: Path) -> None:
    document = json.loads((project / STATUS).read_text(encoding="utf-8"))
    document["seedExtra"] = {"anything": [1, "two"]}
    _task(document, "1.2").update(executionConstraints={"sequential": True}, notes=None, retryCount=None, custom=5)
    assert find_problems(document) == []


# (JSON text, path, expected line and column): the scanner on its own
LOCATE_CASES = [
    ('{"a": 1, "b": [10, {"c": "x"}]}', ("b", 1, "c"), (1, 26)),
    ('{"a": 1,\n "a": 2}', ("a",), (2, 7)),  # a repeated key: JSON keeps the last, so does the scanner
    ('{"s": "a \\" ] } [ {", "t": [[], {}, 3]}', ("t", 2), (1, 37)),
    ('[1, 2]', ("x",), (1, 1)),  # a path that cannot be followed stops where it can
    ('{"tasks": [{"id": "caf\u00e9"}, {"id": 5}]}', ("tasks", 1, "id"), (1, 35)),
]


@pytest.mark.parametrize(("text", "path", "expected"), LOCATE_CASES)
def test_locate_finds_the_value_at_a_path(text: str, path: tuple[Any, ...], expected: tuple[int, int]) -> None:
    assert locate(text, path) == expected


def _write_raw(root: Path, key: str, raw: str) -> tuple[bytes, str]:
    """status.json with ``raw`` (JSON text) as the value of a new top-level ``key``; the
    bytes written and the text."""
    status_file = root / STATUS
    text = status_file.read_text(encoding="utf-8").replace("{\n", "{\n  " + json.dumps(key) + ": " + raw + ",\n", 1)
    status_file.write_text(text, encoding="utf-8")
    return text.encode("utf-8"), text


@pytest.mark.parametrize("command", COMMANDS, ids=lambda command: "-".join(command))
def test_a_hundred_thousand_nested_arrays_are_a_located_error_for_every_command(
        project: Path, capsys: pytest.CaptureFixture[str], command: tuple[str, ...]) -> None:
    before, text = _write_raw(project, "seedExtra", "[" * 100_000 + "]" * 100_000)
    # levels count from the document's own object: its 101st opens at the 100th bracket
    line, column = line_and_column(text, text.index("[" * 100) + 99)
    capsys.readouterr()
    assert main(argv(command, project)) == 2
    first = capsys.readouterr().err.splitlines()[0]
    assert first == f"{STATUS}:{line}:{column}: error: status file nests arrays or objects more than 100 levels deep"
    assert (project / STATUS).read_bytes() == before


@pytest.mark.parametrize("command", [("mark-complete", "1.3"), ("status",)], ids=lambda command: command[0])
def test_a_number_too_long_to_read_is_a_located_error(project: Path, capsys: pytest.CaptureFixture[str],
                                                       command: tuple[str, ...]) -> None:
    before, text = _write_raw(project, "seedExtra", "1" * 5000)
    line, column = line_and_column(text, text.index("1" * 5000))
    assert main(argv(command, project)) == 2
    first = capsys.readouterr().err.splitlines()[0]
    assert first == f"{STATUS}:{line}:{column}: error: status file holds a number of more than 4,300 digits (too long to read)"
    assert (project / STATUS).read_bytes() == before


@pytest.mark.parametrize("command", [("mark-complete", "1.3"), ("increment-retry", "1.3"), ("reset", "--all"),
                                     ("init",), ("start-run",)], ids=lambda command: command[0])
def test_nesting_too_deep_to_write_back_leaves_the_file_and_says_where(
        project: Path, capsys: pytest.CaptureFixture[str], command: tuple[str, ...]) -> None:
    """Nesting a reader takes (here 950 levels under a key of a task) but the writer's
    recursion does not: a located error before anything is written."""
    document = json.loads((project / STATUS).read_text(encoding="utf-8"))
    _task(document, "1.3")["seedExtra"] = HERE
    text = json.dumps(document, indent=2).replace(json.dumps(HERE), "[" * 950 + "]" * 950)
    (project / STATUS).write_text(text, encoding="utf-8")
    before = (project / STATUS).read_bytes()
    # the document, `tasks` and the task are three levels: the 101st opens at the 98th bracket
    line, column = line_and_column(text, text.index("[" * 98) + 97)
    assert main(argv(command, project)) == 2
    first = capsys.readouterr().err.splitlines()[0]
    assert first == f"{STATUS}:{line}:{column}: error: status file nests arrays or objects more than 100 levels deep"
    assert (project / STATUS).read_bytes() == before


def test_real_processes_answer_odd_values_with_exit_2_and_no_traceback(project: Path) -> None:
    """The issue's cases, each through a real `python -m plan_tasks mark-complete`."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    original = (project / STATUS).read_text(encoding="utf-8")
    for raw in ("1e400", '"\\ud83d"', "[" * 100_000 + "]" * 100_000, "9" * 5000):
        before, _ = _write_raw(project, "seedExtra" if raw[0] in '["9' else "x", raw)
        if raw == "1e400":  # as a task's retryCount, where it is read
            text = original.replace('"id": "1.3",', '"id": "1.3", "retryCount": 1e400,', 1)
            (project / STATUS).write_text(text, encoding="utf-8")
            before = text.encode("utf-8")
        result = subprocess.run([sys.executable, "-m", "plan_tasks", *argv(("mark-complete", "1.3"), project)],
                                capture_output=True, text=True, env=env, timeout=120)
        assert (result.returncode, result.stdout) == (2, ""), (raw[:10], result.stderr)
        assert result.stderr.startswith(f"{STATUS}:") and "Traceback" not in result.stderr
        assert (project / STATUS).read_bytes() == before
        (project / STATUS).write_text(original, encoding="utf-8")
