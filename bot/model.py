"""Domain entities of the knowledge base: frozen, keyword-only, stdlib only."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

DEFAULT_NAMESPACE = "default"

#: Kinds that can be owned: opsbot's `Area` and the Backstage kinds kept as they are.
OWNABLE_KINDS = frozenset({"area", "component", "system", "resource", "api", "domain"})
OPSBOT_KINDS = frozenset({"team", "person", "area", "practice", "role", "term", "faq", "checkin"})
ALL_KINDS = OPSBOT_KINDS | OWNABLE_KINDS
#: Backstage spellings read as opsbot kinds.
KIND_SYNONYMS = {"group": "team", "user": "person"}

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
#: A whole number as people and platforms write it: ASCII digits, an optional minus, and
#: short enough for a 64-bit column. (`str.isdigit()` takes "²", and `int()` refuses
#: 5,000 digits: neither is ever handed to `int()` here.)
_WHOLE_NUMBER = re.compile(r"-?[0-9]{1,18}")
#: The largest row id every supported database stores (PostgreSQL `integer`).
MAX_ROW_ID = 2**31 - 1


def whole_number(text: str) -> int | None:
    """`text` as an int when it is a short run of ASCII digits, else None."""
    return int(text) if _WHOLE_NUMBER.fullmatch(text) else None


def row_id(text: str) -> int | None:
    """`text` as a database row id (1 to MAX_ROW_ID), else None."""
    number = whole_number(text)
    return number if number is not None and 1 <= number <= MAX_ROW_ID else None


class RefSyntaxError(ValueError):
    """A reference string is not `kind:name` or `kind:namespace/name`."""


@dataclass(frozen=True, kw_only=True, order=True)
class Ref:
    """A canonical entity reference; names and namespaces are stored lower-case."""

    kind: str
    name: str
    namespace: str = DEFAULT_NAMESPACE

    def __str__(self) -> str:
        if self.namespace == DEFAULT_NAMESPACE:
            return f"{self.kind}:{self.name}"
        return f"{self.kind}:{self.namespace}/{self.name}"

    @classmethod
    def parse(
        cls, text: str, *, default_kind: str, default_namespace: str = DEFAULT_NAMESPACE
    ) -> Ref:
        """Read `kind:name`, `kind:namespace/name`, `namespace/name` or a bare `name`."""
        raw = text.strip()
        kind = default_kind
        if ":" in raw:
            kind, raw = raw.split(":", 1)
            kind = KIND_SYNONYMS.get(kind.strip().lower(), kind.strip().lower())
        namespace = default_namespace
        if "/" in raw:
            namespace, raw = raw.split("/", 1)
        name = raw.strip()
        if kind not in ALL_KINDS:
            raise RefSyntaxError(f"unknown kind {kind!r} in reference {text!r}")
        if not NAME_PATTERN.match(name) or not NAME_PATTERN.match(namespace.strip()):
            raise RefSyntaxError(f"{text!r} is not a valid reference")
        return cls(kind=kind, name=name.lower(), namespace=namespace.strip().lower())


@dataclass(frozen=True, kw_only=True)
class Source:
    """Where an entity was declared."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, kw_only=True)
class Link:
    title: str
    url: str
    type: str | None = None


@dataclass(frozen=True, kw_only=True)
class TeamSpec:
    members: tuple[Ref, ...] = ()
    lead: Ref | None = None
    parent: Ref | None = None
    children: tuple[Ref, ...] = ()
    channel: str | None = None
    teams_channel: str | None = None
    email: str | None = None


@dataclass(frozen=True, kw_only=True)
class PersonSpec:
    slack: str | None = None
    teams: str | None = None
    email: str | None = None
    timezone: str | None = None
    member_of: tuple[Ref, ...] = ()
    roles: tuple[Ref, ...] = ()


@dataclass(frozen=True, kw_only=True)
class OwnableSpec:
    """`Area` and the Backstage ownable kinds (Component, System, Resource, API, Domain)."""

    owner: Ref
    backup: Ref | None = None
    channel: str | None = None
    oncall: str | None = None
    type: str | None = None
    part_of: Ref | None = None
    reviewed: date | None = None


@dataclass(frozen=True, kw_only=True)
class PracticeSpec:
    discipline: str | None = None
    owner: Ref | None = None
    why: str | None = None
    how: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class RoleSpec:
    responsibilities: tuple[str, ...] = ()
    skills: tuple[str, ...] = ()
    contact: Ref | None = None


@dataclass(frozen=True, kw_only=True)
class TermSpec:
    see_also: tuple[Ref, ...] = ()


@dataclass(frozen=True, kw_only=True)
class FAQSpec:
    answer: str
    questions: tuple[str, ...] = ()


QuestionType = Literal["choice", "scale", "text"]


@dataclass(frozen=True, kw_only=True)
class CheckInQuestion:
    id: str
    text: str
    type: QuestionType
    options: tuple[str, ...] = ()
    practice: Ref | None = None
    required: bool = True
    min: int = 1
    max: int = 5


@dataclass(frozen=True, kw_only=True)
class CheckInSpec:
    schedule: str
    timezone: str  # "recipient" or an IANA zone
    audience: tuple[Ref, ...]
    questions: tuple[CheckInQuestion, ...]
    remind_after: timedelta | None = None
    close_after: timedelta = timedelta(days=1)
    #: Where round reports go: a Slack channel ("#mlops"), a Teams channel ("teams:<id>").
    report_to: tuple[str, ...] = ()
    anonymous: bool = False
    #: The platforms people are nudged on, in order of preference; () is Slack, then Teams.
    platforms: tuple[str, ...] = ()


Spec = (
    TeamSpec | PersonSpec | OwnableSpec | PracticeSpec | RoleSpec | TermSpec | FAQSpec | CheckInSpec
)


@dataclass(frozen=True, kw_only=True)
class Entity:
    """One knowledge entity, whatever its kind; `spec` holds the kind's own fields."""

    ref: Ref
    title: str
    spec: Spec
    source: Source
    description: str | None = None
    aliases: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    links: tuple[Link, ...] = ()
    annotations: tuple[tuple[str, str], ...] = field(default=())

    @property
    def kind(self) -> str:
        return self.ref.kind

    @property
    def owner(self) -> Ref | None:
        """The owner of an ownable entity, or the champion of a practice."""
        if isinstance(self.spec, OwnableSpec | PracticeSpec):
            return self.spec.owner
        return None
