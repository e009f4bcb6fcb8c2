"""Files plan-tasks writes keep the mode of the file they replace (a 0755 script stays
0755) and new ones get the user's umask as ``open()`` would (0644 under umask 022,
0600 under 077): status.json, findings and the files an agent's FILE blocks write,
all through ``plan_tasks.status.atomic.write_atomic``.

Each case runs in a fresh interpreter with its own umask, so the test process's
umask is never touched.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLAN = Path(__file__).parent / "fixtures" / "ready" / "auth.md"

# Sets the umask, writes through the real code paths, prints each file's mode.
PROBE = """
import json, os, sys
from pathlib import Path

umask, root = int(sys.argv[1], 8), Path(sys.argv[2])
os.umask(umask)
from plan_tasks.cli.main import main
from plan_tasks.executors.file_blocks import FileBlock, write_blocks
from plan_tasks.status.atomic import write_atomic

script = root / "build.sh"
script.write_text("echo old\\n")
os.chmod(script, 0o755)
private = root / "private.txt"
private.write_text("old\\n")
os.chmod(private, 0o600)
write_atomic(root / "new.txt", b"new\\n")
write_atomic(script, b"echo new\\n")
write_atomic(private, b"new\\n")
write_blocks(root, [FileBlock("src/agent_new.py", "x = 1\\n"), FileBlock("tools/run.sh", "echo agent\\n")])
location = ["--root", str(root), "--plan", "docs/plans/auth.md"]
codes = [main(["init", *location]), main(["write-findings", "1.2", "--content", "notes", *location])]
status = root / "docs/plan-outputs/auth/status.json"
modes = {name: oct(os.stat(root / name).st_mode & 0o777) for name in (
    "new.txt", "build.sh", "private.txt", "src/agent_new.py", "tools/run.sh", "docs/plan-outputs/auth/status.json",
    "docs/plan-outputs/auth/findings/1-2.md")}
os.chmod(status, 0o640)
codes.append(main(["mark-complete", "1.2", *location]))
modes["status.json rewritten"] = oct(os.stat(status).st_mode & 0o777)
print(json.dumps({"codes": codes, "modes": modes}))
"""


def probe(umask: str, root: Path, tmp_path: Path) -> dict:
    (root / "docs" / "plans").mkdir(parents=True)
    shutil.copyfile(PLAN, root / "docs" / "plans" / "auth.md")
    (root / "tools").mkdir()
    (root / "tools" / "run.sh").write_text("echo old\n")
    os.chmod(root / "tools" / "run.sh", 0o750)
    env = {**os.environ, "PLAN_TASKS_CACHE_DIR": str(tmp_path / "cache"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, "-c", PROBE, umask, str(root)], capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
@pytest.mark.parametrize(("umask", "new_mode"), [("022", "0o644"), ("077", "0o600"), ("002", "0o664")])
def test_replaced_files_keep_their_mode_and_new_ones_follow_the_umask(tmp_path: Path, umask: str,
                                                                      new_mode: str) -> None:
    report = probe(umask, tmp_path / "project", tmp_path)
    assert report["codes"] == [0, 0, 0]
    assert report["modes"] == {
        "new.txt": new_mode,
        "build.sh": "0o755",  # an executable script stays executable
        "private.txt": "0o600",
        "src/agent_new.py": new_mode,  # a FILE block creating a file
        "tools/run.sh": "0o750",  # a FILE block replacing one
        "docs/plan-outputs/auth/status.json": new_mode,
        "docs/plan-outputs/auth/findings/1-2.md": new_mode,
        "status.json rewritten": "0o640",  # a mode the user gave status.json survives the next change
    }


def test_a_write_leaves_no_temporary_file_behind(tmp_path: Path) -> None:
    from plan_tasks.status.atomic import write_atomic

    target = tmp_path / "status.json"
    for content in (b"one", b"two"):
        write_atomic(target, content)
    assert [path.name for path in tmp_path.iterdir()] == ["status.json"]
    assert target.read_bytes() == b"two"
