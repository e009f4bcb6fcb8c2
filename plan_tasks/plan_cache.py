"""The parsed-plan cache that keeps `next` and the marking commands fast.

A plan's :class:`~plan_tasks.plan_index.PlanIndex` is stored as JSON under the
SHA-256 of the plan's bytes (and plan-tasks' version), in
``$PLAN_TASKS_CACHE_DIR``, else ``$XDG_CACHE_HOME/plan-tasks``, else
``~/.cache/plan-tasks``. An edited plan has a new hash, so a stale entry is
never read; a missing or unreadable cache only costs a parse. Invalid plans are
never cached: their problems are reported every time.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from plan_tasks.errors import PlanInvalid, Problem
from plan_tasks.plan_index import FORMAT, PlanIndex

if TYPE_CHECKING:
    from plan_tasks.load import LoadedPlan


class IndexedPlan(NamedTuple):
    index: PlanIndex
    text: str  # the plan as read (the seed policy reads its execution notes from it)
    digest: str  # sha256 of the plan's bytes


def cache_dir() -> Path:
    configured = os.environ.get("PLAN_TASKS_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "plan-tasks"


def _cache_key(digest: str, dialect: str | None) -> str:
    from plan_tasks import __version__

    return hashlib.sha256(f"{digest}:{__version__}:{FORMAT}:{dialect or ''}".encode()).hexdigest()


def load_index(plan_path: Path, display_path: str, dialect: str | None = None) -> IndexedPlan:
    """The plan's index, from the cache when its content was seen before.

    ``dialect`` is the plan format `--format` forces (None: detected); it is
    part of the cache key, since it changes what the same bytes mean.
    Raises PlanInvalid (with every problem) for an unreadable or invalid plan.
    """
    try:
        raw = plan_path.read_bytes()
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        from plan_tasks.parse import read_plan_text  # reports the problem with its location

        _, problems = read_plan_text(str(plan_path))
        raise PlanInvalid([_relocate(problem, display_path) for problem in problems]) from None
    digest = hashlib.sha256(raw).hexdigest()
    entry = cache_dir() / f"{_cache_key(digest, dialect)}.json"
    try:
        return IndexedPlan(PlanIndex.from_json(json.loads(entry.read_text(encoding="utf-8"))), text, digest)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass  # no entry, or one this version cannot read (even valid JSON of another shape): parse
    index = _parse(text, display_path, dialect)
    _store(entry, index)
    return IndexedPlan(index, text, digest)


def index_loaded(raw: bytes, loaded: LoadedPlan, dialect: str | None = None) -> IndexedPlan:
    """The index of a plan just loaded from ``raw``, stored in the cache unless it is
    there: the run parses its plan once, and the status commands after it do not."""
    from plan_tasks.plan_index import build_index

    digest = hashlib.sha256(raw).hexdigest()
    index = build_index(loaded)
    entry = cache_dir() / f"{_cache_key(digest, dialect)}.json"
    if not entry.is_file():
        _store(entry, index)
    return IndexedPlan(index, raw.decode("utf-8"), digest)


def _parse(text: str, display_path: str, dialect: str | None) -> PlanIndex:
    from plan_tasks.load import load_text
    from plan_tasks.plan_index import build_index

    return build_index(load_text(text, display_path, dialect))


def _store(entry: Path, index: PlanIndex) -> None:
    from plan_tasks.status.atomic import write_text_atomic

    try:
        write_text_atomic(entry, json.dumps(index.to_json(), separators=(",", ":")))
    except OSError:
        pass  # a read-only or full cache directory only makes the next call slower


def _relocate(problem: Problem, display_path: str) -> Problem:
    """Name the plan as the user wrote it, not as it was resolved."""
    return problem._replace(location=problem.location._replace(path=display_path))
