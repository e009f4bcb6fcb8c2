"""Commands that do not run a plan never import Prefect.

Importing Prefect costs over a second on every call, so `validate`, `show`,
`graph` and the status commands must stay free of it; `next` (on a warm parse
cache) and `mark-complete`, called once per task by agents, must not import
pydantic or markdown-it-py either. Each check runs in a fresh interpreter: in the
test process some other test may already have imported Prefect.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Read through the `plan_file` fixture (conftest.py): the written plan runs
# everywhere, the corpus one where the corpus is.
WRITTEN = "valid/search-rebuild.md"
CORPUS = "corpus:seed-format/documentation-cleanup.md"

# Runs the commands through plan_tasks.cli.main.main, then reports their exit codes
# and every loaded module that is Prefect or part of it.
PROBE = """
import contextlib, io, json, sys
from plan_tasks.cli.main import main

plan, also_import = sys.argv[1], sys.argv[2:]
commands = [
    ["validate", plan],
    ["show", plan],
    ["show", "--json", plan],
    ["show", "--phase-gate", "0.8", plan],
    ["graph", plan],
    ["graph", "--format", "dot", plan],
    ["graph", "--format", "json", plan],
]
codes = []
with contextlib.redirect_stdout(io.StringIO()):
    for command in commands:
        codes.append(main(command))
for name in also_import:
    __import__(name)
prefect = sorted(name for name in sys.modules if name == "prefect" or name.startswith("prefect."))
print(json.dumps({"codes": codes, "prefect": prefect}))
"""


def probe(plan: Path, *also_import: str) -> dict:
    assert plan.is_file(), f"plan missing: {plan}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(plan), *also_import],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.parametrize("plan_file", [WRITTEN, CORPUS], indirect=True, ids=["written", "corpus"])
def test_validate_show_and_graph_never_import_prefect(plan_file: Path) -> None:
    report = probe(plan_file)
    assert report["codes"] == [0] * 7
    assert report["prefect"] == [], f"Prefect modules imported: {', '.join(report['prefect'])}"


@pytest.mark.parametrize("plan_file", [WRITTEN], indirect=True)
def test_the_probe_sees_prefect_once_it_is_imported(plan_file: Path) -> None:
    # Guards the guard: the probe must notice Prefect when it is there.
    assert "prefect" in probe(plan_file, "prefect")["prefect"]


# -- the status commands ------------------------------------------------------

READY_PLAN = Path(__file__).resolve().parent / "fixtures" / "ready" / "auth.md"

# Runs each command (a JSON list of argument lists) through plan_tasks.cli.main.main
# ("{run}" stands for the run id `start-run` printed last), imports the modules
# named after it, then reports the exit codes and which of the watched
# top-level packages are loaded.
STATUS_PROBE = """
import contextlib, io, json, sys
from plan_tasks.cli.main import main

commands, watched, also_import = (json.loads(argument) for argument in sys.argv[1:])
codes, run_id = [], None
for command in commands:
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        codes.append(main([run_id if argument == "{run}" else argument for argument in command]))
    if command[0] == "start-run":
        run_id = json.loads(output.getvalue())["runId"]
for name in also_import:
    __import__(name)
loaded = sorted({name.split(".")[0] for name in sys.modules} & set(watched))
print(json.dumps({"codes": codes, "loaded": loaded}))
"""

HEAVY = ["prefect", "pydantic", "markdown_it"]


def status_project(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    root = tmp_path / "project"
    (root / "docs" / "plans").mkdir(parents=True)
    (root / "docs" / "plans" / "auth.md").write_text(READY_PLAN.read_text(encoding="utf-8"), encoding="utf-8")
    env = {**os.environ, "PLAN_TASKS_CACHE_DIR": str(tmp_path / "cache"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return root, env


def probe_commands(root: Path, env: dict[str, str], commands: list[list[str]],
                   also_import: tuple[str, ...] = (), watched: list[str] = HEAVY) -> dict:
    located = [[*command, "--root", str(root), *([] if command[0] == "plans" else ["--plan", "docs/plans/auth.md"])]
               for command in commands]
    result = subprocess.run(
        [sys.executable, "-c", STATUS_PROBE, json.dumps(located), json.dumps(watched), json.dumps(list(also_import))],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


STATUS_COMMANDS = [
    ["init"],
    ["status"],
    ["next"],
    ["next", "5", "--policy", "ready", "--explain"],
    ["next", "--policy", "seed"],
    ["start-run"],
    ["complete-run", "{run}", "--completed", "1", "--failed", "1"],
    ["mark-started", "1.2"],
    ["mark-complete", "1.2", "--notes", "done"],
    ["mark-failed", "1.3", "--error", "broken"],
    ["mark-skipped", "1.4", "--reason", "later"],
    ["increment-retry", "1.3"],
    ["phases"],
    ["progress"],
    ["retryable"],
    ["exhausted"],
    ["write-findings", "1.2", "--content", "notes"],
    ["read-findings", "1.2"],
    ["validate"],
    ["plans"],
    ["plans", "--json"],
]


def test_status_commands_never_import_prefect(tmp_path: Path) -> None:
    root, env = status_project(tmp_path)
    report = probe_commands(root, env, STATUS_COMMANDS)
    assert report["codes"] == [0] * len(STATUS_COMMANDS)
    assert "prefect" not in report["loaded"], f"Prefect imported by one of {STATUS_COMMANDS}"


def test_next_and_mark_complete_on_a_warm_cache_import_no_prefect_pydantic_or_markdown_it(tmp_path: Path) -> None:
    root, env = status_project(tmp_path)
    assert probe_commands(root, env, [["init"]])["codes"] == [0]  # parses the plan: warms the cache
    report = probe_commands(root, env, [["next"], ["next", "4", "--phase-gate", "0"], ["mark-complete", "1.2"]])
    assert report == {"codes": [0, 0, 0], "loaded": []}


def test_the_status_probe_sees_each_heavy_package_once_it_is_loaded(tmp_path: Path) -> None:
    # Guards the guard: `init` on a cold cache parses the plan (markdown-it-py, pydantic).
    root, env = status_project(tmp_path)
    assert probe_commands(root, env, [["init"]], also_import=("prefect",)) == {
        "codes": [0], "loaded": ["markdown_it", "prefect", "pydantic"]}


# What `next` once imported without needing it, each costing milliseconds per call: dataclasses
# (and inspect), orjson (dataclasses, uuid, datetime), shutil (argparse's terminal width).
SLOW = ["dataclasses", "orjson", "shutil", "datetime", "inspect"]


def test_next_on_a_warm_cache_imports_nothing_it_does_not_need(tmp_path: Path) -> None:
    root, env = status_project(tmp_path)
    assert probe_commands(root, env, [["init"]])["codes"] == [0]
    assert probe_commands(root, env, [["next"], ["next", "5", "--policy", "seed"]], watched=SLOW + HEAVY) == {
        "codes": [0, 0], "loaded": []}
    # Guards the guard: a command that writes does import orjson.
    assert "orjson" in probe_commands(root, env, [["mark-complete", "1.2"]], watched=SLOW)["loaded"]
