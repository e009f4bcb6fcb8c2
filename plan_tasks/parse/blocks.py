"""Block structure of a Markdown plan, from markdown-it-py's token stream.

This module owns the CommonMark side of parsing: which lines are headings,
which are top-level list items, which paragraphs exist, and which lines are
code (fenced, indented) or raw HTML and so must never yield a phase, a task, a
dependency or a file. Dialect modules read the resulting :class:`Outline` and
never look at tokens themselves.

Only markdown-it's block rules run. Inline parsing (emphasis, links, code
spans) costs a third of markdown-it's time and plan-tasks needs little of it:
``plan_tasks.parse.inline`` reads the few inline constructs that matter
(code spans, ids, paths) from the source lines, which also keeps exact columns
for error messages.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.token import Token


@dataclass(frozen=True)
class Heading:
    level: int
    text: str
    line: int  # 0-based


@dataclass(frozen=True)
class Fence:
    info: str
    content: str
    line: int  # 0-based line of the opening fence


@dataclass(frozen=True)
class ListItem:
    """A list item outside block quotes: top-level (``depth`` 0) or, in an
    outline read with ``nested=True``, nested ``depth`` items deep."""

    lead: str  # the item's first paragraph, as markdown-it gives it
    line: int  # 0-based first line
    end: int  # 0-based line after the item (exclusive)
    fences: tuple[Fence, ...]
    depth: int = 0


@dataclass(frozen=True)
class Paragraph:
    text: str
    line: int  # 0-based


@dataclass
class Outline:
    """Document-order headings, top-level list items and selected paragraphs."""

    lines: list[str]
    blocks: list[Heading | ListItem | Paragraph] = field(default_factory=list)
    code_lines: bytearray = field(default_factory=bytearray)  # 1 = code or HTML line

    def is_code(self, line: int) -> bool:
        return bool(self.code_lines[line])


@lru_cache(maxsize=1)
def _block_parser() -> MarkdownIt:
    parser = MarkdownIt("commonmark")
    parser.disable(["inline", "text_join"])
    return parser


def normalize_newlines(text: str) -> str:
    """CRLF and CR to LF, BOM dropped: line numbers then agree with markdown-it's."""
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def block_tokens(text: str) -> list[Token]:
    """markdown-it's block tokens of newline-normalized ``text`` (no inline rules)."""
    return _block_parser().parse(text)


YAML_KEY = re.compile(r"[\w.-]+[ \t]*:")
FRONT_MATTER_END = re.compile(r"^(?:---|\.\.\.)[ \t]*$", re.MULTILINE)


def blank_front_matter(text: str) -> str:
    """YAML front-matter (``---`` on the first line to the next ``---``) as empty
    lines: it is metadata, never a phase or a task, and line numbers stay put."""
    if not text.startswith("---\n"):
        return text
    end = FRONT_MATTER_END.search(text, 4)
    if end is None or not YAML_KEY.match(text[4 : end.start()].lstrip("\n")):
        return text  # a thematic break, not front-matter: its first line is no `key:`
    return "\n" * text.count("\n", 0, end.end()) + text[end.end():]


def read_outline(
    text: str,
    keep_paragraph: Callable[[str], bool],
    *,
    tokens: list[Token] | None = None,
    nested: bool = False,
) -> Outline:
    """Walk markdown-it's block tokens once; ``text`` must be newline-normalized.

    ``keep_paragraph`` selects which paragraphs (anywhere, nested or not) are
    kept, so that a 10,000-task plan does not allocate one object per line.
    ``tokens`` are the text's block tokens when already computed; ``nested``
    also lists nested items (each one's ``depth``), after their parent.
    """
    if tokens is None:
        tokens = block_tokens(text)
    outline = Outline(lines=text.split("\n"))
    outline.code_lines = bytearray(len(outline.lines) + 1)
    blocks = outline.blocks
    item_depth = 0
    quote_depth = 0
    # Open items, outermost first; a fence belongs to the innermost listed one.
    open_items: list[tuple[int, int, str, list[Fence], int]] = []
    count = len(tokens)
    for index in range(count):
        token = tokens[index]
        kind = token.type
        if kind == "list_item_open":
            if (item_depth == 0 or nested) and quote_depth == 0 and token.map:
                lead = ""
                if index + 2 < count and tokens[index + 1].type == "paragraph_open":
                    lead = tokens[index + 2].content
                open_items.append((token.map[0], token.map[1], lead, [], item_depth))
            item_depth += 1
        elif kind == "list_item_close":
            item_depth -= 1
            if open_items and open_items[-1][4] == item_depth:
                first, end, lead, fences, depth = open_items.pop()
                _insert_item(blocks, ListItem(lead, first, end, tuple(fences), depth), nested)
        elif kind == "heading_open":
            if item_depth == 0 and quote_depth == 0 and token.map:
                blocks.append(Heading(int(token.tag[1]), tokens[index + 1].content, token.map[0]))
        elif kind == "inline":
            if tokens[index - 1].type == "paragraph_open" and keep_paragraph(token.content):
                blocks.append(Paragraph(token.content, token.map[0] if token.map else 0))
        elif kind in ("fence", "code_block", "html_block"):
            if token.map:
                first, end = token.map
                outline.code_lines[first:end] = b"\x01" * (end - first)
                if kind == "fence" and open_items:
                    open_items[-1][3].append(Fence(token.info.strip(), token.content, first))
        elif kind == "blockquote_open":
            quote_depth += 1
        elif kind == "blockquote_close":
            quote_depth -= 1
    return outline


def _insert_item(blocks: list[Heading | ListItem | Paragraph], item: ListItem, nested: bool) -> None:
    """Append a closed item; a nested outline keeps items in document order
    (an item closes after its children, so it goes before them)."""
    if not nested or item.depth == 0 and not blocks:
        blocks.append(item)
        return
    position = len(blocks)
    while position > 0:
        previous = blocks[position - 1]
        if isinstance(previous, ListItem) and previous.line > item.line:
            position -= 1
        elif isinstance(previous, Paragraph) and previous.line > item.line:
            position -= 1
        else:
            break
    blocks.insert(position, item)
