"""The coding-agent CLIs plan-tasks knows how to run: one preset per CLI, by name.

A preset says how to start the CLI in its non-interactive mode (its argv),
how the prompt goes in (stdin, or a file named on the command line), how to
read its output (``agent_output``: final message, cost, tokens, turns, error)
and which exit codes mean a bad request whatever the text says. ``command``
is the preset of a command the user gives whole (``agent-command``): the
prompt on stdin, the whole output as the answer, no usage.

The presets' arguments keep the agent from writing files (the FILE protocol:
plan-tasks writes what the answer holds); ``edit_args`` replace them when the
agent is to edit files itself (a task in a worktree of its own). The flags
come from each CLI's documentation; docs/agents.md has them with their sources.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from plan_tasks.executors.agent_output import (
    AgentReply,
    parse_aider,
    parse_claude,
    parse_codex,
    parse_gemini,
    parse_opencode,
)

PROMPT_FILE = "{prompt_file}"  # in a preset's argv: replaced by the path of a file holding the prompt


@dataclass(frozen=True)
class AgentPreset:
    """How to run one coding-agent CLI without a terminal, and how to read what it prints."""

    name: str
    program: str  # empty for ``command``: the user's argv is the whole command
    args: tuple[str, ...] = ()  # after the program: non-interactive mode, machine-readable output
    read_only_args: tuple[str, ...] = ()  # the agent answers with FILE blocks, writes nothing itself
    edit_args: tuple[str, ...] = ()  # instead of read_only_args: the agent edits the files itself
    trailing: tuple[str, ...] = ()  # after the user's agent-args (a positional "read stdin" marker)
    prompt: Literal["stdin", "file"] = "stdin"  # "file": written to a file, its path in place of PROMPT_FILE
    parse: Callable[[str], AgentReply] | None = None  # None: the whole output is the answer
    permanent_exits: frozenset[int] = frozenset()  # exit codes that mean a bad request
    label: str = ""  # what it is, for messages and docs

    def argv(self, extra: Sequence[str] = (), edits: bool = False) -> tuple[str, ...]:
        """The command line: the program, its arguments, then ``extra`` (``agent-args``)."""
        mode = self.edit_args if edits else self.read_only_args
        return (self.program, *self.args, *mode, *extra, *self.trailing) if self.program else tuple(extra)


PRESETS: dict[str, AgentPreset] = {preset.name: preset for preset in (
    AgentPreset("command", "", label="the command given as `agent-command` (prompt on stdin, answer on stdout)"),
    AgentPreset("claude", "claude", args=("-p", "--output-format", "json"),
                edit_args=("--permission-mode", "acceptEdits"), parse=parse_claude, label="Claude Code"),
    AgentPreset("codex", "codex", args=("exec", "--json", "--skip-git-repo-check"),
                read_only_args=("--sandbox", "read-only"), edit_args=("--sandbox", "workspace-write"),
                trailing=("-",), parse=parse_codex, label="Codex CLI"),
    AgentPreset("gemini", "gemini", args=("--output-format", "json"), edit_args=("--approval-mode", "auto_edit"),
                parse=parse_gemini, permanent_exits=frozenset({42, 53}), label="Gemini CLI"),
    AgentPreset("aider", "aider", args=("--message-file", PROMPT_FILE, "--yes-always", "--no-stream", "--no-pretty",
                                        "--no-auto-commits", "--no-check-update", "--no-show-model-warnings"),
                read_only_args=("--chat-mode", "ask"), edit_args=("--chat-mode", "code"), prompt="file",
                parse=parse_aider, label="Aider"),
    AgentPreset("opencode", "opencode", args=("run", "--format", "json"), read_only_args=("--agent", "plan"),
                edit_args=("--agent", "build"), parse=parse_opencode, label="OpenCode"),
)}
AgentName = Literal["command", "claude", "codex", "gemini", "aider", "opencode"]  # PRESETS' names (a test checks)


def preset_named(name: str) -> AgentPreset:
    """The preset called ``name``; KeyError names the known ones."""
    try:
        return PRESETS[name]
    except KeyError:
        raise KeyError(f"no agent preset {name!r}; the presets are: {', '.join(PRESETS)}") from None


@contextlib.contextmanager
def prompt_delivery(preset: AgentPreset, argv: Sequence[str], prompt: str) -> Iterator[tuple[list[str], str | None]]:
    """The argv to run and what to write on its stdin, for the way ``preset`` takes its prompt.

    A prompt file lives in a private temporary directory (mode 0700), outside
    the project, for the length of the attempt.
    """
    if preset.prompt == "stdin":
        yield list(argv), prompt
        return
    with tempfile.TemporaryDirectory(prefix="plan-tasks-prompt-") as directory:
        path = os.path.join(directory, "prompt.md")
        with open(path, "w", encoding="utf-8") as file:
            file.write(prompt)
        yield [path if part == PROMPT_FILE else part for part in argv], None
