"""What every plan dialect reads and how it says whether a file is written in it.

A dialect module (``plan_tasks/parse/<dialect>.py``) exposes three names:

* ``NAME``: the dialect's name as ``--format`` and ``show`` spell it;
* ``detect(source) -> Fit | None``: how well the file fits, and why, read
  cheaply (no full parse); None when it plainly does not;
* ``parse(source) -> tuple[Plan, list[Problem]]``: the plan, best effort, and
  every problem found, each with a location.

``plan_tasks.parse`` asks every dialect's ``detect``, parses with the best
fit, and names the closest one (and the line that did not match) when none
fits. A :class:`Source` caches what dialects compute from the text (lines,
markdown-it's block outline), so detection and parsing pay for them once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from markdown_it.token import Token

    from plan_tasks.parse.blocks import Outline


@dataclass(frozen=True)
class Fit:
    """A dialect's answer to "is this file written in you?".

    ``score`` is from 0 (nothing of mine) to 1 (certainly mine); ``reason``
    says why in words a user understands ("14 `- [ ] T001` items under `##
    Phase N:` headings"); ``line`` (1-based) is the first line that looked
    like this dialect but did not match it, for the error when nothing fits.
    """

    score: float
    reason: str
    line: int | None = None


@dataclass
class Source:
    """A plan file's newline-normalized text and its path, with cached views of it."""

    text: str
    path: str
    _lines: list[str] | None = None
    _tokens: list[Token] | None = None
    _outlines: dict[object, Outline] = field(default_factory=dict)
    memo: dict[str, object] = field(default_factory=dict)  # what detection computes once

    @property
    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = self.text.split("\n")
        return self._lines

    @property
    def tokens(self) -> list[Token]:
        """markdown-it's block tokens, parsed once however many dialects read them."""
        if self._tokens is None:
            from plan_tasks.parse.blocks import block_tokens

            self._tokens = block_tokens(self.text)
        return self._tokens

    def outline(self, keep_paragraph: Callable[[str], bool], *, nested: bool = False) -> Outline:
        """markdown-it's block outline, computed once per ``keep_paragraph`` function
        (and ``nested``: whether nested list items are listed too)."""
        key = (keep_paragraph, nested)
        cached = self._outlines.get(key)
        if cached is None:
            from plan_tasks.parse.blocks import read_outline

            cached = read_outline(self.text, keep_paragraph, tokens=self.tokens, nested=nested)
            self._outlines[key] = cached
        return cached

    def is_code(self, line: int) -> bool:
        """Whether 0-based ``line`` is code or HTML, by any outline read so far."""
        for outline in self._outlines.values():
            return outline.is_code(line)
        return False
