"""Bringing status.json in line with its plan: create it, or re-sync it.

The plan is read through the parse cache (``plan_tasks.plan_cache``), so a
re-sync of an unchanged plan costs no parsing.
"""

from __future__ import annotations

from plan_tasks.plan_cache import IndexedPlan, load_index
from plan_tasks.status import document as doc
from plan_tasks.status.paths import PlanPaths
from plan_tasks.status.store import load_status, locked, save_status, status_exists


def plan_entries(paths: PlanPaths,
                 indexed: IndexedPlan | None = None) -> tuple[IndexedPlan, list[doc.PlanTaskEntry]]:
    """The plan's tasks as status.json records them (from ``indexed`` when the caller read the plan)."""
    indexed = indexed or load_index(paths.plan, paths.plan_ref, paths.dialect)
    index = indexed.index
    entries = [doc.PlanTaskEntry(task.id, index.phase_name(task), task.description, task.checked, task.skipped)
               for task in index.tasks]
    return indexed, entries


def synced_document(paths: PlanPaths,
                    indexed: IndexedPlan | None = None) -> tuple[doc.Document, doc.SyncReport | None]:
    """status.json as :func:`initialize` would write it, without writing it (or taking the lock)."""
    indexed, entries = plan_entries(paths, indexed)
    if status_exists(paths):
        document = load_status(paths)
        return document, doc.resync(document, entries, indexed.digest)
    return doc.new_document(paths.plan_ref, indexed.index.title, entries, indexed.digest), None


def initialize(paths: PlanPaths, indexed: IndexedPlan | None = None) -> tuple[doc.Document, doc.SyncReport | None]:
    """Create status.json from the plan, or re-sync an existing one (under the lock).

    Returns the document and, for a re-sync, what changed (None when created).
    ``indexed``: the plan as the caller read it, so that it is not read again.
    """
    indexed = indexed or load_index(paths.plan, paths.plan_ref, paths.dialect)  # before the lock: it may parse
    with locked(paths):
        document, report = synced_document(paths, indexed)
        save_status(paths, document)  # first: a status it refuses to write leaves no folders behind
        for directory in (paths.findings_dir, paths.timestamps_dir):
            directory.mkdir(parents=True, exist_ok=True)
    return document, report
