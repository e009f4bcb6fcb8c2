"""The agent executor and its read-only FILE protocol.

An agent answers with ``FILE: <path>`` + fenced blocks that plan-tasks writes
itself, after checking every path. Parsing and writing are tested on answers
given as data; the executor runs real agent processes: the bundled offline
``examples/fake_agent.py`` (with its misbehaviour markers) and tiny agents
written by the tests.
"""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest

from plan_tasks.executors.agent import FILE_CONTENT_LIMIT, build_prompt, run_agent
from plan_tasks.executors.file_blocks import FileBlock, parse_answer, write_blocks
from plan_tasks.executors.outcome import TaskFailure, TaskOutcome, TaskRequest
from plan_tasks.load import load_text
from plan_tasks.model import Task

FAKE_AGENT = Path(__file__).resolve().parents[1] / "examples" / "fake_agent.py"


def answer(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


# -- parsing an answer ------------------------------------------------------------------

PARSE_CASES = [
    ("plain header", """
        FILE: a.py
        ```python
        x = 1
        ```
        """, [("a.py", "x = 1\n")], ""),
    ("bold header", """
        **FILE:** src/a.py
        ```
        x = 1
        ```
        """, [("src/a.py", "x = 1\n")], ""),
    ("backticked path", """
        FILE: `src/a.py`
        ```py
        x = 1
        ```
        """, [("src/a.py", "x = 1\n")], ""),
    ("blank lines before the fence", """
        FILE: a.py

        ```
        x = 1
        ```
        """, [("a.py", "x = 1\n")], ""),
    ("tilde fence holding backtick fences", """
        FILE: README.md
        ~~~markdown
        Run:
        ```sh
        make
        ```
        ~~~
        """, [("README.md", "Run:\n```sh\nmake\n```\n")], ""),
    ("longer backtick fence holding a shorter one", """
        FILE: docs/guide.md
        ````markdown
        ```python
        print("hi")
        ```
        ````
        """, [("docs/guide.md", '```python\nprint("hi")\n```\n')], ""),
    ("a longer closing fence closes", """
        FILE: a.txt
        ```
        text
        `````
        """, [("a.txt", "text\n")], ""),
    ("a fence with an info string does not close", """
        FILE: a.md
        ```
        before
        ```python
        after
        ```
        """, [("a.md", "before\n```python\nafter\n")], ""),
    ("a tilde line does not close a backtick fence", """
        FILE: a.md
        ```
        ~~~
        ```
        """, [("a.md", "~~~\n")], ""),
    ("empty block", """
        FILE: empty.txt
        ```
        ```
        """, [("empty.txt", "")], ""),
    ("blank lines inside are kept", """
        FILE: a.py
        ```
        one

        two
        ```
        """, [("a.py", "one\n\ntwo\n")], ""),
    ("prose around blocks is the findings", """
        I changed two files.

        FILE: a.py
        ```
        a = 1
        ```
        Between the files.
        FILE: b.py
        ```
        b = 2
        ```

        Both are tested.
        """, [("a.py", "a = 1\n"), ("b.py", "b = 2\n")],
     "I changed two files.\n\nBetween the files.\n\nBoth are tested."),
    ("no blocks at all", """
        Nothing to change: the code already does this.
        ```python
        print("an example, not a file")
        ```
        """, [], 'Nothing to change: the code already does this.\n```python\nprint("an example, not a file")\n```'),
]


@pytest.mark.parametrize(("text", "blocks", "findings"), [case[1:] for case in PARSE_CASES],
                         ids=[case[0] for case in PARSE_CASES])
def test_parse_answer(text: str, blocks: list[tuple[str, str]], findings: str) -> None:
    parsed, prose = parse_answer(answer(text))
    assert [(block.path, block.content) for block in parsed] == blocks
    assert prose == findings


def test_parse_answer_reads_crlf_answers() -> None:
    parsed, prose = parse_answer("Done.\r\nFILE: a.py\r\n```\r\nx = 1\r\n```\r\n")
    assert parsed == [FileBlock("a.py", "x = 1\n")] and prose == "Done."


@pytest.mark.parametrize(("text", "message"), [
    ("FILE: a.py\n", "`FILE: a.py` is not followed by a fenced block"),
    ("FILE: a.py\n\n\n", "`FILE: a.py` is not followed by a fenced block"),
    ("FILE: a.py\nHere it is:\n```\nx\n```\n", "`FILE: a.py` is not followed by a fenced block"),
    ("FILE: a.py\n```\nx = 1\n", "the block of `FILE: a.py` is never closed"),
    ("FILE: a.py\n````\nx = 1\n```\n", "the block of `FILE: a.py` is never closed"),
    ("FILE: a.py\n~~~\nx = 1\n```\n", "the block of `FILE: a.py` is never closed"),
], ids=["header at the end", "only blank lines after", "prose before the fence", "unclosed fence",
        "shorter closing fence", "other fence character"])
def test_parse_answer_protocol_violations_fail_permanently(text: str, message: str) -> None:
    with pytest.raises(TaskFailure) as caught:
        parse_answer(text)
    assert caught.value.category == "permanent"
    assert caught.value.message == f"agent protocol violation: {message}"


# -- writing the blocks ---------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project root, with a sibling directory ``outside`` that no answer may reach."""
    (tmp_path / "outside").mkdir()
    root = tmp_path / "project"
    root.mkdir()
    return root


def tree(directory: Path) -> list[str]:
    return sorted(path.relative_to(directory).as_posix() for path in directory.rglob("*"))


def test_write_blocks_writes_every_file_and_creates_directories(project: Path) -> None:
    written = write_blocks(project, [FileBlock("src/pkg/a.py", "a = 1\n"), FileBlock("README.md", "# Hi\n")])
    assert written == ["src/pkg/a.py", "README.md"]
    assert (project / "src" / "pkg" / "a.py").read_text() == "a = 1\n"
    assert tree(project) == ["README.md", "src", "src/pkg", "src/pkg/a.py"]  # no temporary files left


def test_write_blocks_replaces_a_file_atomically(project: Path) -> None:
    (project / "a.py").write_text("old\n")
    os.link(project / "a.py", project / "old-link")  # still the old file, if it is replaced, not rewritten
    write_blocks(project, [FileBlock("a.py", "new\n")])
    assert (project / "a.py").read_text() == "new\n"
    assert (project / "old-link").read_text() == "old\n"
    assert tree(project) == ["a.py", "old-link"]


def test_write_blocks_writes_through_a_symlink_that_stays_inside(project: Path) -> None:
    (project / "real").mkdir()
    (project / "alias").symlink_to(project / "real")
    assert write_blocks(project, [FileBlock("alias/x.py", "x\n")]) == ["alias/x.py"]
    assert (project / "real" / "x.py").read_text() == "x\n"


REFUSED_PATHS = [
    ("../outside/escaped.txt", "`..` may not leave the project"),
    ("src/../../outside/escaped.txt", "`..` may not leave the project"),
    ("src/../inside.txt", "`..` may not leave the project"),
    ("..\\outside\\escaped.txt", "`..` may not leave the project"),
    ("C:\\outside\\escaped.txt", "absolute paths are not allowed"),
    ("C:/outside/escaped.txt", "absolute paths are not allowed"),
    ("c:escaped.txt", "absolute paths are not allowed"),
    ("{outside}/escaped.txt", "absolute paths are not allowed"),
    ("src/", "not a file path"),
    (".", "not a file path"),
]


@pytest.mark.parametrize(("path", "reason"), REFUSED_PATHS, ids=[case[0] for case in REFUSED_PATHS])
def test_write_blocks_refuses_paths_leaving_the_project_and_writes_nothing(project: Path, path: str,
                                                                         reason: str) -> None:
    outside = project.parent / "outside"
    path = path.format(outside=outside)
    blocks = [FileBlock("good.py", "fine\n"), FileBlock(path, "escaped\n"), FileBlock("later.py", "fine\n")]
    with pytest.raises(TaskFailure) as caught:
        write_blocks(project, blocks)
    assert caught.value.category == "permanent"
    assert caught.value.message == f"refused to write `{path}`: {reason}"
    assert tree(project) == [] and tree(outside) == []


@pytest.mark.parametrize("link", ["directory", "file", "dangling file"])
def test_write_blocks_refuses_a_symlink_leading_outside_and_writes_nothing(project: Path, link: str) -> None:
    outside = project.parent / "outside"
    (outside / "notes.txt").write_text("original\n")
    if link == "directory":
        (project / "link").symlink_to(outside, target_is_directory=True)
        path = "link/notes.txt"
    elif link == "file":
        (project / "link.txt").symlink_to(outside / "notes.txt")
        path = "link.txt"
    else:
        (project / "link.txt").symlink_to(outside / "new.txt")
        path = "link.txt"
    with pytest.raises(TaskFailure) as caught:
        write_blocks(project, [FileBlock("good.py", "fine\n"), FileBlock(path, "escaped\n")])
    assert caught.value.message == f"refused to write `{path}`: a symlink leads outside the project"
    assert caught.value.category == "permanent"
    assert not (project / "good.py").exists()
    assert tree(outside) == ["notes.txt"] and (outside / "notes.txt").read_text() == "original\n"


@pytest.mark.parametrize(("first", "second"), [("a.py", "a.py"), ("a.py", "./a.py"), ("alias/x.py", "real/x.py")])
def test_write_blocks_refuses_one_path_twice_and_writes_nothing(project: Path, first: str, second: str) -> None:
    (project / "real").mkdir()
    (project / "alias").symlink_to(project / "real")
    blocks = [FileBlock("good.py", "fine\n"), FileBlock(first, "one\n"), FileBlock(second, "two\n")]
    with pytest.raises(TaskFailure, match=f"`{second}` appears twice in one answer") as caught:
        write_blocks(project, blocks)
    assert caught.value.category == "permanent"
    assert tree(project) == ["alias", "real"]


# -- the prompt ------------------------------------------------------------------------------------

PLAN = """\
# Implementation Plan: Report Export

## Phase 1: Foundations

- [ ] 1.1 Define the types
- [ ] 1.2 Plan the protocol

## Phase 2: Entry Points

- [ ] 2.1 Wire `src/cli.py` and `docs/cli.md` {marker}
  - Depends on: 1.1, 1.2
  - Keep the options short.
"""


def request_for(root: Path, *, marker: str = "", findings: dict[str, str] | None = None,
                command: tuple[str, ...] = (sys.executable, str(FAKE_AGENT)),
                timeout: float | None = 30.0) -> TaskRequest:
    plan = load_text(PLAN.format(marker=marker)).plan
    task = plan.task_by_id["2.1"]
    return TaskRequest(task=task, plan_title=plan.title, phase_name=plan.phase_of(task).name, root=root,
                       timeout=timeout, dependency_findings=findings or {}, agent_command=command)


def test_prompt_carries_plan_phase_task_files_and_dependency_findings(project: Path) -> None:
    (project / "src").mkdir()
    (project / "src" / "cli.py").write_text("def main():\n    return 0\n")
    prompt = build_prompt(request_for(project, findings={"1.1": "\nTypes live in src/types.py.\n\n",
                                                          "1.2": "The protocol is a Protocol class."}))
    assert prompt.startswith(
        "# Plan: Implementation Plan: Report Export\n\n"
        "## Phase 2: Entry Points\n\n"
        "### Task 2.1: Wire `src/cli.py` and `docs/cli.md`\n\n"
        "- Depends on: 1.1, 1.2\n- Keep the options short.\n\n"
        "## Files this task names\n\n"
        "- `src/cli.py`, currently:\n```\ndef main():\n    return 0\n\n```\n\n"
        "- `docs/cli.md` (does not exist yet)\n\n"
        "## Results of the tasks it depends on\n\n"
        "### Task 1.1\nTypes live in src/types.py.\n\n"
        "### Task 1.2\nThe protocol is a Protocol class.\n\n"
        "## How to answer\n"
    )
    assert "FILE: <path relative to the project root>" in prompt
    assert prompt.endswith("findings for the tasks that depend on it.\n")


def test_prompt_leaves_out_sections_with_nothing_to_say(project: Path) -> None:
    task = Task(id="1.1", title="Think", phase_index=0, line=5, column=7)
    prompt = build_prompt(TaskRequest(task=task, plan_title="P", phase_name="Phase 1: A", root=project))
    assert prompt.startswith("# Plan: P\n\n## Phase 1: A\n\n### Task 1.1: Think\n\n## How to answer\n")
    assert "## Files this task names" not in prompt and "## Results of" not in prompt


def test_prompt_never_shows_a_file_outside_the_project(project: Path) -> None:
    (project.parent / "outside" / "secret.md").write_text("outside secret\n")
    (project / "docs").mkdir()
    (project / "docs" / "cli.md").symlink_to(project.parent / "outside" / "secret.md")
    prompt = build_prompt(request_for(project))
    assert "outside secret" not in prompt
    assert "- `docs/cli.md` (not shown: not a readable UTF-8 file inside the project)" in prompt


@pytest.mark.parametrize("kind", ["fifo", "directory", "not utf-8"])
def test_prompt_does_not_show_what_is_not_a_readable_utf8_file_and_never_blocks(project: Path, kind: str) -> None:
    (project / "src").mkdir()
    if kind == "fifo":
        os.mkfifo(project / "src" / "cli.py")  # reading it would wait for a writer forever
    elif kind == "directory":
        (project / "src" / "cli.py").mkdir()
    else:
        (project / "src" / "cli.py").write_bytes(b"caf\xe9\n")
    prompt = build_prompt(request_for(project))
    assert "- `src/cli.py` (not shown: not a readable UTF-8 file inside the project)" in prompt


def test_prompt_shows_a_file_cut_inside_a_character_without_an_error(project: Path) -> None:
    (project / "src").mkdir()
    # 1 + 2 bytes each: the byte limit read (4 x the characters shown) falls inside a character
    (project / "src" / "cli.py").write_text("a" + "é" * (3 * FILE_CONTENT_LIMIT))
    prompt = build_prompt(request_for(project))
    assert "a" + "é" * (FILE_CONTENT_LIMIT - 1) + "\n```" in prompt


def test_prompt_shows_at_most_the_content_limit_of_a_file(project: Path) -> None:
    (project / "src").mkdir()
    (project / "src" / "cli.py").write_text("x" * (FILE_CONTENT_LIMIT + 100))
    prompt = build_prompt(request_for(project))
    assert "x" * FILE_CONTENT_LIMIT + "\n```" in prompt and "x" * (FILE_CONTENT_LIMIT + 1) not in prompt


def test_prompt_fences_a_file_with_more_backticks_than_it_holds(project: Path) -> None:
    (project / "docs").mkdir()
    (project / "docs" / "cli.md").write_text("# CLI\n\n````sh\nplan-tasks run\n````\n")
    prompt = build_prompt(request_for(project))
    assert "- `docs/cli.md`, currently:\n`````\n# CLI\n\n````sh\nplan-tasks run\n````\n\n`````" in prompt


ECHO_AGENT = """\
import os, sys
prompt = sys.stdin.read()
print("cwd", os.getcwd())
print("task", os.environ["PLAN_TASKS_TASK_ID"], "root", os.environ["PLAN_TASKS_ROOT"])
for line in prompt.splitlines():
    print(">", line)
"""


def test_agent_gets_the_prompt_on_stdin_and_runs_in_the_project(project: Path, tmp_path: Path) -> None:
    (tmp_path / "echo_agent.py").write_text(ECHO_AGENT)
    request = request_for(project, findings={"1.1": "Types are done."},
                          command=(sys.executable, str(tmp_path / "echo_agent.py")))
    outcome = run_agent(request)
    expected_echo = "\n".join(f"> {line}" for line in build_prompt(request).splitlines())
    assert outcome.findings == f"cwd {project}\ntask 2.1 root {project}\n{expected_echo}"
    assert outcome.files_written == () and tree(project) == []


# -- the fake agent, end to end ---------------------------------------------------------------------


def test_fake_agent_writes_the_named_files_and_its_summary_is_the_findings(project: Path) -> None:
    outcome = run_agent(request_for(project))
    assert outcome.files_written == ("src/cli.py", "docs/cli.md")
    assert (project / "src" / "cli.py").read_text() == \
        '"""Wire `src/cli.py` and `docs/cli.md` (task 2.1)."""\n\nTASK_ID = "2.1"\n'
    assert (project / "docs" / "cli.md").read_text().startswith("# Wire")
    assert outcome.findings == "Task 2.1 done: Wire `src/cli.py` and `docs/cli.md`. Wrote 2 file(s)."
    assert isinstance(outcome, TaskOutcome) and "FILE: src/cli.py" in outcome.output


def test_fake_agent_writes_every_named_file_whatever_their_content_holds(project: Path) -> None:
    (project / "src").mkdir()
    (project / "src" / "cli.py").write_text('"""The CLI.\n\n## Options\n\n- `src/other.py` holds them\n"""\n')
    outcome = run_agent(request_for(project))
    assert outcome.files_written == ("src/cli.py", "docs/cli.md")
    assert not (project / "src" / "other.py").exists()

def test_fake_agent_fail_marker_fails_permanently(project: Path) -> None:
    with pytest.raises(TaskFailure) as caught:
        run_agent(request_for(project, marker="[fake-agent: fail]"))
    assert caught.value.category == "permanent"
    assert caught.value.message.startswith("agent failed (exit code 1): fake agent: task 2.1 cannot be done")
    assert tree(project) == []


def test_fake_agent_flaky_marker_fails_transiently_then_succeeds(project: Path) -> None:
    request = request_for(project, marker="[fake-agent: flaky 2]")
    for _ in range(2):
        with pytest.raises(TaskFailure) as caught:
            run_agent(request)
        assert caught.value.category == "transient"
        assert caught.value.message.startswith("agent failed (exit code 75)")
    assert run_agent(request).files_written == ("src/cli.py", "docs/cli.md")
    assert (project / ".fake-agent" / "2.1.attempts").read_text() == "3"


def test_fake_agent_escape_marker_is_refused_and_nothing_is_written(project: Path) -> None:
    with pytest.raises(TaskFailure) as caught:
        run_agent(request_for(project, marker="[fake-agent: escape]"))
    assert caught.value.category == "permanent"
    assert caught.value.message == "refused to write `../outside.txt`: `..` may not leave the project"
    assert tree(project) == [] and tree(project.parent / "outside") == []


def test_fake_agent_count_marker_counts_every_run(project: Path) -> None:
    request = request_for(project, marker="[fake-agent: count]")
    run_agent(request)
    run_agent(request)
    assert (project / ".fake-agent" / "2.1.runs").read_text() == "2"


def test_fake_agent_ignores_markers_in_its_dependencies_findings(project: Path) -> None:
    outcome = run_agent(request_for(project, findings={"1.1": "Watch out: [fake-agent: fail]"}))
    assert outcome.files_written == ("src/cli.py", "docs/cli.md")


def test_agent_timeout_is_transient(project: Path) -> None:
    with pytest.raises(TaskFailure) as caught:
        run_agent(request_for(project, marker="[fake-agent: sleep 30]", timeout=0.5))
    assert (caught.value.category, caught.value.message) == ("transient", "agent timed out after 0.5 s")


# -- agent commands that cannot work -----------------------------------------------------------------


def test_missing_agent_command_fails_permanently(project: Path, tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-agent")
    with pytest.raises(TaskFailure) as caught:
        run_agent(request_for(project, command=(missing, "--flag")))
    assert (caught.value.category, caught.value.message) == ("permanent", f"agent command not found: {missing}")


def test_agent_command_that_is_not_executable_fails_permanently(project: Path, tmp_path: Path) -> None:
    script = tmp_path / "agent.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)
    with pytest.raises(TaskFailure) as caught:
        run_agent(request_for(project, command=(str(script),)))
    assert caught.value.category == "permanent"
    assert caught.value.message.startswith(f"agent command cannot be run: {script}")


def test_no_agent_command_fails_permanently_and_says_where_to_set_one(project: Path) -> None:
    with pytest.raises(TaskFailure) as caught:
        run_agent(request_for(project, command=()))
    assert caught.value.category == "permanent"
    assert "`agent-command` in [tool.plan-tasks]" in caught.value.message
    assert "PLAN_TASKS_AGENT_COMMAND" in caught.value.message


@pytest.mark.parametrize(("script", "category", "message_start"), [
    ("print('HTTP 429: too many requests'); raise SystemExit(1)", "transient", "agent failed (exit code 1): HTTP 429"),
    ("raise SystemExit(3)", "permanent", "agent failed (exit code 3)"),
    ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", "transient", "agent failed (killed by signal 9)"),
    ("print('FILE: a.py'); print('no fence here')", "permanent", "agent protocol violation"),
], ids=["rate limited", "plain failure", "killed", "broken protocol"])
def test_agent_failures_are_classified(project: Path, tmp_path: Path, script: str, category: str,
                                       message_start: str) -> None:
    (tmp_path / "agent.py").write_text(script + "\n")
    with pytest.raises(TaskFailure) as caught:
        run_agent(request_for(project, command=(sys.executable, str(tmp_path / "agent.py"))))
    assert caught.value.category == category
    assert caught.value.message.startswith(message_start)
    assert tree(project) == []



def test_a_file_header_in_bold_as_a_whole_reads_the_path_without_the_stars() -> None:
    from plan_tasks.executors.file_blocks import parse_answer

    blocks, _ = parse_answer("**FILE: src/a.py**\n```python\nx = 1\n```\n")
    assert [block.path for block in blocks] == ["src/a.py"]
