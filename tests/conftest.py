"""Shared fixtures: where the corpus of real plans lives, and a Prefect server for flow tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"
DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The plan corpus: ``../shared/corpus`` next to the repository, else ``$PLAN_TASKS_CORPUS``.

    A missing corpus fails the tests that need it; it never skips them.
    """
    if DEFAULT_CORPUS.is_dir():
        return DEFAULT_CORPUS
    configured = os.environ.get("PLAN_TASKS_CORPUS")
    if configured and Path(configured).is_dir():
        return Path(configured)
    pytest.fail(
        f"plan corpus not found at {DEFAULT_CORPUS} nor at PLAN_TASKS_CORPUS={configured!r}; "
        "check out the shared corpus next to the repository or set PLAN_TASKS_CORPUS",
        pytrace=False,
    )


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
