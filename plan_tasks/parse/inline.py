"""Inline facts read from a task's source lines: code spans, file paths,
dependency mentions and complexity indicators.

Each reader takes one source line and works on columns of that line, so every
fact keeps an exact ``line:col`` for error messages. Text inside code spans is
data, not prose: ``(depends: 1.1)`` written in backticks documents the syntax
and declares nothing, while a backticked ``src/x.py`` names a file.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass

from plan_tasks.parse.ids import RANGE_PATTERN, TASK_ID

# A code span: a run of backticks, content, the same run again (CommonMark 6.1).
CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)")

KNOWN_EXTENSIONS = frozenset(
    """py pyi js mjs cjs ts tsx jsx json jsonc md mdx rst txt yaml yml toml ini cfg conf env
    sh bash zsh fish ps1 bat go rs java kt kts scala c h cc cpp hpp cs fs rb php pl lua r
    swift m mm dart ex exs erl hs ml clj html htm css scss sass less vue svelte sql graphql
    proto xml csv tsv lock gradle tf hcl dockerfile mk cmake nix zig jl ipynb svg""".split()
)
EXTENSIONLESS_FILES = frozenset(
    "Makefile Dockerfile Justfile Procfile Gemfile Rakefile Jenkinsfile LICENSE README CODEOWNERS".split()
)
DOTFILES = frozenset(".gitignore .gitattributes .env .editorconfig .dockerignore .npmrc .nvmrc .prettierrc .eslintrc".split())
_NOT_IN_PATHS = re.compile(r"[\s()<>=$|\"',;{}*?\[\]!#%^&+]|://")
_LINE_SUFFIX = re.compile(r":\d+(?:[:-]\d+)?$")  # `x.py:42`, `x.py:4:2`, `x.py:147-165`
BARE_PATH = re.compile(
    r"(?<![\w/.@:`-])((?:\.{1,2}/)?(?:[\w@.-]+/)+[\w.-]*\w\.([A-Za-z][A-Za-z0-9]{0,9}))(?![\w/`])"
)
COMPLEXITY = re.compile(r"\b(CRITICAL|HIGH|MEDIUM|LOW)\b")
_ID_LIST = rf"(?:tasks?\s+)?{TASK_ID}(?:\s*(?:-|–|—|\bto\b|\bthrough\b)\s*{TASK_ID})?"
# `depends on 1.2` reads as a dependency; bare `depends`/`dependencies` need a colon,
# so that prose such as "upgrade dependencies 4.17.21" is not one. `_Depends: 1.1_` (cc-sdd's
# italic detail line) counts too.
DEPENDS = re.compile(
    rf"(?:\b|(?<=_))(?:depends\s+on\b[\s:*_]*|(?:depends|dependencies|depends_on)[\s*_]*:[\s:*_]*)"
    rf"(?P<list>{_ID_LIST}(?:\s*(?:,|&|\band\b)\s*{_ID_LIST})*)",
    re.IGNORECASE,
)
FILES_MARKER = re.compile(r"^\s*(?:[-*+]\s+)?\**files?(?:\s+\w+)?\s*:\**\s*:?\s*(?P<rest>.*)$", re.IGNORECASE)
BULLET = re.compile(r"^\s*[-*+]\s+(?P<rest>.*)$")


@dataclass(frozen=True)
class IdMention:
    """``start`` or ``start-end`` as written, with its 0-based column."""

    start: str
    end: str | None
    column: int


def mask_code_spans(line: str) -> tuple[str, list[str]]:
    """The line with code spans blanked (columns kept) and the spans' contents."""
    if "`" not in line:
        return line, []
    spans: list[str] = []

    def blank(match: re.Match[str]) -> str:
        spans.append(match.group(2).strip())
        return " " * len(match.group(0))

    return CODE_SPAN.sub(blank, line), spans


def normalize_path(text: str, *, require_known_extension: bool = False) -> str | None:
    """A repository-relative file path, normalized, or None if ``text`` is not one."""
    candidate = _LINE_SUFFIX.sub("", text.strip().replace("\\", "/"))
    if not candidate or candidate.startswith("-") or _NOT_IN_PATHS.search(candidate):
        return None
    if candidate.endswith("/"):
        return None  # a directory: tasks writing different files in it do not conflict
    basename = candidate.rsplit("/", 1)[-1]
    stem, dot, extension = basename.rpartition(".")
    if dot and stem.strip(".") and extension[:1].isalpha():
        if require_known_extension and extension.lower() not in KNOWN_EXTENSIONS:
            return None
        if "/" not in candidate and extension.lower() not in KNOWN_EXTENSIONS:
            return None  # `e.g`, `v2.final` are words; `setup.py` is a file
    elif basename not in EXTENSIONLESS_FILES and not _is_dotfile(candidate, basename):
        return None
    normalized = posixpath.normpath(candidate)
    return normalized[2:] if normalized.startswith("./") else normalized


def _is_dotfile(candidate: str, basename: str) -> bool:
    """`.gitignore`, `config/.env`: a dotfile is a file when named as one."""
    if not basename.strip("."):
        return False  # `src/..`, `commands/git/...`: a parent directory or an ellipsis
    return basename in DOTFILES or ("/" in candidate and basename.startswith("."))


def paths_in_line(masked: str, spans: list[str]) -> Iterator[str]:
    """Backticked paths, then bare ``dir/file.ext`` paths in the prose."""
    for span in spans:
        path = normalize_path(span)
        if path:
            yield path
    if "/" in masked:
        for match in BARE_PATH.finditer(masked):
            path = normalize_path(match.group(1), require_known_extension=True)
            if path:
                yield path


def files_list_entry(line: str) -> str | None:
    """The path on a line of a ``**Files:**`` list (``- `src/a.py` (new)``)."""
    bullet = BULLET.match(line)
    if not bullet:
        return None
    words = bullet.group("rest").split()
    return normalize_path(words[0].strip("`,")) if words else None


def dependency_mentions(masked: str) -> Iterator[IdMention]:
    """Ids and ranges after ``Depends on:``, ``(depends: ...)``, ``Dependencies:``."""
    if "epend" not in masked:
        return
    for declaration in DEPENDS.finditer(masked):
        offset = declaration.start("list")
        for mention in RANGE_PATTERN.finditer(declaration.group("list")):
            yield IdMention(mention.group("start"), mention.group("end"), offset + mention.start())


COMPLEXITY_ORDER = ("CRITICAL", "HIGH", "MEDIUM", "LOW")  # heaviest first


def highest_complexity(masked: str) -> str | None:
    """The heaviest complexity word on the line (CRITICAL > HIGH > MEDIUM > LOW)."""
    found = COMPLEXITY.findall(masked)
    return min(found, key=COMPLEXITY_ORDER.index) if found else None


def heaviest(candidate: str, current: str | None) -> str:
    """The heavier of two complexity words (``current`` may be unset)."""
    if current is None:
        return candidate
    return min(candidate, current, key=COMPLEXITY_ORDER.index)
