"""Problems found in knowledge files, each pinned to `file:line`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning", "note"]


@dataclass(frozen=True, kw_only=True, order=True)
class Problem:
    file: str
    line: int
    severity: Severity
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.severity}: {self.message}"


@dataclass(frozen=True, kw_only=True, order=True)
class LeftOut:
    """Knowledge that is not served: one entity, or a file (or the rest of one) that could
    not be read; `file:line` is where its first error is, `problem` that error."""

    file: str
    line: int
    problem: str
    entity: bool = True

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def __str__(self) -> str:
        return f"{self.where}: {self.problem}"
