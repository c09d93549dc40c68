"""`/ops checkin ...`: list, run, pause, resume, report, export; clicks on nudges.

Starting, pausing and exporting are for admins; every such request is audited,
refused ones too, and a refusal is polite.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.checkins.reports import ExportRow, export_csv
from bot.checkins.service import CheckinService
from bot.events import Attachment, CheckinClick, Origin, Reply
from bot.model import CheckInSpec, Entity, Ref
from bot.ports import Round
from bot.styled import Span, Styled, code

USAGE = "Usage: /ops checkin list | run NAME | pause NAME | resume NAME | report NAME | export NAME"
REFUSED = "Sorry, only opsbot admins can {action} check-ins. Ask your enablement team."


@dataclass(frozen=True, kw_only=True)
class _Command:
    run: Callable[[CheckinService, Origin, Entity], Awaitable[Reply]]
    admin: bool
    verb: str


def _reply(text: str) -> Reply:
    return Reply(text=text, kind="checkin")


async def _run(service: CheckinService, origin: Origin, checkin: Entity) -> Reply:
    started = await service.run_now(checkin)
    if isinstance(started, Round):
        return _reply(
            f"{checkin.title} is already running since {started.opened_at:%Y-%m-%d %H:%M} UTC"
            f" (this round closes {started.closes_at:%Y-%m-%d %H:%M} UTC); not starting another."
        )
    reached = started.claimed - len(started.waiting)
    people = "person" if reached == 1 else "people"
    text = f"Started a round of {checkin.title}: {reached} {people} nudged."
    if started.waiting:
        shown = ", ".join(started.waiting[:10]) + (", ..." if len(started.waiting) > 10 else "")
        text += (
            f" {len(started.waiting)} more can't be reached here yet ({shown}): no chat"
            " account of theirs is known; they get it once they can be, while it is open."
        )
    return _reply(text)


async def _pause(service: CheckinService, origin: Origin, checkin: Entity) -> Reply:
    await service.pause(checkin, True)
    resume = code(f"/ops checkin resume {checkin.ref.name}")
    return Reply.of(
        Styled.of(("Paused ", checkin.title, ". ", resume, " restarts it.")), kind="checkin"
    )


async def _resume(service: CheckinService, origin: Origin, checkin: Entity) -> Reply:
    await service.pause(checkin, False)
    return _reply(f"Resumed {checkin.title}.")


async def _report(service: CheckinService, origin: Origin, checkin: Entity) -> Reply:
    rounds = await service.store.rounds(checkin.ref.name, 1)
    if not rounds:
        return _reply(f"{checkin.title} has had no rounds yet.")
    text, chart = await service.report(checkin, rounds[0])
    attachment = Attachment(filename=f"{checkin.ref.name}.png", content=chart, title=checkin.title)
    return Reply.of(text, kind="checkin", attachment=attachment)


async def export(service: CheckinService, checkin: Entity) -> Reply:
    """Every answer of a check-in as CSV (anonymous check-ins without names or times)."""
    spec = checkin.spec
    assert isinstance(spec, CheckInSpec)
    rows = []
    for round_ in reversed(await service.store.rounds(checkin.ref.name, 1000)):
        for answer in await service.store.answers(round_.id):
            rows.append(
                ExportRow(
                    round_key=round_.round_key,
                    person=answer.person,
                    question=answer.question,
                    value=answer.value,
                    answered_at=answer.answered_at,
                )
            )
    csv_text = export_csv(spec, rows, anonymous=spec.anonymous)
    attachment = Attachment(
        filename=f"{checkin.ref.name}.csv", content=csv_text.encode(), title=checkin.title
    )
    return Reply(
        text=f"Exported {len(rows)} answers of {checkin.title}.",
        kind="checkin",
        attachment=attachment,
    )


COMMANDS: dict[str, _Command] = {
    "run": _Command(run=_run, admin=True, verb="start"),
    "pause": _Command(run=_pause, admin=True, verb="pause"),
    "resume": _Command(run=_resume, admin=True, verb="resume"),
    "report": _Command(run=_report, admin=False, verb="report on"),
    "export": _Command(run=lambda s, _, c: export(s, c), admin=True, verb="export"),
}


async def checkin_command(service: CheckinService, origin: Origin, text: str) -> Reply:
    """`/ops checkin <sub> [NAME]`."""
    sub, _, name = text.strip().partition(" ")
    sub, name = sub.lower(), name.strip().lower()
    if sub in ("", "list"):
        return await _list(service)
    command = COMMANDS.get(sub)
    if command is None or not name:
        return _reply(USAGE)
    checkin = service.knowledge().get(Ref(kind="checkin", name=name))
    if checkin is None:
        known = ", ".join(c.ref.name for c in service.checkins()) or "none"
        return _reply(f"There is no check-in called {name!r}. Known: {known}.")
    if command.admin:
        allowed = service.is_admin(origin.user)
        await service.audit(origin.platform, origin.user, f"checkin {sub} {name}", allowed)
        if not allowed:
            return _reply(REFUSED.format(action=command.verb))
    return await command.run(service, origin, checkin)


async def _list(service: CheckinService) -> Reply:
    checkins = service.checkins()
    if not checkins:
        return _reply("There are no check-ins in the knowledge base.")
    paused = await service.store.paused()
    lines: list[tuple[str | Span, ...]] = []
    for checkin in checkins:
        spec = checkin.spec
        assert isinstance(spec, CheckInSpec)
        state = " (paused)" if checkin.ref.name in paused else ""
        zone = "each recipient's time" if spec.timezone == "recipient" else spec.timezone
        name = f"• {checkin.ref.name}: {checkin.title}, "
        lines.append((name, code(spec.schedule), f" in {zone}{state}"))
    return Reply.of(Styled.of("Check-ins:", *lines), kind="checkin")


async def checkin_click(service: CheckinService, click: CheckinClick) -> Reply:
    """A click on a nudge, from whoever clicked; only the recipient's count."""
    user = click.origin.user or ""
    if click.action == "skip":
        return _reply(await service.skip(user, click.round_id))
    if click.action == "later":
        return _reply(await service.later(user, click.round_id))
    return _reply(await service.answer(user, click.round_id, click.question, click.value))
