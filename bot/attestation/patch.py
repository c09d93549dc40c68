"""A unified diff of the knowledge files from the owners' answers: `reviewed` bumped for
every "yes", `owner` changed for every "no" that named a person or team.

Lines are edited in place, so comments, quoting and layout survive; both block style
(`owner: x` on its own line under `spec:`) and flow style (`spec: {owner: x}`) are read.
What cannot be edited safely is returned as a note instead, for a human.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from bot.model import Entity, Ref

_DOC_START = re.compile(r"^(---|\.\.\.)\s*(#.*)?$")
_SPEC = re.compile(r"^(?P<indent>\s*)spec:\s*(?P<rest>.*)$")
_FLOW_VALUE = r"(?P<value>\"[^\"]*\"|'[^']*'|[^,}\s](?:[^,}]*[^,}\s])?)"


@dataclass(frozen=True, kw_only=True)
class Change:
    """What the answers say about one entity."""

    entity: Entity
    reviewed: date | None = None
    owner: Ref | None = None


@dataclass
class Patch:
    diff: str = ""
    notes: list[str] = field(default_factory=list)


def make_patch(changes: list[Change], files: Mapping[str, str], paths: Mapping[str, str]) -> Patch:
    """The diff of `files` (knowledge file -> its text) after `changes`; `paths` gives each
    file's path as the diff names it (relative to where `git apply` runs)."""
    patch = Patch()
    edited = {name: text.splitlines(keepends=True) for name, text in files.items()}
    # From the bottom of each file up, so an inserted line moves nothing still to edit.
    for change in sorted(changes, key=lambda c: c.entity.source.line, reverse=True):
        lines = edited.get(change.entity.source.file)
        if lines is None:
            patch.notes.append(
                f"{change.entity.source}: file not found; edit {change.entity.ref} by hand"
            )
            continue
        problem = _apply(lines, change)
        if problem:
            patch.notes.append(f"{change.entity.source}: {change.entity.ref}: {problem}")
    for name in sorted(edited):
        before = files[name].splitlines(keepends=True)
        after = edited[name]
        if before != after:
            path = paths[name]
            patch.diff += "".join(
                difflib.unified_diff(before, after, fromfile=f"a/{path}", tofile=f"b/{path}")
            )
    return patch


def _document(lines: list[str], line: int) -> tuple[int, int]:
    """The [start, end) line indexes of the YAML document holding 1-based `line`."""
    start = max(0, min(line - 1, len(lines) - 1))
    while start > 0 and not _DOC_START.match(lines[start - 1].rstrip("\n")):
        start -= 1
    end = start
    while end < len(lines) and not (end > start and _DOC_START.match(lines[end].rstrip("\n"))):
        end += 1
    return start, end


def _apply(lines: list[str], change: Change) -> str | None:
    start, end = _document(lines, change.entity.source.line)
    for i in range(start, end):
        found = _SPEC.match(lines[i].rstrip("\n"))
        if found is None:
            continue
        if found["rest"].startswith("{"):
            return _flow(lines, i, change)
        if found["rest"] and not found["rest"].startswith("#"):
            return "its spec is written in a way this cannot edit"
        return _block(lines, i, end, len(found["indent"]), change)
    return "no spec found"


def _block(lines: list[str], spec: int, end: int, indent: int, change: Change) -> str | None:
    fields: dict[str, int] = {}
    child_indent = None
    for i in range(spec + 1, end):
        text = lines[i].rstrip("\n")
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        own = len(text) - len(text.lstrip())
        if own <= indent:
            break
        if child_indent is None:
            child_indent = own
        if own == child_indent:
            key = text.strip().split(":", 1)[0]
            fields[key] = i
    if "owner" not in fields or child_indent is None:
        return "no owner line under spec"
    if change.owner is not None:
        _replace_value(lines, fields["owner"], str(change.owner))
    if change.reviewed is not None:
        if "reviewed" in fields:
            _replace_value(lines, fields["reviewed"], change.reviewed.isoformat())
        else:
            at = fields["owner"] + 1
            lines.insert(at, f"{' ' * child_indent}reviewed: {change.reviewed.isoformat()}\n")
    return None


_BLOCK_VALUE = re.compile(
    r"^(?P<key>\s*[A-Za-z_]+:\s*)(?P<value>\"[^\"]*\"|'[^']*'|[^#]*?)(?P<tail>\s*(#.*)?)$"
)


def _replace_value(lines: list[str], i: int, value: str) -> None:
    found = _BLOCK_VALUE.match(lines[i].rstrip("\n"))
    assert found is not None
    lines[i] = f"{found['key']}{value}{found['tail']}\n"


def _flow(lines: list[str], i: int, change: Change) -> str | None:
    text = lines[i].rstrip("\n")
    if "}" not in text:
        return "its spec spans several lines in flow style; edit by hand"
    if change.owner is not None:
        text, count = re.subn(
            r"(?P<key>\bowner:\s*)" + _FLOW_VALUE,
            lambda m: f"{m['key']}{change.owner}",
            text,
            count=1,
        )
        if not count:
            return "no owner in its spec"
    if change.reviewed is not None:
        day = change.reviewed.isoformat()
        text, count = re.subn(
            r"(?P<key>\breviewed:\s*)" + _FLOW_VALUE, lambda m: f"{m['key']}{day}", text, count=1
        )
        if not count:
            close = text.rindex("}")
            text = f"{text[:close].rstrip()}, reviewed: {day}{text[close:]}"
    lines[i] = text + "\n"
    return None


def _set_flow(text: str, key: str, value: str) -> tuple[str, int]:
    pattern = rf"(?P<key>\b{key}:\s*){_FLOW_VALUE}"
    return re.subn(pattern, lambda m: f"{m['key']}{value}", text, count=1)
