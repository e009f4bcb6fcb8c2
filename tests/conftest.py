"""Shared fixtures: where the corpus of real plans lives, a project holding the `ready/auth.md`
plan, and a Prefect server for flow tests."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"
DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
CORPUS_MISSING = (
    "plan corpus ../shared/corpus not found: tests of real public plans skipped (CI has it; "
    "or set PLAN_TASKS_CORPUS)"
)


AUTH_PLAN = "docs/plans/auth.md"


@pytest.fixture
def auth_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project root with ``fixtures/ready/auth.md`` at ``docs/plans/auth.md`` and no status
    yet; the parse cache kept inside the test's folder."""
    monkeypatch.setenv("PLAN_TASKS_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "project"
    (root / "docs" / "plans").mkdir(parents=True)
    shutil.copyfile(FIXTURES / "ready" / "auth.md", root / AUTH_PLAN)
    return root


def running_in_ci() -> bool:
    """True under CI (``CI=true``, as GitHub Actions, GitLab and most runners set it)."""
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The plan corpus: ``../shared/corpus`` next to the repository, else ``$PLAN_TASKS_CORPUS``.

    A clone with nothing beside it (what a user has) skips the tests that need
    the corpus, with one line saying why; the same behaviour is checked on
    plans in ``tests/fixtures/``. Under CI, which has the corpus, a missing
    corpus fails those tests instead, so they can never silently stop running.
    """
    if DEFAULT_CORPUS.is_dir():
        return DEFAULT_CORPUS
    configured = os.environ.get("PLAN_TASKS_CORPUS")
    if configured and Path(configured).is_dir():
        return Path(configured)
    if running_in_ci():
        pytest.fail(
            f"plan corpus not found at {DEFAULT_CORPUS} nor at PLAN_TASKS_CORPUS={configured!r}, "
            "and CI must run every corpus test: check out the shared corpus next to the "
            "repository or set PLAN_TASKS_CORPUS",
            pytrace=False,
        )
    pytest.skip(CORPUS_MISSING)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    """Report every corpus skip at this file rather than at its own test.

    pytest folds skips of one location and reason into one summary line; at
    each test's location, a bare clone's summary would repeat the reason once
    for every test that needs the corpus.
    """
    report: pytest.TestReport = yield
    if report.skipped and isinstance(report.longrepr, tuple) and report.longrepr[2].endswith(CORPUS_MISSING):
        report.longrepr = (__file__, None, report.longrepr[2])
    return report


@pytest.fixture
def plan_file(request: pytest.FixtureRequest) -> Path:
    """A plan named by indirect parametrization: ``corpus:RELATIVE`` is a file of
    the corpus (skipped or failed as ``corpus_dir`` says when it is missing),
    anything else a path under ``tests/fixtures/plans``."""
    name: str = request.param
    if name.startswith("corpus:"):
        corpus: Path = request.getfixturevalue("corpus_dir")
        return corpus / name.removeprefix("corpus:")
    return FIXTURES / "plans" / name


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[str]:
    """A real, temporary Prefect server with its own SQLite database, for the
    flow tests of this process; yields its API URL.

    Session-scoped, so one server (a few seconds to start) serves every flow
    test, and not autouse, so tests that never run a flow never import Prefect.
    Subprocesses do not see it unless given the URL as ``PREFECT_API_URL``.
    """
    with pytest.MonkeyPatch.context() as patch:
        # Read by the server subprocess at its start: no telemetry from tests.
        patch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        from prefect.settings import PREFECT_API_URL
        from prefect.testing.utilities import prefect_test_harness

        with prefect_test_harness(server_startup_timeout=90):
            yield str(PREFECT_API_URL.value())


FAKE_AGENTS = Path(__file__).resolve().parent / "fake_agents"


@pytest.fixture
def fake_agent_bin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder put first on PATH holding the fake coding-agent CLIs of ``tests/fake_agents``
    (claude, codex, gemini, aider, opencode), each started by this test's Python; returns it."""
    import sys

    folder = tmp_path / "fake-agent-bin"
    folder.mkdir()
    shutil.copyfile(FAKE_AGENTS / "_fake_cli.py", folder / "_fake_cli.py")
    for name in ("claude", "codex", "gemini", "aider", "opencode"):
        source = (FAKE_AGENTS / name).read_text(encoding="utf-8").split("\n", 1)[1]  # less its own shebang
        (folder / name).write_text(f"#!{sys.executable}\n{source}", encoding="utf-8")
        (folder / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ.get('PATH', '')}")
    return folder
