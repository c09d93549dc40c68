"""A unified diff of the knowledge files: `reviewed` and `owner` set under `spec`, and
aliases added under `metadata` (ownership attestation's answers; the gaps digest's
suggestions).

Lines are edited in place, so comments, quoting and layout survive; both block style
(`owner: x` on its own line under `spec:`) and flow style (`spec: {owner: x}`) are read.
What cannot be edited safely is returned as a note instead, for a human.
"""

from __future__ import annotations

import difflib
import json
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
    #: Aliases to add (each written as a JSON string: a YAML scalar whatever it holds).
    aliases: tuple[str, ...] = ()


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
    if change.aliases:
        problem = _add_aliases(lines, start, end, change.aliases)
        if problem or (change.owner is None and change.reviewed is None):
            return problem
        start, end = _document(lines, change.entity.source.line)
    return _edit_spec(lines, start, end, change)


def _edit_spec(lines: list[str], start: int, end: int, change: Change) -> str | None:
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


def _children(
    lines: list[str], parent: int, end: int, indent: int
) -> tuple[dict[str, int], int | None, int]:
    """The keys under the block mapping at line `parent` (key -> line), their indent, and
    the line after the block's last line."""
    fields: dict[str, int] = {}
    child_indent = None
    last = parent
    for i in range(parent + 1, end):
        text = lines[i].rstrip("\n")
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        own = len(text) - len(text.lstrip())
        if own <= indent:
            break
        last = i
        if child_indent is None:
            child_indent = own
        if own == child_indent:
            fields[text.strip().split(":", 1)[0]] = i
    return fields, child_indent, last + 1


def _block(lines: list[str], spec: int, end: int, indent: int, change: Change) -> str | None:
    fields, child_indent, _ = _children(lines, spec, end, indent)
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


_METADATA = re.compile(r"^(?P<indent>\s*)metadata:\s*(?P<rest>.*)$")
_FLOW_LIST = re.compile(r"(?P<key>\baliases:\s*)\[(?P<items>[^\[\]]*)\]")


def _add_aliases(lines: list[str], start: int, end: int, aliases: tuple[str, ...]) -> str | None:
    new = ", ".join(json.dumps(a, ensure_ascii=False) for a in aliases)
    for i in range(start, end):
        found = _METADATA.match(lines[i].rstrip("\n"))
        if found is None:
            continue
        rest = found["rest"]
        if rest.startswith("{"):
            return _flow_aliases(lines, i, new)
        if rest and not rest.startswith("#"):
            return "its metadata is written in a way this cannot edit"
        return _block_aliases(lines, i, end, len(found["indent"]), aliases, new)
    return "no metadata found"


def _flow_aliases(lines: list[str], i: int, new: str) -> str | None:
    text = lines[i].rstrip("\n")
    if "}" not in text:
        return "its metadata spans several lines in flow style; edit by hand"
    listed = _FLOW_LIST.search(text)
    if listed is not None:
        items = listed["items"].strip()
        joined = f"{items}, {new}" if items else new
        text = f"{text[: listed.start()]}{listed['key']}[{joined}]{text[listed.end() :]}"
    elif "aliases:" in text:
        return "its aliases are written in a way this cannot edit"
    else:
        close = text.rindex("}")
        text = f"{text[:close].rstrip()}, aliases: [{new}]{text[close:]}"
    lines[i] = text + "\n"
    return None


def _block_aliases(
    lines: list[str], meta: int, end: int, indent: int, aliases: tuple[str, ...], new: str
) -> str | None:
    fields, child_indent, after = _children(lines, meta, end, indent)
    if child_indent is None:
        return "its metadata is empty"
    pad = " " * child_indent
    at = fields.get("aliases")
    if at is None:
        lines.insert(after, f"{pad}aliases: [{new}]\n")
        return None
    text = lines[at].rstrip("\n")
    listed = _FLOW_LIST.search(text)
    if listed is not None:
        items = listed["items"].strip()
        joined = f"{items}, {new}" if items else new
        lines[at] = f"{text[: listed.start()]}{listed['key']}[{joined}]{text[listed.end() :]}\n"
        return None
    if text.split(":", 1)[1].split("#", 1)[0].strip():
        return "its aliases are written in a way this cannot edit"
    # A block list: the items follow, at any deeper indent (or, YAML allows, the same).
    last, item_pad = at, None
    for i in range(at + 1, end):
        item = lines[i].rstrip("\n")
        stripped = item.lstrip()
        if not stripped or stripped.startswith("#"):
            continue
        if not stripped.startswith("- ") or len(item) - len(stripped) < child_indent:
            break
        last, item_pad = i, item[: len(item) - len(stripped)]
    if item_pad is None:
        return "its aliases are written in a way this cannot edit"
    for offset, alias in enumerate(aliases, start=1):
        lines.insert(last + offset, f"{item_pad}- {json.dumps(alias, ensure_ascii=False)}\n")
    return None
