"""Loading the valid part of broken knowledge, and hints for common YAML slips at file:line."""

from __future__ import annotations

import tempfile
import textwrap
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.errors import KnowledgeError
from bot.kb import LoadResult, load_file, load_knowledge, serve_knowledge
from bot.model import Ref, TeamSpec

TODAY = date(2026, 11, 29)


def doc(kind: str, name: str, spec: str = "") -> str:
    body = textwrap.indent(textwrap.dedent(spec).strip("\n"), "  ")
    return f"apiVersion: opsbot/v1\nkind: {kind}\nmetadata:\n  name: {name}\n" + (
        f"spec:\n{body}\n" if body else ""
    )


def load(root: Path, **files: str) -> LoadResult:
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    return load_knowledge(root, today=TODAY)


def refs(result: LoadResult) -> set[str]:
    return {str(e.ref) for e in result.knowledge}


def left(result: LoadResult, root: Path) -> list[tuple[str, str]]:
    return [(i.where.removeprefix(f"{root}/"), i.problem) for i in result.left_out]


# -- leaving out ----------------------------------------------------------------------


def test_referrers_of_a_left_out_entity_are_left_out_each_at_its_own_line(
    tmp_path: Path,
) -> None:
    """A chain of references to a broken entity is left out link by link, each named at
    its own file:line; entities that do not depend on it all load."""
    result = load(
        tmp_path,
        **{
            "a.yaml": "---\n".join(
                [
                    doc("Team", "platform", "members: [alice]\nlead: nobody"),
                    doc("Person", "alice"),
                    doc("Person", "bob", "member_of: [platform]"),
                    doc("Team", "data", "members: [carol]"),
                    doc("Person", "carol"),
                ]
            ),
            "b.yaml": "---\n".join(
                [
                    doc("Area", "lake", "owner: person:bob"),
                    doc("Area", "pond", "owner: team:data\npart_of: area:lake"),
                    doc("Area", "sea", "owner: team:data"),
                ]
            ),
        },
    )
    assert refs(result) == {"person:alice", "team:data", "person:carol", "area:sea"}
    assert left(result, tmp_path) == [
        ("a.yaml:7", "Team 'platform': spec.lead: person:nobody does not exist"),
        (
            "a.yaml:19",
            "Person 'bob': spec.member_of.0: refers to team:platform, which was left out "
            f"(see {tmp_path}/a.yaml:7)",
        ),
        (
            "b.yaml:6",
            f"Area 'lake': spec.owner: refers to person:bob, which was left out "
            f"(see {tmp_path}/a.yaml:19)",
        ),
        (
            "b.yaml:14",
            f"Area 'pond': spec.part_of: refers to area:lake, which was left out "
            f"(see {tmp_path}/b.yaml:6)",
        ),
    ]
    assert [p.line for p in result.errors] == [7, 19, 6, 14]
    # What is kept is consistent: alice's team (left out) is not listed as hers.
    assert result.knowledge.teams_of.get(Ref(kind="person", name="alice")) is None


def test_a_duplicate_is_left_out_and_the_first_kept(tmp_path: Path) -> None:
    """Of two entities with one reference the first loads, the later one is left out."""
    result = load(
        tmp_path,
        **{
            "a.yaml": doc("Team", "data", "channel: '#first'\nmembers: [x]")
            + "---\n"
            + doc("Person", "x"),
            "b.yaml": doc("Team", "data", "channel: '#second'"),
        },
    )
    team = result.knowledge.get(Ref(kind="team", name="data"))
    assert team is not None and isinstance(team.spec, TeamSpec)
    assert team.spec.channel == "#first"
    assert left(result, tmp_path) == [
        ("b.yaml:1", f"duplicate team:data (first defined at {tmp_path}/a.yaml:1)")
    ]


def test_a_yaml_syntax_error_leaves_out_the_rest_of_its_file(tmp_path: Path) -> None:
    """A syntax error leaves out its file from the broken document on, named as a file."""
    result = load(
        tmp_path,
        **{
            "a.yaml": doc("Person", "alice") + "---\nkind: [oops\n---\n" + doc("Person", "bob"),
            "b.yaml": "kind: [\n",
            "c.yaml": doc("Person", "carol"),
        },
    )
    assert refs(result) == {"person:alice", "person:carol"}
    assert [(i.where.removeprefix(f"{tmp_path}/"), i.entity) for i in result.left_out] == [
        ("a.yaml:7", False),
        ("b.yaml:2", False),
    ]
    assert result.left_out[0].problem.endswith("(the rest of the file is left out)")
    assert result.left_out[1].problem.endswith("(the file is left out)")


def test_serve_knowledge_is_lenient_unless_strict_or_empty(tmp_path: Path) -> None:
    """The bot's loader serves the valid part; strict mode, or no valid entity, refuses."""
    load(tmp_path, **{"a.yaml": doc("Area", "x", "owner: nobody"), "b.yaml": doc("Term", "y")})
    result = serve_knowledge(tmp_path, today=TODAY, strict=False)
    assert refs(result) == {"term:y"}
    with pytest.raises(KnowledgeError, match="team:nobody does not exist"):
        serve_knowledge(tmp_path, today=TODAY, strict=True)
    (tmp_path / "b.yaml").unlink()
    with pytest.raises(KnowledgeError) as raised:
        serve_knowledge(tmp_path, today=TODAY, strict=False)
    assert raised.value.problems[-1] == f"{tmp_path}: nothing valid to serve"


NAMES = [f"e{i}" for i in range(8)]


@st.composite
def knowledge_bases(draw: st.DrawFn) -> dict[str, tuple[str, list[str]]]:
    """Areas and teams that refer to each other; some references to nothing, some broken."""
    entities: dict[str, tuple[str, list[str]]] = {}
    for name in draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=8, unique=True)):
        targets = draw(st.lists(st.sampled_from([*NAMES, "missing"]), max_size=3))
        broken = draw(st.sampled_from(["", "", "", "bad"]))
        entities[name] = (broken, targets)
    return entities


@settings(max_examples=40, deadline=None)
@given(knowledge_bases())
def test_what_loads_is_exactly_what_reaches_no_broken_entity(
    entities: dict[str, tuple[str, list[str]]],
) -> None:
    """Whatever the references: an entity loads if and only if nothing it refers to,
    directly or in turn, is broken or missing, and every loaded reference resolves."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for name, (broken, targets) in entities.items():
            body = doc("Term", name, f"see_also: [{', '.join(f'term:{t}' for t in targets)}]")
            if broken:
                body = body.replace("apiVersion: opsbot/v1", "apiVersion: opsbot/v0")
            (root / f"{name}.yaml").write_text(body, encoding="utf-8")
        result = load_knowledge(root, today=TODAY)

    def fine(name: str, seen: frozenset[str] = frozenset()) -> bool:
        if name not in entities or entities[name][0]:
            return False
        if name in seen:
            return True  # a cycle of otherwise fine entities is fine
        return all(fine(t, seen | {name}) for t in entities[name][1])

    assert refs(result) == {f"term:{n}" for n in entities if fine(n)}
    assert len(result.left_out) == len(entities) - len(refs(result))
    for entity in result.knowledge:
        assert all(r in result.knowledge.entities for r in entity.spec.see_also)  # type: ignore[union-attr]


# -- hints ----------------------------------------------------------------------------

PRACTICE = """\
apiVersion: opsbot/v1
kind: Practice
metadata:
  name: pipelines
  aliases:
    - feature pipelines
    - Pipelines: the MLOps kind
"""
HOW = """\
apiVersion: opsbot/v1
kind: Practice
metadata:
  name: pipelines
spec:
  how:
    - Automate training
    - Productionise models: feature pipelines
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            PRACTICE,
            "a.yaml:7: error: Practice 'pipelines': metadata.aliases.1: quote this item: "
            "it contains ': ', so YAML read it as a mapping",
        ),
        (
            HOW,
            "a.yaml:8: error: Practice 'pipelines': spec.how.1: quote this item: "
            "it contains ': ', so YAML read it as a mapping",
        ),
        (
            "apiVersion: opsbot/v1\nkind: Term\nmetadata:\n  name: x\n"
            "  description: Owner: the platform team\n",
            "a.yaml:5: error: malformed YAML: mapping values are not allowed in this context: "
            "quote this value: it contains ': '",
        ),
        (
            doc("Check-in", "weekly"),
            "a.yaml:2: error: unknown kind 'Check-in': did you mean CheckIn? "
            "(one of Area, CheckIn, FAQ, Person, Practice, Role, Team, Term)",
        ),
        (doc("FAQs", "laptops"), "a.yaml:2: error: unknown kind 'FAQs': did you mean FAQ?"),
        (doc("Practise", "ci"), "a.yaml:2: error: unknown kind 'Practise': did you mean Practice?"),
        (
            doc("Component", "petstore"),
            "a.yaml:2: error: unknown kind 'Component': Component is a Backstage kind "
            "(apiVersion: backstage.io/v1alpha1)",
        ),
        (
            doc("Team", "ml", "members: [alice]\nchannel: #ml-platform  # the team's channel"),
            "a.yaml:7: warning: Team 'ml': spec.channel is empty; `#ml-platform` starts a "
            'YAML comment: quote it ("#ml-platform")',
        ),
        (
            doc("Area", "lake", "owner: #ml-platform"),
            "a.yaml:6: error: Area 'lake': spec.owner is empty; `#ml-platform` starts a YAML "
            'comment: quote it ("#ml-platform")',
        ),
        (
            doc("Team", "ml", "members:\n  - alice\n  - #bob"),
            "a.yaml:8: error: Team 'ml': spec.members.1 is empty; `#bob` starts a YAML comment",
        ),
        (
            doc("Area", "lake", "owner: alice"),
            "a.yaml:6: error: Area 'lake': spec.owner: team:alice does not exist "
            "(did you mean person:alice?)",
        ),
    ],
)
def test_common_slips_get_a_hint_at_their_line(tmp_path: Path, text: str, expected: str) -> None:
    """A slip people often make is reported at its own line with what to do about it."""
    result = load(tmp_path, **{"a.yaml": text, "alice.yaml": doc("Person", "alice")})
    shown = [str(p).removeprefix(f"{tmp_path}/") for p in result.problems]
    assert any(p.startswith(expected) for p in shown), shown


def test_comments_that_are_comments_get_no_hint(tmp_path: Path) -> None:
    """`# note` after a key, and a `#word` before a nested value, are real comments."""
    text = doc(
        "Team",
        "ml",
        "members: [alice]\nchannel: # none yet\nemail: '#not-a-comment'\nparent: #up\n  ml-root",
    )
    result = load(tmp_path, **{"a.yaml": text, "b.yaml": doc("Person", "alice")})
    assert [str(p) for p in result.problems if "comment" in p.message] == []


# -- one file --------------------------------------------------------------------------


def test_a_file_inside_the_folder_is_checked_against_the_folder(tmp_path: Path) -> None:
    """Inside the knowledge folder a file's references resolve against the whole folder,
    and only its own problems and entities are reported."""
    load(
        tmp_path,
        **{
            "team.yaml": doc("Team", "data", "members: [x]") + "---\n" + doc("Person", "x"),
            "area.yaml": doc("Area", "lake", "owner: team:data"),
            "bad.yaml": doc("Area", "pond", "owner: team:nobody"),
        },
    )
    result = load_file(tmp_path / "area.yaml", today=TODAY, root=tmp_path)
    assert (refs(result), result.problems, result.files) == ({"area:lake"}, [], 1)
    alone = load_file(tmp_path / "area.yaml", today=TODAY)
    assert [p.severity for p in alone.problems] == ["warning"]
    assert refs(alone) == {"area:lake"}
