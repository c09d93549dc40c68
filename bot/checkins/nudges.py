"""What a check-in's nudge says and where it goes: the `Letters` of check-in rounds."""

from __future__ import annotations

from collections.abc import Callable

from bot.checkins.schedule import spec_of
from bot.checkins.sending import deliver
from bot.kb.knowledge import Knowledge
from bot.model import Entity, Ref
from bot.ports import Delivered, Messenger, Nudge, NudgeMessage


class CheckinLetters:
    def __init__(self, *, knowledge: Callable[[], Knowledge], messenger: Messenger) -> None:
        self._knowledge = knowledge
        self._messenger = messenger

    def checkin(self, nudge: Nudge) -> Entity | None:
        return self._knowledge().get(Ref(kind="checkin", name=nudge.checkin))

    async def current(self, nudge: Nudge) -> bool:
        return self.checkin(nudge) is not None

    async def message(self, nudge: Nudge, *, reminder: bool = False) -> NudgeMessage | None:
        checkin = self.checkin(nudge)
        return None if checkin is None else message(checkin, nudge, reminder=reminder)

    def address(self, nudge: Nudge) -> str | None:
        checkin = self.checkin(nudge)
        person = self._knowledge().get(Ref.parse(nudge.person, default_kind="person"))
        if person is None or checkin is None:
            return None
        return self._messenger.address(person, spec_of(checkin).platforms)

    async def deliver(self, nudge: Nudge, *, reminder: bool = False) -> Delivered:
        return await deliver(self, self._messenger, nudge, reminder=reminder)


def message(checkin: Entity, nudge: Nudge, *, reminder: bool = False) -> NudgeMessage:
    assert nudge.user is not None
    return NudgeMessage(
        key=nudge.key,
        round_id=nudge.round_id,
        user=nudge.user,
        title=checkin.title,
        questions=spec_of(checkin).questions,
        reminder=reminder,
    )
