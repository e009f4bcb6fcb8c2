"""Commands that do not run a plan never import Prefect.

Importing Prefect costs over a second on every call, so `validate`, `show` and
`graph` must stay free of it. Each check runs in a fresh interpreter: in the
test process some other test may already have imported Prefect.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS_PLAN = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "seed-format" / "documentation-cleanup.md"

# Runs the commands through plan_tasks.cli.main, then reports their exit codes
# and every loaded module that is Prefect or part of it.
PROBE = """
import contextlib, io, json, sys
from plan_tasks.cli import main

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


def probe(*also_import: str) -> dict:
    assert CORPUS_PLAN.is_file(), f"corpus plan missing: {CORPUS_PLAN}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(CORPUS_PLAN), *also_import],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_validate_show_and_graph_never_import_prefect() -> None:
    report = probe()
    assert report["codes"] == [0] * 7
    assert report["prefect"] == [], f"Prefect modules imported: {', '.join(report['prefect'])}"


def test_the_probe_sees_prefect_once_it_is_imported() -> None:
    # Guards the guard: the probe must notice Prefect when it is there.
    assert "prefect" in probe("prefect")["prefect"]
