"""`/ops attest ...`: start a round now (admins), name the owner after a "no", see status."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.attestation.service import AttestationService
from bot.events import Origin, Reply

USAGE = "Usage: /ops attest run | status | owner ROUND QUESTION NAME"
REFUSED = "Sorry, only opsbot admins can start an ownership check. Ask your enablement team."


def _reply(text: str) -> Reply:
    return Reply(text=text, kind="checkin")


async def attest_command(
    service: AttestationService,
    origin: Origin,
    text: str,
    *,
    is_admin: Callable[[str | None], bool],
    audit: Callable[[str, str | None, str, bool], Awaitable[None]],
) -> Reply:
    words = text.split()
    sub = words[0].lower() if words else ""
    if sub == "run":
        allowed = is_admin(origin.user)
        await audit(origin.platform, origin.user, "attest run", allowed)
        if not allowed:
            return _reply(REFUSED)
        asked = await service.run_now()
        if not asked.people:
            return _reply("Nothing to confirm: every owner has confirmed lately, or is asked.")
        reached = asked.people - len(asked.waiting)
        people = "person" if reached == 1 else "people"
        text = (
            f"Asked {reached} {people} to confirm the owners of {asked.entities}"
            " entities (those confirmed longest ago)."
        )
        if asked.waiting:
            text += (
                f" {len(asked.waiting)} more can't be reached here yet"
                f" ({', '.join(asked.waiting[:10])}): they are asked once they can be."
            )
        return _reply(text)
    if sub == "owner" and len(words) >= 4 and words[1].isdigit():
        owner = " ".join(words[3:])
        return _reply(await service.propose(origin.user or "", int(words[1]), words[2], owner))
    if sub == "status":
        found = await service.status()
        counts = dict.fromkeys(("confirmed", "pending", "overdue", "disputed"), 0)
        for item in found:
            counts[item.state] += 1
        shown = ", ".join(f"{n} {state}" for state, n in counts.items())
        return _reply(f"Ownership of {len(found)} entities: {shown}. Details: opsbot attest status")
    return _reply(USAGE)
