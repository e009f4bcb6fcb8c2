"""The ``corpus_dir`` fixture on a clone with and without ``../shared/corpus``.

A user's clone has nothing beside it: the corpus tests skip there with one
line saying why. CI has the corpus, so there a missing corpus fails instead.
Each case runs pytest in a subprocess on a copy of this suite's conftest.py,
placed in a temporary ``repo/tests/`` whose ``../shared`` is ours to create.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CONFTEST = Path(__file__).resolve().parent / "conftest.py"

USES_THE_CORPUS = """
from pathlib import Path


def test_one(corpus_dir: Path) -> None:
    assert corpus_dir.is_dir()


def test_two(corpus_dir: Path) -> None:
    assert corpus_dir.is_dir()
"""


def run_suite(tmp_path: Path, *, corpus: str | None, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """pytest on a two-test suite that needs the corpus; ``corpus`` is ``"beside"``
    (``../shared/corpus``), ``"configured"`` (``$PLAN_TASKS_CORPUS``) or None."""
    tests = tmp_path / "repo" / "tests"
    tests.mkdir(parents=True)
    shutil.copyfile(CONFTEST, tests / "conftest.py")
    (tests / "test_uses_corpus.py").write_text(USES_THE_CORPUS, encoding="utf-8")
    env = {name: value for name, value in os.environ.items() if name not in {"CI", "PLAN_TASKS_CORPUS"}}
    env.update(environment)
    if corpus == "beside":
        (tmp_path / "shared" / "corpus").mkdir(parents=True)
    elif corpus == "configured":
        (tmp_path / "elsewhere").mkdir()
        env["PLAN_TASKS_CORPUS"] = str(tmp_path / "elsewhere")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-ra", "-p", "no:cacheprovider", "tests"],
        cwd=tmp_path / "repo", env=env, capture_output=True, text=True, timeout=120,
    )


@pytest.mark.parametrize(
    ("corpus", "environment", "exit_code", "outcome"),
    [
        (None, {}, 0, "2 skipped"),
        (None, {"CI": "false"}, 0, "2 skipped"),
        (None, {"CI": "true"}, 1, "2 errors"),
        (None, {"CI": "1"}, 1, "2 errors"),
        ("beside", {"CI": "true"}, 0, "2 passed"),
        ("beside", {}, 0, "2 passed"),
        ("configured", {}, 0, "2 passed"),
    ],
    ids=["bare clone", "CI=false", "CI=true", "CI=1", "CI with corpus", "corpus beside", "PLAN_TASKS_CORPUS"],
)
def test_corpus_tests_skip_on_a_bare_clone_fail_under_ci_and_run_with_a_corpus(
    tmp_path: Path, corpus: str | None, environment: dict[str, str], exit_code: int, outcome: str
) -> None:
    result = run_suite(tmp_path, corpus=corpus, environment=environment)
    assert result.returncode == exit_code, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1].startswith(outcome), result.stdout


def test_a_bare_clone_says_why_in_one_line(tmp_path: Path) -> None:
    result = run_suite(tmp_path, corpus=None, environment={})
    reasons = [line for line in result.stdout.splitlines() if "corpus" in line]
    assert len(reasons) == 1, result.stdout
    assert reasons[0].startswith("SKIPPED [2] tests/conftest.py: plan corpus")
    assert reasons[0].endswith(
        ": plan corpus ../shared/corpus not found: tests of real public plans skipped "
        "(CI has it; or set PLAN_TASKS_CORPUS)"
    )


def test_under_ci_a_missing_corpus_fails_naming_where_it_looked(tmp_path: Path) -> None:
    result = run_suite(tmp_path, corpus=None, environment={"CI": "true"})
    assert f"plan corpus not found at {tmp_path / 'shared' / 'corpus'}" in result.stdout
    assert "CI must run every corpus test" in result.stdout
