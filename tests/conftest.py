"""Shared fixtures: where the corpus of real plans lives."""

from __future__ import annotations

import os
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
