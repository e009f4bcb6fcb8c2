"""FILE blocks under hostile answers: read whole, size-limited, UTF-8 only,
written all or nothing, never on protected paths, never through a symlink
swapped in between the check and the write, bad paths refused with a reason.

Real files and real processes: answers come from agent processes or bytes
given as data, writes go to temporary projects, the swapper is a separate
process racing the writer.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from plan_tasks.executors.agent import run_agent
from plan_tasks.executors.answer import FileBlock, parse_answer
from plan_tasks.executors.file_blocks import write_blocks
from plan_tasks.executors.outcome import TaskFailure, TaskRequest
from plan_tasks.executors.safe_paths import protected_patterns
from plan_tasks.load import load_text
from test_agent_protocol import project, tree  # noqa: F401 - project is a fixture

REPOSITORY = Path(__file__).resolve().parents[1]
SWAP_SECONDS = float(os.environ.get("PLAN_TASKS_SWAP_SECONDS", "3"))  # docs/security.md quotes a 10 s run


def refusal(root: Path, blocks: list[FileBlock], protected: tuple[str, ...] = ()) -> TaskFailure:
    with pytest.raises(TaskFailure) as caught:
        write_blocks(root, blocks, protected)
    assert caught.value.category == "permanent"
    return caught.value


def agent_request(root: Path, agent_source: str, **options: object) -> TaskRequest:
    agent = root.parent / "agent.py"
    agent.write_text(textwrap.dedent(agent_source))
    plan = load_text("# Plan\n\n## Phase 1: Work\n\n- [ ] 1.1 Write the big file\n").plan
    task = plan.tasks[0]
    return TaskRequest(task=task, plan_title=plan.title, phase_name=plan.phase_of(task).name, root=root,
                       timeout=60.0, agent_command=(sys.executable, str(agent)), **options)  # type: ignore[arg-type]


# -- the whole answer, size and encoding ------------------------------------------------------------

BIG_BLOCK_AGENT = """\
import sys
sys.stdin.read()
line = "0123456789" * 9 + "abcdefghi\\n"
print("Here is the file.")
print("FILE: big.txt")
print("```")
sys.stdout.write(line * {lines})
print("```")
print("Done.")
"""


def test_a_block_bigger_than_the_old_tail_is_written_whole(project: Path) -> None:
    outcome = run_agent(agent_request(project, BIG_BLOCK_AGENT.format(lines=2500)))  # 250 kB
    assert outcome.files_written == ("big.txt",)
    assert (project / "big.txt").read_text() == ("0123456789" * 9 + "abcdefghi\n") * 2500
    assert outcome.findings == "Here is the file.\nDone."


def test_a_block_over_the_block_limit_fails_the_task_and_writes_nothing(project: Path) -> None:
    with pytest.raises(TaskFailure) as caught:
        run_agent(agent_request(project, BIG_BLOCK_AGENT.format(lines=1500), block_limit=100_000))
    assert (caught.value.category, caught.value.message) == (
        "permanent", "refused to write `big.txt`: its block is over 100 kB")
    assert tree(project) == []


@pytest.mark.parametrize(("answer", "message"), [
    (b"FILE: a.py\n```\nab\xffcd\n```\n", "refused to write `a.py`: invalid UTF-8 at byte 2 of its block"),
    (b"FILE: a.py\n```\nline one\nsplit \xe2\x82\n```\n",
     "refused to write `a.py`: invalid UTF-8 at byte 15 of its block"),
    (b"FILE: a.py\n```\n\xed\xa0\xbd lone surrogate\n```\n",
     "refused to write `a.py`: invalid UTF-8 at byte 0 of its block"),
    (b"Intro\nFILE: a\xff.py\n```\nx\n```\n",
     "refused a FILE header at byte 13 of the answer: its path is not valid UTF-8"),
    (b"FILE: " + b"a" * 70_000 + b"\n```\nx\n```\n",
     "refused a FILE header at byte 0 of the answer: path too long"),
], ids=["bad byte", "character cut at the end of a line", "encoded surrogate", "bad byte in the path",
        "header longer than a line is read"])
def test_blocks_that_are_not_utf8_are_refused_naming_the_byte_offset(answer: bytes, message: str) -> None:
    with pytest.raises(TaskFailure) as caught:
        parse_answer(answer)
    assert (caught.value.category, caught.value.message) == ("permanent", message)


def test_findings_stay_bounded_whatever_the_prose_holds() -> None:
    _, findings = parse_answer("word " * 1_000_000 + "\nlast line")
    assert len(findings) <= 200_000 and findings.endswith("word \nlast line")


# -- all or nothing ------------------------------------------------------------------------------------


def test_a_failure_while_staging_leaves_no_block_written_and_no_temporary_file(project: Path) -> None:
    (project / "blocker").write_text("a file, where the last block needs a directory\n")
    (project / "kept.py").write_text("old\n")
    blocks = [FileBlock("new/dir/a.py", "a\n"), FileBlock("kept.py", "new\n"), FileBlock("blocker/b.py", "b\n")]
    failure = refusal(project, blocks)
    assert failure.message == ("refused to write `blocker/b.py`: "
                               "`blocker` is not a directory (a symlink or a file is there)")
    assert tree(project) == ["blocker", "kept.py"]  # no new/, no temporary file
    assert (project / "kept.py").read_text() == "old\n"


WRITE_UNDER_A_FILE_SIZE_LIMIT = """\
import resource, signal, sys
from pathlib import Path
from plan_tasks.executors.answer import FileBlock
from plan_tasks.executors.file_blocks import write_blocks
from plan_tasks.executors.outcome import TaskFailure
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))
try:
    write_blocks(Path(sys.argv[1]), [FileBlock("a.py", "a\\n"), FileBlock("src/big.txt", "x" * 200_000)])
except TaskFailure as failure:
    print(failure.message)
"""


def test_a_write_that_fails_on_disk_leaves_no_block_written(project: Path) -> None:
    result = subprocess.run([sys.executable, "-c", WRITE_UNDER_A_FILE_SIZE_LIMIT, str(project)], cwd=REPOSITORY,
                            capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "could not write the agent's files (File too large); none was written"
    assert tree(project) == []


def test_written_files_are_readable_by_others_and_keep_an_existing_mode(project: Path) -> None:
    (project / "run.sh").write_text("old\n")
    (project / "run.sh").chmod(0o755)
    write_blocks(project, [FileBlock("run.sh", "new\n"), FileBlock("new.txt", "x\n")])
    assert (project / "run.sh").stat().st_mode & 0o777 == 0o755
    assert (project / "new.txt").stat().st_mode & 0o044 == 0o044 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# -- protected paths ------------------------------------------------------------------------------------

PROTECTED = [
    (".git/config", ".git"),
    (".git/hooks/pre-commit", ".git"),
    ("vendor/lib/.git/config", ".git"),
    (".GIT/config", ".git"),
    ("docs/plan-outputs/plan/status.json", "/docs/plan-outputs/plan"),
    ("docs/plan-outputs/plan/findings/1.1.md", "/docs/plan-outputs/plan"),
    ("docs/plan-outputs/plan/logs/1.1.log", "/docs/plan-outputs/plan"),
    ("plan.md", "/plan.md"),
    ("secrets/token.txt", "secrets/"),
    ("app/secrets/token.txt", "secrets/"),
    ("keys/server.pem", "*.pem"),
    ("config/local.toml", "/config/local.toml"),
    ("git-alias/config", ".git"),  # a symlink inside the project, to .git
]
ALLOWED = ["docs/plan.md", "gitignore.txt", "my.git/x", "docs/plan-outputs/other/notes.md", "app/config/local.toml"]


@pytest.fixture
def guarded(project: Path) -> tuple[Path, tuple[str, ...]]:
    (project / ".git").mkdir()
    (project / ".git" / "config").write_text("[core]\n")
    (project / "git-alias").symlink_to(project / ".git", target_is_directory=True)
    patterns = protected_patterns(project, project / "plan.md", project / "docs/plan-outputs/plan",
                                  ("secrets/", "*.pem", "/config/local.toml"))
    return project, patterns


@pytest.mark.parametrize(("path", "pattern"), PROTECTED, ids=[case[0] for case in PROTECTED])
def test_protected_paths_are_refused_and_nothing_is_written(guarded: tuple[Path, tuple[str, ...]], path: str,
                                                            pattern: str) -> None:
    project, patterns = guarded
    before = tree(project)
    failure = refusal(project, [FileBlock("good.py", "fine\n"), FileBlock(path, "core.fsmonitor = evil\n")], patterns)
    assert failure.message == f"refused to write `{path}`: it is a protected path (`{pattern}`)"
    assert tree(project) == before
    assert (project / ".git" / "config").read_text() == "[core]\n"


@pytest.mark.parametrize("path", ALLOWED)
def test_paths_that_only_look_like_protected_ones_are_written(guarded: tuple[Path, tuple[str, ...]],
                                                             path: str) -> None:
    project, patterns = guarded
    assert write_blocks(project, [FileBlock(path, "ok\n")], patterns) == [path]
    assert (project / path).read_text() == "ok\n"


def test_a_plan_and_output_folder_outside_the_project_add_no_pattern(project: Path) -> None:
    outside = project.parent / "outside"
    assert protected_patterns(project, outside / "plan.md", outside / "out") == (".git",)


# -- bad paths ---------------------------------------------------------------------------------------------

BAD_PATHS = [
    ("a\0b.py", "refused to write `a\\x00b.py`: the path holds a NUL byte"),
    ("a\x07b.py", "refused to write `a\\x07b.py`: the path holds a control character (U+0007)"),
    ("src/\x1b[31mred.py", "refused to write `src/\\x1b[31mred.py`: the path holds a control character (U+001B)"),
    ("a\x85b.py", "refused to write `a\\x85b.py`: the path holds a control character (U+0085)"),
    ("n" * 256 + ".py", f"refused to write `{'n' * 200}...`: path too long (a name over 255 bytes)"),
    ("a/" * 50_000 + "x.py", f"refused to write `{'a/' * 100}...`: path too long"),
    ("é" * 130, f"refused to write `{'é' * 130}`: path too long (a name over 255 bytes)"),
]


@pytest.mark.parametrize(("path", "message"), BAD_PATHS,
                         ids=["NUL", "bell", "escape sequence", "C1 control", "long name", "deep path",
                              "long name in UTF-8 bytes"])
def test_bad_paths_are_refused_with_a_clear_reason(project: Path, path: str, message: str) -> None:
    failure = refusal(project, [FileBlock("good.py", "fine\n"), FileBlock(path, "x\n")])
    assert failure.message == message
    assert tree(project) == []


def test_a_nul_in_a_header_of_a_real_answer_is_refused(project: Path) -> None:
    agent = 'import sys\nsys.stdin.read()\nprint("FILE: a\\0b.py\\n```\\nx\\n```")\n'
    with pytest.raises(TaskFailure, match=r"refused to write `a\\x00b.py`: the path holds a NUL byte"):
        run_agent(agent_request(project, agent))


# -- a symlink swapped in between the check and the write ----------------------------------------------------

SWAPPER = """\
import os, shutil, sys, time
root, outside, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
directory, stash = os.path.join(root, "d"), os.path.join(root, "d.stash")


def restore():
    \"\"\"d a real directory again, whatever the writer did meanwhile (it may have made d itself).\"\"\"
    try:
        if os.path.islink(directory):
            os.unlink(directory)
        if os.path.isdir(stash):
            if os.path.isdir(directory):
                shutil.rmtree(directory)
            os.rename(stash, directory)
        elif not os.path.isdir(directory):
            os.mkdir(directory)
    except OSError:
        pass


swaps = 0
deadline = time.monotonic() + seconds
while time.monotonic() < deadline:
    try:  # d: a real directory, then a symlink to outside, then the directory again
        os.rename(directory, stash)
        os.symlink(outside, directory)
        os.unlink(directory)
        os.rename(stash, directory)
        swaps += 1
    except OSError:
        restore()
print(swaps)
"""


def test_a_symlink_swapped_in_while_writing_never_redirects_a_write(project: Path) -> None:
    outside = project.parent / "outside"
    (project / "d").mkdir()
    swapper = subprocess.Popen([sys.executable, "-c", SWAPPER, str(project), str(outside), str(SWAP_SECONDS)],
                               stdout=subprocess.PIPE, text=True)
    outcomes: dict[str, int] = {}
    deadline = time.monotonic() + SWAP_SECONDS
    while time.monotonic() < deadline:
        try:
            write_blocks(project, [FileBlock("d/x.txt", "inside\n")])
            kind = "written"
        except TaskFailure as failure:  # refused, or the swapper removed a staged file: nothing written
            kind = failure.message.removeprefix("refused to write `d/x.txt`: ")
        outcomes[kind] = outcomes.get(kind, 0) + 1
    swaps = int(swapper.communicate(timeout=60)[0])
    print(f"swap race: {SWAP_SECONDS:g} s, {swaps} swaps, writes: {outcomes}")
    assert swaps > 100 and sum(outcomes.values()) > 100
    assert tree(outside) == [], f"a write went outside the project: {outcomes}"
