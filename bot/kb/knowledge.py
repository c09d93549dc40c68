"""The loaded knowledge: entities by reference, with membership and ownership derived."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from bot.model import OWNABLE_KINDS, Entity, OwnableSpec, PersonSpec, Ref, TeamSpec


@dataclass(frozen=True, kw_only=True)
class Knowledge:
    """An immutable knowledge base. Build it with `Knowledge.of(entities)`."""

    entities: dict[Ref, Entity]
    members: dict[Ref, tuple[Ref, ...]] = field(default_factory=dict)
    teams_of: dict[Ref, tuple[Ref, ...]] = field(default_factory=dict)
    owned_by: dict[Ref, tuple[Ref, ...]] = field(default_factory=dict)
    backup_for: dict[Ref, tuple[Ref, ...]] = field(default_factory=dict)
    children: dict[Ref, tuple[Ref, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, entities: Iterable[Entity]) -> Knowledge:
        by_ref = {e.ref: e for e in entities}
        members: defaultdict[Ref, set[Ref]] = defaultdict(set)
        owned: defaultdict[Ref, set[Ref]] = defaultdict(set)
        backup: defaultdict[Ref, set[Ref]] = defaultdict(set)
        children: defaultdict[Ref, set[Ref]] = defaultdict(set)
        for entity in by_ref.values():
            spec = entity.spec
            if isinstance(spec, TeamSpec):
                members[entity.ref].update(spec.members)
                children[entity.ref].update(spec.children)
                if spec.parent is not None:
                    children[spec.parent].add(entity.ref)
            elif isinstance(spec, PersonSpec):
                for team in spec.member_of:
                    members[team].add(entity.ref)
            elif isinstance(spec, OwnableSpec) and spec.backup is not None:
                backup[spec.backup].add(entity.ref)
            if entity.owner is not None:
                owned[entity.owner].add(entity.ref)
        teams_of: defaultdict[Ref, set[Ref]] = defaultdict(set)
        for team, people in members.items():
            for person in people:
                teams_of[person].add(team)
        return cls(
            entities=by_ref,
            members=_frozen(members),
            teams_of=_frozen(teams_of),
            owned_by=_frozen(owned),
            backup_for=_frozen(backup),
            children=_frozen(children),
        )

    def __len__(self) -> int:
        return len(self.entities)

    def __iter__(self) -> Iterator[Entity]:
        return iter(self.entities.values())

    def get(self, ref: Ref | None) -> Entity | None:
        return None if ref is None else self.entities.get(ref)

    def title(self, ref: Ref) -> str:
        entity = self.entities.get(ref)
        return entity.title if entity is not None else str(ref)

    def of_kind(self, *kinds: str) -> list[Entity]:
        return [e for e in self.entities.values() if e.kind in kinds]

    def ownables(self) -> list[Entity]:
        return self.of_kind(*OWNABLE_KINDS)


def _frozen(index: defaultdict[Ref, set[Ref]]) -> dict[Ref, tuple[Ref, ...]]:
    return {key: tuple(sorted(values)) for key, values in index.items()}
