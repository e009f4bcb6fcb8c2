"""Deployable entrypoint of the plan-tasks flow (referenced by prefect.yaml).

`prefect deploy` points at ``flows/plan_flow.py:run_plan``; the flow itself
lives in :mod:`plan_tasks.prefect.flow`. Its one parameter, ``settings``, is a
:class:`plan_tasks.run.settings.RunSettings` (in prefect.yaml and with
``--param``, a mapping: ``settings: {plan: ..., root: ...}``). Run it locally with::

    python flows/plan_flow.py examples/report-export.md demo-project
"""

from __future__ import annotations

import sys

from plan_tasks.prefect.flow import run_plan
from plan_tasks.run.settings import RunSettings

__all__ = ["RunSettings", "run_plan"]

if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit("usage: python flows/plan_flow.py PLAN [ROOT]")
    print(run_plan(settings=RunSettings(plan=sys.argv[1], root=sys.argv[2] if len(sys.argv) > 2 else ".")))
