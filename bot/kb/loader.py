"""Read a knowledge directory into entities, reporting every problem at `file:line`."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from bot.kb import schema as s
from bot.kb.checks import RefUse, check_cron, check_timezone
from bot.kb.files import FileRefused, KnowledgeFile, knowledge_files, read_text
from bot.kb.problems import Problem, Severity
from bot.kb.yamlio import LDict, LList, load_documents
from bot.model import (
    DEFAULT_NAMESPACE,
    KIND_SYNONYMS,
    NAME_PATTERN,
    OPSBOT_KINDS,
    OWNABLE_KINDS,
    CheckInQuestion,
    CheckInSpec,
    Entity,
    FAQSpec,
    Link,
    OwnableSpec,
    PersonSpec,
    PracticeSpec,
    Ref,
    RefSyntaxError,
    RoleSpec,
    Source,
    Spec,
    TeamSpec,
    TermSpec,
)

M = TypeVar("M", bound=BaseModel)

_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_PARTY = ("team", "person")
_BACKSTAGE_PART_OF = {"system": "system", "domain": "domain", "subcomponentOf": "component"}


@dataclass
class Loaded:
    """What a directory held: the entities that loaded, and every problem found."""

    entities: list[Entity] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    ref_uses: list[RefUse] = field(default_factory=list)
    files: int = 0


def read_directory(root: Path) -> Loaded:
    """Load every knowledge file below `root` (which must be a directory)."""
    loaded = Loaded()
    if not root.is_dir():
        loaded.problems.append(
            Problem(file=str(root), line=0, severity="error", message="not a directory")
        )
        return loaded
    for found in knowledge_files(root):
        if found.real is not None:
            loaded.files += 1
        _read_file(found, root, loaded)
    return loaded


def _read_file(found: KnowledgeFile, root: Path, loaded: Loaded) -> None:
    path = found.shown
    shown = str(path)
    try:
        text = read_text(found)
    except FileRefused as exc:
        loaded.problems.append(Problem(file=shown, line=1, severity="error", message=str(exc)))
        return
    documents, problem = load_documents(text)
    if problem is not None:
        loaded.problems.append(
            Problem(file=shown, line=problem.line, severity="error", message=problem.message)
        )
    relative = path.relative_to(root).as_posix()
    for document in documents:
        _Document(shown, relative, document.line, document.data, loaded).build()


class _Document:
    """Turns one YAML document into an entity, or into problems."""

    def __init__(self, shown: str, relative: str, line: int, data: object, out: Loaded) -> None:
        self.shown = shown
        self.relative = relative
        self.line = line
        self.data = data
        self.out = out
        self.ok = True
        self.namespace = DEFAULT_NAMESPACE
        self.label = "document"

    # -- reporting -----------------------------------------------------------------

    def report(self, line: int, message: str, severity: Severity = "error") -> None:
        if severity == "error":
            self.ok = False
        self.out.problems.append(
            Problem(file=self.shown, line=line, severity=severity, message=message)
        )

    def line_of(self, *path: str | int) -> int:
        """The line of the deepest part of `path` that exists in the document."""
        node: Any = self.data
        line = self.line
        for key in path:
            if isinstance(node, LDict) and key in node:
                line = node.key_lines.get(key, line)
                node = node[key]
            elif isinstance(node, LList) and isinstance(key, int) and 0 <= key < len(node):
                line = node.item_lines[key]
                node = node[key]
            else:
                break
        return line

    def parse(self, model: type[M], data: object, *prefix: str) -> M | None:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            for err in exc.errors():
                loc = (*prefix, *err["loc"])
                where = ".".join(str(p) for p in loc)
                if err["type"] == "missing":
                    message = f"{self.label}: {where} is required"
                else:
                    message = f"{self.label}: {where}: {err['msg']}"
                self.report(self.line_of(*loc), message)
            return None

    # -- building ------------------------------------------------------------------

    def build(self) -> None:
        if not isinstance(self.data, LDict):
            self.report(self.line, "a document must be a mapping with apiVersion, kind, metadata")
            return
        self.label = str(self.data.get("kind") or "document")
        envelope = self.parse(s.EnvelopeIn, self.data)
        if envelope is None:
            return
        kind = envelope.kind.strip().lower()
        self.label = f"{envelope.kind} {envelope.metadata.name!r}"
        if envelope.apiVersion == s.OPSBOT_API:
            specs = s.OPSBOT_SPECS
        elif envelope.apiVersion == s.BACKSTAGE_API:
            specs = s.BACKSTAGE_SPECS
            if kind not in specs:
                self.report(
                    self.line_of("kind"),
                    f"skipped Backstage {envelope.kind} {envelope.metadata.name!r}",
                    "note",
                )
                return
        else:
            self.report(
                self.line_of("apiVersion"),
                f"unknown apiVersion {envelope.apiVersion!r} "
                f"(expected {s.OPSBOT_API} or {s.BACKSTAGE_API})",
            )
            return
        if kind not in specs:
            known = ", ".join(sorted(k.title() for k in specs))
            self.report(self.line_of("kind"), f"unknown kind {envelope.kind!r} (one of {known})")
            return
        self.build_entity(envelope, KIND_SYNONYMS.get(kind, kind), specs[kind])

    def build_entity(self, envelope: s.EnvelopeIn, kind: str, model: type[BaseModel]) -> None:
        meta = envelope.metadata
        for field_name, value in (("name", meta.name), ("namespace", meta.namespace)):
            if value is not None and not NAME_PATTERN.match(value):
                self.report(
                    self.line_of("metadata", field_name),
                    f"{self.label}: bad {field_name} {value!r}: use 1-63 letters, digits, "
                    "'-', '_' or '.', starting with a letter or digit",
                )
        if not self.ok:
            return
        self.namespace = (meta.namespace or DEFAULT_NAMESPACE).lower()
        ref = Ref(kind=kind, name=meta.name.lower(), namespace=self.namespace)
        raw = self.parse(model, envelope.spec, "spec")
        if raw is None:
            return
        if envelope.apiVersion == s.OPSBOT_API:
            for extra in sorted(raw.model_extra or {}):
                self.report(
                    self.line_of("spec", extra),
                    f"{self.label}: unknown field spec.{extra} (ignored)",
                    "warning",
                )
        title = meta.title
        profile = getattr(raw, "profile", None)
        if title is None and isinstance(profile, s.ProfileIn):
            title = profile.displayName
        spec = self.spec_of(kind, raw)
        if spec is None or not self.ok:
            return
        self.out.entities.append(
            Entity(
                ref=ref,
                title=(title or meta.name).strip(),
                spec=spec,
                source=Source(file=self.relative, line=self.line),
                description=meta.description,
                aliases=tuple(a.strip() for a in meta.aliases if a.strip()),
                tags=tuple(meta.tags),
                links=tuple(
                    Link(title=link.title or link.type or link.url, url=link.url, type=link.type)
                    for link in meta.links
                ),
                annotations=tuple(sorted({**meta.labels, **meta.annotations}.items())),
            )
        )

    def spec_of(self, kind: str, raw: BaseModel) -> Spec | None:
        builder: Callable[[Any], Spec | None] = getattr(self, f"_{type(raw).__name__}")
        return builder(raw)

    # -- references ----------------------------------------------------------------

    def ref(self, text: str | None, kinds: Sequence[str], *path: str | int) -> Ref | None:
        if text is None:
            return None
        line = self.line_of("spec", *path)
        where = ".".join(str(p) for p in ("spec", *path))
        try:
            ref = Ref.parse(text, default_kind=kinds[0], default_namespace=self.namespace)
        except RefSyntaxError as exc:
            self.report(line, f"{self.label}: {where}: {exc}")
            return None
        self.out.ref_uses.append(
            RefUse(
                ref=ref,
                kinds=tuple(kinds),
                file=self.shown,
                line=line,
                where=f"{self.label}: {where}",
            )
        )
        return ref

    def refs(self, texts: list[str], kinds: Sequence[str], name: str) -> tuple[Ref, ...]:
        found = (self.ref(t, kinds, name, i) for i, t in enumerate(texts))
        return tuple(r for r in found if r is not None)

    # -- opsbot/v1 -----------------------------------------------------------------

    def _TeamIn(self, raw: s.TeamIn) -> Spec:
        return TeamSpec(
            members=self.refs(raw.members, ["person"], "members"),
            lead=self.ref(raw.lead, ["person"], "lead"),
            parent=self.ref(raw.parent, ["team"], "parent"),
            channel=raw.channel,
            teams_channel=raw.teams_channel,
            email=raw.email,
        )

    def _PersonIn(self, raw: s.PersonIn) -> Spec:
        if raw.timezone is not None:
            self.check(check_timezone(raw.timezone), "timezone")
        return PersonSpec(
            slack=raw.slack,
            teams=raw.teams,
            email=raw.email,
            timezone=raw.timezone,
            member_of=self.refs(raw.member_of, ["team"], "member_of"),
            roles=self.refs(raw.roles, ["role"], "roles"),
        )

    def _AreaIn(self, raw: s.AreaIn) -> Spec | None:
        owner = self.ref(raw.owner, _PARTY, "owner")
        if owner is None:
            return None
        return OwnableSpec(
            owner=owner,
            backup=self.ref(raw.backup, _PARTY, "backup"),
            channel=raw.channel,
            oncall=raw.oncall,
            type=raw.type,
            part_of=self.ref(raw.part_of, ["area", *sorted(OWNABLE_KINDS - {"area"})], "part_of"),
            reviewed=raw.reviewed,
        )

    def _PracticeIn(self, raw: s.PracticeIn) -> Spec:
        return PracticeSpec(
            discipline=raw.discipline,
            owner=self.ref(raw.owner, _PARTY, "owner"),
            why=raw.why,
            how=tuple(raw.how),
        )

    def _RoleIn(self, raw: s.RoleIn) -> Spec:
        return RoleSpec(
            responsibilities=tuple(raw.responsibilities),
            skills=tuple(raw.skills),
            contact=self.ref(raw.contact, _PARTY, "contact"),
        )

    def _TermIn(self, raw: s.TermIn) -> Spec:
        any_kind = ["term", *sorted(OPSBOT_KINDS | OWNABLE_KINDS - {"term"})]
        return TermSpec(see_also=self.refs(raw.see_also, any_kind, "see_also"))

    def _FAQIn(self, raw: s.FAQIn) -> Spec:
        return FAQSpec(answer=raw.answer, questions=tuple(raw.questions))

    def _CheckInIn(self, raw: s.CheckInIn) -> Spec | None:
        self.check(check_cron(raw.schedule), "schedule")
        if raw.timezone != "recipient":
            self.check(check_timezone(raw.timezone), "timezone")
        questions = tuple(self.question(q, i) for i, q in enumerate(raw.questions))
        seen: set[str] = set()
        for i, question in enumerate(questions):
            if question.id in seen:
                self.report(
                    self.line_of("spec", "questions", i, "id"),
                    f"{self.label}: duplicate question id {question.id!r}",
                )
            seen.add(question.id)
        remind_after = self.duration(raw.remind_after, "remind_after")
        close_after = self.duration(raw.close_after, "close_after")
        if close_after is None:
            return None
        if remind_after is not None and remind_after >= close_after:
            self.report(
                self.line_of("spec", "remind_after"),
                f"{self.label}: remind_after must be shorter than close_after",
            )
        return CheckInSpec(
            schedule=raw.schedule,
            timezone=raw.timezone,
            audience=self.refs(raw.audience, _PARTY, "audience"),
            questions=questions,
            remind_after=remind_after,
            close_after=close_after,
            report_to=raw.report_to,
            anonymous=raw.anonymous,
        )

    def question(self, raw: s.QuestionIn, index: int) -> CheckInQuestion:
        path = ("questions", index)
        if raw.type == "choice" and not raw.options:
            self.report(
                self.line_of("spec", *path),
                f"{self.label}: choice question {raw.id!r} has no options",
            )
        if raw.type == "scale" and raw.min >= raw.max:
            self.report(
                self.line_of("spec", *path, "min"),
                f"{self.label}: scale question {raw.id!r} needs min < max",
            )
        return CheckInQuestion(
            id=raw.id,
            text=raw.text,
            type=raw.type,
            options=tuple(raw.options),
            practice=self.ref(raw.practice, ["practice"], *path, "practice"),
            required=raw.required,
            min=raw.min,
            max=raw.max,
        )

    def duration(self, text: str | None, name: str) -> timedelta | None:
        if text is None:
            return None
        match = _DURATION.match(text.strip())
        if match is None or int(match.group(1)) == 0:
            self.report(
                self.line_of("spec", name),
                f"{self.label}: spec.{name}: bad duration {text!r} "
                "(a whole number with s, m, h or d, e.g. 4h)",
            )
            return None
        return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})

    def check(self, problem: str | None, name: str) -> None:
        if problem is not None:
            self.report(self.line_of("spec", name), f"{self.label}: spec.{name}: {problem}")

    # -- backstage.io/v1alpha1 -----------------------------------------------------

    def _GroupIn(self, raw: s.GroupIn) -> Spec:
        return TeamSpec(
            members=self.refs(raw.members, ["person"], "members"),
            parent=self.ref(raw.parent, ["team"], "parent"),
            children=self.refs(raw.children, ["team"], "children"),
            email=raw.profile.email if raw.profile else None,
        )

    def _UserIn(self, raw: s.UserIn) -> Spec:
        return PersonSpec(
            email=raw.profile.email if raw.profile else None,
            member_of=self.refs(raw.memberOf, ["team"], "memberOf"),
        )

    def _OwnedIn(self, raw: s.OwnedIn) -> Spec | None:
        owner = self.ref(raw.owner, _PARTY, "owner")
        if owner is None:
            return None
        part_of = None
        for field_name, kind in (*_BACKSTAGE_PART_OF.items(), ("subdomainOf", "domain")):
            value = getattr(raw, field_name)
            if value is not None and part_of is None:
                part_of = self.ref(value, [kind], field_name)
        return OwnableSpec(owner=owner, type=raw.type, part_of=part_of)
