"""Microsoft Teams at `POST /api/messages`: checks each activity (token, shape, service
URL), hands it to the Agents SDK's `CloudAdapter`, and translates the turn: activity to
event, the handlers' reply to an Adaptive Card. No rule of the bot lives here."""

from __future__ import annotations

import asyncio
import json
import warnings
from collections.abc import Callable, Coroutine, Mapping
from contextvars import ContextVar
from dataclasses import replace
from datetime import timedelta
from typing import Any, Protocol, cast

import structlog
from aiohttp import web
from microsoft_agents.activity import Activity, ActivityTypes, InvokeResponse
from microsoft_agents.hosting.aiohttp import CloudAdapter
from microsoft_agents.hosting.core import TurnContext
from microsoft_agents.hosting.core.authorization import ClaimsIdentity, ConnectionManager

from bot.errors import DeliveryFailed, StorageError
from bot.events import CheckinClick, Event, Reply
from bot.handlers import Handlers
from bot.ports import AddressBook, ChatAddress, Clock, EventLog, NudgeMessage, Telemetry
from bot.teams.activities import addresses_of, event_of, roster_addresses, shape_problem
from bot.teams.auth import BotTokens, InboundTokens, TeamsAuthError, TeamsKeysUnavailable
from bot.teams.auth import claims_identity as identity_of
from bot.teams.cards import action_data
from bot.teams.messenger import card_activity

log = structlog.get_logger(__name__)

#: The largest activity read (Teams' own messages stay under 100 kB).
MAX_BODY = 1024 * 1024
_BODY: ContextVar[dict[str, Any]] = ContextVar("teams_activity")
#: A reference seen again unchanged is written again only this long after.
REFERENCE_REFRESH = timedelta(hours=1)
KEPT_REFERENCES = 50_000
NOTHING_TYPED = "Type your answer in the box first, then press Send."


class Outbound(Protocol):
    async def reply(
        self, service_url: str, conversation_id: str, reply_to_id: str, activity: dict[str, Any]
    ) -> str: ...

    async def send(
        self, service_url: str, conversation_id: str, activity: dict[str, Any]
    ) -> str: ...

    async def update(
        self, service_url: str, conversation_id: str, activity_id: str, activity: dict[str, Any]
    ) -> None: ...

    async def members(self, service_url: str, conversation_id: str) -> list[dict[str, Any]]: ...


class Renderer(Protocol):
    def reply_card(self, reply: Reply) -> dict[str, Any]: ...

    def recorded_card(
        self, message: NudgeMessage, answers: Mapping[str, str], *, closed: bool = False
    ) -> dict[str, Any]: ...


class TeamsAdapter:
    """Bot Framework activities in, Adaptive Cards out, through the same handlers as Slack."""

    def __init__(
        self,
        *,
        handlers: Callable[[], Handlers],
        events: EventLog,
        addresses: AddressBook,
        clock: Clock,
        telemetry: Telemetry,
        tokens: InboundTokens | None,
        bot_tokens: BotTokens,
        connector: Outbound,
        renderer: Callable[[], Renderer],
        app_id: str,
        learned: Callable[[ChatAddress], None] = lambda _: None,
    ) -> None:
        self._handlers = handlers
        self._events = events
        self._addresses = addresses
        self._clock = clock
        self._telemetry = telemetry
        self._tokens = tokens  # None: anonymous local development (TEAMS_ALLOW_ANONYMOUS)
        self._connector = connector
        self._renderer = renderer
        self._app_id = app_id
        self._learned = learned  # check-ins reach people this replica just met at once
        # The SDK runs the turn; its own outbound calls (none, as we use) get our tokens.
        manager = ConnectionManager(
            provider_factory=lambda _: bot_tokens,
            connections_configurations={"SERVICE_CONNECTION": bot_tokens.configuration},
        )
        self._cloud = CloudAdapter(connection_manager=manager)
        self._cloud.on_turn_error = self._on_turn_error
        self._tasks: set[asyncio.Task[None]] = set()
        self._kept: dict[tuple[str, str], ChatAddress] = {}

    # -- the route -------------------------------------------------------------------

    async def http(self, request: web.Request) -> web.StreamResponse:
        """Token (401), then the body's shape (400), then its service URL (401)."""
        claims: dict[str, Any] | None = None
        if self._tokens is not None:
            try:
                claims = await self._tokens.verify(request.headers.get("Authorization"))
            except TeamsKeysUnavailable as exc:
                log.warning("teams_keys_unavailable", error=str(exc))
                return web.json_response({"error": "signing keys unavailable"}, status=503)
            except TeamsAuthError as exc:
                log.info("teams_token_refused", reason=str(exc))
                return web.json_response({"error": "unauthorized"}, status=401)
        raw = await request.content.read(MAX_BODY + 1)
        if len(raw) > MAX_BODY:
            return web.json_response({"error": "activity too large"}, status=413)
        try:
            body = json.loads(raw)
        except ValueError:
            return web.json_response({"error": "the body is not JSON"}, status=400)
        problem = shape_problem(body)
        if problem is not None:
            return web.json_response({"error": problem}, status=400)
        if claims is not None and self._tokens is not None:
            try:
                self._tokens.check_service_url(claims, str(body["serviceUrl"]))
            except TeamsAuthError as exc:
                log.info("teams_token_refused", reason=str(exc))
                return web.json_response({"error": "unauthorized"}, status=401)
        identity = identity_of(claims) if claims is not None else ClaimsIdentity({}, "anonymous")
        with warnings.catch_warnings():  # the SDK reads this plain string key
            warnings.simplefilter("ignore", web.NotAppKeyWarning)
            request["claims_identity"] = identity
        token = _BODY.set(body)
        try:
            replayed = cast(web.Request, _Replayed(request, raw))
            response = await self._cloud.process(replayed, self)
        finally:
            _BODY.reset(token)
        return response if response is not None else web.Response(status=200)

    # -- the turn --------------------------------------------------------------------

    async def on_turn(self, context: TurnContext) -> None:
        """One activity: remember who and where, then answer what was asked, once."""
        body = _BODY.get()
        kind = str(body.get("type"))
        if kind in ("conversationUpdate", "installationUpdate"):
            self._later(self._remember(body))  # a team's roster may take seconds
            return
        await self._remember(body)
        if kind not in ("message", "invoke"):
            return  # typing, reactions...: nothing to answer
        if kind == "invoke" and body.get("name") != "adaptiveCard/action":
            await _invoke(context, 200, None)
            return
        key = f"teams:{body['conversation']['id']}:{body.get('id') or ''}"
        if body.get("id") and not await self._first(key):
            if kind == "invoke":
                await _invoke(context, 200, _message("Already done."))
            return
        event = event_of(body)
        if kind == "invoke":
            reply = await self._handled(event) if event is not None else _unknown_button()
            await _invoke(context, 200, await self._invoke_body(event, reply))
            return
        if event is None:
            if isinstance(body.get("value"), Mapping):  # a button: ours with an empty box,
                ours = action_data(body["value"]) is not None  # or one we do not know
                reply = Reply(text=NOTHING_TYPED, kind="error") if ours else _unknown_button()
                self._later(self._answer(body, reply))
            return
        self._later(self._reply(body, event))

    async def _reply(self, body: Mapping[str, Any], event: Event) -> None:
        reply = await self._handled(event)
        await self._answer(body, reply)
        if isinstance(event, CheckinClick) and body.get("replyToId"):
            card = await self._recorded(event)
            if card is None:
                return
            try:  # the answer is recorded and said; the card shows it when it can
                await self._connector.update(
                    str(body["serviceUrl"]),
                    str(body["conversation"]["id"]),
                    str(body["replyToId"]),
                    card_activity(card),
                )
            except DeliveryFailed as exc:
                self._telemetry.platform_error("teams", "update", "failed")
                log.warning("teams_card_not_updated", error=str(exc))

    async def _answer(self, body: Mapping[str, Any], reply: Reply) -> None:
        activity = card_activity(self._renderer().reply_card(reply), summary=reply.text)
        service_url = str(body["serviceUrl"])
        conversation = str(body["conversation"]["id"])
        try:
            if body.get("id"):
                await self._connector.reply(service_url, conversation, str(body["id"]), activity)
            else:
                await self._connector.send(service_url, conversation, activity)
        except DeliveryFailed as exc:
            self._telemetry.reply_dropped("teams", "reply")
            log.warning("teams_reply_dropped", error=str(exc))

    async def _handled(self, event: Event) -> Reply:
        return await self._handlers().handle(event)

    async def _invoke_body(self, event: Event | None, reply: Reply) -> dict[str, Any]:
        """An `Action.Execute` answer: the nudge updated to what was recorded, else the reply."""
        if isinstance(event, CheckinClick):
            card = await self._recorded(event)
            if card is not None:
                return {
                    "statusCode": 200,
                    "type": "application/vnd.microsoft.card.adaptive",
                    "value": card,
                }
        return _message(reply.text)

    async def _recorded(self, click: CheckinClick) -> dict[str, Any] | None:
        view = await self._handlers().nudge_view(click.origin.user or "", click.round_id)
        if view is None:
            return None
        message, answers, open_ = view
        return self._renderer().recorded_card(message, answers, closed=not open_)

    async def _remember(self, body: Mapping[str, Any]) -> None:
        """Keep the references an activity carries; on an install, the roster's too (with
        e-mail addresses: how people without `spec.teams` are found)."""
        found = list(addresses_of(body, self._app_id, self._clock.now()))
        if body.get("type") in ("conversationUpdate", "installationUpdate"):
            found += await self._roster(body)
        for address in found:
            if not self._news(address):
                continue
            self._learned(address)
            try:
                await self._addresses.remember(address)
            except StorageError as exc:
                log.warning("teams_reference_not_kept", error=str(exc))
                return

    def _news(self, address: ChatAddress) -> bool:
        """Whether `address` tells more than the one this replica kept last (each message
        carries one: writing it every time would cost a transaction per message)."""
        key = (address.kind, address.key)
        kept = self._kept.get(key)
        if kept is not None:
            fresh = address.updated_at - kept.updated_at < REFERENCE_REFRESH
            if fresh and replace(address, updated_at=kept.updated_at) == kept:
                return False
        if len(self._kept) >= KEPT_REFERENCES:
            self._kept.clear()
        self._kept[key] = address
        return True

    async def _roster(self, body: Mapping[str, Any]) -> list[ChatAddress]:
        service_url = str(body["serviceUrl"])
        conversation = str(body["conversation"]["id"])
        try:
            members = await self._connector.members(service_url, conversation)
        except DeliveryFailed as exc:
            log.info("teams_roster_unavailable", error=str(exc))
            return []
        return list(roster_addresses(body, members, self._clock.now()))

    async def _first(self, key: str) -> bool:
        """Claim an activity for every replica: False for a redelivery. With the database
        away, True: better a rare repeat than the question lost."""
        try:
            return await self._events.claim(key[:255], self._clock.now())
        except StorageError as exc:
            log.warning("event_claim_failed", error=str(exc))
            return True

    async def _on_turn_error(self, context: TurnContext, error: Exception) -> None:
        """The SDK's last resort: log it; the person is told nothing untrue or technical."""
        log.error("teams_turn_failed", error=repr(error))

    def _later(self, work: Coroutine[Any, Any, None]) -> None:
        """Answer after the HTTP response (Teams waits 15 s at most); failures are logged."""

        async def guarded() -> None:
            try:
                await work
            except Exception as exc:
                log.exception("teams_background_failed", error=repr(exc))

        task = asyncio.get_running_loop().create_task(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, seconds: float = 10.0) -> None:
        """Let replies already started finish (at shutdown), for up to `seconds`."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=seconds)


class _Replayed:
    """The request as the SDK reads it, its body already read and checked by us."""

    def __init__(self, request: web.Request, raw: bytes) -> None:
        self._request = request
        self._raw = raw

    def __getattr__(self, name: str) -> Any:
        return getattr(self._request, name)

    def __getitem__(self, key: str) -> Any:
        return self._request[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self._request.get(key, default)

    async def json(self) -> Any:
        return json.loads(self._raw)

    async def read(self) -> bytes:
        return self._raw


def _message(text: str) -> dict[str, Any]:
    return {"statusCode": 200, "type": "application/vnd.microsoft.activity.message", "value": text}


def _unknown_button() -> Reply:
    return Reply(text="Sorry, I don't know that button. Try asking again.", kind="unhandled")


async def _invoke(context: TurnContext, status: int, body: dict[str, Any] | None) -> None:
    response = InvokeResponse(status=status, body=body)
    await context.send_activity(Activity(type=ActivityTypes.invoke_response, value=response))
