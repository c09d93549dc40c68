"""Knowledge stays inside its folder: only regular files below the root, each size-capped."""

from __future__ import annotations

import os
import socket
import stat
import threading
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import TypeVar

import pytest

from bot.app import fingerprint
from bot.cli import main
from bot.errors import KnowledgeError
from bot.kb import LoadResult, load_knowledge, require_knowledge
from bot.kb import files as kb_files
from bot.kb.files import FileRefused, KnowledgeFile, read_text
from bot.model import Ref

TODAY = date(2026, 11, 29)
T = TypeVar("T")

TEAM = (
    "apiVersion: opsbot/v1\nkind: Team\nmetadata: {name: ml-platform}\nspec: {members: [alice]}\n"
)
ALICE = "apiVersion: opsbot/v1\nkind: Person\nmetadata: {name: alice}\n"
SECRET = "apiVersion: opsbot/v1\nkind: Person\nmetadata: {name: mallory}\n"
OUTSIDE_ERROR = "outside the knowledge folder; only files inside it are loaded"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A valid knowledge folder (a team and its member) next to an `outside` folder."""
    knowledge = tmp_path / "k"
    knowledge.mkdir()
    (knowledge / "team.yaml").write_text(TEAM)
    (knowledge / "people.yaml").write_text(ALICE)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.yaml").write_text(SECRET)
    return knowledge


def within(seconds: float, work: Callable[[], T]) -> T:
    """`work()`, failing the test (instead of hanging it) if it takes longer than `seconds`."""
    results: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(work())
        except BaseException as exc:  # handed to the test thread
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s"
    if errors:
        raise errors[0]
    return results[0]


def load(root: Path) -> LoadResult:
    return within(10, lambda: load_knowledge(root, today=TODAY))


def refs(result: LoadResult) -> set[str]:
    return {str(e.ref) for e in result.knowledge}


def errors(result: LoadResult) -> list[str]:
    return [str(p) for p in result.errors]


def assert_rest_loads(result: LoadResult) -> None:
    assert {"team:ml-platform", "person:alice"} <= refs(result)
    assert "person:mallory" not in refs(result)


def test_link_to_a_file_outside_is_refused_and_not_served(root: Path) -> None:
    """A link to a YAML file outside the folder is an error at its file:1; its entity is absent."""
    outside = root.parent / "outside" / "secret.yaml"
    (root / "secret.yaml").symlink_to(outside)
    result = load(root)
    assert errors(result) == [
        f"{root / 'secret.yaml'}:1: error: refused: links to {outside}, {OUTSIDE_ERROR}"
    ]
    assert_rest_loads(result)
    assert result.knowledge.get(Ref(kind="person", name="mallory")) is None


def test_relative_link_climbing_out_is_refused(root: Path) -> None:
    """A relative link that climbs out through `..` is refused like an absolute one."""
    sub = root / "sub"
    sub.mkdir()
    (sub / "x.yml").symlink_to(Path("..") / ".." / "outside" / "secret.yaml")
    result = load(root)
    assert [p.file for p in result.errors] == [str(sub / "x.yml")]
    assert_rest_loads(result)


def test_link_to_dev_zero_is_refused_at_once(root: Path) -> None:
    """A link to /dev/zero is refused without being read (no endless read, no MemoryError)."""
    (root / "zero.yaml").symlink_to("/dev/zero")
    result = load(root)
    assert errors(result) == [
        f"{root / 'zero.yaml'}:1: error: refused: links to /dev/zero, {OUTSIDE_ERROR}"
    ]
    assert_rest_loads(result)


def special_files() -> Iterator[tuple[str, Callable[[Path], None]]]:
    yield "a FIFO", lambda path: os.mkfifo(path)
    yield "a device", lambda path: os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 5))

    def bind(path: Path) -> None:
        server = socket.socket(socket.AF_UNIX)
        try:
            server.bind(str(path))
        finally:
            server.close()

    yield "a socket", bind


@pytest.mark.parametrize(("kind", "make"), list(special_files()), ids=["fifo", "device", "socket"])
@pytest.mark.parametrize("via_link", [False, True], ids=["direct", "via-inside-link"])
def test_special_files_are_refused_without_blocking(
    root: Path, kind: str, make: Callable[[Path], None], via_link: bool
) -> None:
    """A FIFO, device or socket, named directly or through an inside link, is refused unopened."""
    target = root / ("special" if via_link else "special.yaml")
    try:
        make(target)
    except (PermissionError, OSError) as exc:  # no mknod outside root, long socket paths
        pytest.skip(f"cannot make {kind} here: {exc}")
    if via_link:
        (root / "special.yaml").symlink_to("special")
    result = load(root)
    message = f"refused: {kind}, not a regular file; only regular files are loaded"
    assert errors(result) == [f"{root / 'special.yaml'}:1: error: {message}"]
    assert_rest_loads(result)
    assert (str(root / "special.yaml"), -1, -1) in within(10, lambda: fingerprint(root))


def test_a_file_swapped_for_a_fifo_after_the_scan_is_refused_unblocked(tmp_path: Path) -> None:
    """Reading what the scan took for a file never blocks on a FIFO nor reads a device."""
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    with pytest.raises(FileRefused, match="refused: a FIFO, not a regular file"):
        within(10, lambda: read_text(KnowledgeFile(shown=fifo, real=fifo)))
    zero = Path("/dev/zero")
    with pytest.raises(FileRefused, match="refused: a device, not a regular file"):
        within(10, lambda: read_text(KnowledgeFile(shown=zero, real=zero)))


def test_link_to_a_folder_outside_is_refused(root: Path) -> None:
    """A linked folder leading out of the root is an error at the link; nothing in it loads."""
    (root / "shared").symlink_to(root.parent / "outside", target_is_directory=True)
    result = load(root)
    assert errors(result) == [
        f"{root / 'shared'}:1: error: refused: links to the folder {root.parent / 'outside'}, "
        f"{OUTSIDE_ERROR}"
    ]
    assert_rest_loads(result)


def test_link_loops_and_broken_links_end(root: Path) -> None:
    """A self-link and a dangling link are refused; a link back up the tree is not walked again."""
    (root / "loop.yaml").symlink_to("loop.yaml")
    (root / "gone.yaml").symlink_to("nowhere.yaml")
    (root / "sub").mkdir()
    (root / "sub" / "up").symlink_to("..", target_is_directory=True)
    (root / "sub" / "again").symlink_to(root / "sub", target_is_directory=True)
    result = load(root)
    assert [(p.file, p.line) for p in result.errors] == [
        (str(root / "gone.yaml"), 1),
        (str(root / "loop.yaml"), 1),
    ]
    assert all("refused: cannot follow the link" in p.message for p in result.errors)
    assert result.files == 2
    assert refs(result) == {"team:ml-platform", "person:alice"}


def test_links_inside_the_folder_load_once_as_their_target(root: Path) -> None:
    """Inside links count as what they point to: each file once, shown at its real place."""
    (root / "copy.yaml").symlink_to("team.yaml")
    (root / ".shared").mkdir()
    (root / ".shared" / "bob.yaml").write_text(
        "apiVersion: opsbot/v1\nkind: Person\nmetadata: {name: bob}\n"
    )
    (root / "bob.yaml").symlink_to(Path(".shared") / "bob.yaml")
    (root / "teams").symlink_to(root, target_is_directory=True)
    result = load(root)
    assert result.problems == []
    assert refs(result) == {"team:ml-platform", "person:alice", "person:bob"}
    assert result.files == 3
    bob = result.knowledge.get(Ref(kind="person", name="bob"))
    assert bob is not None and bob.source.file == ".shared/bob.yaml"
    assert [entry[0] for entry in fingerprint(root)] == [
        str(root / ".shared" / "bob.yaml"),
        str(root / "people.yaml"),
        str(root / "team.yaml"),
    ]


def test_an_oversized_file_is_refused_with_the_limit(root: Path) -> None:
    """A file over 1 MiB is refused with a message naming the limit; the rest still loads."""
    big = root / "big.yaml"
    big.write_bytes(b"# padding\n" * (kb_files.MAX_FILE_BYTES // 10) + b"#" * 10)
    assert big.stat().st_size == kb_files.MAX_FILE_BYTES + 10 - kb_files.MAX_FILE_BYTES % 10
    result = load(root)
    assert errors(result) == [
        f"{big}:1: error: too large: a knowledge file may hold at most 1 MiB "
        "(1048576 bytes); split it into smaller files"
    ]
    assert_rest_loads(result)


def test_the_size_limit_is_inclusive_and_set_by_one_constant(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file of exactly MAX_FILE_BYTES loads and one byte more does not; the message says so."""
    monkeypatch.setattr(kb_files, "MAX_FILE_BYTES", len(TEAM))
    assert load(root).errors == []
    (root / "team.yaml").write_text(TEAM + "#")
    result = load(root)
    assert errors(result) == [
        f"{root / 'team.yaml'}:1: error: too large: a knowledge file may hold at most "
        f"{len(TEAM)} bytes ({len(TEAM)} bytes); split it into smaller files"
    ]


def test_fingerprint_does_not_follow_links_out(root: Path) -> None:
    """Editing a file outside the folder that a refused link points to changes nothing."""
    outside = root.parent / "outside" / "secret.yaml"
    (root / "secret.yaml").symlink_to(outside)
    before = fingerprint(root)
    outside.write_text(SECRET + "# a longer file\n")
    assert fingerprint(root) == before
    assert (str(root / "secret.yaml"), -1, -1) in before


def test_serving_refuses_knowledge_with_a_link_out(root: Path) -> None:
    """serve, chat and ask (require_knowledge) refuse to start on a refused file, naming it."""
    (root / "secret.yaml").symlink_to(root.parent / "outside" / "secret.yaml")
    with pytest.raises(KnowledgeError) as caught:
        require_knowledge(root, today=TODAY)
    assert f"{root / 'secret.yaml'}:1: error: refused: links to" in str(caught.value)


def test_cli_validate_reports_refused_files(
    root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`opsbot kb validate DIR` prints each refused file at file:1, validates the rest, exits 1."""
    monkeypatch.setenv("OPSBOT_KNOWLEDGE_DIR", str(root))
    (root / "secret.yaml").symlink_to(root.parent / "outside" / "secret.yaml")
    os.mkfifo(root / "pipe.yaml")
    assert within(10, lambda: main(["kb", "validate", str(root)])) == 1
    out = capsys.readouterr().out
    assert f"{root / 'pipe.yaml'}:1: error: refused: a FIFO, not a regular file" in out
    assert f"{root / 'secret.yaml'}:1: error: refused: links to" in out
    assert f"{root}: 2 files, 2 entities, 2 errors, 0 warnings" in out
