"""Loading and validating knowledge: the contract of knowledge-format.md."""

from __future__ import annotations

import textwrap
from datetime import date, timedelta
from pathlib import Path

import pytest

from bot.errors import KnowledgeError
from bot.kb import LoadResult, load_knowledge, require_knowledge
from bot.model import CheckInSpec, OwnableSpec, PersonSpec, Ref, TeamSpec

DATA = Path(__file__).parent / "data"
TODAY = date(2026, 11, 29)

TEAM = """\
apiVersion: opsbot/v1
kind: Team
metadata:
  name: ml-platform
  title: ML Platform
spec:
  channel: "#ml-platform"
  members: [alice]
"""
ALICE = """\
apiVersion: opsbot/v1
kind: Person
metadata:
  name: alice
  title: Alice Chen
spec:
  timezone: Europe/London
"""
BOB = """\
apiVersion: opsbot/v1
kind: Person
metadata:
  name: bob
spec:
  member_of: [team:ml-platform]
"""


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def load(tmp_path: Path, **files: str) -> LoadResult:
    base = {"team.yaml": TEAM, "people.yaml": ALICE + "---\n" + BOB}
    return load_knowledge(write(tmp_path, base | files), today=TODAY)


def messages(result: LoadResult) -> list[str]:
    return [str(p) for p in result.problems]


def area(name: str = "feature-store", **spec: str) -> str:
    body = "".join(f"  {k}: {v}\n" for k, v in ({"owner": "team:ml-platform"} | spec).items())
    return (
        f"apiVersion: opsbot/v1\nkind: Area\nmetadata:\n  name: {name}\n"
        f"  aliases: [feast]\nspec:\n{body}"
    )


def test_valid_files_load_without_problems(tmp_path: Path) -> None:
    """A small valid knowledge base loads with no errors, warnings or notes."""
    result = load(tmp_path, **{"areas/fs.yml": area()})
    assert result.problems == []
    assert len(result.knowledge) == 4
    assert result.files == 3


def test_membership_is_merged_from_both_sides(tmp_path: Path) -> None:
    """Members declared on the team and on the person both count, and teams_of mirrors it."""
    knowledge = load(tmp_path).knowledge
    team = Ref(kind="team", name="ml-platform")
    assert knowledge.members[team] == (
        Ref(kind="person", name="alice"),
        Ref(kind="person", name="bob"),
    )
    assert knowledge.teams_of[Ref(kind="person", name="bob")] == (team,)


def test_references_are_canonical_and_case_insensitive(tmp_path: Path) -> None:
    """`Group:ML-Platform` resolves to team:ml-platform; the owner indexes the area."""
    result = load(tmp_path, **{"a.yaml": area(owner="Group:ML-Platform", backup="user:Alice")})
    assert result.errors == []
    entity = result.knowledge.entities[Ref(kind="area", name="feature-store")]
    assert isinstance(entity.spec, OwnableSpec)
    assert str(entity.spec.owner) == "team:ml-platform"
    assert str(entity.spec.backup) == "person:alice"
    assert result.knowledge.owned_by[Ref(kind="team", name="ml-platform")] == (entity.ref,)


def test_yaml_12_booleans(tmp_path: Path) -> None:
    """`Yes`, `No`, `On` and `Off` stay strings; only true/false are booleans."""
    checkin = """\
    apiVersion: opsbot/v1
    kind: CheckIn
    metadata: {name: weekly}
    spec:
      schedule: "0 10 * * MON"
      audience: [team:ml-platform]
      anonymous: true
      questions:
        - {id: q1, text: Did you?, type: choice, options: [Yes, Partly, No, On, Off]}
    """
    result = load(tmp_path, **{"c.yaml": checkin})
    assert result.errors == []
    entity = result.knowledge.entities[Ref(kind="checkin", name="weekly")]
    assert isinstance(entity.spec, CheckInSpec)
    assert entity.spec.questions[0].options == ("Yes", "Partly", "No", "On", "Off")
    assert entity.spec.anonymous is True
    assert entity.spec.close_after == timedelta(days=1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "kind: [unclosed\n",
            "bad.yaml:2: error: malformed YAML: while parsing a flow sequence started on line 1",
        ),
        ("a: 1\na: 2\n", "bad.yaml:2: error: malformed YAML: duplicate key 'a'"),
        ("a: !!python/object:os.system x\n", "bad.yaml:1: error: malformed YAML: custom tags"),
        ("a: !secret x\n", "bad.yaml:1: error: malformed YAML: custom tags are not allowed"),
        ("- just\n- a list\n", "bad.yaml:1: error: a document must be a mapping"),
        (
            "apiVersion: opsbot/v2\nkind: Team\nmetadata: {name: x}\n",
            "bad.yaml:1: error: unknown apiVersion 'opsbot/v2'",
        ),
        (
            "apiVersion: opsbot/v1\nkind: Robot\nmetadata: {name: x}\n",
            "bad.yaml:2: error: unknown kind 'Robot'",
        ),
        ("apiVersion: opsbot/v1\nkind: Team\n", "bad.yaml:1: error: Team: metadata is required"),
        (
            "apiVersion: opsbot/v1\nkind: Team\nmetadata:\n  name: -bad name\n",
            "bad.yaml:4: error: Team '-bad name': bad name",
        ),
        (
            "apiVersion: opsbot/v1\nkind: Area\nmetadata:\n  name: x\nspec:\n  type: svc\n",
            "bad.yaml:5: error: Area 'x': spec.owner is required",
        ),
        (
            "apiVersion: opsbot/v1\nkind: FAQ\nmetadata:\n  name: x\nspec:\n  questions: [a]\n",
            "bad.yaml:5: error: FAQ 'x': spec.answer is required",
        ),
    ],
)
def test_bad_documents_get_a_precise_error(tmp_path: Path, text: str, expected: str) -> None:
    """Each kind of malformed document is reported at file:line, never as a traceback."""
    result = load(tmp_path, **{"bad.yaml": text})
    found = [m for m in messages(result) if "bad.yaml" in m]
    assert len(found) == 1, found
    assert found[0].startswith(
        str(tmp_path / expected.split(":", 1)[0]) + ":" + expected.split(":", 1)[1]
    )


def test_documents_before_a_syntax_error_still_load(tmp_path: Path) -> None:
    """A syntax error loses only the rest of its own file."""
    text = area() + "---\nkind: [oops\n"
    result = load(tmp_path, **{"a.yaml": text})
    assert Ref(kind="area", name="feature-store") in result.knowledge.entities
    assert [p.line for p in result.errors] == [10]


def test_dangling_reference(tmp_path: Path) -> None:
    """A reference to a missing entity names the field, the reference and its line."""
    result = load(tmp_path, **{"a.yaml": area(owner="team:nobody")})
    assert messages(result) == [
        f"{tmp_path / 'a.yaml'}:7: error: "
        "Area 'feature-store': spec.owner: team:nobody does not exist"
    ]


def test_reference_of_the_wrong_kind(tmp_path: Path) -> None:
    """An owner must be a team or a person."""
    result = load(tmp_path, **{"a.yaml": area(owner="role:ml-engineer")})
    assert "spec.owner: role:ml-engineer is a role, expected team or person" in messages(result)[0]


def test_duplicate_names_case_insensitively(tmp_path: Path) -> None:
    """Two entities of one kind and name: the second is an error pointing at the first."""
    result = load(tmp_path, **{"a.yaml": area(), "b.yaml": area(name="Feature-Store")})
    assert [str(p) for p in result.errors] == [
        f"{tmp_path / 'b.yaml'}:1: error: duplicate area:feature-store "
        f"(first defined at {tmp_path / 'a.yaml'}:1)"
    ]


def test_same_name_in_two_kinds_is_fine(tmp_path: Path) -> None:
    """Names are unique within a kind, not across kinds."""
    term = "apiVersion: opsbot/v1\nkind: Term\nmetadata: {name: ml-platform}\n"
    assert load(tmp_path, **{"t.yaml": term}).errors == []


@pytest.mark.parametrize(
    ("schedule", "timezone", "message"),
    [
        ("0 10 * * MON *", "UTC", "bad cron '0 10 * * MON *': expected 5 fields"),
        ("61 10 * * MON", "UTC", "bad cron '61 10 * * MON'"),
        ("0 10 * * FUNDAY", "UTC", "bad cron"),
        ("0 10 * * MON", "Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
        ("0 10 * * MON", "../../etc/passwd", "unknown time zone"),
    ],
)
def test_bad_cron_and_time_zone(tmp_path: Path, schedule: str, timezone: str, message: str) -> None:
    """Invalid cron expressions and time zones are errors on their own line."""
    checkin = f"""\
    apiVersion: opsbot/v1
    kind: CheckIn
    metadata: {{name: weekly}}
    spec:
      schedule: "{schedule}"
      timezone: "{timezone}"
      audience: [team:ml-platform]
      questions: [{{id: q, text: ok?, type: scale}}]
    """
    result = load(tmp_path, **{"c.yaml": checkin})
    assert len(result.errors) == 1
    assert message in result.errors[0].message
    line = 5 if "cron" in message else 6
    assert result.errors[0].line == line


def test_person_time_zone_is_checked(tmp_path: Path) -> None:
    """A person's time zone must be an IANA name."""
    bad = ALICE.replace("Europe/London", "GMT+25")
    result = load_knowledge(write(tmp_path, {"p.yaml": bad}), today=TODAY)
    assert [p.line for p in result.errors] == [7]


def test_checkin_rules(tmp_path: Path) -> None:
    """A choice question needs options, ids are unique, durations are well-formed."""
    checkin = """\
    apiVersion: opsbot/v1
    kind: CheckIn
    metadata: {name: weekly}
    spec:
      schedule: "0 10 * * MON"
      audience: [team:ml-platform, person:nobody]
      remind_after: 4 hours
      questions:
        - {id: q, text: ok?, type: choice}
        - {id: q, text: again?, type: text}
        - {id: r, text: how?, type: vibes}
    """
    result = load(tmp_path, **{"c.yaml": checkin})
    found = messages(result)
    assert len(found) == 1  # the unknown question type stops the document early
    assert "spec.questions.2.type" in found[0]
    fixed = checkin.replace("type: vibes", "type: scale")
    result = load(tmp_path, **{"c.yaml": fixed})
    text = "\n".join(messages(result))
    assert "c.yaml:7: error: CheckIn 'weekly': spec.remind_after: bad duration '4 hours'" in text
    assert "choice question 'q' has no options" in text
    assert "duplicate question id 'q'" in text
    assert (
        "c.yaml:6: error: CheckIn 'weekly': spec.audience.1: person:nobody does not exist" in text
    )


def test_warnings(tmp_path: Path) -> None:
    """Shared aliases, stale reviews and empty teams are warnings, not errors."""
    stale = (TODAY - timedelta(days=181)).isoformat()
    fresh = (TODAY - timedelta(days=180)).isoformat()
    empty = "apiVersion: opsbot/v1\nkind: Team\nmetadata: {name: ghosts}\n"
    result = load(
        tmp_path,
        **{
            "a.yaml": area(reviewed=stale),
            "b.yaml": area(name="feature-platform", reviewed=fresh),
            "e.yaml": empty,
        },
    )
    assert result.errors == []
    assert [p.message for p in result.warnings] == [
        "area:feature-store: ownership last reviewed " + stale + ", over 180 days ago",
        "alias 'feast' is shared with area:feature-store (ambiguous)",
        "team:ghosts has no members",
    ]


def test_unknown_spec_field_is_a_warning(tmp_path: Path) -> None:
    """A misspelt field in an opsbot/v1 spec is pointed out, not silently ignored."""
    result = load(tmp_path, **{"a.yaml": area(ownr="team:sre")})
    assert [str(p) for p in result.problems] == [
        f"{tmp_path / 'a.yaml'}:8: warning: Area 'feature-store': unknown field spec.ownr (ignored)"
    ]


def test_require_knowledge_raises_with_every_error(tmp_path: Path) -> None:
    """Serving refuses broken knowledge and says why, with file:line."""
    write(tmp_path, {"team.yaml": TEAM, "a.yaml": area(owner="team:nobody")})
    with pytest.raises(KnowledgeError) as caught:
        require_knowledge(tmp_path, today=TODAY)
    assert len(caught.value.problems) == 2  # the missing owner and the missing member
    assert all(":" in p for p in caught.value.problems)


def test_missing_directory(tmp_path: Path) -> None:
    """A knowledge directory that does not exist is an error, not an empty knowledge base."""
    result = load_knowledge(tmp_path / "nope", today=TODAY)
    assert [p.message for p in result.errors] == ["not a directory"]


def test_hidden_folders_and_other_files_are_ignored(tmp_path: Path) -> None:
    """Only *.yaml and *.yml count, and nothing below a hidden folder."""
    write(tmp_path, {".git/x.yaml": "kind: [", "notes.md": "# hi", "a.yml": TEAM + "---\n" + ALICE})
    result = load_knowledge(tmp_path, today=TODAY)
    assert result.problems == []
    assert result.files == 1


def test_backstage_catalog_loads(tmp_path: Path) -> None:
    """Backstage's example catalog loads: groups, users, components, APIs, namespaces."""
    result = load_knowledge(DATA / "backstage", today=TODAY)
    assert result.errors == []
    assert [p.message for p in result.problems if p.severity == "note"] == [
        "skipped Backstage Location 'example-groups'"
    ]
    knowledge = result.knowledge
    lookup = Ref(kind="component", name="artist-lookup")
    component = knowledge.entities[lookup]
    assert isinstance(component.spec, OwnableSpec)
    assert str(component.spec.owner) == "team:team-a"
    assert str(component.spec.part_of) == "system:artist-engagement-portal"
    assert component.spec.type == "service"
    assert len(component.links) == 7
    other = knowledge.entities[
        Ref(kind="component", name="different-namespace", namespace="alternative")
    ]
    assert str(other.ref) == "component:alternative/different-namespace"
    assert isinstance(other.spec, OwnableSpec) and str(other.spec.owner) == "team:team-a"
    guest = knowledge.entities[Ref(kind="person", name="guest", namespace="development")]
    assert isinstance(guest.spec, PersonSpec) and str(guest.spec.member_of[0]) == "team:team-a"
    janelle = knowledge.entities[Ref(kind="person", name="janelle.dawe")]
    assert janelle.title == "Janelle Dawe"
    team_a = knowledge.entities[Ref(kind="team", name="team-a")]
    assert isinstance(team_a.spec, TeamSpec) and team_a.spec.email == "team-a@example.com"
    assert len(knowledge.members[team_a.ref]) == 5
    org = Ref(kind="team", name="acme-corp")
    assert knowledge.children[org] == (Ref(kind="team", name="infrastructure"),)
    assert knowledge.entities[org].title == "ACME Corp"
    kinds = {e.kind for e in knowledge}
    assert kinds == {"team", "person", "component", "api", "system", "domain", "resource"}


def test_backstage_without_owner_is_an_error(tmp_path: Path) -> None:
    """A Backstage component must say who owns it."""
    text = (
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: x\n"
        "spec:\n  type: service\n"
    )
    result = load_knowledge(write(tmp_path, {"c.yaml": text}), today=TODAY)
    assert [p.message for p in result.errors] == ["Component 'x': spec.owner is required"]
