"""Secrets kept out of everything a run stores or sends.

A secret is the value of an environment variable whose name contains
``KEY``, ``TOKEN``, ``SECRET``, ``PASSWORD`` or ``CREDENTIAL`` (any case),
or a value listed with ``redact = [...]`` under ``[tool.plan-tasks]``. Each
sink (status.json errors, findings, task logs, the terminal, ``--events-jsonl``,
Prefect events, artifacts, task-run state messages, the agent command in the
flow run's parameters) passes its text through :func:`redact` first, which
puts ``***`` in place of every secret it contains.

What it cannot catch: a secret the agent transforms (base64, split across
lines, URL-encoded), and environment values shorter than
:data:`MIN_SECRET_LENGTH` characters (``FEATURE_KEY=1`` would otherwise star
out every ``1``). Values given with ``redact`` are taken whatever their length.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

SECRET_NAME_PARTS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL")
MIN_SECRET_LENGTH = 6
MASK = "***"


def secrets_in_environment(environ: Mapping[str, str]) -> list[str]:
    """The values of variables whose names say they hold a secret."""
    return [value for name, value in environ.items()
            if any(part in name.upper() for part in SECRET_NAME_PARTS) and len(value) >= MIN_SECRET_LENGTH]


class Redactor:
    """Replaces each of a set of secret strings by ``***``."""

    def __init__(self, secrets: Iterable[str]) -> None:
        unique = sorted({secret for secret in secrets if secret}, key=len, reverse=True)  # longest first
        self.count = len(unique)
        self._pattern = re.compile("|".join(map(re.escape, unique))) if unique else None

    def text(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(MASK, text)

    def value(self, value: Any) -> Any:
        """``value`` with every string inside it (dicts, lists, tuples) redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {key: self.value(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self.value(item) for item in value)
        return value


_current = Redactor(secrets_in_environment(os.environ))
_current_lock = threading.Lock()
_originals: dict[tuple[str, ...], tuple[str, ...]] = {}  # redacted agent argv -> the real one, this process


def configure(extra: Iterable[str] = ()) -> Redactor:
    """Read the environment again and add ``extra`` (``redact = [...]``); used by every sink from now on."""
    global _current
    with _current_lock:
        _current = Redactor([*secrets_in_environment(os.environ), *extra])
        return _current


def redact(text: str) -> str:
    return _current.text(text)


def redact_value(value: Any) -> Any:
    return _current.value(value)


def hide_argv(argv: list[str] | tuple[str, ...]) -> list[str]:
    """The argv with its secrets starred, to be stored (a flow-run parameter); the
    real one stays in this process for :func:`reveal_argv`."""
    hidden = tuple(redact(part) for part in argv)
    if hidden != tuple(argv):
        _originals[hidden] = tuple(argv)
    return list(hidden)


def reveal_argv(argv: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The real argv that :func:`hide_argv` starred, when this process starred it."""
    return _originals.get(tuple(argv), tuple(argv))
