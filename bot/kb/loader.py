"""Read a knowledge directory into entities, reporting every problem at `file:line`."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from bot.kb import schema as s
from bot.kb.checks import RefUse, check_cron, check_timezone
from bot.kb.files import FileRefused, KnowledgeFile, knowledge_files, read_text, single_file
from bot.kb.problems import LeftOut, Problem, Severity
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
#: `#ml-platform` after `key: ` or `- `: a value YAML reads as a comment.
_COMMENT_WORD = re.compile(r"#[^\s#]\S*")


@dataclass
class Loaded:
    """What a directory held: the entities that loaded, and every problem found."""

    entities: list[Entity] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    ref_uses: list[RefUse] = field(default_factory=list)
    files: int = 0
    #: What does not load (an entity with an error, a file that cannot be read), and
    #: where each entity that did not load was written (its reference, when it has one).
    left_out: list[LeftOut] = field(default_factory=list)
    failed: dict[Ref, str] = field(default_factory=dict)


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


def read_file(path: Path) -> Loaded:
    """Load the one knowledge file `path` on its own (references are not resolved)."""
    loaded = Loaded()
    found = single_file(path)
    loaded.files = int(found.real is not None)
    _read_file(found, path.parent, loaded)
    return loaded


def _read_file(found: KnowledgeFile, root: Path, loaded: Loaded) -> None:
    path = found.shown
    shown = str(path)
    try:
        text = read_text(found)
    except FileRefused as exc:
        _unread(loaded, shown, 1, str(exc))
        return
    documents, problem = load_documents(text)
    if problem is not None:
        lost = "the rest of the file" if documents else "the file"
        _unread(loaded, shown, problem.line, f"{problem.message} ({lost} is left out)")
    relative = path.relative_to(root).as_posix()
    comments = _commented(text)
    for document in documents:
        _Document(shown, relative, document.line, document.data, loaded, comments).build()


def _unread(loaded: Loaded, shown: str, line: int, message: str) -> None:
    loaded.problems.append(Problem(file=shown, line=line, severity="error", message=message))
    loaded.left_out.append(LeftOut(file=shown, line=line, problem=message, entity=False))


def _commented(text: str) -> dict[int, str]:
    """The lines whose value may have become a YAML comment, with that `#word`."""
    found: dict[int, str] = {}
    line, counted = 1, 0
    at = text.find("#")
    while at != -1:  # a few '#' in megabytes: look at each rather than scan with a pattern
        word = _COMMENT_WORD.match(text, at)
        before = text[max(0, at - 80) : at]
        stripped = before.rstrip(" \t")
        if word is not None and len(stripped) < len(before) and stripped.endswith((":", "-")):
            line += text.count("\n", counted, at)
            counted = at
            found.setdefault(line, word.group())
        at = text.find("#", at + 1)
    return found


def _quote_hint(error: Mapping[str, Any]) -> str | None:
    """`- Productionise models: feature pipelines` where a string belongs: YAML read a
    mapping of one key; say to quote it."""
    value = error.get("input")
    if error["type"] != "string_type" or not isinstance(value, dict) or len(value) != 1:
        return None
    key, rest = next(iter(value.items()))
    if not isinstance(key, str) or isinstance(rest, (dict, list)):
        return None
    what = "item" if error["loc"] and isinstance(error["loc"][-1], int) else "value"
    if rest is None:
        return f"quote this {what}: it ends with ':', so YAML read it as a mapping"
    return f"quote this {what}: it contains ': ', so YAML read it as a mapping"


def _kind_hint(written: str, specs: Mapping[str, object]) -> str:
    """`Check-in`, `FAQs`, `Practise`: the kind that was probably meant."""
    squashed = re.sub(r"[^a-z]", "", written.lower())
    tries = [squashed, squashed.removesuffix("s"), "person" if squashed == "people" else ""]
    close = difflib.get_close_matches(squashed, list(specs), n=1, cutoff=0.75)
    meant = next((k for k in [*tries, *close] if k in specs), None)
    if meant is not None:
        return f": did you mean {s.KIND_NAMES[meant]}?"
    backstage = next((k for k in tries if k in s.BACKSTAGE_SPECS), None)
    if backstage is not None and specs is s.OPSBOT_SPECS:
        return f": {s.KIND_NAMES[backstage]} is a Backstage kind (apiVersion: {s.BACKSTAGE_API})"
    return ""


class _Document:
    """Turns one YAML document into an entity, or into problems."""

    def __init__(
        self,
        shown: str,
        relative: str,
        line: int,
        data: object,
        out: Loaded,
        comments: Mapping[int, str] | None = None,
    ) -> None:
        self.shown = shown
        self.relative = relative
        self.line = line
        self.data = data
        self.out = out
        self.ok = True
        self.namespace = DEFAULT_NAMESPACE
        self.label = "document"
        self.comments = comments or {}
        #: Lines whose empty value was probably meant: line -> (field, the `#word`).
        self.hints: dict[int, tuple[str, str]] = {}
        self.first_error: Problem | None = None
        self.entity_ref: Ref | None = None
        self.source = Source(file=relative, line=line)

    # -- reporting -----------------------------------------------------------------

    def report(self, line: int, message: str, severity: Severity = "error") -> None:
        if severity == "error":
            self.ok = False
            if line in self.hints:
                message = f"{message}; {_comment_hint(self.hints.pop(line)[1])}"
        problem = Problem(file=self.shown, line=line, severity=severity, message=message)
        if severity == "error" and self.first_error is None:
            self.first_error = problem
        self.out.problems.append(problem)

    def find_commented(self) -> None:
        """Note each empty value on a line where a `#word` follows the key or dash."""
        stack: list[tuple[object, tuple[str | int, ...]]] = [(self.data, ())]
        while stack:
            node, path = stack.pop()
            items: list[tuple[str | int, object, int]]
            if isinstance(node, LDict):
                items = [(k, v, node.key_lines.get(k, 0)) for k, v in node.items()]
            elif isinstance(node, LList):
                items = [(i, v, node.item_lines[i]) for i, v in enumerate(node)]
            else:
                continue
            for key, value, line in items:
                if value is None and line in self.comments:
                    self.hints[line] = (".".join(str(p) for p in (*path, key)), self.comments[line])
                elif isinstance(value, (LDict, LList)):
                    stack.append((value, (*path, key)))

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
                elif err.get("input", ...) is None:
                    message = f"{self.label}: {where} is empty"
                else:
                    message = f"{self.label}: {where}: {_quote_hint(err) or err['msg']}"
                self.report(self.line_of(*loc), message)
            return None

    # -- building ------------------------------------------------------------------

    def build(self) -> None:
        """Add the document's entity, or note it as left out; flag values lost to `#`."""
        if self.comments:
            self.find_commented()
        added = len(self.out.entities)
        self.build_document()
        for line, (path, word) in sorted(self.hints.items()):
            self.report(line, f"{self.label}: {path} is empty; {_comment_hint(word)}", "warning")
        if len(self.out.entities) == added and self.first_error is not None:
            error = self.first_error
            self.out.left_out.append(
                LeftOut(file=error.file, line=error.line, problem=error.message)
            )
            if self.entity_ref is not None:
                self.out.failed.setdefault(self.entity_ref, f"{error.file}:{error.line}")

    def build_document(self) -> None:
        if not isinstance(self.data, LDict):
            self.report(self.line, "a document must be a mapping with apiVersion, kind, metadata")
            return
        self.label = str(self.data.get("kind") or "document")
        meta = self.data.get("metadata")
        if isinstance(meta, dict) and isinstance(meta.get("name"), str):
            self.label = f"{self.label} {meta['name']!r}"
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
            known = ", ".join(s.KIND_NAMES[k] for k in sorted(specs))
            hint = _kind_hint(envelope.kind, specs)
            self.report(
                self.line_of("kind"), f"unknown kind {envelope.kind!r}{hint} (one of {known})"
            )
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
        ref = self.entity_ref = Ref(kind=kind, name=meta.name.lower(), namespace=self.namespace)
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
                source=self.source,
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
                source=self.source,
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
            report_to=_report_targets(raw.report_to),
            platforms=tuple(dict.fromkeys(raw.platforms)),
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


def _comment_hint(word: str) -> str:
    return f'`{word}` starts a YAML comment: quote it ("{word}")'


def _report_targets(raw: str | s.ReportToIn | None) -> tuple[str, ...]:
    """Report channels per platform: a bare string is Slack's, Teams' are `teams:<id>`."""
    if raw is None:
        return ()
    if isinstance(raw, str):
        return (raw,)
    found = [raw.slack] if raw.slack else []
    return (*found, *((f"teams:{raw.teams}",) if raw.teams else ()))
