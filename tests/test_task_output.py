"""What a task prints: streamed to its log as it arrives, bounded in memory,
capped by the output limit; and task processes that die with the run.

Real processes throughout: shell tasks run bash, memory is measured in a
child Python process (its own VmHWM), and the run that is killed is a
real process killed with SIGKILL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from plan_tasks.executors import process as process_module
from plan_tasks.executors.outcome import TaskFailure, TaskRequest, format_size
from plan_tasks.executors.agent import run_agent
from plan_tasks.executors.log_stream import open_log, set_log_filter
from plan_tasks.executors.process import run_process
from plan_tasks.executors.shell import run_shell
from plan_tasks.load import load_text
from plan_tasks.model import CodeBlock, Task
from test_executors import process_is_gone, wait_until_gone

REPOSITORY = Path(__file__).resolve().parents[1]


def shell_request(script: str, root: Path, **options: object) -> TaskRequest:
    task = Task(id="1.1", title="Print", phase_index=0, line=5, column=7,
                code_blocks=(CodeBlock(info="bash", content=textwrap.dedent(script), line=6),))
    return TaskRequest(task=task, plan_title="Plan", phase_name="Phase 1", root=root,
                       **options)  # type: ignore[arg-type]


def read_pid(path: Path, within: float = 30.0) -> int:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            text = path.read_text()
            if text.endswith("\n"):
                return int(text)
        except (OSError, ValueError):
            pass
        time.sleep(0.02)
    raise AssertionError(f"{path} was never written")


# -- streaming --------------------------------------------------------------------------------------


def test_output_reaches_the_log_while_the_task_still_runs(tmp_path: Path) -> None:
    log = tmp_path / "task.log"
    script = f"echo first line; while [ ! -e {tmp_path}/seen ]; do sleep 0.02; done; echo second line"
    request = shell_request(script, tmp_path, log_path=log, timeout=30.0)

    def watch_log() -> None:  # the test's side: sees the first line before the task may go on
        deadline = time.monotonic() + 20
        while "first line" not in (log.read_text() if log.exists() else ""):
            assert time.monotonic() < deadline, "the first line never reached the log while the task ran"
            time.sleep(0.02)
        (tmp_path / "seen").touch()

    import threading

    watcher = threading.Thread(target=watch_log)
    watcher.start()
    outcome = run_shell(request)
    watcher.join()
    assert log.read_text() == "first line\nsecond line\n"
    assert outcome.output == "first line\nsecond line\n"


def test_the_tail_in_memory_is_bounded_and_the_log_has_everything(tmp_path: Path) -> None:
    log = tmp_path / "task.log"
    lines = process_module.TAIL_CHARACTERS // 10 * 3  # three times the tail, in 10-character lines
    outcome = run_shell(shell_request(f"seq -w 1 {lines} | sed 's/^/line /'", tmp_path, log_path=log))
    assert log.stat().st_size == lines * (len(f"line {lines}") + 1)
    assert len(outcome.output) <= process_module.TAIL_CHARACTERS
    assert outcome.output.endswith(f"line {lines}\n")


def test_output_is_appended_after_what_the_log_holds(tmp_path: Path) -> None:
    log = tmp_path / "task.log"
    log.write_bytes(b"===== heading\n")
    with open_log(log) as writer:
        run_process(["printf", "abc\\ndef"], tmp_path, log=writer)
    assert log.read_bytes() == b"===== heading\nabc\ndef"


def test_the_raw_output_file_says_where_this_output_starts(tmp_path: Path) -> None:
    with open(tmp_path / "answer", "a+b") as answer:
        answer.write(b"earlier\n")
        finished = run_process(["printf", "abc"], tmp_path, output=answer)
    assert (finished.output_start, finished.output_bytes) == (8, 3)
    assert (tmp_path / "answer").read_bytes() == b"earlier\nabc"


SPLIT_SECRET = """\
import sys, time
sys.stdout.write("token: hun"); sys.stdout.flush(); time.sleep(0.3)
sys.stdout.write("ter2 and more\\nFILE: config.txt\\n```\\npassword = hunter2\\n```\\n")
"""


@pytest.fixture
def hide_hunter2() -> Iterator[None]:
    set_log_filter(lambda line: line.replace("hunter2", "***"))
    try:
        yield
    finally:
        set_log_filter(None)


def test_the_log_filter_sees_whole_lines_and_never_changes_what_an_agent_writes(tmp_path: Path,
                                                                               hide_hunter2: None) -> None:
    (tmp_path / "agent.py").write_text(SPLIT_SECRET)
    log = tmp_path / "task.log"
    plan = load_text("# Plan\n\n## Phase 1: Work\n\n- [ ] 1.1 Configure\n").plan
    request = TaskRequest(task=plan.tasks[0], plan_title="Plan", phase_name="Phase 1", root=tmp_path, timeout=30.0,
                          agent_command=(sys.executable, str(tmp_path / "agent.py")), log_path=log)
    outcome = run_agent(request)
    assert log.read_text() == "token: *** and more\nFILE: config.txt\n```\npassword = ***\n```\n"
    assert (tmp_path / "config.txt").read_text() == "password = hunter2\n"
    assert outcome.files_written == ("config.txt",)


MEMORY_PROBE = """\
import sys
from pathlib import Path
from plan_tasks.executors.log_stream import open_log
from plan_tasks.executors.process import answer_file, run_process
printer = "import sys\\nline = b'x' * 1023 + b'\\\\n'\\nfor _ in range(int(sys.argv[1])): sys.stdout.buffer.write(line)"
with answer_file() as answer, open_log(Path(sys.argv[2])) as log:  # as the agent executor streams
    finished = run_process([sys.executable, "-c", printer, sys.argv[1]], Path("."), output=answer, log=log,
                           output_limit=None, timeout=120)
assert finished.returncode == 0, finished
# VmHWM, this process's own peak: ru_maxrss would start from the forking parent's (pytest's) size.
peak = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM:"))
print(finished.output_bytes, peak.split()[1])
"""


def test_memory_stays_bounded_while_a_task_prints_200_mb(tmp_path: Path) -> None:
    kilobytes = 200 * 1000 * 1000 // 1024
    probe = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(kilobytes), str(tmp_path / "task.log")],
                           cwd=REPOSITORY, capture_output=True, text=True, timeout=300, check=True)
    printed, peak_kib = map(int, probe.stdout.split())
    assert printed == kilobytes * 1024 == (tmp_path / "task.log").stat().st_size
    assert peak_kib < 120 * 1024, f"peak RSS {peak_kib // 1024} MiB for 200 MB of output"


# -- the output limit --------------------------------------------------------------------------------

ENDLESS = """\
echo $$ > shell.pid
yes 'an endless line of output' &
echo $! > printer.pid
wait
"""


def test_a_task_over_the_output_limit_fails_permanently_and_its_group_is_killed(tmp_path: Path) -> None:
    log = tmp_path / "task.log"
    began = time.monotonic()
    with pytest.raises(TaskFailure) as caught:
        run_shell(shell_request(ENDLESS, tmp_path, log_path=log, output_limit=100_000, timeout=60.0))
    assert time.monotonic() - began < 10
    assert (caught.value.category, caught.value.message) == ("permanent", "output over 100 kB")
    assert "an endless line of output\n" in caught.value.output  # the tail, for the terminal
    assert log.stat().st_size == 100_000
    for name in ("shell.pid", "printer.pid"):
        assert wait_until_gone(int((tmp_path / name).read_text()), within=5), f"{name} survived the limit"


def test_output_within_the_limit_is_not_cut(tmp_path: Path) -> None:
    outcome = run_shell(shell_request("head -c 100000 /dev/zero | tr '\\0' x", tmp_path, output_limit=100_000))
    assert len(outcome.output) == 100_000


@pytest.mark.parametrize(("size", "shown"), [(50_000_000, "50 MB"), (10_000_000, "10 MB"), (100_000, "100 kB"),
                                             (1_500_000_000, "1.5 GB"), (999, "999 bytes")])
def test_sizes_are_shown_as_a_person_writes_them(size: int, shown: str) -> None:
    assert format_size(size) == shown


# -- the start hook and parent death ------------------------------------------------------------------


def test_on_start_gets_the_process_id_before_the_process_ends(tmp_path: Path) -> None:
    seen: list[tuple[int, bool]] = []
    finished = run_process(["bash", "-c", "echo $$"], tmp_path,
                           on_start=lambda pid: seen.append((pid, os.getpgid(pid) == pid)))
    assert seen == [(int(finished.output), True)]


KILLED_RUN = """\
import sys
from pathlib import Path
from plan_tasks.executors.process import run_process
root = Path(sys.argv[1])
script = "echo $$ > shell.pid; sleep 300 & echo $! > child.pid; wait"
run_process(["bash", "-c", script], root, timeout=600)
"""


UNREGISTERED_RUN = """\
import os, signal, sys
from pathlib import Path
from plan_tasks.executors import guard
from plan_tasks.executors.process import run_process
guard.watch = lambda group: None  # the run dies before its guard hears of the task
run_process(["bash", "-c", "echo $$ > ran.pid; sleep 300"], Path(sys.argv[1]), timeout=600,
            on_start=lambda pid: (Path(sys.argv[1], "started.pid").write_text(f"{pid}\\n"),
                                  os.kill(os.getpid(), signal.SIGKILL)))
"""


def test_a_task_started_as_the_run_dies_exits_at_its_gate_without_running(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-c", UNREGISTERED_RUN, str(tmp_path)], cwd=REPOSITORY, timeout=60)
    assert run.returncode == -signal.SIGKILL
    gated = read_pid(tmp_path / "started.pid")
    assert wait_until_gone(gated, within=5.0), "the gated task process outlived the run"
    assert not (tmp_path / "ran.pid").exists(), "the task ran although its run died before registering it"


def test_task_processes_die_when_the_run_is_killed_with_sigkill(tmp_path: Path) -> None:
    run = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(tmp_path)], cwd=REPOSITORY)
    try:
        shell, child = read_pid(tmp_path / "shell.pid"), read_pid(tmp_path / "child.pid")
    finally:
        run.send_signal(signal.SIGKILL)
        run.wait()
    try:
        for name, pid in (("the task's shell", shell), ("the command it started", child)):
            assert wait_until_gone(pid, within=2.0), f"{name} ({pid}) outlived the killed run"
    finally:
        for pid in (shell, child):
            if not process_is_gone(pid):
                os.kill(pid, signal.SIGKILL)
