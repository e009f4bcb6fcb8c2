"""The shell and python executors, and how failures are classified.

Real processes and real modules: shell tasks run bash in a temporary project,
python tasks import functions from a module written into the test's directory.
The agent executor and its FILE protocol are in ``test_agent_protocol.py``.
"""

from __future__ import annotations

import os
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from plan_tasks.executors import choose_executor
from plan_tasks.executors import process as process_module
from plan_tasks.executors.outcome import TaskFailure, TaskOutcome, TaskRequest, classify_exit
from plan_tasks.executors.python_call import run_python
from plan_tasks.executors.shell import run_shell
from plan_tasks.load import load_text
from plan_tasks.model import CodeBlock, Task


def task_from(item: str) -> Task:
    """The one task of a plan made of ``item`` (a checkbox list item, body indented)."""
    plan = load_text(f"# Plan\n\n## Phase 1: Work\n\n{textwrap.dedent(item).strip()}\n").plan
    assert len(plan.tasks) == 1, plan.tasks
    return plan.tasks[0]


def shell_task(script: str) -> Task:
    return Task(id="1.1", title="Run a script", phase_index=0, line=5, column=7,
                code_blocks=(CodeBlock(info="bash", content=script, line=6),))


def request_for(task: Task, root: Path, timeout: float | None = None) -> TaskRequest:
    return TaskRequest(task=task, plan_title="Plan", phase_name="Phase 1: Work", root=root, timeout=timeout)


def run_script(script: str, root: Path, timeout: float | None = None) -> TaskOutcome:
    return run_shell(request_for(shell_task(textwrap.dedent(script)), root, timeout))


def failure_of(script: str, root: Path, timeout: float | None = None) -> TaskFailure:
    with pytest.raises(TaskFailure) as caught:
        run_script(script, root, timeout)
    return caught.value


# -- which executor -----------------------------------------------------------------


@pytest.mark.parametrize(("item", "executor"), [
    ("- [ ] 1.1 Import data\n  - Call: `tools.data:load`\n  ```sh\n  make\n  ```", "python"),
    ("- [ ] 1.1 Call: `tools.data:load` in the title", "python"),
    ("- [ ] 1.1 Build\n  ```sh\n  make\n  ```\n  - Run: `make other`", "shell"),
    ("- [ ] 1.1 Build\n  ```bash\n  make\n  ```", "shell"),
    ("- [ ] 1.1 Build\n  ```console\n  make\n  ```", "shell"),
    ("- [ ] 1.1 Build\n  - **Run:** `make all`", "shell"),
    ("- [ ] 1.1 Run: `make all`", "shell"),
    ("- [ ] 1.1 Show an example\n  ```python\n  print(1)\n  ```", "agent"),
    ("- [ ] 1.1 Write the parser in `src/parse.py`", "agent"),
], ids=["call beats shell block", "call in title", "shell block beats run line", "bash block", "console block",
        "bold run line", "run line in title", "python block is not a command", "nothing to execute"])
def test_choose_executor_prefers_call_then_shell_then_the_default(item: str, executor: str) -> None:
    assert choose_executor(task_from(item), "agent") == executor


def test_choose_executor_falls_back_to_the_given_default() -> None:
    assert choose_executor(task_from("- [ ] 1.1 Plain task"), "shell") == "shell"


def test_run_line_is_the_shell_command_when_there_is_no_block(tmp_path: Path) -> None:
    task = task_from("- [ ] 1.1 Greet\n  - Run: `echo from-run-line`")
    assert run_shell(request_for(task, tmp_path)).output == "from-run-line\n"


def test_shell_blocks_of_one_task_run_as_one_script(tmp_path: Path) -> None:
    task = task_from("""
        - [ ] 1.1 Two steps
          ```sh
          NAME=shared
          ```
          ```bash
          echo "$NAME"
          ```
        """)
    assert run_shell(request_for(task, tmp_path)).output == "shared\n"


# -- the shell executor -----------------------------------------------------------------


def test_shell_runs_in_the_project_root_and_its_output_is_the_findings(tmp_path: Path) -> None:
    outcome = run_script("pwd -P\necho done >&2", tmp_path)
    assert outcome.output == f"{tmp_path.resolve()}\ndone\n"
    assert outcome.findings == outcome.output


def test_shell_without_output_has_no_findings(tmp_path: Path) -> None:
    assert run_script("true", tmp_path).findings is None


def test_shell_stops_at_the_first_failing_command(tmp_path: Path) -> None:
    failure = failure_of("echo before\nfalse\necho after > after.txt", tmp_path)
    assert failure.category == "permanent"
    assert failure.message.startswith("exit code 1\n") and "before" in failure.message
    assert not (tmp_path / "after.txt").exists()


@pytest.mark.parametrize(("script", "category", "message_start"), [
    ("exit 3", "permanent", "exit code 3"),
    ("exit 75", "transient", "exit code 75"),
    ("no-such-command-plan-tasks", "permanent", "exit code 127"),
    ("echo 'error: rate limit exceeded'; exit 1", "transient", "exit code 1"),
    ("kill -KILL $$", "transient", "killed by signal 9"),
    ("kill -TERM $$", "transient", "killed by signal 15"),
], ids=["non-zero exit", "EX_TEMPFAIL", "missing command", "rate limit in the output", "SIGKILL", "SIGTERM"])
def test_shell_failures_are_classified(tmp_path: Path, script: str, category: str, message_start: str) -> None:
    failure = failure_of(script, tmp_path)
    assert (failure.category, failure.message.splitlines()[0]) == (category, message_start)


def test_task_without_a_shell_command_fails_permanently(tmp_path: Path) -> None:
    with pytest.raises(TaskFailure, match="has no shell block") as caught:
        run_shell(request_for(task_from("- [ ] 1.1 Nothing to run"), tmp_path))
    assert caught.value.category == "permanent"


def process_is_gone(pid: int) -> bool:
    """No such process, or only its zombie (dead, waiting to be reaped by init)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return True


def wait_until_gone(pid: int, within: float = 5.0) -> bool:
    """Signals arrive asynchronously: give the process a bounded moment to die."""
    deadline = time.monotonic() + within
    while not process_is_gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


TIMEOUT_SCRIPT = """\
echo $$ > shell.pid
sleep 100 &
echo $! > grandchild.pid
wait
"""


def assert_group_gone(tmp_path: Path, survived: str) -> None:
    """The shell and its grandchild that TIMEOUT_SCRIPT started are gone (killed here if not, then failed)."""
    for name in ("shell.pid", "grandchild.pid"):
        pid = int((tmp_path / name).read_text())
        try:
            assert wait_until_gone(pid), f"{name}: process {pid} survived {survived}"
        finally:
            if not process_is_gone(pid):
                os.kill(pid, 9)


def test_timeout_kills_the_whole_process_group_and_is_transient(tmp_path: Path) -> None:
    began = time.monotonic()
    failure = failure_of(TIMEOUT_SCRIPT, tmp_path, timeout=0.5)
    assert time.monotonic() - began < process_module.GRACE_SECONDS
    assert failure.category == "transient" and failure.message.startswith("timed out after 0.5 s")
    assert_group_gone(tmp_path, "the timeout")


def test_timeout_kills_a_group_that_ignores_sigterm_after_the_grace_period(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(process_module, "GRACE_SECONDS", 0.3)
    failure = failure_of("trap '' TERM\n" + TIMEOUT_SCRIPT, tmp_path, timeout=0.5)
    assert failure.category == "transient"
    assert_group_gone(tmp_path, "SIGKILL")


# -- classifying an exit --------------------------------------------------------------------


@pytest.mark.parametrize(("returncode", "output", "category"), [
    (75, "", "transient"),
    (-9, "", "transient"),
    (-15, "anything", "transient"),
    (127, "rate limit", "permanent"),  # a missing command stays missing, whatever it printed
    (1, "Error: rate limit exceeded", "transient"),
    (1, "RateLimitError: slow down", "transient"),
    (1, "rate-limited by the API", "transient"),
    (1, "HTTP 429 Too Many Requests", "transient"),
    (1, "API overloaded_error", "transient"),
    (1, "upstream returned 503", "transient"),
    (1, "502 Bad Gateway", "transient"),
    (1, "Service Unavailable", "transient"),
    (1, "read ECONNRESET", "transient"),
    (1, "Connection reset by peer", "transient"),
    (1, "connection refused", "transient"),
    (1, "request timed out", "transient"),
    (1, "Timeout waiting for the server", "transient"),
    (1, "resource temporarily unavailable", "transient"),
    (1, "please try again later", "transient"),
    (1, "", "permanent"),
    (1, "AssertionError: expected 3, got 4", "permanent"),
    (2, "SyntaxError: invalid syntax", "permanent"),
    (1, "wrote 4290 rows; 5030 bytes", "permanent"),  # 429 and 503 only as whole numbers
], ids=lambda value: str(value))
def test_classify_exit(returncode: int, output: str, category: str) -> None:
    assert classify_exit(returncode, output) == category


def test_classify_exit_reads_only_the_tail_of_long_output() -> None:
    assert classify_exit(1, "rate limit\n" + "x" * 5000) == "permanent"
    assert classify_exit(1, "x" * 5000 + "\nrate limit") == "transient"


def test_task_failure_shows_its_category() -> None:
    failure = TaskFailure("exit code 1", "permanent")
    assert (str(failure), failure.message, failure.category) == ("permanent: exit code 1", "exit code 1", "permanent")


# -- the python executor ---------------------------------------------------------------------

CALLS = '''\
from plan_tasks.executors.outcome import TaskFailure


def findings(request):
    return f"did {request.task.id} of {request.plan_title} in {request.root.name}"


def nothing(request):
    return None


def number(request):
    return 42


def busy(request):
    raise TaskFailure("service busy", "transient")


def broken(request):
    raise TaskFailure("bad input", "permanent")


def slow(request):
    raise TimeoutError("took too long")


def reset(request):
    raise ConnectionResetError("peer went away")


def buggy(request):
    raise ValueError("no such row")


class Tools:
    @staticmethod
    def nested(request):
        return "nested ok"
'''


@pytest.fixture
def calls_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A module of task functions, importable under a name unique to this test."""
    name = f"plan_calls_{tmp_path.name.replace('-', '_').replace('.', '_')}"
    (tmp_path / f"{name}.py").write_text(CALLS)
    (tmp_path / f"{name}_broken.py").write_text("import no_such_module_for_plan_tasks\n")
    (tmp_path / f"{name}_raising.py").write_text("raise RuntimeError('configuration missing')\n")
    (tmp_path / f"{name}_syntax.py").write_text("def oops(:\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    for module in [module for module in sys.modules if module.startswith(name)]:
        del sys.modules[module]


def call(target: str, root: Path) -> TaskOutcome:
    return run_python(request_for(task_from(f"- [ ] 1.1 Do it\n  - Call: `{target}`"), root))


def test_python_call_return_string_becomes_the_findings(calls_module: str, tmp_path: Path) -> None:
    outcome = call(f"{calls_module}:findings", tmp_path)
    assert outcome.findings == outcome.output == f"did 1.1 of Plan in {tmp_path.name}"


@pytest.mark.parametrize(("function", "output"), [("nothing", ""), ("number", "42")])
def test_python_call_other_returns_are_output_without_findings(calls_module: str, tmp_path: Path,
                                                              function: str, output: str) -> None:
    outcome = call(f"{calls_module}:{function}", tmp_path)
    assert (outcome.output, outcome.findings) == (output, None)


def test_python_call_reaches_attributes_of_attributes(calls_module: str, tmp_path: Path) -> None:
    assert call(f"{calls_module}:Tools.nested", tmp_path).findings == "nested ok"


@pytest.mark.parametrize(("function", "category", "message"), [
    ("busy", "transient", "service busy"),
    ("broken", "permanent", "bad input"),
    ("slow", "transient", "TimeoutError: took too long"),
    ("reset", "transient", "ConnectionResetError: peer went away"),
    ("buggy", "permanent", "ValueError: no such row"),
])
def test_python_call_exceptions_fail_the_task_with_a_category(calls_module: str, tmp_path: Path,
                                                              function: str, category: str, message: str) -> None:
    with pytest.raises(TaskFailure) as caught:
        call(f"{calls_module}:{function}", tmp_path)
    assert (caught.value.category, caught.value.message) == (category, message)


@pytest.mark.parametrize("target", [
    "no_such_module_for_plan_tasks:run",
    "{module}:no_such_function",
    "{module}:Tools.no_such_method",
    "{module}_broken:run",
    "{module}_raising:run",
    "{module}_syntax:oops",
], ids=["missing module", "missing function", "missing attribute", "module with a failing import",
        "module raising on import", "module with a syntax error"])
def test_python_call_with_a_bad_target_fails_permanently(calls_module: str, tmp_path: Path, target: str) -> None:
    target = target.format(module=calls_module)
    with pytest.raises(TaskFailure, match=f"cannot import {target}") as caught:
        call(target, tmp_path)
    assert caught.value.category == "permanent"


def test_python_task_without_a_call_line_fails_permanently(tmp_path: Path) -> None:
    with pytest.raises(TaskFailure, match="has no `Call:` line") as caught:
        run_python(request_for(task_from("- [ ] 1.1 Nothing to call"), tmp_path))
    assert caught.value.category == "permanent"


def test_a_failing_test_named_timeout_is_not_a_transient_failure() -> None:
    from plan_tasks.executors.outcome import classify_exit

    assert classify_exit(1, "FAILED tests/test_io.py::test_timeout_is_respected - assert 2 == 3") == "permanent"
