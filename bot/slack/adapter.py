"""The Slack adapter: slack-bolt (async) translating between Slack and the handlers.

Inbound: the HTTP route (`/slack/events`, signed) and Socket Mode both feed one bolt
app. Slash commands are answered inside the ack; events and clicks are acked at once
and worked on afterwards, so Slack always hears back within its 3 seconds.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import structlog
from aiohttp import ClientError
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.webhook_response import WebhookResponse

from bot.answers import AnswerEngine
from bot.errors import StorageError
from bot.events import (
    CheckinClick,
    Command,
    Event,
    Feedback,
    Message,
    Origin,
    OwnerNamed,
    Pick,
    Suggest,
    parse_payload,
)
from bot.handlers import Handlers
from bot.model import whole_number
from bot.ports import Clock, EventLog, Telemetry
from bot.slack.attest import ACTION_ATTEST_OWNER, VIEW_ATTEST_OWNER, owner_submitted, owner_view
from bot.slack.blocks import (
    ACTION_LINK,
    ACTION_PICK,
    ACTION_SHARE,
    ACTION_VOTE,
    SlackRenderer,
    reply_mrkdwn,
)
from bot.slack.client import REPLY_DEADLINE, PacedWebClient, webhook_client
from bot.slack.digest import (
    ACTION_GAP_ENTITY,
    ACTION_GAP_SUGGEST,
    VIEW_GAP_SUGGEST,
    entity_options,
    submitted,
    suggest_view,
)
from bot.slack.markup import Mrkdwn, escape
from bot.slack.messenger import ACTION_CHECKIN, ACTION_CHECKIN_TEXT, VIEW_CHECKIN_TEXT, text_view

log = structlog.get_logger(__name__)

MAX_BODY = 1024 * 1024
#: Slack's signatures are "v0=" and 64 hex digits; anything much longer is not one.
MAX_SIGNATURE = 128
#: What a click on a button no message of ours carries gets.
UNKNOWN_BUTTON = "Sorry, I can't read that button (it may be from an old message). Try /ops help."
_MENTION = re.compile(r"^\s*<@[A-Z0-9]+(?:\|[^>]*)?>[\s,:]*")


@dataclass(frozen=True, kw_only=True)
class HttpResult:
    """What the HTTP route answers: a status, a body, its content type."""

    status: int
    body: str = ""
    content_type: str = "text/plain"
    headers: tuple[tuple[str, str], ...] = ()  # e.g. Location, Set-Cookie of the OAuth flow


class SlackAdapter:
    """One bolt app, its listeners, and the background work they start."""

    def __init__(
        self,
        *,
        handlers: Handlers,
        answers: Callable[[], AnswerEngine],
        events: EventLog,
        clock: Clock,
        telemetry: Telemetry,
        signing_secret: str | None,
        client: AsyncWebClient,
        oauth_flow: AsyncOAuthFlow | None = None,
        reply_deadline: float = REPLY_DEADLINE,
    ) -> None:
        self.handlers = handlers
        self.answers = answers
        self.events = events
        self.clock = clock
        self.telemetry = telemetry
        # Without a signing secret (Socket Mode only) the HTTP route takes nothing.
        self.verifier = None if signing_secret is None else SignatureVerifier(signing_secret)
        self.client = client
        # How long a reply to a person is retried (429s, 5xx, lost connections).
        self.reply_deadline = reply_deadline
        self._tasks: set[asyncio.Task[None]] = set()
        self._rendering: SlackRenderer | None = None
        self.app = AsyncApp(
            # In OAuth mode the client has no token; bolt adds each workspace's own.
            client=client,
            signing_secret=signing_secret,
            oauth_flow=oauth_flow,
            # Requests are verified once, by `http` below, before bolt sees them.
            request_verification_enabled=False,
            # Listeners return at once and leave slow work to background tasks, so
            # the ack carries the answer without bolt's 10 ms ack polling.
            process_before_response=True,
            raise_error_for_unhandled_request=False,
            url_verification_enabled=True,
            ssl_check_enabled=True,
        )
        self._register()

    # -- HTTP ----------------------------------------------------------------------

    async def http(self, body: bytes, headers: dict[str, str], query: str = "") -> HttpResult:
        """A request to /slack/events: verified, checked, then dispatched to bolt."""
        if self.verifier is None:
            return HttpResult(status=404, body="Slack HTTP events are off (Socket Mode only)")
        lowered = {k.lower(): v for k, v in headers.items()}
        timestamp = lowered.get("x-slack-request-timestamp", "")
        signature = lowered.get("x-slack-signature", "")
        if whole_number(timestamp) is None or not 0 < len(signature) <= MAX_SIGNATURE:
            return HttpResult(status=401, body="invalid signature")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            # slack_sdk's verifier reads text only; such a body is malformed if signed at all.
            return HttpResult(status=400, body="malformed request body: not UTF-8")
        if not self.verifier.is_valid(body=text, timestamp=timestamp, signature=signature):
            return HttpResult(status=401, body="invalid signature")
        try:
            _check_body(text, lowered.get("content-type", ""))
        except ValueError as exc:
            return HttpResult(status=400, body=f"malformed request body: {exc}")
        request = AsyncBoltRequest(body=text, query=query, headers=dict(headers))
        try:
            response = await self.app.async_dispatch(request)
        except Exception as exc:
            # Listeners' own failures reach `_on_error`; what escapes bolt is its reading
            # of a signed payload shaped unlike anything Slack sends.
            log.warning("slack_request_malformed", error=type(exc).__name__)
            return HttpResult(status=400, body="malformed request body: unexpected shape")
        return _result(response)

    async def oauth(self, path: str, query: str, headers: dict[str, str]) -> HttpResult:
        """`/slack/install` and `/slack/oauth_redirect` (multi-workspace installs)."""
        flow = self.app.oauth_flow
        if flow is None:
            return HttpResult(status=404, body="OAuth is not configured")
        request = AsyncBoltRequest(body="", query=query, headers=dict(headers))
        if path == flow.install_path:
            return _result(await flow.handle_installation(request))
        return _result(await flow.handle_callback(request))

    # -- listeners -----------------------------------------------------------------

    def _register(self) -> None:
        self.app.command("/ops")(self._on_command)
        self.app.event("app_mention")(self._on_mention)
        self.app.event("message")(self._on_message)
        self.app.event("app_home_opened")(self._on_home)
        self.app.action(re.compile(f"^({ACTION_VOTE}|{ACTION_PICK})"))(self._on_click)
        self.app.action(ACTION_SHARE)(self._on_share)
        self.app.action(re.compile(f"^{ACTION_LINK}"))(self._on_link)
        self.app.action(re.compile(f"^{ACTION_CHECKIN_TEXT}"))(self._on_checkin_text)
        self.app.action(re.compile(f"^{ACTION_CHECKIN}_(?!text)"))(self._on_checkin_click)
        self.app.view(VIEW_CHECKIN_TEXT)(self._on_checkin_view)
        self.app.action(re.compile(f"^{ACTION_GAP_SUGGEST}_"))(self._on_gap_suggest)
        self.app.view(VIEW_GAP_SUGGEST)(self._on_gap_view)
        self.app.options(ACTION_GAP_ENTITY)(self._on_gap_entities)
        self.app.view(VIEW_ATTEST_OWNER)(self._on_owner_view)
        self.app.options(ACTION_ATTEST_OWNER)(self._on_owner_choices)
        self.app.error(self._on_error)

    def _paced(self, client: AsyncWebClient) -> AsyncWebClient:
        """bolt's per-request client (the workspace's token), paced like ours: past a 429
        pause, and posts to one channel spaced. Made only for work that calls Slack, so an
        answer in the ack costs no second client."""
        if isinstance(self.client, PacedWebClient):
            return self.client.like(client)
        return client

    async def _on_command(
        self,
        ack: AsyncAck,
        request: AsyncBoltRequest,
    ) -> None:
        # Few listener arguments: bolt builds each one for every request (the hot path).
        body = request.body
        origin = Origin(
            platform="slack",
            user=body.get("user_id"),
            workspace=body.get("team_id"),
            channel=body.get("channel_id"),
            is_direct=body.get("channel_name") == "directmessage",
        )
        once = _delivery(request)
        # A replayed question gets its answer again, and is recorded once (same uid).
        uid = None if once is None else hashlib.sha256(once.encode()).hexdigest()[:32]
        command = Command(origin=origin, text=str(body.get("text", "")), uid=uid)
        if self.handlers.is_deferred_command(command):
            await ack(text="On it…", response_type="ephemeral")
            context = request.context
            # No response_url (Slack always sends one): the reply goes by DM instead.
            respond = context.respond or AsyncRespond(response_url=None)
            client = self._paced(context.client)
            self._later(self._checkin(command, respond, client), once=once)
            return
        outcome = self.handlers.respond(command)
        text, blocks = self._renderer().reply(outcome.reply, shareable=not origin.is_direct)
        await ack(text=text, blocks=blocks, response_type="ephemeral")
        # Queueing the question is no I/O (the writer stores it later): no task needed.
        await self.handlers.record(outcome)

    async def _on_mention(
        self, event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        self._later(self._answer_message(event, body, self._paced(client)))

    async def _on_message(
        self, event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        # Only direct messages from people; channel messages reach us as app_mention.
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
            return
        self._later(self._answer_message(event, body, self._paced(client)))

    async def _answer_message(
        self, event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        """Answer a message; `client` carries the token of the message's workspace."""
        channel, ts = str(event.get("channel", "")), str(event.get("ts", ""))
        # One key for a message, whichever event brings it (app_mention, message.im)
        # and however often Slack retries it.
        key = f"slack:{body.get('team_id', '')}:{channel}:{ts}"
        if not await self._first(key):
            return
        direct = event.get("channel_type") == "im"
        # A mention in a channel is answered in its thread: the thread is the conversation.
        thread = event.get("thread_ts") or (None if direct else ts)
        origin = Origin(
            platform="slack",
            user=event.get("user"),
            workspace=body.get("team_id"),
            channel=channel,
            is_direct=direct,
            thread=None if thread is None else str(thread),
        )
        text = _MENTION.sub("", str(event.get("text", "")))
        outcome = self.handlers.respond(Message(origin=origin, text=text))
        reply_text, blocks = self._renderer().reply(outcome.reply)
        post = client.chat_postMessage(
            channel=channel, text=reply_text, blocks=blocks, thread_ts=thread
        )
        await self._call("chat.postMessage", post)
        await self.handlers.record(outcome)

    async def _checkin(
        self, event: Command | CheckinClick, respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        """A check-in command or click, answered after the ack; files go to the user's DM."""
        reply = await self.handlers.checkin(event)
        await self._private(respond, client, event.origin.user, text=reply_mrkdwn(reply))
        user = event.origin.user
        if reply.attachment is not None and user:
            opened = await client.conversations_open(users=user)
            channel = str(opened["channel"]["id"])
            file = reply.attachment
            upload = client.files_upload_v2(
                channel=channel,
                content=file.content,
                filename=file.filename,
                title=escape(file.title),
            )
            await self._call("files.uploadV2", upload)

    async def _on_checkin_click(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
        request: AsyncBoltRequest,
    ) -> None:
        await ack()
        event = parse_payload(_action_value(body), _origin(body))
        if isinstance(event, CheckinClick):
            await self._ask_owner(event, _field(body, "trigger_id"), client)
            self._later(self._checkin(event, respond, self._paced(client)), once=_delivery(request))
        else:
            self._later(self._unknown_button(body, respond, self._paced(client)))

    async def _ask_owner(
        self, click: CheckinClick, trigger: str | None, client: AsyncWebClient
    ) -> None:
        """ "No, it's someone else" on an ownership check: the modal asking who owns it now
        (opened at once: a trigger lasts three seconds)."""
        if trigger is None or click.origin.user is None or click.action != "answer":
            return
        entity = await self.handlers.disowned(click)
        if entity is not None:
            view = owner_view(entity.title, click.round_id, click.question)
            await self._open(client, trigger, view)

    async def _on_owner_view(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        client: AsyncWebClient,
        request: AsyncBoltRequest,
    ) -> None:
        view = body.get("view")
        found = owner_submitted(view) if isinstance(view, dict) else None
        user = _field(body, "user", "id")
        if found is None or user is None:
            await ack()
            return
        round_id, question, owner = found
        if not owner:
            message = "Pick a person or team, or say it in your words."
            await ack(response_action="errors", errors={"owner": message})
            return
        await ack()
        origin = Origin(platform="slack", user=user, workspace=_field(body, "team", "id"))
        named = OwnerNamed(origin=origin, round_id=round_id, question=question, owner=owner)
        self._later(self._dm(named, user, self._paced(client)), once=_delivery(request))

    async def _on_owner_choices(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """The owner picker of the modal: people and teams, searched as the person types."""
        query = body.get("value")
        choices = self.handlers.owner_choices(query if isinstance(query, str) else "")
        await ack(options=entity_options(choices))

    async def _on_checkin_text(
        self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        trigger = _field(body, "trigger_id")
        if trigger is not None:
            await self._open(client, trigger, text_view("Your answer", _action_value(body)))

    async def _on_checkin_view(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        client: AsyncWebClient,
        request: AsyncBoltRequest,
    ) -> None:
        await ack()
        text = _field(body, "view", "state", "values", "answer", "value", "value") or ""
        origin = Origin(platform="slack", user=_field(body, "user", "id"))
        event = parse_payload((_field(body, "view", "private_metadata") or "") + text, origin)
        if isinstance(event, CheckinClick) and origin.user:
            self._later(self._dm(event, origin.user, self._paced(client)), once=_delivery(request))

    async def _open(self, client: AsyncWebClient, trigger: str, view: dict[str, Any]) -> None:
        """A modal, opened for the click whose `trigger` it answers (valid three seconds)."""
        await self._call(
            "views.open", self._paced(client).views_open(trigger_id=trigger, view=view)
        )

    async def _dm(self, event: Event, user: str, client: AsyncWebClient) -> None:
        """Handle what a modal sent, and tell its sender by DM (a modal has no thread)."""
        reply = await self.handlers.handle(event)
        post = client.chat_postMessage(channel=user, text=reply_mrkdwn(reply))
        await self._call("chat.postMessage", post)

    # -- the knowledge gaps digest --------------------------------------------------------

    async def _on_gap_suggest(
        self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        """ "Suggest an answer" on a digest: the modal, with the question it is for."""
        await ack()
        event = parse_payload(_action_value(body), _origin(body))
        trigger = _field(body, "trigger_id")
        paced = self._paced(client)
        line = None
        if isinstance(event, Suggest):
            line = await self.handlers.digest_question(event.item)
        if line is None or trigger is None:
            self._later(self._unknown_button(body, respond, paced))
            return
        await self._open(client, trigger, suggest_view(line))

    async def _on_gap_view(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        client: AsyncWebClient,
        request: AsyncBoltRequest,
    ) -> None:
        """A suggestion sent from the modal: a bad one is shown beside its field and nothing
        is kept; a good one is kept after the ack, and its sender told by DM."""
        origin = Origin(
            platform="slack", user=_field(body, "user", "id"), workspace=_field(body, "team", "id")
        )
        view = body.get("view")
        event = submitted(view, origin) if isinstance(view, dict) else None
        if event is None or origin.user is None:
            await ack()
            return
        problem = self.handlers.suggestion_problem(event)
        if problem is not None:
            await ack(response_action="errors", errors={problem.field: problem.message})
            return
        await ack()
        user = origin.user
        self._later(self._dm(event, user, self._paced(client)), once=_delivery(request))

    async def _on_gap_entities(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """The entity picker of the modal, searched as the person types."""
        query = body.get("value")
        choices = self.handlers.entity_choices(query if isinstance(query, str) else "")
        await ack(options=entity_options(choices))

    async def _on_click(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
        request: AsyncBoltRequest,
    ) -> None:
        await ack()
        event = parse_payload(_action_value(body), _origin(body))
        if isinstance(event, Feedback):
            self._later(self._vote(event, respond, self._paced(client)), once=_delivery(request))
        elif isinstance(event, Pick):
            self._later(self._pick(event, respond, self._paced(client)), once=_delivery(request))
        else:
            self._later(self._unknown_button(body, respond, self._paced(client)))

    async def _vote(self, event: Feedback, respond: AsyncRespond, client: AsyncWebClient) -> None:
        reply = await self.handlers.vote(event)
        await self._private(respond, client, event.origin.user, text=reply_mrkdwn(reply))

    async def _pick(self, event: Pick, respond: AsyncRespond, client: AsyncWebClient) -> None:
        reply = await self.handlers.handle(event)
        text, blocks = self._renderer().reply(reply, shareable=True)
        await self._private(respond, client, event.origin.user, text=text, blocks=blocks)

    async def _on_share(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
        request: AsyncBoltRequest,
    ) -> None:
        await ack()
        event = parse_payload(_action_value(body), _origin(body))
        if isinstance(event, Pick) and respond.response_url:
            self._later(self._share(event, respond), once=_delivery(request))
        else:
            self._later(self._unknown_button(body, respond, self._paced(client)))

    async def _share(self, event: Pick, respond: AsyncRespond) -> None:
        reply = await self.handlers.handle(event)
        text, blocks = self._renderer().reply(reply)
        await self._respond(respond, text=text, blocks=blocks, response_type="in_channel")
        await self._respond(respond, delete_original=True)

    async def _unknown_button(
        self, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await self._private(respond, client, _origin(body).user, text=escape(UNKNOWN_BUTTON))

    async def _private(
        self,
        respond: AsyncRespond,
        client: AsyncWebClient,
        user: str | None,
        *,
        text: Mrkdwn,
        blocks: list[dict[str, Any]] | None = None,
    ) -> None:
        """Answer one person: through the request's response_url, else (none) in their DM."""
        if respond.response_url:
            await self._respond(
                respond, text=text, blocks=blocks, response_type="ephemeral", replace_original=False
            )
        elif user:
            post = client.chat_postMessage(channel=user, text=text, blocks=blocks)
            await self._call("chat.postMessage", post)

    async def _on_link(self, ack: AsyncAck) -> None:
        await ack()  # a link button opens its URL in Slack; there is nothing to do

    async def _on_home(self, event: dict[str, Any], client: AsyncWebClient) -> None:
        user = str(event.get("user", ""))
        if event.get("tab", "home") == "home" and user:
            self._later(self._publish_home(user, self._paced(client)))

    async def _publish_home(self, user: str, client: AsyncWebClient) -> None:
        open_checkins = await self.handlers.open_checkins(user)
        left_out = self.handlers.knowledge_problems(user)  # for admins only
        view = self._renderer().home(user, open_checkins, left_out)
        await self._call("views.publish", client.views_publish(user_id=user, view=view))

    async def _on_error(self, error: Exception, body: dict[str, Any]) -> BoltResponse:
        log.error("slack_listener_failed", error=repr(error), type=body.get("type"))
        return BoltResponse(status=200, body="")

    # -- calls and background work -------------------------------------------------

    def _renderer(self) -> SlackRenderer:
        """The renderer of the knowledge in use: made again only when it is reloaded."""
        knowledge = self.answers().knowledge
        if self._rendering is None or self._rendering.knowledge is not knowledge:
            self._rendering = SlackRenderer(knowledge)
        return self._rendering

    async def _respond(self, respond: AsyncRespond, **message: Any) -> None:
        """POST to the request's response_url, retried like every reply (bolt's is not)."""
        assert respond.response_url is not None
        hook = webhook_client(
            respond.response_url, deadline=self.reply_deadline, proxy=respond.proxy, ssl=respond.ssl
        )
        await self._call("response_url", hook.send(**message))

    async def _call(self, method: str, call: Awaitable[Any]) -> None:
        """Make one call that answers a person (its client retries 429s, 5xx and lost
        connections until the reply deadline); a reply given up is counted and logged once."""
        try:
            result = await call
        except SlackApiError as exc:
            error = str(exc.response.get("error", "unknown")) if exc.response else "unknown"
        except (ClientError, OSError) as exc:  # lost connections, timeouts
            error = type(exc).__name__
        else:
            if not isinstance(result, WebhookResponse) or result.status_code == 200:
                return
            error = _webhook_error(result)
        self.telemetry.platform_error("slack", method, error)
        self.telemetry.reply_dropped("slack", method)
        log.warning("slack_reply_dropped", method=method, error=error)

    def _later(self, work: Coroutine[Any, Any, object], *, once: str | None = None) -> None:
        """Run `work` after the ack; the one catch-all of this inbound path logs failures.

        With `once` (a delivery's key), work a replay of that delivery already started is
        not done again, whichever replica started it.
        """

        async def guarded() -> None:
            try:
                if once is not None and not await self._first(once):
                    work.close()
                    return
                await work
            except Exception as exc:
                log.exception("slack_background_failed", error=repr(exc))

        task = asyncio.get_running_loop().create_task(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _first(self, key: str) -> bool:
        """Claim `key` (a message, a signed delivery) for every replica: True unless it was
        claimed before (a retry, a replay). With the database away, True: better a rare
        repeat than the request lost."""
        try:
            return await self.events.claim(key, self.clock.now())
        except StorageError as exc:
            log.warning("event_claim_failed", error=str(exc))
            return True

    async def drain(self, seconds: float = 10.0) -> None:
        """Let work already started finish (at shutdown), for up to `seconds`."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=seconds)


def _webhook_error(response: WebhookResponse) -> str:
    """What a response_url said when it refused a message: its error word, else the status."""
    body = response.body.strip()
    return body if re.fullmatch(r"[a-z_]{1,50}", body) else f"http_{response.status_code}"


def _origin(body: dict[str, Any]) -> Origin:
    """Who clicked, where: from an interaction payload (a DM's channel ID starts with D)."""
    channel = _field(body, "channel", "id")
    return Origin(
        platform="slack",
        user=_field(body, "user", "id"),
        workspace=_field(body, "team", "id"),
        channel=channel,
        is_direct=channel is not None and channel.startswith("D"),
        thread=_field(body, "message", "thread_ts") or _field(body, "container", "thread_ts"),
    )


def _field(body: dict[str, Any], *path: str) -> str | None:
    """The text at `path` in a payload, or None where any step is missing or not text."""
    found: Any = body
    for step in path:
        if not isinstance(found, dict):
            return None
        found = found.get(step)
    return found if isinstance(found, str) and found else None


def _delivery(request: AsyncBoltRequest) -> str | None:
    """The key of one signed delivery (its signature), or None (Socket Mode, no signature).

    Slack signs each delivery afresh, so the same signature twice is a replay.
    """
    signature = (request.headers.get("x-slack-signature") or [""])[0]
    return f"slack:sig:{signature}" if signature else None


def _action_value(body: dict[str, Any]) -> str:
    """The value of the clicked button ("" if the payload carries none)."""
    actions = body.get("actions")
    first = actions[0] if isinstance(actions, list) and actions else None
    return str(first.get("value", "")) if isinstance(first, dict) else ""


def _check_body(text: str, content_type: str) -> None:
    """Raise ValueError when a signed body is not what Slack sends."""
    if "application/json" in content_type:
        if not isinstance(_json(text), dict):
            raise ValueError("a JSON body must be an object")
        return
    if "payload=" not in text:
        return  # a slash command: bolt reads any form leniently, there is nothing to trip on
    form = dict(parse_qsl(text, keep_blank_values=True, strict_parsing=True))
    if "payload" in form and not isinstance(_json(form["payload"]), dict):
        raise ValueError("payload must be a JSON object")


def _json(text: str) -> Any:
    """Parsed JSON; ValueError for invalid JSON and for JSON nested past the parser's depth."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def _result(response: BoltResponse) -> HttpResult:
    # A signed event the bot has no listener for is still a fine request: 200.
    if response.status == 404:
        return HttpResult(status=200)
    content_type = response.headers.get("content-type", ["text/plain"])[0].split(";")[0]
    headers = tuple(
        (name, value)
        for name, values in response.headers.items()
        if name.lower() not in ("content-type", "content-length")
        for value in values
    )
    return HttpResult(
        status=response.status, body=response.body, content_type=content_type, headers=headers
    )
