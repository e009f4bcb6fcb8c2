"""Everything a run needs before it starts, read and checked once, without Prefect.

``prepare_run(settings)`` resolves the plan's paths, reads and checks the plan
(parsed once: its index goes to the parse cache and to ``RunRecord.begin``),
reads status.json as the run will re-sync it, selects the tasks to run, and
resolves what the settings leave to the project (agent command, output limit,
protected paths, redactions, slots). The `run` command calls it before Prefect
is imported, so that bad input answers in a fraction of a second, and hands
the result to the flow it starts (:func:`handed_over`); a flow run started by
a deployment, with no command line, prepares its run itself.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from plan_tasks.errors import PlanError
from plan_tasks.load import LoadedPlan, load_plan, load_text
from plan_tasks.plan_cache import IndexedPlan, index_loaded
from plan_tasks.run.settings import (
    RunSettings,
    configured_redactions,
    resolve_agent_argv,
    resolve_output_limit,
    resolve_protect,
)
from plan_tasks.status.paths import PlanPaths, resolve_plan


@dataclass(frozen=True)
class PreparedRun:
    """A run ready to start: its settings and everything read or resolved from them."""

    settings: RunSettings
    paths: PlanPaths
    loaded: LoadedPlan  # the plan and its graph
    indexed: IndexedPlan  # the same plan as status.json and the parse cache see it
    snapshot: dict[str, Any]  # status.json as the run re-syncs it (new tasks pending)
    selected: tuple[str, ...]  # the tasks to run, in plan order
    agent_command: tuple[str, ...]  # the real argv (settings may hold it starred)
    output_limit: int  # bytes a task may print
    protected: tuple[str, ...]  # path patterns FILE blocks may not write
    redactions: tuple[str, ...]  # values starred wherever the run stores or sends text
    max_parallel: int  # slots: the setting, else the seed's batch table by plan size


def prepare_run(settings: RunSettings, *, need_agent: bool = True) -> PreparedRun:
    """Resolve, load, check and select; PlanError (exit 2) on bad input.

    ``need_agent``: refuse when a selected task needs an agent and no agent
    command is set (not for a dry run, which runs nothing).
    """
    from plan_tasks.executors.safe_paths import protected_patterns
    from plan_tasks.redact import configure as configure_redaction
    from plan_tasks.redact import reveal_argv
    from plan_tasks.run.record import tasks_to_run
    from plan_tasks.select import batch_size
    from plan_tasks.status_sync import synced_document

    paths = resolve_plan(settings.plan, settings.root, settings.dialect)
    redactions = tuple(configured_redactions(paths.root))
    configure_redaction(list(redactions))  # before anything is printed or stored
    loaded, indexed = _load(paths)
    snapshot, _ = synced_document(paths, indexed)
    selected = tuple(tasks_to_run(loaded.plan, snapshot, settings.selection, loaded.graph.predecessors))
    agent_settings = settings.model_copy(update={"agent_args": reveal_argv(settings.agent_args)})
    agent_command = resolve_agent_argv(agent_settings, reveal_argv(settings.agent_command), paths.root)
    if need_agent and settings.executor == "agent":
        _check_agent(loaded, selected, agent_command, settings.agent)
    root = paths.root
    return PreparedRun(
        settings=settings, paths=paths, loaded=loaded, indexed=indexed, snapshot=snapshot, selected=selected,
        agent_command=agent_command, output_limit=resolve_output_limit(settings.output_limit, root),
        protected=protected_patterns(root, paths.plan, paths.output_dir, resolve_protect(root)),
        redactions=redactions, max_parallel=settings.max_parallel or batch_size(len(loaded.plan.tasks)),
    )


def _load(paths: PlanPaths) -> tuple[LoadedPlan, IndexedPlan]:
    """The plan, parsed once, and its index (stored in the parse cache for `next`)."""
    from plan_tasks.parse.blocks import normalize_newlines

    try:
        raw = paths.plan.read_bytes()
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        load_plan(str(paths.plan), paths.dialect)  # raises PlanInvalid, located
        raise
    loaded = load_text(normalize_newlines(text), str(paths.plan), paths.dialect)
    return loaded, index_loaded(raw, loaded, paths.dialect)


def _check_agent(loaded: LoadedPlan, selected: tuple[str, ...], agent_command: tuple[str, ...], agent: str) -> None:
    """Refuse a run whose agent tasks have no agent to run them: no command, or a preset's CLI not installed."""
    import shutil

    from plan_tasks.executors import choose_executor

    if agent_command and (agent == "command" or shutil.which(agent_command[0])):
        return
    needs_agent = [task_id for task_id in selected
                   if choose_executor(loaded.plan.task_by_id[task_id], "agent") == "agent"]
    if not needs_agent:
        return
    if agent_command:
        raise PlanError(f"{len(needs_agent)} task(s) need an agent (e.g. {needs_agent[0]}) but `{agent_command[0]}` "
                        f"(`--agent {agent}`) is not on PATH",
                        "install it, or pick another `--agent` (docs/agents.md)")
    raise PlanError(
        f"{len(needs_agent)} task(s) need an agent (e.g. {needs_agent[0]}) but no agent command is set",
        "pick a coding-agent CLI with `--agent NAME` (claude, codex, gemini, aider, opencode), pass "
        "`--agent-command CMD`, set PLAN_TASKS_AGENT_COMMAND, or add `agent-command = [...]` under "
        "[tool.plan-tasks] in pyproject.toml; or pick `--executor shell`")


# -- from the command line to the flow it starts ------------------------------------------------

_HANDED_OVER: contextvars.ContextVar[PreparedRun | None] = contextvars.ContextVar("prepared_run", default=None)


@contextlib.contextmanager
def hand_over(prepared: PreparedRun) -> Iterator[None]:
    """Within the block (and in contexts copied from it: the flow's thread), the flow
    run whose settings are ``prepared.settings`` uses ``prepared`` instead of preparing again."""
    token = _HANDED_OVER.set(prepared)
    try:
        yield
    finally:
        _HANDED_OVER.reset(token)


def handed_over(settings: RunSettings) -> PreparedRun | None:
    """The run prepared for exactly these settings by the command that started the flow, if any."""
    prepared = _HANDED_OVER.get()
    return prepared if prepared is not None and prepared.settings == settings else None
