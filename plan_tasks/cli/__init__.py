"""The command line: one module per command group, `main(argv) -> int` in `main`.

Commands that do not execute a plan (`validate`, `show`, `next`, `status`, marking) never
import Prefect; only `cli.run` reaches `plan_tasks.prefect`, and only once a run starts.
"""

from __future__ import annotations

from plan_tasks.cli.main import main

__all__ = ["main"]
