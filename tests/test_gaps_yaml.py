"""Suggestions as knowledge YAML: new FAQs and aliases that `opsbot kb validate` accepts,
whatever people typed, through the export and through `opsbot gaps --format yaml`."""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from bot.answers.text import strip_markup
from bot.cli import main
from bot.gaps.export import ANNOTATION_BY, suggestions_yaml
from bot.kb import Knowledge, load_knowledge
from bot.model import Entity, FAQSpec, Ref
from bot.ports import NewDigestItem, NewSuggestion, Suggestion
from bot.storage.engine import open_engine
from bot.storage.migrate import upgrade
from bot.storage.suggestions import SqlDigestStore

MINI = Path(__file__).parent / "data" / "mini"
SAMPLE = Path(__file__).parent.parent / "knowledge"
AT = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
HOSTILE = (
    'He said "yes": no!',
    "key: value\nother: thing",
    "!!python/object/apply:os.system ['rm -rf /']",
    "--- \n... \n# not a comment",
    "{ not: a map } [nor, a list] & *anchor",
    "${template} <at>Mallory</at> <!channel> @here",
    "yes",
    "Ünïcödé — 日本語の質問?",
    "tab\tand\r\ncarriage\u2028line",
    "x" * 5000,
)


def knowledge(path: Path = MINI) -> Knowledge:
    return load_knowledge(path, today=date(2026, 11, 30)).knowledge


def made(n: int, key: str, **more: object) -> Suggestion:
    values: dict[str, object] = {
        "id": n,
        "item_id": n,
        "key": key,
        "wordings": (f"{key}?",),
        "kind": "faq",
        "platform": "slack",
        "user": "U01ALICE01",
        "suggested_at": AT + timedelta(minutes=n),
        **more,
    }
    return Suggestion(**values)  # type: ignore[arg-type]


def validated(tmp_path: Path, text: str, base: Path = MINI) -> Knowledge:
    """`text` saved into a copy of `base`, checked by `opsbot kb validate` (exit 0, no
    errors), and loaded."""
    folder = tmp_path / "knowledge"
    shutil.copytree(base, folder)
    (folder / "suggested-faqs.yaml").write_text(text, encoding="utf-8")
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stdout", out)
        status = main(["kb", "validate", str(folder)])
    assert status == 0, out.getvalue()
    assert " 0 errors" in out.getvalue()
    return knowledge(folder)


def test_hostile_text_stays_text_and_validates(tmp_path: Path) -> None:
    """Questions and answers with quotes, colons, line breaks, YAML tags, document markers,
    templates and 5,000 characters come back from the YAML exactly as typed (questions on
    one line), and the file validates."""
    suggestions = [
        made(n, f"question {n}", wordings=(f"{text} #{n}",), answer=f"{text}\n\n**Answer** {n}")
        for n, text in enumerate(HOSTILE, start=1)
    ]
    text = suggestions_yaml(suggestions, knowledge())
    assert all(isinstance(doc, dict) for doc in yaml.safe_load_all(text))  # no tag took effect
    loaded = validated(tmp_path, text)
    faqs = {e.ref: e for e in loaded.of_kind("faq") if e.ref.name != "gpu-quota"}
    assert len(faqs) == len(HOSTILE)
    for n, typed in enumerate(HOSTILE, start=1):
        (faq,) = [e for e in faqs.values() if _answer(e).endswith(f"**Answer** {n}")]
        assert isinstance(faq.spec, FAQSpec)
        asked = " ".join(strip_markup(f"{typed} #{n}").split())  # chat markup left out
        assert faq.spec.questions == (asked if len(asked) <= 500 else asked[:499] + "…",)
        assert faq.spec.answer.strip() == "\n".join(
            line.rstrip() for line in f"{typed}\n\n**Answer** {n}".strip().splitlines()
        )
        assert faq.annotations and dict(faq.annotations)[ANNOTATION_BY] == "slack:U01ALICE01"


def _answer(entity: Entity) -> str:
    return entity.spec.answer.strip() if isinstance(entity.spec, FAQSpec) else ""


def test_faq_names_are_new_and_questions_are_the_real_wordings(tmp_path: Path) -> None:
    """A suggested FAQ never reuses an existing FAQ's name; its questions are the distinct
    wordings people used, without chat markup; the latest answer for a question wins."""
    suggestions = [
        made(
            1,
            "gpu quota",
            wordings=("GPU quota?", "gpu  quota?", "<@U0BOB> GPU quota?"),
            answer="Ask #ml-platform.",
            person="person:alice",
        ),
        made(2, "gpu quota", wordings=("GPU quota?",), answer="File a ticket.", user="U0BOB"),
        made(3, "gpu-quota-2", wordings=("gpu quota 2",), answer="Two."),
    ]
    loaded = validated(tmp_path, suggestions_yaml(suggestions, knowledge()))
    names = sorted(e.ref.name for e in loaded.of_kind("faq"))
    assert names == ["gpu-quota", "gpu-quota-2", "gpu-quota-2-2"]
    first = loaded.get(Ref(kind="faq", name="gpu-quota-2"))
    assert first is not None and isinstance(first.spec, FAQSpec)
    assert first.spec.questions == ("GPU quota?",)
    assert first.spec.answer.strip() == "File a ticket."
    assert first.title == "GPU quota?"


def test_aliases_are_comments_naming_the_entity_and_its_file(tmp_path: Path) -> None:
    """New aliases come as comments: the entity, its file and line, and an `aliases:` line
    (existing aliases kept, repeats and known names left out) that parses as YAML; nothing
    in them is read as knowledge, however hostile."""
    suggestions = [
        made(1, "k1", kind="alias", entity="area:model-monitoring", alias="drift watch"),
        made(2, "k2", kind="alias", entity="area:model-monitoring", alias="Drift Detection"),
        made(3, "k3", kind="alias", entity="area:model-monitoring", alias="x\n---\nkind: Team"),
        made(4, "k4", kind="alias", entity="area:gone", alias="ghost"),
        made(5, "k5", kind="alias", entity="team:ml-platform", alias="ML Platform"),
    ]
    text = suggestions_yaml(suggestions, knowledge())
    loaded = validated(tmp_path, text)
    assert len(loaded) == len(knowledge())  # comments only: no entity added
    comments = [line for line in text.splitlines() if line.strip()]
    assert all(line.startswith("#") for line in comments)
    assert "team:ml-platform" not in text  # its title already names it
    snippet = next(line for line in comments if "aliases: [drift" in line)
    parsed = yaml.safe_load(snippet.removeprefix("#").strip())
    assert parsed == {"aliases": ["drift detection", "drift watch", "x --- kind: Team"]}
    assert "# area:model-monitoring, in " in text and "org.yaml:" in text
    assert "# area:gone: no longer in the knowledge" in text


def test_the_sample_knowledge_takes_the_yaml_too(tmp_path: Path) -> None:
    """The repository's own sample knowledge, with the suggestions added, still validates."""
    sample = knowledge(SAMPLE)
    faq = sample.of_kind("faq")[0]
    suggestions = [
        made(1, faq.ref.name.replace("-", " "), wordings=(faq.title,), answer="Same again."),
        made(2, "k", kind="alias", entity=str(sample.ownables()[0].ref), alias="new words"),
    ]
    loaded = validated(tmp_path, suggestions_yaml(suggestions, sample), base=SAMPLE)
    assert len(loaded.of_kind("faq")) == len(sample.of_kind("faq")) + 1


def test_nothing_suggested_is_an_empty_valid_file(tmp_path: Path) -> None:
    """No suggestions: a comment saying so, and the file still validates."""
    text = suggestions_yaml([], knowledge())
    assert "# No suggestions yet." in text
    validated(tmp_path, text)


# -- through the command line, on a real database ----------------------------------------


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    for name in list(os.environ):
        if name.startswith(("OPSBOT_", "SLACK_", "TEAMS_")):
            monkeypatch.delenv(name)
    url = f"sqlite+aiosqlite:///{tmp_path / 'opsbot.db'}"
    monkeypatch.setenv("OPSBOT_KNOWLEDGE_DIR", str(MINI))
    monkeypatch.setenv("OPSBOT_DATABASE_URL", url)
    monkeypatch.setenv("OPSBOT_CACHE_DIR", str(tmp_path / "cache"))
    return url


async def _suggested(url: str) -> None:
    async with open_engine(url) as engine:
        await upgrade(engine)
        store = SqlDigestStore(engine)
        items = [
            NewDigestItem(
                section="unanswered",
                key="how do i rotate secrets",
                example="How do I rotate secrets: now?",
                wordings=("How do I rotate secrets: now?", "how do i rotate secrets"),
                count=4,
            ),
            NewDigestItem(
                section="unhelpful", key="who owns drift watch", example="x", wordings=(), count=2
            ),
        ]
        await store.claim_digest("k", since=AT, until=AT, items=items, targets=[], at=AT)
        first, second = await store.items(1)
        await store.suggest(
            NewSuggestion(
                item_id=first.id, kind="faq", platform="teams", user="teams:0a0a", suggested_at=AT,
                answer="Run `vault rotate`:\n\n- then tell #ml-platform",
            )
        )  # fmt: skip
        await store.suggest(
            NewSuggestion(
                item_id=second.id, kind="alias", platform="slack", user="U01ALICE01",
                person="person:alice", suggested_at=AT, entity="area:model-monitoring",
                alias="drift watch",
            )
        )  # fmt: skip


def test_gaps_format_yaml_writes_valid_knowledge(
    environment: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`opsbot gaps --format yaml` prints the stored suggestions as a YAML stream that
    validates in the knowledge folder: the FAQ with its wordings, the alias as a comment."""
    asyncio.run(_suggested(environment))
    capsys.readouterr()
    assert main(["gaps", "--format", "yaml"]) == 0
    text = capsys.readouterr().out
    loaded = validated(tmp_path, text)
    faq = loaded.get(Ref(kind="faq", name="how-do-i-rotate-secrets-now"))
    assert faq is not None and isinstance(faq.spec, FAQSpec)
    assert faq.spec.questions == ("How do I rotate secrets: now?", "how do i rotate secrets")
    assert faq.spec.answer == "Run `vault rotate`:\n\n- then tell #ml-platform\n"
    assert dict(faq.annotations)[ANNOTATION_BY] == "teams:0a0a"
    assert "#   aliases: [drift detection, drift watch]" in text
    assert "in org.yaml:" in text  # the file as the knowledge folder names it
    assert main(["gaps", "--format", "yaml", "--days", "1"]) == 0
    assert "# No suggestions yet." in capsys.readouterr().out  # made long before today


def test_gaps_json_and_format_json_agree(
    environment: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--json` stays an alias of `--format json`; bad numbers are refused with a reason."""
    monkeypatch.setattr("sys.stdin", io.StringIO("who owns the coffee machine?\n"))
    monkeypatch.setenv("OPSBOT_DIGEST_CRON", "off")
    assert main(["chat"]) == 0
    capsys.readouterr()
    assert main(["gaps", "--json"]) == 0
    old = capsys.readouterr().out
    assert main(["gaps", "--format", "json"]) == 0
    assert capsys.readouterr().out == old
    assert json.loads(old)["question"] == "who owns the coffee machine?"
    assert main(["gaps", "--limit", "0"]) == 2
    assert "--limit and --days must be at least 1" in capsys.readouterr().err
