"""plan-tasks: run Markdown implementation plans on Prefect.

The public API is re-exported here lazily, so that ``import plan_tasks`` (and
every CLI command that does not run a plan) stays free of pydantic,
markdown-it-py and, above all, Prefect until they are needed.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Plan": "plan_tasks.model",
    "Phase": "plan_tasks.model",
    "Task": "plan_tasks.model",
    "ExecutionNote": "plan_tasks.model",
    "PlanGraph": "plan_tasks.graph",
    "TaskSorter": "plan_tasks.graph",
    "build_graph": "plan_tasks.graph",
    "LoadedPlan": "plan_tasks.load",
    "load_plan": "plan_tasks.load",
    "load_text": "plan_tasks.load",
    "parse_plan": "plan_tasks.parse",
    "Problem": "plan_tasks.errors",
    "Location": "plan_tasks.errors",
    "PlanError": "plan_tasks.errors",
    "PlanInvalid": "plan_tasks.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'plan_tasks' has no attribute {name!r}")
    return getattr(import_module(module), name)
