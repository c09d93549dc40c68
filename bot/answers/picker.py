"""Entities a picker offers as someone types: by reference, title or alias."""

from __future__ import annotations

from collections.abc import Collection

from bot.answers.text import fold
from bot.kb.knowledge import Knowledge
from bot.model import Entity


def choices(
    knowledge: Knowledge, query: str, kinds: Collection[str], limit: int = 50
) -> list[Entity]:
    """Entities of `kinds` whose reference, title or an alias contain `query` (those
    starting with it first), by title; everything when `query` is empty."""
    wanted = fold(query)
    ranked: list[tuple[int, str, Entity]] = []
    for entity in knowledge:
        if entity.kind not in kinds:
            continue
        texts = [fold(str(entity.ref)), fold(entity.title), *(fold(a) for a in entity.aliases)]
        if not wanted or any(t.startswith(wanted) for t in texts):
            rank = 0
        elif any(wanted in t for t in texts):
            rank = 1
        else:
            continue
        ranked.append((rank, entity.title.casefold(), entity))
    ranked.sort(key=lambda r: (r[0], r[1], r[2].ref))
    return [entity for _, _, entity in ranked[:limit]]
