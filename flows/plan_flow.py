"""Deployable entrypoint of the plan-tasks flow (referenced by prefect.yaml).

`prefect deploy` points at ``flows/plan_flow.py:run_plan``; the flow itself
lives in :mod:`plan_tasks.compile`. Run it locally with::

    python flows/plan_flow.py examples/report-export.md demo-project
"""

from __future__ import annotations

import sys

from plan_tasks.compile import run_plan

__all__ = ["run_plan"]

if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit("usage: python flows/plan_flow.py PLAN [ROOT]")
    print(run_plan(plan=sys.argv[1], root=sys.argv[2] if len(sys.argv) > 2 else "."))
