"""Bot Framework activities (as Teams sends them) to platform-neutral events, and the
conversation references they carry. Plain dicts in, frozen values out: no I/O."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from bot.events import (
    CheckinClick,
    Command,
    Event,
    Message,
    Origin,
    OwnerNamed,
    Suggest,
    parse_payload,
)
from bot.ports import ChatAddress
from bot.teams.cards import action_data, owner_inputs, text_inputs
from bot.teams.digest import with_inputs

PLATFORM = "teams"
#: A user as the core knows them: their Entra object id, kept apart from Slack's ids.
USER_PREFIX = "teams:"
#: Commands typed as plain messages, without "/ops" ("checkin run weekly").
_BARE_COMMANDS = frozenset({"who-owns", "what-is", "checkin", "attest", "digest"})
_COMMAND_PREFIX = re.compile(r"^\s*/?ops\s+", re.IGNORECASE)
_IANA = re.compile(r"[A-Za-z_]+(?:/[A-Za-z0-9_+-]+){0,2}")
_AT_TAG = re.compile(r"<at\b[^>]*>(.*?)</at>", re.IGNORECASE | re.DOTALL)
#: The longest text taken from an activity (Slack's limit; Teams allows about 28 kB).
MAX_TEXT = 40_000
#: The most members of one conversation kept from a roster.
_MAX_ROSTER = 10_000


def user_key(user_id: str) -> str:
    """The core's user for a Teams user: `teams:<Entra object id>`."""
    return USER_PREFIX + user_id


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _field(activity: Mapping[str, Any], *path: str) -> str | None:
    node: Any = activity
    for name in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(name)
    return node if isinstance(node, str) and node else None


def shape_problem(body: object) -> str | None:
    """Why `body` is not an activity we can take, or None if it is one."""
    if not isinstance(body, Mapping):
        return "the body is not a JSON object"
    for path in (("type",), ("serviceUrl",), ("conversation", "id")):
        if _field(body, *path) is None:
            return f"the activity has no {'.'.join(path)}"
    if not str(body["serviceUrl"]).startswith(("https://", "http://")):
        return "the activity's serviceUrl is not an http(s) URL"
    return None


def origin_of(activity: Mapping[str, Any]) -> Origin:
    """Who said it, and where: the sender's Entra object id, the tenant, the conversation."""
    aad = _field(activity, "from", "aadObjectId") or _field(activity, "from", "id")
    kind = _field(activity, "conversation", "conversationType") or "personal"
    conversation = _field(activity, "conversation", "id")
    return Origin(
        platform=PLATFORM,
        user=None if aad is None else user_key(aad),
        workspace=_field(activity, "conversation", "tenantId")
        or _field(activity, "channelData", "tenant", "id"),
        channel=conversation,
        is_direct=kind == "personal",
        # A Teams conversation is a conversation: a channel thread or a group chat.
        thread=None if kind == "personal" else conversation,
    )


def without_mentions(text: str) -> str:
    """The message with `<at>...</at>` mentions removed (the bot's, and anyone's)."""
    return _AT_TAG.sub(" ", text).strip()


def event_of(activity: Mapping[str, Any]) -> Event | None:
    """The event a message or card action stands for, or None (not ours, nothing asked)."""
    origin = origin_of(activity)
    value = activity.get("value")
    if activity.get("type") == "invoke" or isinstance(value, Mapping):
        return _clicked(value, origin)
    text = without_mentions(_text(activity.get("text"))[:MAX_TEXT])
    if not text:
        return None
    prefixed = _COMMAND_PREFIX.match(text)
    if prefixed:
        return Command(origin=origin, text=text[prefixed.end() :].strip())
    if text.split(" ", 1)[0].lower() in _BARE_COMMANDS:
        return Command(origin=origin, text=text)
    return Message(origin=origin, text=text)


def _clicked(value: object, origin: Origin) -> Event | None:
    """A card button (Action.Submit or Action.Execute): our payload, and for a check-in
    text answer, the text typed in its box."""
    payload = action_data(value)
    event = None if payload is None else parse_payload(payload, origin)
    if isinstance(event, Suggest):
        return with_inputs(event, value)  # the form of "Suggest an answer" on a digest
    if isinstance(event, OwnerNamed):
        return replace(event, owner=owner_inputs(value))  # the form after a "no"
    if not isinstance(event, CheckinClick) or event.action != "answer" or event.value:
        return event
    typed = text_inputs(value).get(event.question, "").strip()
    return replace(event, value=typed) if typed else None  # nothing typed: nothing to record


def addresses_of(activity: Mapping[str, Any], bot_id: str, at: datetime) -> tuple[ChatAddress, ...]:
    """The conversation references an activity hands the bot: the sender's (with the 1:1
    conversation when it is one), a channel's, and the members added with the bot."""
    service_url = _field(activity, "serviceUrl") or ""
    tenant = _field(activity, "conversation", "tenantId") or _field(
        activity, "channelData", "tenant", "id"
    )
    kind = _field(activity, "conversation", "conversationType") or "personal"
    conversation = _field(activity, "conversation", "id")
    found: list[ChatAddress] = []
    members = [activity.get("from")]
    if activity.get("type") == "conversationUpdate":
        added = activity.get("membersAdded")
        members += added if isinstance(added, list) else []
    for member in members:
        if not isinstance(member, Mapping):
            continue
        user_id = _field(member, "id")
        if user_id is None or user_id == bot_id or user_id.startswith("28:"):
            continue  # the bot itself
        key = _field(member, "aadObjectId") or user_id
        found.append(
            ChatAddress(
                platform=PLATFORM,
                key=key,
                kind="person",
                service_url=service_url,
                tenant_id=tenant,
                user_id=user_id,
                name=_field(member, "name"),
                email=_field(member, "email") or _field(member, "userPrincipalName"),
                conversation_id=conversation if kind == "personal" else None,
                bot_id=_field(activity, "recipient", "id"),
                timezone=_zone(activity) if member is activity.get("from") else None,
                updated_at=at,
            )
        )
    channel = _field(activity, "channelData", "channel", "id")
    if kind == "channel" and channel is not None:
        found.append(
            ChatAddress(
                platform=PLATFORM,
                key=channel,
                kind="channel",
                service_url=service_url,
                tenant_id=tenant,
                name=_field(activity, "channelData", "channel", "name"),
                conversation_id=channel,
                bot_id=_field(activity, "recipient", "id"),
                updated_at=at,
            )
        )
    return tuple(found)


def roster_addresses(
    activity: Mapping[str, Any], members: list[dict[str, Any]], at: datetime
) -> Iterator[ChatAddress]:
    """References for a conversation's members (`GET .../members`): no 1:1 chat yet,
    but their ids, names and e-mail addresses."""
    service_url = _field(activity, "serviceUrl") or ""
    tenant = _field(activity, "conversation", "tenantId") or _field(
        activity, "channelData", "tenant", "id"
    )
    personal = (_field(activity, "conversation", "conversationType") or "personal") == "personal"
    for member in members[:_MAX_ROSTER]:
        user_id = _field(member, "id")
        if user_id is None or user_id.startswith("28:"):
            continue
        yield ChatAddress(
            platform=PLATFORM,
            key=_field(member, "aadObjectId") or user_id,
            kind="person",
            service_url=service_url,
            tenant_id=_field(member, "tenantId") or tenant,
            user_id=user_id,
            name=_field(member, "name"),
            email=_field(member, "email") or _field(member, "userPrincipalName"),
            conversation_id=_field(activity, "conversation", "id") if personal else None,
            bot_id=_field(activity, "recipient", "id"),
            updated_at=at,
        )


def _zone(activity: Mapping[str, Any]) -> str | None:
    """The sender's IANA time zone, as their Teams client says (`localTimezone`, or the
    `clientInfo` entity's `timezone`)."""
    zone = _field(activity, "localTimezone")
    entities = activity.get("entities")
    for entity in entities if isinstance(entities, list) and zone is None else ():
        if isinstance(entity, Mapping) and entity.get("type") == "clientInfo":
            zone = _field(entity, "timezone")
    return zone if zone is not None and len(zone) <= 64 and _IANA.fullmatch(zone) else None
