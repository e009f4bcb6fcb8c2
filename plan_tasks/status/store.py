"""Loading and changing a plan's status.json safely.

Reads take no lock: every write replaces the file atomically, so a reader
always sees a whole file. Every change is a transaction: take the plan's
inter-process lock, load, change, write atomically, release. Eight processes
marking tasks at once therefore lose no update.

A file that does not parse, is not a status document, or holds a value of the
wrong type (``plan_tasks.status.schema``) is reported with its location and a
recovery hint and is never overwritten: the user decides.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from plan_tasks.errors import Location, PlanError
from plan_tasks.status.atomic import write_atomic
from plan_tasks.status.document import Document
from plan_tasks.status.paths import PlanPaths, conflict, other_plan
from plan_tasks.status.schema import check_document, nested_deeper_than

LOCK_TIMEOUT_SECONDS = 30.0
MAX_DEPTH = 100  # where an error about nesting points: real status files nest 5 levels
STALE_TEMP_SECONDS = 300.0


class StatusMissing(PlanError):
    """The plan has no status.json yet."""


class StatusCorrupt(PlanError):
    """status.json exists but cannot be used; it is left untouched."""


class StatusLocked(PlanError):
    """Another process held the lock for longer than the timeout."""


def dump(document: Document) -> str:
    """JSON as the seed writes it (``JSON.stringify(status, null, 2)``).

    orjson writes exactly what ``json.dumps(indent=2, ensure_ascii=False)``
    writes, 20-30 times faster: a run rewrites the whole file many times a
    second. The standard library takes what orjson refuses (integers beyond
    64 bits a user may have typed in).
    """
    import orjson  # here: importing it costs more than `next` spends on its whole answer

    try:
        return orjson.dumps(document, option=orjson.OPT_INDENT_2).decode("utf-8")
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(document, indent=2, ensure_ascii=False)


def _parse(text: str) -> object:
    """orjson (3x faster) once this process has imported it, i.e. once it writes;
    otherwise, and for what orjson refuses (NaN, huge integers), the standard
    library, which also says where an error is. A reader like `next` parses one
    file once: the standard library's extra 0.4 ms at 1,000 tasks is far less than
    importing orjson (which brings dataclasses, uuid and datetime with it)."""
    orjson = sys.modules.get("orjson")
    if orjson is not None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


def load_status(paths: PlanPaths) -> Document:
    """The plan's status document; raises StatusMissing, StatusCorrupt, StatusInvalid, or
    PlanConflict when it is the status of another plan of the same file name."""
    display = paths.relative(paths.status_file)
    try:
        document = read_status_file(paths.status_file, display, _recovery_hint(paths))
    except FileNotFoundError:
        raise _status_missing(paths) from None
    recorded = document.get("planPath")
    if recorded != paths.plan_ref:  # a string comparison: the usual case costs nothing more
        other = other_plan(paths, recorded)
        if other is not None:
            raise conflict(paths, other, _location_of(paths, ("planPath",)))
    return document


def _location_of(paths: PlanPaths, where: tuple[str, ...]) -> Location:
    from plan_tasks.status.locate import locate

    display = paths.relative(paths.status_file)
    try:
        return Location(display, *locate(paths.status_file.read_text(encoding="utf-8"), where))
    except (OSError, ValueError):
        return Location(display)


def require_status(paths: PlanPaths) -> None:
    """Raise StatusMissing unless status.json exists: called before taking the lock, which
    creates the output folder and a lock file, so that changing a plan that has no status
    (or does not exist) leaves nothing on disk."""
    if not paths.status_file.exists():
        raise _status_missing(paths)


def _status_missing(paths: PlanPaths) -> StatusMissing:
    return StatusMissing(
        f"no status for {paths.plan_ref} yet",
        f"create it with `plan-tasks init --plan {paths.plan_ref}`",
        paths.relative(paths.status_file),
    )


def read_status_file(status_file: Path, display_path: str, hint: str) -> Document:
    """A status document read, parsed and type-checked; every problem is reported at
    ``display_path:line:col`` with ``hint``. FileNotFoundError passes through."""
    try:
        raw = status_file.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as error:
        raise StatusCorrupt(f"cannot read status file: {error}", hint, Location(display_path)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        location = _byte_location(display_path, raw, error.start)
        raise StatusCorrupt(f"status file is not valid UTF-8 (byte 0x{raw[error.start]:02x})", hint,
                            location) from None
    try:
        document = _parse(text)
    except json.JSONDecodeError as error:
        location = Location(display_path, error.lineno, error.colno)
        raise StatusCorrupt(f"status file is not valid JSON ({error.msg})", hint, location) from None
    except RecursionError:  # the parser recurses once per level: 100,000 nested arrays exhaust it
        raise _too_deep(text, display_path, hint) from None
    except ValueError:  # a number of more digits than int() converts (4,300 by default)
        raise _too_long_number(text, display_path, hint) from None
    check_document(document, text, display_path, hint)
    return document  # type: ignore[no-any-return]  # check_document made sure it is one


def _too_deep(text: str, display_path: str, hint: str) -> StatusCorrupt:
    from plan_tasks.status.locate import deeper_than, line_and_column

    position = deeper_than(text, MAX_DEPTH)
    location = Location(display_path, *line_and_column(text, position)) if position is not None else Location(display_path)
    return StatusCorrupt(f"status file nests arrays or objects more than {MAX_DEPTH} levels deep", hint, location)


def _too_long_number(text: str, display_path: str, hint: str) -> StatusCorrupt:
    import re

    from plan_tasks.status.locate import line_and_column

    digits = max(sys.get_int_max_str_digits(), 1) if hasattr(sys, "get_int_max_str_digits") else 4300
    found = re.search(rf"[0-9]{{{digits + 1},}}", text)
    location = Location(display_path, *line_and_column(text, found.start())) if found else Location(display_path)
    return StatusCorrupt(f"status file holds a number of more than {digits:,} digits (too long to read)", hint, location)


def _byte_location(display_path: str, raw: bytes, offset: int) -> Location:
    """The line and column of a byte offset (the bytes before it are valid UTF-8)."""
    before = raw[:offset]
    line_start = before.rfind(b"\n") + 1
    column = len(before[line_start:].decode("utf-8")) + 1
    return Location(display_path, before.count(b"\n") + 1, column)


def _recovery_hint(paths: PlanPaths) -> str:
    relative = paths.relative(paths.status_file)
    return (f"it was left as it is; correct it by hand, restore it from version control (`git checkout -- {relative}`), "
            f"or move it aside and run `plan-tasks init --plan {paths.plan_ref}` to start over "
            "(task statuses are then lost)")


def save_status(paths: PlanPaths, document: Document, *, sync_directory: bool = True,
                read_checked: bool = False) -> tuple[Path, bytes]:
    """Write status.json atomically; call it only while holding the plan's lock.

    A document nested more than MAX_DEPTH levels (under a key plan-tasks does not know:
    the parser took it) is refused, the file left as it was: how deep the JSON writer's
    recursion gets depends on the stack it starts from, this rule does not.

    ``read_checked``: the document is one ``load_status`` checked, changed only by
    setting fields to strings, numbers or flat objects, so the walk over all of it
    (most of a save's time at 10,000 tasks) cannot find anything.

    Returns the file written (status.json or its symlink's target) and its bytes."""
    if not read_checked and nested_deeper_than(document, MAX_DEPTH):
        try:
            on_disk = paths.status_file.read_text(encoding="utf-8")
        except OSError:
            on_disk = ""
        raise _too_deep(on_disk, paths.relative(paths.status_file), _recovery_hint(paths))
    target = _write_target(paths)
    data = (dump(document) + "\n").encode("utf-8")
    write_atomic(target, data, sync_directory=sync_directory)
    _sweep_stale_temps(paths)
    return target, data


def _write_target(paths: PlanPaths) -> Path:
    """The file a save replaces: status.json, or the file it is a symlink to.

    Replacing the link itself would turn it into a plain file and leave the target
    stale; the target is replaced atomically instead (its temporary file beside it),
    and the link stays. A link that leads nowhere, in a loop, or to something that is
    not a regular file is refused: following it would create or clobber a file the
    user never had as a status."""
    link = paths.status_file
    if not link.is_symlink():
        return link
    shown = paths.relative(link)
    hint = f"point the link at an existing status.json, or replace {shown} with a plain file"
    try:
        target = Path(os.path.realpath(link, strict=True))
    except OSError as error:
        pointed = os.readlink(link)
        raise StatusCorrupt(f"status file is a symlink to {pointed}, which cannot be followed ({error.strerror})",
                            hint, Location(shown)) from None
    if not target.is_file():
        raise StatusCorrupt(f"status file is a symlink to {target}, which is not a regular file", hint, Location(shown))
    return target


_swept_at: dict[str, float] = {}


def _sweep_stale_temps(paths: PlanPaths) -> None:
    """A temporary file beside status.json that is minutes old belongs to a writer
    that was killed (a live write takes milliseconds): remove it. Looked for at
    most once a minute per directory: a run saves many times a second."""
    now = time.monotonic()
    key = str(paths.output_dir)
    if key in _swept_at and now - _swept_at[key] < 60.0:
        return
    _swept_at[key] = now
    cutoff = time.time() - STALE_TEMP_SECONDS
    for stale in paths.output_dir.glob(f".{paths.status_file.name}.*.tmp"):
        try:
            if stale.stat().st_mtime < cutoff:
                stale.unlink()
        except OSError:
            pass  # gone already, or not ours to remove


@contextmanager
def locked(paths: PlanPaths, timeout: float = LOCK_TIMEOUT_SECONDS) -> Iterator[None]:
    """Hold the plan's inter-process locks: plan-tasks' own (a file lock beside
    status.json), then the seed CLI's ``status.json.lock`` directory (see
    ``seed_lock``), so that the seed's `status-cli.js` and plan-tasks exclude
    each other. Always in that order: the seed takes only the second."""
    from filelock import FileLock, Timeout  # imported here: only writers pay for it

    from plan_tasks.status.seed_lock import SeedLockTimeout, hold_seed_lock

    paths.output_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(paths.lock_file), timeout=timeout)
    began = time.monotonic()
    try:
        lock.acquire()
    except Timeout:
        raise StatusLocked(
            f"status of {paths.plan_ref} stayed locked for {timeout:.0f} s",
            f"another plan-tasks process is changing it; if none is, delete {paths.relative(paths.lock_file)}",
        ) from None
    try:
        with hold_seed_lock(paths.status_file, max(0.0, timeout - (time.monotonic() - began))):
            yield
    except SeedLockTimeout as error:
        raise StatusLocked(
            f"status of {paths.plan_ref} stayed locked by the seed's status-cli.js for {timeout:.0f} s",
            f"a process holds {paths.relative(Path(str(error)))} and keeps it fresh; it is taken over on its "
            "own once its holder stops refreshing it for 10 s",
        ) from None
    finally:
        lock.release()


@contextmanager
def transaction(paths: PlanPaths) -> Iterator[Document]:
    """Lock, load, let the caller change the document, write it back atomically.

    If the caller raises, nothing is written; without a status.json, nothing is created.
    """
    require_status(paths)
    with locked(paths):
        document = load_status(paths)
        yield document
        save_status(paths, document)


def status_exists(paths: PlanPaths) -> bool:
    return Path(paths.status_file).is_file()
