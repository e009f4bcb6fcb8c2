"""Timing contenders side by side: the measuring loop (and the command) the benchmarks share.

This machine is shared and noisy, so contenders are never timed one after the
other: one untimed warm-up round, then rounds that each run every contender
once, in an order that rotates each round, so that a slow spell hits all of
them alike. Results are medians and minimums per contender.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path


def plan_tasks_command() -> list[str]:
    """The `plan-tasks` of this interpreter's environment, as an argv prefix."""
    script = Path(sys.executable).with_name("plan-tasks")
    if script.exists():
        return [str(script)]
    found = shutil.which("plan-tasks")
    return [found] if found else [sys.executable, "-m", "plan_tasks"]


def extract_package(ref: str, into: Path) -> Path:
    """The `plan_tasks` package of git ``ref``, extracted under ``into`` (for a baseline on PYTHONPATH)."""
    repository = Path(__file__).resolve().parents[1]
    archive = subprocess.run(["git", "-C", str(repository), "archive", ref, "plan_tasks"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def time_interleaved(contenders: dict[str, tuple[str, Callable[[], float]]], rounds: int,
                     *, warm_up: bool = True) -> dict[str, dict[str, object]]:
    """``{key: (label, measure)}`` -> ``{key: {label, median_s, min_s, samples_s}}``.

    Each ``measure()`` runs the contender once and returns the seconds it took.
    """
    keys = list(contenders)
    if warm_up:
        for key in keys:  # not counted: caches, regexes, page cache
            contenders[key][1]()
    samples: dict[str, list[float]] = {key: [] for key in keys}
    for round_number in range(rounds):
        shift = round_number % len(keys)
        for key in keys[shift:] + keys[:shift]:
            samples[key].append(contenders[key][1]())
    return {
        key: {"label": contenders[key][0], "median_s": statistics.median(samples[key]),
              "min_s": min(samples[key]), "samples_s": samples[key]}
        for key in keys
    }
