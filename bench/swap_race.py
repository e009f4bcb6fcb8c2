"""A writer of FILE blocks racing a process that swaps a directory for a symlink to outside.

    .venv/bin/python bench/swap_race.py [--seconds 10] [--baseline GIT_REF]

The project holds ``d/``; a swapper process (the one in
``tests/test_file_writes.py``) turns ``d`` into a symlink to a directory
outside the project and back, as fast as it can, while a writer process calls
``write_blocks(root, [FileBlock("d/x.txt", ...)])`` in a loop for the same
time. Counts each outcome of the writes and the writes that landed outside
(the outside directory is emptied after each). With ``--baseline REF`` the
same race runs against the `plan_tasks` package of that git ref.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY / "tests"))

from test_file_writes import SWAPPER  # noqa: E402

WRITER = """\
import subprocess, sys, tempfile, time
from pathlib import Path
from plan_tasks.executors.file_blocks import FileBlock, write_blocks
swapper, seconds = sys.argv[1], float(sys.argv[2])
base = Path(tempfile.mkdtemp())
root, outside = base / "project", base / "outside"
root.mkdir(); outside.mkdir(); (root / "d").mkdir()
race = subprocess.Popen([sys.executable, "-c", swapper, str(root), str(outside), str(seconds)],
                        stdout=subprocess.PIPE, text=True)
outcomes, escaped = {}, 0
deadline = time.monotonic() + seconds
while time.monotonic() < deadline:
    try:
        write_blocks(root, [FileBlock("d/x.txt", "inside\\n")])
        kind = "written"
    except Exception as error:
        kind = type(error).__name__ + (": " + error.message.split(": ", 1)[-1] if hasattr(error, "message") else "")
    outcomes[kind] = outcomes.get(kind, 0) + 1
    for entry in outside.iterdir():
        escaped += 1
        entry.unlink()
print(f"{race.communicate()[0].strip()} swaps; {sum(outcomes.values())} writes, {escaped} landed outside")
for kind, count in sorted(outcomes.items(), key=lambda item: -item[1]):
    print(f"    {count:>6}  {kind}")
"""


def race(package_dir: Path, seconds: float) -> str:
    env = dict(os.environ, PYTHONPATH=str(package_dir))
    with tempfile.TemporaryDirectory() as cwd:  # not the repository: it would shadow the baseline's package
        return subprocess.run([sys.executable, "-c", WRITER, SWAPPER, str(seconds)], env=env, cwd=cwd,
                              capture_output=True, text=True, check=True).stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--baseline", metavar="GIT_REF")
    args = parser.parse_args()
    print(f"current: {race(REPOSITORY, args.seconds)}", flush=True)
    if args.baseline:
        with tempfile.TemporaryDirectory() as directory:
            archive = subprocess.run(["git", "-C", str(REPOSITORY), "archive", args.baseline, "plan_tasks"],
                                     capture_output=True, check=True).stdout
            subprocess.run(["tar", "-x", "-C", directory], input=archive, check=True)
            print(f"{args.baseline}: {race(Path(directory), args.seconds)}")


if __name__ == "__main__":
    main()
