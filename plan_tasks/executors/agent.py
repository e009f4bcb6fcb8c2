"""The agent executor: the seed's read-only agent pattern, run as a command.

The command (an argv list: a preset's, ``agent_presets``, for a coding-agent
CLI, or the user's own, e.g. ``python examples/fake_agent.py`` offline) gets a
prompt (on stdin, or in a file for a CLI that takes one) built from
the plan title, the phase, the task's text, the files it names (with their
current content) and the findings of the tasks it depends on. Its answer's
FILE blocks are written by plan-tasks (``file_blocks``), in a run by its
driver (``ask_agent`` returns them); the rest is the task's findings. For a
preset the answer is the CLI's final message, parsed from its JSON output
(``agent_output``), and what the CLI says it cost comes back with it.
"""

from __future__ import annotations

import codecs
import io
import os
import re
from dataclasses import replace
from typing import BinaryIO

from plan_tasks.executors.agent_output import AgentReply
from plan_tasks.executors.agent_presets import AgentPreset, preset_named, prompt_delivery
from plan_tasks.executors.answer import FileBlock, scan_answer
from plan_tasks.executors.file_blocks import check_blocks, read_inside, write_blocks
from plan_tasks.executors.outcome import (
    Category,
    TaskFailure,
    TaskOutcome,
    TaskRequest,
    classify_exit,
    output_over_limit,
)
from plan_tasks.executors.log_stream import open_log
from plan_tasks.executors.process import Finished, answer_file, run_process

FILE_CONTENT_LIMIT = 50_000  # characters of a named file's current content put in the prompt

PROTOCOL = """\
## How to answer
Do not write files yourself. Return every file you create or change, complete, as:

FILE: <path relative to the project root>
```<language>
<the whole file>
```

Everything else you write is kept as this task's findings for the tasks that depend on it."""


def build_prompt(request: TaskRequest) -> str:
    task = request.task
    parts = [f"# Plan: {request.plan_title}", f"## {request.phase_name}", f"### Task {task.id}: {task.title}"]
    if task.body:
        parts.append(task.body)
    if task.files:
        parts.append("## Files this task names")
        for path in task.files:
            parts.append(_file_section(request, path))
    if request.dependency_findings:
        parts.append("## Results of the tasks it depends on")
        for task_id, findings in request.dependency_findings.items():
            parts.append(f"### Task {task_id}\n{findings.strip()}")
    parts.append(PROTOCOL)
    return "\n\n".join(parts) + "\n"


def _file_section(request: TaskRequest, path: str) -> str:
    try:
        data = read_inside(request.root, path, 4 * FILE_CONTENT_LIMIT)  # enough bytes for the characters shown
        # Incremental: a character cut by the byte limit is left out, not an error.
        content = codecs.getincrementaldecoder("utf-8")().decode(data)[:FILE_CONTENT_LIMIT]
    except FileNotFoundError:
        return f"- `{path}` (does not exist yet)"
    except (TaskFailure, OSError, UnicodeDecodeError):
        return f"- `{path}` (not shown: not a readable UTF-8 file inside the project)"
    longest = max((len(run) for run in re.findall(r"`{3,}", content)), default=2)
    fence = "`" * (longest + 1)  # longer than any fence inside the file, so the file cannot close it
    return f"- `{path}`, currently:\n{fence}\n{content}\n{fence}"


def run_agent(request: TaskRequest) -> TaskOutcome:
    """Ask the agent and write its FILE blocks here (all or none)."""
    outcome = ask_agent(request)
    written = write_blocks(request.root, outcome.blocks, request.protected)
    return replace(outcome, blocks=(), files_written=tuple(written))


def ask_agent(request: TaskRequest) -> TaskOutcome:
    """Ask the agent; its FILE blocks come back checked (paths, sizes, encoding)
    but not written, for the run's driver to write.

    With a preset (``request.agent_preset``) the answer is the final message
    read from the CLI's output, and its cost comes back with it."""
    if not request.agent_command:
        raise TaskFailure(
            "no agent command configured (set `agent-command` in [tool.plan-tasks], "
            "PLAN_TASKS_AGENT_COMMAND, or the flow parameter)", "permanent")
    preset = preset_named(request.agent_preset)
    with answer_file() as output, open_log(request.log_path) as log, \
            prompt_delivery(preset, request.agent_command, build_prompt(request)) as (argv, stdin):
        try:
            finished = run_process(argv, request.root, stdin=stdin, timeout=request.timeout,
                                   env=agent_environment(request), output=output, log=log,
                                   output_limit=request.output_limit)
        except FileNotFoundError:
            raise TaskFailure(f"agent command not found: {argv[0]}", "permanent") from None
        except OSError as error:  # not executable, a directory...: no retry will change that
            raise TaskFailure(f"agent command cannot be run: {argv[0]}: {error.strerror or error}",
                              "permanent") from None
        _check_limits(finished, request)
        if preset.parse is None:
            _check_exit(finished)
            # The whole answer as printed, read back from its file, not the tail kept in memory.
            answer = scan_answer(output, finished.output_start, finished.output_bytes, request.block_limit)
            usage = None
        else:
            reply = _read_reply(preset, output, finished)
            message = reply.message.encode("utf-8")
            answer = scan_answer(io.BytesIO(message), 0, len(message), request.block_limit)
            usage = reply.usage
        check_blocks(request.root, answer.blocks, request.protected)
        blocks = tuple(FileBlock(block.path, b"".join(block.chunks()).decode("utf-8")) for block in answer.blocks)
    return TaskOutcome(output=finished.output, findings=answer.findings or None, blocks=blocks, usage=usage)


def agent_environment(request: TaskRequest) -> dict[str, str]:
    """The agent's environment: this process's, and what it runs for."""
    return dict(os.environ, PLAN_TASKS_TASK_ID=request.task.id, PLAN_TASKS_ROOT=str(request.root),
                PLAN_TASKS_PLAN=request.plan_path, PLAN_TASKS_ATTEMPT=str(request.attempt))


def _check_limits(finished: Finished, request: TaskRequest) -> None:
    """Raise the failure of an attempt that printed too much or ran too long."""
    if finished.over_limit and request.output_limit is not None:
        raise output_over_limit(request.output_limit, finished.output)
    if finished.timed_out:
        raise TaskFailure(f"agent timed out after {request.timeout:g} s", "transient", finished.output)


def _check_exit(finished: Finished) -> None:
    if finished.returncode != 0:
        raise TaskFailure(f"agent failed ({_how(finished)}): {finished.output[-2000:]}",
                          classify_exit(finished.returncode, finished.output), finished.output)


def _how(finished: Finished) -> str:
    code = finished.returncode
    return f"killed by signal {-code}" if code < 0 else f"exit code {code}"


def _read_reply(preset: AgentPreset, output: BinaryIO, finished: Finished) -> AgentReply:
    """The CLI's reply read from its whole output; raises the failure it reports, if any.

    An exit code the preset knows as a bad request is permanent; otherwise what
    the CLI said (a rate limit, an overload) decides, else the exit code does.
    """
    assert preset.parse is not None
    output.seek(finished.output_start)
    reply = preset.parse(output.read(finished.output_bytes).decode("utf-8", errors="replace"))
    if finished.returncode != 0 or reply.error is not None:
        said = reply.error or finished.output[-2000:]
        if finished.returncode in preset.permanent_exits:
            category: Category = "permanent"
        elif reply.category is not None:
            category = reply.category
        else:
            category = classify_exit(finished.returncode, said)
        how = _how(finished) if finished.returncode != 0 else f"{preset.program} reported an error"
        raise TaskFailure(f"agent failed ({how}): {said[-2000:]}", category, finished.output, reply.usage)
    if reply.message is None:
        raise TaskFailure(f"{preset.label} printed no final message in the output format plan-tasks reads "
                          f"(does `agent-args` change its output format?): {finished.output[-500:]}",
                          "permanent", finished.output, reply.usage)
    return reply
