"""Reading an agent's whole answer for ``FILE: <path>`` blocks.

An agent never writes files itself (the seed's rule against races); it answers
with blocks like::

    FILE: src/export/types.py
    ```python
    <complete file content>
    ```

and plan-tasks writes them (``file_blocks``). Everything outside FILE blocks
is the agent's findings. The answer is read from the file its output streamed
to, line by line, so an answer of any size is read whole in bounded memory:
a block is kept as a byte range of that file, not as text, until it is
written. A block over the block limit, or one that is not valid UTF-8, fails
the task with the reason (and the byte offset), never a silent U+FFFD.
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from plan_tasks.executors.outcome import BLOCK_LIMIT, TaskFailure, format_size

FILE_HEADER = re.compile(r"^\s*(?:\*\*)?FILE:(?:\*\*)?\s*`?(?P<path>[^`*]+?)`?(?:\*\*)?\s*$")
HEADER_START = re.compile(rb"^\s*(?:\*\*)?FILE:")
FENCE = re.compile(r"^\s*(?P<fence>`{3,}|~{3,})")
MAX_LINE_BYTES = 1 << 16  # a longer line is read in pieces: never a header nor a fence
FINDINGS_LIMIT = 200_000  # characters of prose kept as findings (the last ones)


class Block(Protocol):
    """A FILE block whose content can be read in chunks of bytes."""

    path: str

    def chunks(self) -> Iterator[bytes]: ...


@dataclass(frozen=True)
class FileBlock:
    """A block held in memory (an answer given as text)."""

    path: str
    content: str

    def chunks(self) -> Iterator[bytes]:
        yield self.content.encode("utf-8")


@dataclass(frozen=True)
class StoredBlock:
    """A block as a byte range of the file the answer is in: ``start`` is its
    first content line, ``end`` its closing fence."""

    path: str
    source: BinaryIO
    start: int
    end: int

    def chunks(self) -> Iterator[bytes]:
        """The content with every line ending written as ``\\n``."""
        # The last content line always ends with a line break: the closing fence follows it.
        for _, piece, _ in _pieces(self.source, self.start, self.end):
            yield piece[:-2] + b"\n" if piece.endswith(b"\r\n") else piece


@dataclass(frozen=True)
class Answer:
    blocks: list[StoredBlock]
    findings: str


def _pieces(source: BinaryIO, start: int, end: int) -> Iterator[tuple[int, bytes, bool]]:
    """``(offset, piece, starts_a_line)``: lines of ``source[start:end]``, long ones in pieces."""
    source.seek(start)
    position, at_line_start = start, True
    while position < end:
        piece = source.readline(min(MAX_LINE_BYTES, end - position))
        if not piece:
            return
        yield position, piece, at_line_start
        position += len(piece)
        source.seek(position)  # the caller may have read elsewhere in between
        at_line_start = piece.endswith(b"\n")


class _Findings:
    """The prose around the blocks: at most FINDINGS_LIMIT characters, the last ones."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.size = 0

    def add(self, piece: bytes, starts_a_line: bool) -> None:
        text = piece.decode("utf-8", errors="replace").rstrip("\r\n")
        if starts_a_line or not self.lines:
            self.lines.append(text)
            self.size += len(text) + 1
        else:
            longer = (self.lines[-1] + text)[-2 * FINDINGS_LIMIT:]  # one endless line stays bounded too
            self.size += len(longer) - len(self.lines[-1])
            self.lines[-1] = longer
        # Whole lines go once the others hold the last FINDINGS_LIMIT characters without them.
        while len(self.lines) > 1 and self.size - len(self.lines[0]) - 1 >= FINDINGS_LIMIT:
            self.size -= len(self.lines.pop(0)) + 1

    def text(self) -> str:
        return "\n".join(self.lines)[-FINDINGS_LIMIT:].strip()


def scan_answer(source: BinaryIO, start: int, length: int, block_limit: int = BLOCK_LIMIT) -> Answer:
    """The FILE blocks and findings of the answer at ``source[start:start+length]``;
    raises TaskFailure (permanent) for a protocol violation, a block over
    ``block_limit`` bytes or a block that is not UTF-8."""
    end = start + length
    blocks: list[StoredBlock] = []
    findings = _Findings()
    pieces = _pieces(source, start, end)
    for offset, piece, starts_a_line in pieces:
        path = _header_path(piece, offset - start) if starts_a_line else None
        if path is None:
            findings.add(piece, starts_a_line)
            continue
        blocks.append(_read_block(path, pieces, source, end, block_limit))
    return Answer(blocks, findings.text())


def _header_path(piece: bytes, offset: int) -> str | None:
    """The path of a ``FILE:`` header line, or None for any other line."""
    if not HEADER_START.match(piece):
        return None
    if not piece.endswith(b"\n") and len(piece) == MAX_LINE_BYTES:
        raise TaskFailure(f"refused a FILE header at byte {offset} of the answer: path too long", "permanent")
    try:
        line = piece.decode("utf-8")
    except UnicodeDecodeError as error:
        raise TaskFailure(f"refused a FILE header at byte {offset + error.start} of the answer: "
                          "its path is not valid UTF-8", "permanent") from None
    header = FILE_HEADER.match(line.rstrip("\r\n"))
    return header.group("path").strip() if header else None


def _read_block(path: str, pieces: Iterator[tuple[int, bytes, bool]], source: BinaryIO, end: int,
                block_limit: int) -> StoredBlock:
    """Consume the fenced block after ``FILE: path``, checking its size and encoding."""
    fence = None
    for _, piece, starts_a_line in pieces:
        if starts_a_line and not piece.strip():
            continue
        opener = FENCE.match(piece.decode("utf-8", errors="replace")) if starts_a_line else None
        fence = opener.group("fence") if opener else None
        break
    if fence is None:
        raise TaskFailure(f"agent protocol violation: `FILE: {path}` is not followed by a fenced block", "permanent")
    decoder = codecs.getincrementaldecoder("utf-8")()
    content_start = None
    for offset, piece, starts_a_line in pieces:
        if content_start is None:
            content_start = offset
        if starts_a_line and _closes(piece, fence):
            _check_utf8(decoder, b"", True, path, offset - content_start)
            return StoredBlock(path, source, content_start, offset)
        if offset + len(piece) - content_start > block_limit:
            raise TaskFailure(f"refused to write `{path}`: its block is over {format_size(block_limit)}", "permanent")
        _check_utf8(decoder, piece, False, path, offset - content_start)
    raise TaskFailure(f"agent protocol violation: the block of `FILE: {path}` is never closed", "permanent")


def _closes(piece: bytes, fence: str) -> bool:
    line = piece.decode("utf-8", errors="replace").strip()
    closer = FENCE.match(line)
    return bool(closer) and closer.group("fence")[0] == fence[0] and len(closer.group("fence")) >= len(fence) \
        and not line[len(closer.group("fence")):].strip()


def _check_utf8(decoder: codecs.IncrementalDecoder, piece: bytes, final: bool, path: str, offset: int) -> None:
    pending = len(decoder.getstate()[0])  # bytes of a character split across pieces, decoded with this one
    try:
        decoder.decode(piece, final)
    except UnicodeDecodeError as error:
        raise TaskFailure(f"refused to write `{path}`: invalid UTF-8 at byte {offset - pending + error.start} "
                          "of its block", "permanent") from None


def parse_answer(answer: str | bytes) -> tuple[list[FileBlock], str]:
    """FILE blocks (content in memory) and findings of an answer given whole."""
    data = answer.encode("utf-8") if isinstance(answer, str) else answer
    scanned = scan_answer(io.BytesIO(data), 0, len(data), block_limit=max(len(data), 1))
    blocks = [FileBlock(block.path, b"".join(block.chunks()).decode("utf-8")) for block in scanned.blocks]
    return blocks, scanned.findings
