"""The spool: records kept on local disk while the database cannot take them.

One directory, held by one process at a time (an exclusive lock on `lock`), holds
numbered segment files, `outbox.<n>.jsonl`: JSON lines, one record per line, each line
flushed and fsync'd before `append` returns. Segments are read back oldest first; a
segment is removed only once every record in it was written, so a crash in between
replays it, and the writes are idempotent. A process never appends to a segment it
found on start (its last line may be cut short by a crash): it starts a new one.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import structlog

from bot.ports import AskedQuestion, PendingAnswer, Vote

log = structlog.get_logger(__name__)

Record = AskedQuestion | Vote | PendingAnswer

_KINDS: dict[str, type[Record]] = {
    "question": AskedQuestion,
    "vote": Vote,
    "answer": PendingAnswer,
}
_TIMES = {"asked_at", "voted_at", "clicked_at"}
_SEGMENT = re.compile(r"^outbox\.(-?\d+)\.jsonl$")


def kind_of(record: Record) -> str:
    """The record's kind, as spooled: question, vote or answer."""
    return next(name for name, cls in _KINDS.items() if isinstance(record, cls))


def encode(record: Record) -> str:
    """One JSON line (without its newline) for `record`."""
    fields: dict[str, Any] = asdict(record)
    for name in _TIMES & fields.keys():
        fields[name] = fields[name].isoformat()
    return json.dumps({"kind": kind_of(record), **fields}, ensure_ascii=False)


def decode(line: str) -> Record:
    """The record of one JSON line; `ValueError` if it is not one."""
    try:
        fields = json.loads(line)
        cls = _KINDS[fields.pop("kind")]
        for name in _TIMES & fields.keys():
            fields[name] = datetime.fromisoformat(fields[name])
        return cls(**fields)
    except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a spooled record: {exc}") from exc


@dataclass(frozen=True, kw_only=True)
class Segment:
    """The records of one segment file, read back."""

    number: int
    records: list[Record]
    unreadable: int  # lines that were not records (a line cut short by a crash)


class Spool:
    """Segment files of records under `directory`, oldest first."""

    def __init__(self, directory: Path, *, segment_records: int) -> None:
        self.directory = directory
        self._segment_records = segment_records
        self._counts: dict[int, int] = {}  # segment number -> records in it
        self._lock: IO[bytes] | None = None
        self._appending: IO[str] | None = None
        self._appending_number: int | None = None

    @property
    def records(self) -> int:
        """Records in every segment on disk."""
        return sum(self._counts.values())

    def __bool__(self) -> bool:
        return bool(self._counts)

    def open(self) -> bool:
        """Take the directory (created if missing) and find its segments.

        False if another process holds it: this one then runs without a spool.
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        lock = (self.directory / "lock").open("ab")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            return False
        self._lock = lock
        for path in self.directory.iterdir():
            match = _SEGMENT.match(path.name)
            if match is not None:
                with path.open("rb") as file:
                    self._counts[int(match.group(1))] = sum(1 for line in file if line.strip())
        return True

    def close(self) -> None:
        """Close the segment being appended to and let the directory go."""
        self._seal()
        if self._lock is not None:
            self._lock.close()  # releases the lock
            self._lock = None

    def append(self, record: Record) -> None:
        """Add `record` after every other one, durably; `OSError` if the disk refuses."""
        if self._appending is None or self._counts[self._number()] >= self._segment_records:
            self._seal()
            self._appending_number = max(self._counts, default=0) + 1
            self._appending = self._create(self._appending_number).open("a", encoding="utf-8")
        self._appending.write(encode(record) + "\n")
        self._appending.flush()
        os.fsync(self._appending.fileno())
        self._counts[self._number()] += 1

    def prepend(self, records: list[Record]) -> None:
        """Add `records` before every other one, durably (records older than the spool)."""
        if not records:
            return
        number = min(self._counts, default=1) - 1
        path = self._create(number)
        with path.open("a", encoding="utf-8") as file:
            file.writelines(encode(record) + "\n" for record in records)
            file.flush()
            os.fsync(file.fileno())
        self._counts[number] = len(records)

    def oldest(self) -> Segment | None:
        """The oldest segment's records, or None; it stays on disk until `remove`."""
        if not self._counts:
            return None
        number = min(self._counts)
        if number == self._appending_number:
            self._seal()  # what comes next goes to a new segment
        path = self._path(number)
        records: list[Record] = []
        unreadable = 0
        with path.open(encoding="utf-8", errors="replace") as file:
            for line_number, line in enumerate(file, start=1):
                if not line.strip():
                    continue
                try:
                    records.append(decode(line))
                except ValueError as exc:
                    unreadable += 1
                    log.error("spool_line_unreadable", file=f"{path}:{line_number}", error=str(exc))
        return Segment(number=number, records=records, unreadable=unreadable)

    def remove(self, number: int) -> None:
        """Delete a segment whose records were all written (if the disk refuses, it is
        only forgotten: the next start writes it again, which changes nothing)."""
        self._counts.pop(number, None)
        try:
            self._path(number).unlink(missing_ok=True)
            self._sync_directory()
        except OSError as exc:
            log.error("spool_segment_not_removed", file=str(self._path(number)), error=str(exc))

    def _number(self) -> int:
        assert self._appending_number is not None
        return self._appending_number

    def _seal(self) -> None:
        if self._appending is not None:
            self._appending.close()
            self._appending = None
            self._appending_number = None

    def _create(self, number: int) -> Path:
        path = self._path(number)
        path.touch(exist_ok=False)
        self._counts[number] = 0
        self._sync_directory()  # the new name survives a power cut too
        return path

    def _path(self, number: int) -> Path:
        return self.directory / f"outbox.{number}.jsonl"

    def _sync_directory(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
