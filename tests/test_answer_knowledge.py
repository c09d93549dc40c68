"""Answers use every field of the knowledge: FAQ answers and related words, kind words of
catalogs, and refuse names that only share words with real ones, even among many."""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path

import pytest
import yaml

from bot.answers import AnswerEngine
from bot.answers.text import normalize, root, topic_words
from bot.kb import load_knowledge

ROOT = Path(__file__).parent.parent
TODAY = date(2026, 11, 29)

FAQS = """
apiVersion: opsbot/v1
kind: Team
metadata: {name: ml-platform, title: ML Platform}
spec: {channel: "#ml-platform"}
---
apiVersion: opsbot/v1
kind: Area
metadata:
  name: data-labelling
  title: Data labelling
  description: Label Studio projects and the vendor workforce that labels training data.
  aliases: [annotation, label studio]
spec: {owner: team:ml-platform}
---
apiVersion: opsbot/v1
kind: Area
metadata:
  name: secrets-management
  title: Secrets management
  description: Vault, and rotation of leaked credentials.
  aliases: [vault]
spec: {owner: team:ml-platform}
---
apiVersion: opsbot/v1
kind: Term
metadata:
  name: credential
  title: Credential
  description: Anything that grants access, such as a password, a token or a cloud key.
  aliases: [API key, access key, token]
spec: {}
---
apiVersion: opsbot/v1
kind: FAQ
metadata: {name: get-labels, title: How do I get data labelled?}
spec:
  questions: [How do I get data labelled?, Who can label my dataset?]
  answer: |
    Open a request in Label Studio with the images or text to annotate, the guidelines
    and the deadline; the vendor returns the annotations within a week.
---
apiVersion: opsbot/v1
kind: FAQ
metadata: {name: leaked-secret, title: How do I rotate a leaked secret?}
spec:
  questions: [How do I rotate a leaked secret?]
  answer: |
    Revoke the credential at its source first, write the new one to Vault, then tell
    Security. Only then rewrite the git history if you pushed it.
---
apiVersion: opsbot/v1
kind: FAQ
metadata: {name: new-laptop-policy, title: How do I order a monitor?}
spec:
  questions: [How do I order a monitor?]
  answer: Use the hardware portal.
"""


@pytest.fixture(scope="module")
def faq_engine(tmp_path_factory: pytest.TempPathFactory) -> AnswerEngine:
    root_dir = tmp_path_factory.mktemp("faqs")
    (root_dir / "org.yaml").write_text(FAQS, encoding="utf-8")
    result = load_knowledge(root_dir, today=TODAY)
    assert result.errors == []
    return AnswerEngine(result.knowledge, cache_size=0)


def asked(engine: AnswerEngine, question: str) -> tuple[str, str | None]:
    answer = engine.answer(question)
    return answer.intent, None if answer.entity is None else str(answer.entity)


def test_word_forms_share_one_root() -> None:
    """Inflections and derivations of a word match: annotated, annotation, annotations."""
    assert {root(w) for w in ("annotated", "annotation", "annotations", "annotate")} == {"annot"}
    assert root("labelling") == root("labeled") == root("labels")
    assert topic_words(normalize("Oops, I just pushed it!")) == ["push"]


@pytest.mark.parametrize(
    ("question", "faq"),
    [
        ("I need our images annotated by the vendor", "faq:get-labels"),  # answer words
        ("how do I get images annotated?", "faq:get-labels"),
        ("we leaked a token, what now?", "faq:leaked-secret"),  # a term's alias
    ],
)
def test_paraphrased_faq_is_found_by_its_answer_and_related_words(
    faq_engine: AnswerEngine, question: str, faq: str
) -> None:
    """An FAQ asked in other words is found through its answer and the glossary."""
    assert asked(faq_engine, question) == ("faq", faq)


@pytest.mark.parametrize(
    "question",
    ["how do I get a new laptop", "who approves my expense report", "what is the wifi password"],
)
def test_unrelated_how_to_is_not_an_faq(faq_engine: AnswerEngine, question: str) -> None:
    """A question sharing no telling word with any FAQ stays unknown."""
    assert asked(faq_engine, question) == ("unknown", None)


def test_entity_question_is_not_taken_for_an_faq_mentioning_it(faq_engine: AnswerEngine) -> None:
    """ "who owns Vault" names the area, though an FAQ's answer mentions Vault."""
    assert asked(faq_engine, "who owns vault?") == ("owner", "area:secrets-management")


@pytest.fixture(scope="module")
def catalog() -> AnswerEngine:
    result = load_knowledge(ROOT / "tests" / "data" / "backstage", today=TODAY)
    assert result.errors == []
    return AnswerEngine(result.knowledge, cache_size=0)


@pytest.mark.parametrize(
    ("question", "want"),
    [
        ("who owns the petstore component?", ("owner", "component:petstore")),
        ("who owns the petstore API?", ("owner", "api:petstore")),
        ("who owns the wayback archive api", ("owner", "api:wayback-archive")),
        ("who maintains the wayback-archive component", ("owner", "component:wayback-archive")),
        ("what is the audio domain?", ("definition", "domain:audio")),
        ("who owns the podcast system", ("owner", "system:podcast")),
        ("who owns the artists db resource", ("owner", "resource:artists-db")),
        ("who owns the artist lookup service", ("owner", "component:artist-lookup")),
        ("who owns the artist main website", ("owner", "component:www-artist")),
    ],
)
def test_catalog_questions_may_say_the_kind(
    catalog: AnswerEngine, question: str, want: tuple[str, str]
) -> None:
    """The kind, type or short description of a Backstage entity finds it."""
    assert asked(catalog, question) == want


@pytest.mark.parametrize(
    ("question", "want"),
    [
        # spec.system: the part of a named system that the other words pick out
        ("who owns the website in the artist engagement portal", "component:www-artist"),
        ("who owns the podcast website", "component:queue-proxy"),
        ("who owns the audio playback library", "component:playback-sdk"),
        ("who owns the java service in the podcast system", "component:podcast-api"),
        ("who owns the go service in the audio playback system", "component:shuffle-api"),
        # tags, along with the type
        ("who owns the go website", "component:queue-proxy"),
        ("who owns the java data service", "component:artist-lookup"),
    ],
)
def test_catalog_entities_are_found_by_system_type_and_tags(
    catalog: AnswerEngine, question: str, want: str
) -> None:
    """`spec.system`, `spec.type` and `tags` find an entity that no name of it says."""
    assert asked(catalog, question) == ("owner", want)


@pytest.mark.parametrize(
    ("question", "want"),
    [
        ("who owns the podcast system", ("owner", "system:podcast")),
        ("who owns the audio playback system", ("owner", "system:audio-playback")),
        ("who owns the podcast api", ("owner", "component:podcast-api")),
        ("what is the audio domain?", ("definition", "domain:audio")),
    ],
)
def test_a_whole_named_with_its_kind_is_the_whole(
    catalog: AnswerEngine, question: str, want: tuple[str, str]
) -> None:
    """A system asked with its kind word, or a name starting with it, is not one of its parts."""
    assert asked(catalog, question) == want


def test_several_parts_that_fit_are_asked_back(catalog: AnswerEngine) -> None:
    """Two go services: which one is asked back, both offered."""
    answer = catalog.answer("who owns the go service")
    assert answer.intent == "unknown"
    assert {str(r) for r in answer.suggestions} >= {"component:searcher", "component:shuffle-api"}


def test_kind_word_in_a_name_is_still_the_name(catalog: AnswerEngine) -> None:
    """ "shuffle api" is a component named so, not an API called "shuffle"."""
    assert asked(catalog, "who owns the shuffle api") == ("owner", "component:shuffle-api")


# -- refusing at scale -------------------------------------------------------------------

QUALIFIERS = "realtime batch legacy core edge shadow canary primary".split()
DOMAINS = "payments fraud search ranking checkout pricing billing routing tax lending".split()
NOUNS = "service pipeline model dataset gateway cluster registry scheduler cache index".split()
INVENTED = "zorvex quillant brandomir fenwix glimmox tarquell".split()


def _area(name: str, team: str) -> dict[str, object]:
    words = name.split("-")
    return {
        "apiVersion": "opsbot/v1",
        "kind": "Area",
        "metadata": {"name": name, "title": " ".join(words).capitalize()},
        "spec": {"owner": f"team:{team}"},
    }


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> tuple[AnswerEngine, list[str]]:
    """1,000 areas named "<qualifier>-<domain>-<noun>-<n>", most combinations taken."""
    rng = random.Random(11)
    names = sorted(
        {
            f"{rng.choice(QUALIFIERS)}-{rng.choice(DOMAINS)}-{rng.choice(NOUNS)}-{rng.randrange(50)}"
            for _ in range(1_400)
        }
    )[:999]
    team = {"apiVersion": "opsbot/v1", "kind": "Team", "metadata": {"name": "core"}, "spec": {}}
    docs = [team, *(_area(n, "core") for n in names)]
    root_dir = tmp_path_factory.mktemp("many")
    (root_dir / "areas.yaml").write_text(yaml.safe_dump_all(docs), encoding="utf-8")
    result = load_knowledge(root_dir, today=TODAY)
    assert result.errors == [] and len(result.knowledge) == 1_000
    return AnswerEngine(result.knowledge, cache_size=0), names


def test_partial_overlap_with_many_names_is_refused(
    many: tuple[AnswerEngine, list[str]],
) -> None:
    """Names sharing words with real ones, but naming none, are refused at 1k entities."""
    engine, names = many
    taken = {tuple(n.split("-")) for n in names}
    rng = random.Random(5)
    questions = []
    for name in rng.sample(names, 60):
        q, d, n, number = name.split("-")
        swapped = next(
            (x, d, n, number) for x in QUALIFIERS if (x, d, n, number) not in taken and x != q
        )
        questions += [
            f"who owns the {d} {rng.choice(INVENTED)}?",  # a real word and an invented one
            f"who owns the kubernetes-{n}-xyz",  # a foreign name around a real word
            f"who maintains the {' '.join(swapped)}",  # a real name with one word swapped
        ]
    answered = [q for q in questions if engine.answer(q).intent != "unknown"]
    assert len(answered) <= 0.1 * len(questions), answered


def test_many_names_are_still_found(many: tuple[AnswerEngine, list[str]]) -> None:
    """Real names, with a typo or without their qualifier-free ambiguity, are found."""
    engine, names = many
    rng = random.Random(6)
    sample = rng.sample(names, 60)
    found = [
        str(engine.answer(f"who owns the {n.replace('-', ' ')}?").entity) == f"area:{n}"
        for n in sample
    ]
    assert sum(found) >= 0.95 * len(sample)


HTML = """
apiVersion: opsbot/v1
kind: Team
metadata: {name: vision, title: Vision}
spec: {channel: "#vision-team", members: [ana]}
---
apiVersion: opsbot/v1
kind: Person
metadata: {name: ana, title: Ana}
---
apiVersion: opsbot/v1
kind: Area
metadata: {name: parcel-ocr, title: Parcel OCR}
spec: {owner: vision, channel: "#label-reading"}
---
apiVersion: opsbot/v1
kind: Area
metadata: {name: sorter-cams, title: Sorter cameras}
spec: {owner: vision, channel: C0SORTER01}
"""


@pytest.fixture(scope="module")
def html_engine(tmp_path_factory: pytest.TempPathFactory) -> AnswerEngine:
    folder = tmp_path_factory.mktemp("html")
    (folder / "org.yaml").write_text(HTML)
    return AnswerEngine(load_knowledge(folder, today=TODAY).knowledge)


@pytest.mark.parametrize(
    "question",
    [
        "who&#39;s the owner of parcel ocr",
        "who owns parcel&nbsp;ocr?",
        "who owns parcel ocr &amp; co",
    ],
)
def test_html_entities_are_read_as_their_characters(
    html_engine: AnswerEngine, question: str
) -> None:
    """Entities from Slack, Teams or pasted HTML read as the characters they stand for."""
    assert asked(html_engine, question) == ("owner", "area:parcel-ocr")
