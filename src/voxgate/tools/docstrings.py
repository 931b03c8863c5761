"""Read a tool's docstring: the first paragraph describes the tool, ``Args:`` describes its parameters.

Google style, the one the standard library's own tooling and most editors render::

    \"\"\"List what is on the menu.

    Anything after the first paragraph is for humans only.

    Args:
        category: Only this category, e.g. "cocktails".
            Continuation lines are joined.
    \"\"\"

Pure text handling, no imports of the tool.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field

_SECTION = re.compile(r"^(\w[\w ]*):\s*$")
_ARG_SECTIONS = frozenset({"args", "arguments", "parameters", "params"})
# "name: text" or "name (type): text"; the type in parentheses is ignored: the hint is the truth.
_ARG = re.compile(r"^(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


@dataclass(frozen=True, slots=True)
class Docstring:
    description: str
    params: dict[str, str] = field(default_factory=dict)


def _join(lines: list[str]) -> str:
    return " ".join(part.strip() for part in lines if part.strip())


def parse_docstring(doc: str | None) -> Docstring:
    if not doc:
        return Docstring("")
    lines = inspect.cleandoc(doc).splitlines()

    first: list[str] = []
    for line in lines:
        if not line.strip() or _SECTION.match(line):
            break
        first.append(line)

    params: dict[str, str] = {}
    in_args = False
    entry_indent: int | None = None
    current: str | None = None
    chunks: dict[str, list[str]] = {}
    for line in lines:
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        section = _SECTION.match(line)
        if section and indent == 0:
            in_args = section.group(1).lower() in _ARG_SECTIONS
            entry_indent, current = None, None
            continue
        if not in_args or not stripped:
            continue
        if indent == 0:  # unindented text ends the section
            in_args = False
            continue
        if entry_indent is None:
            entry_indent = indent
        match = _ARG.match(stripped)
        if indent <= entry_indent and match:
            current = match.group(1).lstrip("*")
            chunks[current] = [match.group(2)]
        elif current is not None:
            chunks[current].append(stripped)
    for name, parts in chunks.items():
        params[name] = _join(parts)
    return Docstring(_join(first), params)
