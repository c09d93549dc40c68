"""People's clicks on their nudges: answers, "skip this round" and "remind me later".

An answer counts only from the person nudged, while the round is open, and if it fits
the question. A click made while the database is away waits in the outbox (when there is
one) and is checked again, as made at its time, once the database is back.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from bot.checkins.schedule import SKIP, SKIP_QUESTION, AnswerError, check_answer
from bot.checkins.sending import Letters
from bot.errors import StorageError, StorageRefused
from bot.ports import AnswerOutbox, CheckinStore, Clock, Nudge, NudgeMessage, PendingAnswer

log = structlog.get_logger(__name__)

SNOOZE = timedelta(hours=1)
SAVE_TRIES = 3
GONE = "This check-in no longer exists."
NO_SUCH_QUESTION = "That question is no longer part of this check-in."
ANSWER_KEPT = (
    "I couldn't save your answer just now (the database is unavailable). I've kept it and"
    " will save it as soon as I can."
)
ANSWER_NOT_SAVED = (
    "Sorry, I couldn't save your answer just now (the database is unavailable)."
    " Please click again in a minute."
)
LATER_NOT_SAVED = (
    "Sorry, I couldn't set the reminder just now (the database is unavailable)."
    " Please click again in a minute."
)


@dataclass(frozen=True, kw_only=True)
class _Settled:
    """What became of a click: saved or not, and what to tell the person."""

    saved: bool
    text: str


class Clicks:
    def __init__(
        self,
        *,
        store: CheckinStore,
        letters: Letters,
        clock: Clock,
        save_pause: float = 0.2,
        outbox: AnswerOutbox | None = None,
    ) -> None:
        self._store = store
        self._letters = letters
        self._clock = clock
        self._save_pause = save_pause
        # Where an answer clicked while the database is away waits (else: "click again").
        self._outbox = outbox

    async def answer(self, user: str, round_id: int, question_id: str, value: str) -> str:
        """Record an answer from `user`; the reply says what happened, politely and truly."""
        if question_id == SKIP_QUESTION:
            return NO_SUCH_QUESTION
        return await self._click(user, round_id, question_id, value)

    async def skip(self, user: str, round_id: int) -> str:
        return await self._click(user, round_id, SKIP_QUESTION, SKIP)

    async def later(self, user: str, round_id: int) -> str:
        try:
            found = await self._own_round(user, round_id, self._clock.now())
            if isinstance(found, str):
                return found
            until = self._clock.now() + SNOOZE
            await self._store.snooze(round_id, found[1].person, until)
        except StorageError as exc:
            log.warning("snooze_not_saved", round_id=round_id, error=str(exc))
            return LATER_NOT_SAVED
        return "OK, I'll remind you in an hour."

    async def settle(self, kept: PendingAnswer) -> bool:
        """Apply an answer kept while the database was away, checked as a click made at
        `kept.clicked_at`; False (logged) when it no longer counts (the round has closed).
        `StorageError` while the database is still away."""
        settled = await self._apply(kept, tries=1)
        if settled.saved:
            log.info("kept_answer_saved", round_id=kept.round_id, question=kept.question)
        else:
            log.warning(
                "kept_answer_refused",
                round_id=kept.round_id,
                question=kept.question,
                reason=settled.text,
            )
        return settled.saved

    async def _click(self, user: str, round_id: int, question: str, value: str) -> str:
        click = PendingAnswer(
            user=user,
            round_id=round_id,
            question=question,
            value=value,
            clicked_at=self._clock.now(),
        )
        try:
            return (await self._apply(click, tries=SAVE_TRIES)).text
        except StorageRefused as exc:
            log.error("answer_refused", round_id=round_id, question=question, error=str(exc))
            return "Sorry, I could not save that answer."
        except StorageError as exc:
            log.warning("answer_not_saved", round_id=round_id, question=question, error=str(exc))
        if self._outbox is None:
            return ANSWER_NOT_SAVED
        try:
            await self._outbox.keep_answer(click)
        except StorageError as exc:
            log.error("answer_not_kept", round_id=round_id, question=question, error=str(exc))
            return ANSWER_NOT_SAVED
        return ANSWER_KEPT

    async def _apply(self, click: PendingAnswer, *, tries: int) -> _Settled:
        """Check `click` against its round and save it; `StorageError` if the database is
        away (after `tries` attempts at the write)."""
        found = await self._own_round(click.user, click.round_id, click.clicked_at)
        if isinstance(found, str):
            return _Settled(saved=False, text=found)
        shown, nudge = found
        if click.question == SKIP_QUESTION:
            stored, done = SKIP, "Skipped this round. See you next time!"
        else:
            question = next((q for q in shown.questions if q.id == click.question), None)
            if question is None:
                return _Settled(saved=False, text=NO_SUCH_QUESTION)
            try:
                stored = check_answer(question, click.value)
            except AnswerError as exc:
                return _Settled(saved=False, text=f"Sorry, that answer does not fit: {exc}.")
            done = f"Thanks! Recorded {stored or '(empty)'} for: {question.text}"
        await self._save(click, nudge.person, stored, tries)
        return _Settled(saved=True, text=done)

    async def _own_round(
        self, user: str, round_id: int, at: datetime
    ) -> tuple[NudgeMessage, Nudge] | str:
        round_ = await self._store.round(round_id)
        if round_ is None:
            return GONE
        if round_.closed_at is not None or at >= round_.closes_at:
            return "This round is closed, so answers can no longer change. Thanks anyway!"
        nudge = await self._store.nudge_for(round_id, user)
        if nudge is None:
            return "This check-in was sent to someone else; only they can answer it."
        shown = await self._letters.message(nudge)
        return GONE if shown is None else (shown, nudge)

    async def _save(self, click: PendingAnswer, person: str, value: str, tries: int) -> None:
        """Store an answer, riding out a blip of the database; `StorageError` after `tries`."""
        for attempt in range(1, tries + 1):
            try:
                await self._store.answer(
                    click.round_id, person, click.question, value, click.clicked_at
                )
                return
            except StorageRefused:
                raise
            except StorageError as exc:
                if attempt == tries:
                    raise
                log.warning("answer_not_saved", attempt=attempt, error=str(exc))
                await asyncio.sleep(self._save_pause * attempt)

    async def open_checkins(self, user: str) -> list[tuple[str, str]]:
        """(check-in title, round) for each open round `user` was nudged in."""
        found = []
        for nudge in await self._store.open_for(user):
            shown = await self._letters.message(nudge)
            if shown is not None:
                found.append((shown.title, nudge.round_key))
        return found

    async def nudge_view(
        self, user: str, round_id: int
    ) -> tuple[NudgeMessage, dict[str, str], bool] | None:
        """The nudge `user` got in `round_id`, their answers so far and whether the round
        still takes answers: what a platform shows when it updates the nudge in place."""
        nudge = await self._store.nudge_for(round_id, user)
        round_ = await self._store.round(round_id)
        if nudge is None or round_ is None or nudge.user is None:
            return None
        shown = await self._letters.message(nudge)
        if shown is None:
            return None
        answers = {
            a.question: a.value
            for a in await self._store.answers(round_id)
            if a.person == nudge.person
        }
        return shown, answers, round_.is_open(self._clock.now())
