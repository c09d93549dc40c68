"""Safe YAML loading with YAML 1.2 booleans and the line of every key and item."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

_BOOL_TAG = "tag:yaml.org,2002:bool"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"

_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LDict(dict[Any, Any]):
    """A mapping that remembers its own line and the line of each key (1-based)."""

    line: int = 0
    key_lines: dict[Any, int]


class LList(list[Any]):
    """A sequence that remembers its own line and the line of each item (1-based)."""

    line: int = 0
    item_lines: list[int]


class _Loader(_Base):  # type: ignore[valid-type,misc]
    """SafeLoader with YAML 1.2 booleans (`yes`/`no`/`on`/`off` stay strings)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != _BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _construct_map(loader: yaml.SafeLoader, node: yaml.MappingNode) -> Iterator[LDict]:
    data = LDict()
    data.line = node.start_mark.line + 1
    data.key_lines = {}
    yield data
    explicit = sum(1 for key_node, _ in node.value if key_node.tag != _MERGE_TAG)
    loader.flatten_mapping(node)
    merged = len(node.value) - explicit  # pairs brought in by `<<` come first
    seen: set[Any] = set()
    for index, (key_node, value_node) in enumerate(node.value):
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value", key_node.start_mark
            ) from None
        if index >= merged:
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        data[key] = loader.construct_object(value_node, deep=True)
        data.key_lines[key] = key_node.start_mark.line + 1


def _construct_seq(loader: yaml.SafeLoader, node: yaml.SequenceNode) -> Iterator[LList]:
    data = LList()
    data.line = node.start_mark.line + 1
    data.item_lines = []
    yield data
    for child in node.value:
        data.append(loader.construct_object(child, deep=True))
        data.item_lines.append(child.start_mark.line + 1)


_Loader.add_constructor(_MAP_TAG, _construct_map)
_Loader.add_constructor(_SEQ_TAG, _construct_seq)


@dataclass(frozen=True, kw_only=True)
class YamlProblem:
    line: int
    message: str


@dataclass(frozen=True, kw_only=True)
class YamlDocument:
    line: int
    data: object


def load_documents(text: str) -> tuple[list[YamlDocument], YamlProblem | None]:
    """Every non-empty document of `text`, and the first syntax problem if any.

    Documents before a problem are kept; the rest of the stream is not read.
    """
    documents: list[YamlDocument] = []
    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            data = loader.construct_document(node)
            if data is not None:
                documents.append(YamlDocument(line=node.start_mark.line + 1, data=data))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        return documents, YamlProblem(line=line, message=_describe(exc))
    except yaml.YAMLError as exc:
        return documents, YamlProblem(line=1, message=f"malformed YAML: {exc}")
    finally:
        loader.dispose()
    return documents, None


def _describe(exc: yaml.MarkedYAMLError) -> str:
    context = exc.context
    if context and exc.context_mark is not None and exc.context_mark != exc.problem_mark:
        context = f"{context} started on line {exc.context_mark.line + 1}"
    parts = [p for p in (context, exc.problem) if p]
    message = "; ".join(parts) or "malformed YAML"
    if "could not determine a constructor for the tag" in message:
        return f"malformed YAML: custom tags are not allowed ({message})"
    if "mapping values are not allowed" in message:
        # `description: Owner: the platform team`: the second ': ' starts a mapping.
        return f"malformed YAML: {message}: quote this value: it contains ': '"
    return f"malformed YAML: {message}"
