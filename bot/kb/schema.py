"""The shape of knowledge documents, as pydantic models of the raw YAML.

`opsbot/v1` specs list their fields so unknown ones can be reported; Backstage
specs keep everything they do not use.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Raw(BaseModel):
    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True, frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _null_is_absent_list(cls, value: Any, info: Any) -> Any:
        """`aliases:` with nothing after it means an empty list, not an error."""
        field = cls.model_fields.get(info.field_name)
        if value is None and field is not None and field.default_factory is list:
            return []
        return value


class LinkIn(_Raw):
    url: str
    title: str | None = None
    type: str | None = None


class MetadataIn(_Raw):
    name: str
    namespace: str | None = None
    title: str | None = None
    description: str | None = None
    aliases: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    links: list[LinkIn] = Field(default_factory=list)
    annotations: dict[str, str] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)


class EnvelopeIn(_Raw):
    apiVersion: str
    kind: str
    metadata: MetadataIn
    spec: dict[str, Any] = Field(default_factory=dict)


# --- opsbot/v1 specs -------------------------------------------------------------


class TeamIn(_Raw):
    members: list[str] = Field(default_factory=list)
    lead: str | None = None
    parent: str | None = None
    channel: str | None = None
    teams_channel: str | None = None
    email: str | None = None


class PersonIn(_Raw):
    slack: str | None = None
    teams: str | None = None
    email: str | None = None
    timezone: str | None = None
    member_of: list[str] = Field(default_factory=list)
    roles: list[str] = Field(default_factory=list)


class AreaIn(_Raw):
    owner: str
    backup: str | None = None
    channel: str | None = None
    oncall: str | None = None
    type: str | None = None
    part_of: str | None = None
    reviewed: date | None = None


class PracticeIn(_Raw):
    discipline: str | None = None
    owner: str | None = None
    why: str | None = None
    how: list[str] = Field(default_factory=list)


class RoleIn(_Raw):
    responsibilities: list[str] = Field(default_factory=list)
    skills: list[str] = Field(default_factory=list)
    contact: str | None = None


class TermIn(_Raw):
    see_also: list[str] = Field(default_factory=list)


class FAQIn(_Raw):
    answer: str
    questions: list[str] = Field(default_factory=list)


class QuestionIn(_Raw):
    id: str
    text: str
    type: Literal["choice", "scale", "text"]
    options: list[str] = Field(default_factory=list)
    practice: str | None = None
    required: bool = True
    min: int = 1
    max: int = 5


class ReportToIn(_Raw):
    slack: str | None = None
    teams: str | None = None


class CheckInIn(_Raw):
    schedule: str
    timezone: str = "recipient"
    audience: list[str] = Field(min_length=1)
    questions: list[QuestionIn] = Field(min_length=1)
    remind_after: str | None = None
    close_after: str = "1d"
    #: A Slack channel ("#mlops"), or the channels per platform: {slack: ..., teams: ...}.
    report_to: str | ReportToIn | None = None
    anonymous: bool = False
    #: Where people are nudged, in order of preference (default: Slack, then Teams).
    platforms: list[Literal["slack", "teams"]] = Field(default_factory=list)


OPSBOT_SPECS: dict[str, type[_Raw]] = {
    "team": TeamIn,
    "person": PersonIn,
    "area": AreaIn,
    "practice": PracticeIn,
    "role": RoleIn,
    "term": TermIn,
    "faq": FAQIn,
    "checkin": CheckInIn,
}

# --- backstage.io/v1alpha1 specs --------------------------------------------------


class ProfileIn(_Raw):
    displayName: str | None = None
    email: str | None = None


class GroupIn(_Raw):
    parent: str | None = None
    children: list[str] = Field(default_factory=list)
    members: list[str] = Field(default_factory=list)
    profile: ProfileIn | None = None


class UserIn(_Raw):
    memberOf: list[str] = Field(default_factory=list)
    profile: ProfileIn | None = None


class OwnedIn(_Raw):
    owner: str
    type: str | None = None
    system: str | None = None
    domain: str | None = None
    subcomponentOf: str | None = None
    subdomainOf: str | None = None


BACKSTAGE_SPECS: dict[str, type[_Raw]] = {
    "group": GroupIn,
    "user": UserIn,
    "component": OwnedIn,
    "system": OwnedIn,
    "resource": OwnedIn,
    "api": OwnedIn,
    "domain": OwnedIn,
}

OPSBOT_API = "opsbot/v1"
BACKSTAGE_API = "backstage.io/v1alpha1"

#: Each kind as the documentation writes it, for messages.
KIND_NAMES = {
    "team": "Team",
    "person": "Person",
    "area": "Area",
    "practice": "Practice",
    "role": "Role",
    "term": "Term",
    "faq": "FAQ",
    "checkin": "CheckIn",
    "group": "Group",
    "user": "User",
    "component": "Component",
    "system": "System",
    "resource": "Resource",
    "api": "API",
    "domain": "Domain",
}
