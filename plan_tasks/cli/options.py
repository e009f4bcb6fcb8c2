"""Argument types and option groups shared by the subcommands."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

PHASE_GATE_HELP = (
    "how much of each earlier phase must be done before a phase starts: "
    "1.0 strict phase order, 0.8 the seed's rule, 0 dependencies only"
)


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, told the terminal's width: it would otherwise import
    ``shutil`` (and with it bz2, lzma and zlib) for it on every call."""

    def __init__(self, prog: str, **options: Any) -> None:
        options.setdefault("width", _terminal_width() - 2)  # argparse's own margin
        super().__init__(prog, **options)


def _terminal_width() -> int:
    """What ``shutil.get_terminal_size().columns`` says: $COLUMNS, the terminal, else 80."""
    try:
        return int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80
    except (AttributeError, ValueError, OSError):
        return 80


def phase_gate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"`--phase-gate` takes a number from 0 to 1, not {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"`--phase-gate` takes a number from 0 to 1, not {text}")
    return value


def _whole_number(text: str, least: int, too_small: str) -> int:
    """``text`` as an int of at least ``least``; ``too_small`` is the message below it."""
    try:
        value = int(text)
    except ValueError:
        expected = "a whole number" if least == 0 else f"a whole number of {least} or more"
        raise argparse.ArgumentTypeError(f"expected {expected}, not {text!r}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"{too_small}, not {value}")
    return value


def non_negative_int(text: str) -> int:
    return _whole_number(text, 0, "expected a whole number of 0 or more")


def at_least_one(text: str) -> int:
    """A count of slots or tasks: a whole number, 1 or more."""
    return _whole_number(text, 1, "must be at least 1 (1 runs one task at a time)")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, not {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):  # NaN or infinite
        raise argparse.ArgumentTypeError(f"expected a finite number of seconds, not {text}")
    return value


def positive_seconds(text: str) -> float:
    """A duration that must pass: more than 0 seconds (a timeout)."""
    value = _seconds(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, not {text}")
    return value


def non_negative_seconds(text: str) -> float:
    """A wait that may be none: 0 seconds or more (a retry delay)."""
    value = _seconds(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 seconds or more, not {text}")
    return value


FORMAT_HELP = (
    "read the plan in this format (seed, speckit, kiro, openspec, checklist, headings, taskmaster) "
    "instead of the detected one"
)


def add_format_option(parser: argparse.ArgumentParser, *flags: str) -> None:
    """`--format NAME` (and `--dialect NAME`): force the plan's dialect; stored as ``dialect``.

    Not checked here, so that the status commands need not import the parser:
    an unknown name is reported when the plan is read.
    """
    parser.add_argument(*(flags or ("--format", "--dialect")), dest="dialect", metavar="NAME", help=FORMAT_HELP)


def plan_options() -> argparse.ArgumentParser:
    """`--plan`, `--root` and `--format`, which every status command takes."""
    parent = argparse.ArgumentParser(add_help=False, formatter_class=HelpFormatter)
    parent.add_argument("--plan", metavar="PATH",
                        help="the plan (default: the path in .claude/current-plan.txt)")
    parent.add_argument("--root", metavar="DIR",
                        help="project root holding docs/plan-outputs/ (default: the current directory)")
    add_format_option(parent)
    return parent
