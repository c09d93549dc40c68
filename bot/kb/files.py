"""Finding and reading knowledge files: only regular files inside the root, size-capped.

A link that resolves inside the root counts as what it points to (each file and folder
is read once, shown at its own place below the root); anything else that looks like
knowledge (a link leading out of the root, a FIFO, a device, a socket, a broken link or
a link loop, a file over `MAX_FILE_BYTES`) is refused with a reason, never opened.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

#: The most one knowledge file may hold; a larger one is refused, not read.
MAX_FILE_BYTES = 1024 * 1024

_SUFFIXES = (".yaml", ".yml")
_OUTSIDE = "outside the knowledge folder; only files inside it are loaded"
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | os.O_CLOEXEC


@dataclass(frozen=True, kw_only=True)
class KnowledgeFile:
    """One knowledge file found below the root: `real` to read, or why it is `refused`.

    `shown` is where it sits below the root as the caller spelled the root; `mtime_ns`
    and `size` come from the scan and tell when an accepted file changed.
    """

    shown: Path
    real: Path | None = None
    refused: str | None = None
    mtime_ns: int = 0
    size: int = 0


class FileRefused(Exception):
    """A knowledge file that cannot or may not be read; the message says why."""


def knowledge_files(root: Path) -> list[KnowledgeFile]:
    """Every `*.yaml`/`*.yml` below `root` (hidden names skipped), sorted by place."""
    return sorted(_Scan(root).run(), key=lambda f: f.shown)


def fingerprint(root: Path) -> tuple[tuple[str, int, int], ...]:
    """What changes when a knowledge file is added, removed, edited or refused.

    The scan's own `stat` of each file inside the root: nothing is opened, no link out
    of the root is followed, and a refused file (a FIFO, a device) counts as `-1`.
    """
    found = knowledge_files(root) if root.is_dir() else []
    return tuple(
        (str(f.shown), f.mtime_ns, f.size) if f.real is not None else (str(f.shown), -1, -1)
        for f in found
    )


def single_file(path: Path) -> KnowledgeFile:
    """The file `path`, named on purpose (a link to it is followed), if it is a regular one."""
    try:
        status = os.stat(path)
    except OSError as exc:
        return KnowledgeFile(shown=path, refused=f"cannot read: {exc.strerror or exc}")
    kind = _not_regular(status.st_mode)
    if kind is not None:
        return KnowledgeFile(shown=path, refused=_not_regular_message(kind))
    return KnowledgeFile(
        shown=path,
        real=Path(os.path.realpath(path)),
        mtime_ns=status.st_mtime_ns,
        size=status.st_size,
    )


def read_text(found: KnowledgeFile) -> str:
    """The UTF-8 text of an accepted file, reading at most `MAX_FILE_BYTES` + 1 bytes."""
    if found.real is None:
        raise FileRefused(found.refused or "refused")
    limit = MAX_FILE_BYTES
    try:
        fd = os.open(found.real, _OPEN_FLAGS)
    except OSError as exc:
        raise FileRefused(f"cannot read: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as stream:
        kind = _not_regular(os.fstat(fd).st_mode)
        if kind is not None:
            raise FileRefused(_not_regular_message(kind))
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise FileRefused(
            f"too large: a knowledge file may hold at most {_size(limit)} "
            f"({limit} bytes); split it into smaller files"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileRefused(f"cannot read: not UTF-8 ({exc.reason} at byte {exc.start})") from None


class _Scan:
    """A walk of the root that never leaves it, never visits a folder twice, never opens."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.real_root = Path(os.path.realpath(root))
        self.folders: set[Path] = {self.real_root}
        self.files: dict[Path, KnowledgeFile] = {}
        self.refused: list[KnowledgeFile] = []

    def run(self) -> list[KnowledgeFile]:
        pending = [self.real_root]
        while pending:
            folder = pending.pop()
            pending.extend(self.folder(folder))
        return [*self.files.values(), *self.refused]

    def shown(self, real: Path) -> Path:
        return self.root / real.relative_to(self.real_root)

    def inside(self, real: Path) -> bool:
        return real == self.real_root or self.real_root in real.parents

    def refuse(self, place: Path, reason: str) -> None:
        self.refused.append(KnowledgeFile(shown=self.shown(place), refused=reason))

    def folder(self, folder: Path) -> list[Path]:
        """Note the knowledge files of `folder`; return the folders to walk next."""
        try:
            with os.scandir(folder) as entries:
                names = sorted(e.name for e in entries if not e.name.startswith("."))
        except OSError as exc:
            self.refuse(folder, f"cannot read folder: {exc.strerror or exc}")
            return []
        found: list[Path] = []
        for name in names:
            subfolder = self.entry(folder / name)
            if subfolder is not None:
                found.append(subfolder)
        return found

    def entry(self, place: Path) -> Path | None:
        """Note `place` if it is knowledge; return the real folder to walk if it is one."""
        wanted = place.name.endswith(_SUFFIXES)
        try:
            real, status = _resolve(place)
        except OSError as exc:
            if wanted:
                self.refuse(place, f"refused: cannot follow the link ({exc.strerror or exc})")
            return None
        inside = self.inside(real)
        if stat.S_ISDIR(status.st_mode):
            if not inside:
                self.refuse(place, f"refused: links to the folder {real}, {_OUTSIDE}")
                return None
            if real in self.folders:
                return None
            self.folders.add(real)
            return real
        if not wanted:
            return None
        if not inside:
            self.refuse(place, f"refused: links to {real}, {_OUTSIDE}")
            return None
        kind = _not_regular(status.st_mode)
        if kind is not None:
            self.refuse(place, _not_regular_message(kind))
            return None
        self.files.setdefault(
            real,
            KnowledgeFile(
                shown=self.shown(real),
                real=real,
                mtime_ns=status.st_mtime_ns,
                size=status.st_size,
            ),
        )
        return None


def _resolve(place: Path) -> tuple[Path, os.stat_result]:
    """Where `place` really is and what it is; raises OSError for broken links and loops."""
    status = os.lstat(place)
    if not stat.S_ISLNK(status.st_mode):
        return place, status
    real = Path(os.path.realpath(place, strict=True))
    return real, os.stat(real)


def _not_regular(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a file"


def _not_regular_message(kind: str) -> str:
    return f"refused: {kind}, not a regular file; only regular files are loaded"


def _size(limit: int) -> str:
    for unit, size in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if limit >= size and limit % size == 0:
            return f"{limit // size} {unit}"
    return f"{limit} bytes"
