"""A local cache of loaded knowledge, and of what is built from it, keyed by its files.

Reading 10,000 entities from YAML and checking them takes over a second; reading them
back from a pickle takes a tenth of that. The cache is a local file like Python's own
`.pyc` files: it lives in a folder only this user may write, one file per knowledge
folder (named by a hash of the folder's absolute path), and it is used only when
everything it was made from is unchanged: the opsbot code and the Python that runs it
(`code_version`), the date (review-age warnings depend on it), the caller's `variant`
(say, a threshold), and each knowledge file's place, size and modification time.

A missing, corrupt, stale or foreign cache file is ignored and rebuilt; a folder that
cannot be written, or that others may write, means no cache. Neither is ever an error.
"""

from __future__ import annotations

import gc
import hashlib
import io
import os
import pickle
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TypeVar

import structlog

from bot import __version__
from bot.kb import LoadResult, load_knowledge
from bot.kb.files import fingerprint

T = TypeVar("T")

#: Bumped when the layout of a cache file changes.
FORMAT = "opsbot-knowledge-cache/1"
#: A file changed this close to the scan may change again within the same timestamp
#: (coarse file system clocks tick in up to 2 s): what was read from it is not cached.
RACY_NS = 2_000_000_000
_PROTOCOL = pickle.HIGHEST_PROTOCOL
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | os.O_CLOEXEC
_PACKAGE = Path(__file__).resolve().parent.parent

log = structlog.get_logger(__name__)


def code_version() -> str:
    """What the cache's contents depend on besides the knowledge: opsbot's version, the
    Python running it, and the place, size and time of every module of the package (an
    edited checkout is a new version)."""
    digest = hashlib.sha256(f"{__version__}\0{sys.version}\0{_PROTOCOL}".encode())
    for module in sorted(_PACKAGE.rglob("*.py")):
        status = module.stat()
        place = module.relative_to(_PACKAGE).as_posix()
        digest.update(f"{place}\0{status.st_size}\0{status.st_mtime_ns}\n".encode())
    return f"{__version__}+{digest.hexdigest()[:16]}"


def default_directory(environ: Mapping[str, str]) -> Path | None:
    """$XDG_CACHE_HOME/opsbot, else ~/.cache/opsbot; None when there is no home."""
    xdg = environ.get("XDG_CACHE_HOME", "")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "opsbot"
    home = environ.get("HOME", "")
    if home and Path(home).is_absolute():
        return Path(home) / ".cache" / "opsbot"
    return None


@dataclass(frozen=True, kw_only=True)
class KnowledgeCache:
    """Knowledge loaded through a cache in `directory` (None: no cache, always load).

    `load` is what a miss runs (a seam for tests); `version` is `code_version()`.
    """

    directory: Path | None
    version: str = field(default_factory=code_version)
    load: Callable[[Path, date], LoadResult] = lambda root, today: load_knowledge(root, today=today)

    def get(
        self,
        root: Path,
        *,
        today: date,
        build: Callable[[LoadResult], T],
        kind: type[T],
        variant: str = "",
    ) -> tuple[LoadResult, T]:
        """The knowledge below `root` and `build(result)`, from the cache when it is fresh."""
        started = time.time_ns()
        files = fingerprint(root)
        key = (FORMAT, self.version, variant, today.isoformat(), os.path.abspath(root), files)
        # A missing folder has no files, like an empty one that may appear in its place.
        place = self.place(root) if root.is_dir() else None
        hit = _read(place, key, kind) if place is not None else None
        if hit is not None:
            result, built = hit
            return result, built if built is not None else build(result)
        with _no_gc():
            result = self.load(root, today)
            built = build(result)
        if place is not None and not _racy(files, started):
            _write(place, key, result, built)
        return result, built

    def place(self, root: Path) -> Path | None:
        """The cache file of the knowledge folder `root`."""
        if self.directory is None:
            return None
        name = hashlib.sha256(os.fsencode(os.path.abspath(root))).hexdigest()[:32]
        return self.directory / f"knowledge-{name}.pickle"


def _racy(files: tuple[tuple[str, int, int], ...], started: int) -> bool:
    return any(mtime >= started - RACY_NS for _, mtime, _ in files)


def _private(status: os.stat_result) -> bool:
    """Owned by this user and writable by no one else (always true where there are no
    user ids)."""
    owner = getattr(os, "geteuid", None)
    mine = owner is None or status.st_uid == owner()
    return mine and not status.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _read(place: Path, key: object, kind: type[T]) -> tuple[LoadResult, T | None] | None:
    try:
        if not _private(os.stat(place.parent)):
            log.debug("knowledge_cache_ignored", reason="folder others may write")
            return None
        fd = os.open(place, _OPEN_FLAGS)
    except OSError:
        return None  # no cache yet
    try:
        with os.fdopen(fd, "rb") as stream:
            status = os.fstat(stream.fileno())
            if not stat.S_ISREG(status.st_mode) or not _private(status):
                log.debug("knowledge_cache_ignored", reason="not a private file")
                return None
            data = io.BytesIO(stream.read())
        if pickle.load(data) != key:  # noqa: S301 - a file only this user can write
            return None
        with _no_gc():
            result, built = pickle.load(data)  # noqa: S301
    except Exception as exc:  # a broken cache of any kind is rebuilt
        log.debug("knowledge_cache_ignored", reason=type(exc).__name__)
        return None
    if not isinstance(result, LoadResult) or not (built is None or isinstance(built, kind)):
        return None
    return result, built


def _write(place: Path, key: object, result: LoadResult, built: object) -> None:
    """Write the cache whole or not at all: a temporary file, renamed over the old one."""
    body = _dumps((result, built)) or _dumps((result, None))
    if body is None:
        return
    folder = place.parent
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _private(os.stat(folder)):
            log.debug("knowledge_cache_not_written", reason="folder others may write")
            return
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=".knowledge-", suffix=".tmp")
    except OSError as exc:
        log.debug("knowledge_cache_not_written", reason=exc.strerror or str(exc))
        return
    try:
        with os.fdopen(fd, "wb") as stream:
            pickle.dump(key, stream, protocol=_PROTOCOL)
            stream.write(body)
        os.replace(temporary, place)
    except OSError as exc:
        log.debug("knowledge_cache_not_written", reason=exc.strerror or str(exc))
        Path(temporary).unlink(missing_ok=True)


def _dumps(value: object) -> bytes | None:
    try:
        with _no_gc():
            return pickle.dumps(value, protocol=_PROTOCOL)
    except Exception as exc:  # something built that does not pickle
        log.debug("knowledge_cache_unpicklable", reason=f"{type(exc).__name__}: {exc}")
        return None


@contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cycle collector: loading, indexing and (un)pickling knowledge make a
    million objects and little garbage, and collecting while they do costs a tenth to
    three quarters of the work itself."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
