"""Timing contenders side by side: the one measuring loop every benchmark here uses.

This machine is shared and noisy, so contenders are never timed one after the
other: one untimed warm-up round, then rounds that each run every contender
once, in an order that rotates each round, so that a slow spell hits all of
them alike. Results are medians and minimums per contender.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable


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
