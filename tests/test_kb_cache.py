"""The knowledge cache, and a fast `opsbot ask`: load once, then read back what was built."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest

from bot.answers import AnswerEngine
from bot.cli import main
from bot.kb import LoadResult, load_knowledge
from bot.kb.cache import KnowledgeCache, default_directory

ROOT = Path(__file__).parent.parent
MINI = Path(__file__).parent / "data" / "mini"
TODAY = date(2026, 11, 29)
#: Long before any test runs: files this old are safe to cache (see `RACY_NS`).
OLD = 1_700_000_000_000_000_000

TEAM = """\
apiVersion: opsbot/v1
kind: Team
metadata: {name: platform, title: Platform}
spec: {members: [alice]}
---
apiVersion: opsbot/v1
kind: Person
metadata: {name: alice, title: Alice Chen}
spec: {}
---
apiVersion: opsbot/v1
kind: Team
metadata: {name: ghosts}
"""
AREA = """\
apiVersion: opsbot/v1
kind: Area
metadata: {name: model-monitoring, title: Model monitoring}
spec: {owner: team:platform, reviewed: 2026-06-02}
"""


def write(path: Path, text: str, *, at: int = OLD) -> None:
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(at, at))


@dataclass
class Counting:
    """A loader and an engine builder that count their calls."""

    loads: int = 0
    builds: int = 0
    built: list[object] = field(default_factory=list)

    def load(self, root: Path, today: date) -> LoadResult:
        self.loads += 1
        return load_knowledge(root, today=today)

    def build(self, result: LoadResult) -> AnswerEngine:
        self.builds += 1
        return AnswerEngine(result.knowledge)


@pytest.fixture
def knowledge(tmp_path: Path) -> Path:
    root = tmp_path / "knowledge"
    root.mkdir()
    write(root / "org.yaml", TEAM)
    write(root / "areas.yaml", AREA)
    return root


@pytest.fixture
def counting() -> Counting:
    return Counting()


@pytest.fixture
def cache(tmp_path: Path, counting: Counting) -> KnowledgeCache:
    return KnowledgeCache(directory=tmp_path / "cache", version="1", load=counting.load)


def get(
    cache: KnowledgeCache, root: Path, counting: Counting, **kw: object
) -> tuple[LoadResult, AnswerEngine]:
    today = kw.pop("today", TODAY)
    assert isinstance(today, date)
    variant = str(kw.pop("variant", ""))
    return cache.get(root, today=today, build=counting.build, kind=AnswerEngine, variant=variant)


def test_hit_returns_the_same_knowledge_without_parsing(
    knowledge: Path, cache: KnowledgeCache, counting: Counting
) -> None:
    """A second load of unchanged files reads back equal entities, problems and engine."""
    first, engine = get(cache, knowledge, counting)
    second, cached_engine = get(cache, knowledge, counting)
    assert (counting.loads, counting.builds) == (1, 1)
    assert second.knowledge == first.knowledge
    assert len(second.knowledge) == 4
    assert second.problems == first.problems
    assert [p.message for p in second.warnings] == ["team:ghosts has no members"]
    assert second.files == first.files == 2
    question = "who owns model monitoring?"
    assert cached_engine.answer(question) == engine.answer(question)
    assert cached_engine.answer(question).entity is not None


Change = Callable[[Path], None]
CHANGES: dict[str, Change] = {
    "content, same size and new time": lambda root: write(
        root / "areas.yaml", AREA.replace("platform", "plat4orm"), at=OLD + 10**9
    ),
    "time only": lambda root: os.utime(root / "areas.yaml", ns=(OLD + 1, OLD + 1)),
    "size only, same time": lambda root: write(root / "areas.yaml", AREA + "\n"),
    "file added": lambda root: write(root / "more.yml", AREA.replace("model-mon", "data-mon")),
    "file removed": lambda root: (root / "areas.yaml").unlink(),
    "file renamed": lambda root: (root / "areas.yaml").rename(root / "zones.yaml"),
    "file in a new folder": lambda root: (
        (root / "sub").mkdir()
        or write(root / "sub" / "x.yaml", AREA.replace("model-mon", "data-mon"))
    ),
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_any_file_change_invalidates(
    knowledge: Path, cache: KnowledgeCache, counting: Counting, change: Change
) -> None:
    """Editing, touching, adding, removing or renaming a knowledge file loads it again."""
    get(cache, knowledge, counting)
    get(cache, knowledge, counting)
    change(knowledge)
    result, _ = get(cache, knowledge, counting)
    assert counting.loads == 2
    assert result == load_knowledge(knowledge, today=TODAY)


def test_files_changed_just_now_are_not_cached(
    knowledge: Path, cache: KnowledgeCache, counting: Counting
) -> None:
    """A file written just now is read again next time: an edit within the same tick of
    a coarse file system clock keeps its size and time."""
    areas = knowledge / "areas.yaml"
    areas.write_text(AREA, encoding="utf-8")
    written = areas.stat().st_mtime_ns
    get(cache, knowledge, counting)
    write(areas, AREA.replace("platform", "plat4orm"), at=written)
    result, _ = get(cache, knowledge, counting)
    assert counting.loads == 2
    assert [p.message for p in result.errors] == [
        "Area 'model-monitoring': spec.owner: team:plat4orm does not exist"
    ]


CORRUPTIONS: dict[str, Callable[[bytes], bytes]] = {
    "empty": lambda data: b"",
    "truncated": lambda data: data[: len(data) // 2],
    "garbage": lambda data: b"not a pickle at all\n" * 10,
    "bytes flipped": lambda data: data[:40] + bytes(b ^ 0x5A for b in data[40:80]) + data[80:],
    "key only": lambda data: data[:60],
}


@pytest.mark.parametrize("corrupt", CORRUPTIONS.values(), ids=CORRUPTIONS.keys())
def test_corrupt_cache_is_ignored_and_rebuilt(
    knowledge: Path, cache: KnowledgeCache, counting: Counting, corrupt: Callable[[bytes], bytes]
) -> None:
    """A damaged cache file is loaded past, then replaced by a good one."""
    first, _ = get(cache, knowledge, counting)
    place = cache.place(knowledge)
    assert place is not None and place.is_file()
    place.write_bytes(corrupt(place.read_bytes()))
    second, _ = get(cache, knowledge, counting)
    third, _ = get(cache, knowledge, counting)
    assert counting.loads == 2
    assert first == second == third


def test_a_pickle_of_something_else_is_ignored(
    knowledge: Path, cache: KnowledgeCache, counting: Counting
) -> None:
    """A cache whose contents are not what this code builds is not used."""
    get(cache, knowledge, counting)
    other = KnowledgeCache(directory=cache.directory, version="1", load=counting.load)
    result, built = other.get(knowledge, today=TODAY, build=lambda r: "text", kind=str)
    assert counting.loads == 2
    assert built == "text"
    assert result.knowledge == load_knowledge(knowledge, today=TODAY).knowledge


@pytest.mark.parametrize(
    ("version", "today", "variant"),
    [("2", TODAY, ""), ("1", date(2026, 11, 30), ""), ("1", TODAY, "threshold=0.7")],
    ids=["version", "day", "variant"],
)
def test_other_version_day_or_variant_invalidates(
    knowledge: Path,
    cache: KnowledgeCache,
    counting: Counting,
    version: str,
    today: date,
    variant: str,
) -> None:
    """A cache is never trusted by another opsbot version, on another day, or for
    another variant of what is built."""
    get(cache, knowledge, counting)
    other = KnowledgeCache(directory=cache.directory, version=version, load=counting.load)
    get(other, knowledge, counting, today=today, variant=variant)
    assert counting.loads == 2


def test_review_ages_are_checked_again_on_a_later_day(
    knowledge: Path, cache: KnowledgeCache, counting: Counting
) -> None:
    """A review that grows stale overnight is warned about although no file changed."""
    first, _ = get(cache, knowledge, counting, today=date(2026, 11, 28))
    later, _ = get(cache, knowledge, counting, today=date(2026, 12, 1))
    stale = "area:model-monitoring: ownership last reviewed 2026-06-02, over 180 days ago"
    assert stale not in [p.message for p in first.warnings]
    assert stale in [p.message for p in later.warnings]


def test_a_missing_folder_is_not_cached(
    tmp_path: Path, cache: KnowledgeCache, counting: Counting
) -> None:
    """A knowledge folder made after a run that found none is read, even while empty."""
    root = tmp_path / "later"
    missing, _ = get(cache, root, counting)
    assert [p.message for p in missing.errors] == ["not a directory"]
    root.mkdir()
    empty, _ = get(cache, root, counting)
    assert (empty.problems, len(empty.knowledge)) == ([], 0)


def test_each_knowledge_folder_has_its_own_cache(
    tmp_path: Path, knowledge: Path, cache: KnowledgeCache, counting: Counting
) -> None:
    """Two knowledge folders do not evict each other."""
    other = tmp_path / "other"
    other.mkdir()
    write(other / "org.yaml", TEAM)
    for _ in range(2):
        get(cache, knowledge, counting)
        get(cache, other, counting)
    assert counting.loads == 2
    assert cache.place(knowledge) != cache.place(other)


@pytest.mark.parametrize("mode", [0o777, 0o775])
def test_a_folder_others_may_write_is_not_used(
    knowledge: Path, cache: KnowledgeCache, counting: Counting, mode: int
) -> None:
    """A cache folder writable by others is neither read nor written."""
    get(cache, knowledge, counting)
    assert cache.directory is not None
    cache.directory.chmod(mode)
    get(cache, knowledge, counting)
    place = cache.place(knowledge)
    assert place is not None
    place.unlink()
    get(cache, knowledge, counting)
    assert counting.loads == 3
    assert not place.exists()


def test_a_cache_file_others_may_write_is_not_used(
    knowledge: Path, cache: KnowledgeCache, counting: Counting
) -> None:
    """A cache file writable by others is not read."""
    get(cache, knowledge, counting)
    place = cache.place(knowledge)
    assert place is not None
    place.chmod(0o666)
    get(cache, knowledge, counting)
    assert counting.loads == 2


def test_a_new_cache_is_private(knowledge: Path, cache: KnowledgeCache, counting: Counting) -> None:
    """The cache folder and file are created readable and writable by their owner only."""
    get(cache, knowledge, counting)
    place = cache.place(knowledge)
    assert place is not None and cache.directory is not None
    assert cache.directory.stat().st_mode & 0o777 == 0o700
    assert place.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in cache.directory.iterdir()] == [place.name]  # no temporary left


def test_a_cache_link_is_not_followed(
    tmp_path: Path, knowledge: Path, cache: KnowledgeCache, counting: Counting
) -> None:
    """A cache file that is a symbolic link is not read."""
    get(cache, knowledge, counting)
    place = cache.place(knowledge)
    assert place is not None
    moved = tmp_path / "elsewhere.pickle"
    place.rename(moved)
    place.symlink_to(moved)
    get(cache, knowledge, counting)
    assert counting.loads == 2


def test_an_unwritable_cache_is_no_error(
    tmp_path: Path, knowledge: Path, counting: Counting
) -> None:
    """When the cache folder cannot be made, knowledge is loaded as if there were none."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    cache = KnowledgeCache(directory=blocker / "cache", version="1", load=counting.load)
    for _ in range(2):
        result, _ = get(cache, knowledge, counting)
        assert len(result.knowledge) == 4
    assert counting.loads == 2


def test_no_directory_means_no_cache(knowledge: Path, counting: Counting) -> None:
    """Without a cache folder every load reads the files."""
    cache = KnowledgeCache(directory=None, version="1", load=counting.load)
    get(cache, knowledge, counting)
    get(cache, knowledge, counting)
    assert counting.loads == 2


class Unpicklable:
    def __init__(self) -> None:
        self.answer = lambda: 42


def test_what_does_not_pickle_is_built_again_from_cached_knowledge(
    knowledge: Path, cache: KnowledgeCache, counting: Counting
) -> None:
    """When what is built cannot be stored, the knowledge still is; it is built again."""
    builds: list[Unpicklable] = []

    def build(result: LoadResult) -> Unpicklable:
        builds.append(Unpicklable())
        return builds[-1]

    for _ in range(2):
        result, built = cache.get(knowledge, today=TODAY, build=build, kind=Unpicklable)
        assert built.answer() == 42
        assert len(result.knowledge) == 4
    assert counting.loads == 1
    assert len(builds) == 2


def test_default_directory_follows_xdg() -> None:
    """The cache lives under $XDG_CACHE_HOME, else ~/.cache; a relative value is ignored."""
    assert default_directory({"XDG_CACHE_HOME": "/x", "HOME": "/h"}) == Path("/x/opsbot")
    assert default_directory({"XDG_CACHE_HOME": "rel", "HOME": "/h"}) == Path("/h/.cache/opsbot")
    assert default_directory({}) is None


def test_ask_reads_the_cache(
    tmp_path: Path,
    knowledge: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`opsbot ask` stores its knowledge in OPSBOT_CACHE_DIR and answers alike from it."""
    monkeypatch.setenv("OPSBOT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("OPSBOT_ANSWER_THRESHOLD", raising=False)
    asked = ["ask", "--knowledge", str(knowledge), "--json", "who owns model monitoring?"]
    assert main(asked) == 0
    first = capsys.readouterr().out
    cached = list((tmp_path / "cache").iterdir())
    assert len(cached) == 1
    assert main(asked) == 0
    assert capsys.readouterr().out == first
    assert '"entity": "area:model-monitoring"' in first


def test_ask_refuses_broken_knowledge_from_the_cache(
    tmp_path: Path,
    knowledge: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Knowledge with errors is refused on every run, cached or not."""
    monkeypatch.setenv("OPSBOT_CACHE_DIR", str(tmp_path / "cache"))
    write(knowledge / "areas.yaml", AREA.replace("team:platform", "team:nope"))
    for _ in range(2):
        assert main(["ask", "--knowledge", str(knowledge), "who owns model monitoring?"]) == 1
        assert "team:nope does not exist" in capsys.readouterr().err
    assert len(list((tmp_path / "cache").iterdir())) == 1


HEAVY = ("slack_bolt", "slack_sdk", "sqlalchemy", "alembic", "aiohttp", "matplotlib", "apscheduler")
#: What reading YAML files needs, and knowledge read back from the cache does not.
READING = ("yaml", "croniter", "bot.kb.loader", "bot.kb.schema", "bot.kb.checks")


def ask_in_a_new_process(cache: Path) -> set[str]:
    """The modules a fresh `opsbot ask` process has imported once it answered."""
    script = (
        "import sys\n"
        "from bot.cli import main\n"
        f"status = main(['ask', '--knowledge', {str(MINI)!r}, 'who owns drift detection?'])\n"
        "print(status, *sorted(sys.modules))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPSBOT_", "SLACK_"))}
    env["OPSBOT_CACHE_DIR"] = str(cache)
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    status, *modules = done.stdout.splitlines()[-1].split()
    assert status == "0"
    assert "bot.answers.engine" in modules  # the script really answered
    return set(modules)


def test_ask_imports_no_chat_sql_web_or_chart_module(tmp_path: Path) -> None:
    """`opsbot ask` loads none of Slack, SQL, HTTP, scheduler or chart libraries."""
    modules = ask_in_a_new_process(tmp_path / "cache")
    assert "yaml" in modules  # nothing was cached yet: the files were read
    assert sorted(m for m in modules if m.partition(".")[0] in HEAVY) == []


def test_cached_ask_imports_no_yaml_parsing(tmp_path: Path) -> None:
    """Answering from the knowledge cache loads no YAML, schema or cron parser."""
    ask_in_a_new_process(tmp_path / "cache")
    modules = ask_in_a_new_process(tmp_path / "cache")
    assert sorted(m for m in modules if m in READING or m.startswith("yaml.")) == []
