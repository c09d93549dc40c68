"""The composition root: the one place that builds concrete classes and wires them."""

from __future__ import annotations

import os
import re
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path

import aiohttp
import structlog
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.socket_mode.async_internals import run_async_bolt_app, send_async_response
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.response import BoltResponse
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.answers import DEFAULT_THRESHOLD, AnswerEngine
from bot.attestation.freshness import ATTEST
from bot.attestation.service import AttestationService
from bot.checkins.service import CheckinService
from bot.config import Settings
from bot.errors import BotError, KnowledgeError
from bot.gaps import DigestSchedule, GapService
from bot.handlers import Handlers
from bot.kb import Knowledge, LeftOut, serve_knowledge
from bot.kb.files import fingerprint
from bot.metrics import Metrics
from bot.platforms import Platforms
from bot.ports import Clock, Messenger, SystemClock, Telemetry
from bot.scheduler import ticking
from bot.slack.adapter import SlackAdapter
from bot.slack.client import Pacing, post_pacing, web_client
from bot.slack.messenger import SlackMessenger
from bot.storage.addresses import SqlAddressBook
from bot.storage.attestations import SqlAttestStore
from bot.storage.checkins import SqlCheckinStore
from bot.storage.engine import open_engine, safe_url
from bot.storage.migrate import upgrade
from bot.storage.pace import pace_for
from bot.storage.store import SqlStore
from bot.storage.suggestions import SqlDigestStore
from bot.storage.writer import QuestionWriter
from bot.teams.adapter import TeamsAdapter
from bot.teams.auth import BotTokens, InboundTokens
from bot.teams.cards import TeamsRenderer
from bot.teams.connector import Connector
from bot.teams.messenger import TeamsMessenger
from bot.web import Served

#: The bot scopes of slack-manifest.yaml, asked for by multi-workspace installs.
SLACK_SCOPES = (
    "app_mentions:read",
    "channels:history",
    "chat:write",
    "commands",
    "files:write",
    "groups:history",
    "im:history",
    "im:read",
    "im:write",
    "users:read",
)
OAUTH_STATE_SECONDS = 600
#: How long an inbound event's claim is kept: Slack retries an event for minutes.
CLAIMS_KEPT = timedelta(days=1)
#: How many left-out entities are logged one by one at each load, and listed by /readyz.
LOGGED_LEFT_OUT = 200
READY_LEFT_OUT = 50

log = structlog.get_logger(__name__)


def answer_engine(knowledge: Knowledge, settings: Settings) -> AnswerEngine:
    threshold = settings.answer_threshold
    return AnswerEngine(knowledge, threshold=DEFAULT_THRESHOLD if threshold is None else threshold)


def load_engine(settings: Settings, clock: Clock) -> tuple[AnswerEngine, tuple[LeftOut, ...]]:
    """The answers from the knowledge's valid part, and what was left out (logged here;
    returned with places relative to the knowledge folder, as admins see them).

    With OPSBOT_KNOWLEDGE_STRICT any error raises `KnowledgeError`; otherwise only
    knowledge with errors and nothing valid does.
    """
    root = settings.knowledge_dir
    today = clock.now().date()
    result = serve_knowledge(root, today=today, strict=settings.knowledge_strict)
    left_out = result.left_out
    for item in left_out[:LOGGED_LEFT_OUT]:
        log.warning("knowledge_left_out", where=item.where, problem=item.problem)
    if left_out:
        log.warning(
            "knowledge_partly_loaded",
            entities=len(result.knowledge),
            left_out=len(left_out),
            not_logged=max(0, len(left_out) - LOGGED_LEFT_OUT),
        )
    shown = tuple(
        replace(item, file=shown_in(root, item.file), problem=shown_in(root, item.problem))
        for item in left_out
    )
    return answer_engine(result.knowledge, settings), shown


def shown_in(root: Path, text: str) -> str:
    """`text` with the knowledge folder's own path left out: `teams/ml.yaml:4`."""
    prefix = str(root).rstrip(os.sep) + os.sep
    return text.replace(prefix, "")


_ENTRA_ID = re.compile(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


@dataclass
class Bot:
    """Everything a running bot holds; `answers` is swapped whole on a knowledge reload."""

    settings: Settings
    answers: AnswerEngine
    engine: AsyncEngine
    store: SqlStore
    questions: QuestionWriter
    clock: Clock
    telemetry: Telemetry | None = None
    #: The knowledge not served (an entity with an error, an unreadable file), by file:line.
    left_out: tuple[LeftOut, ...] = ()
    handlers: Handlers = field(init=False)
    attestation: AttestationService | None = field(init=False, default=None)
    gaps: GapService | None = field(init=False, default=None)
    knowledge_seen: tuple[tuple[str, int, int], ...] = field(init=False)
    claims_pruned: datetime | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.knowledge_seen = fingerprint(self.settings.knowledge_dir)
        self.handlers = self._handlers(None)

    def _handlers(self, checkins: CheckinService | None) -> Handlers:
        return Handlers(
            attestation=self.attestation,
            gaps=self.gaps,
            answers=lambda: self.answers,
            questions=self.questions,
            clock=self.clock,
            telemetry=self.telemetry,
            checkins=checkins,
            left_out=lambda: self.left_out,
        )

    def enable_checkins(self, messenger: Messenger) -> CheckinService:
        """Run check-ins through `messenger`; handlers then answer check-in commands."""
        store = SqlCheckinStore(self.engine)
        attestation = AttestationService(
            knowledge=lambda: self.answers.knowledge,
            store=SqlAttestStore(self.engine),
            checkins=store,
            messenger=messenger,
            clock=self.clock,
            after=timedelta(days=self.settings.attest_after_days),
            schedule=self.settings.attest_schedule,
            send=lambda now: service.send(now),
            maintainers=lambda: self._maintainers(service, messenger),
        )
        service = CheckinService(
            knowledge=lambda: self.answers.knowledge,
            store=store,
            messenger=messenger,
            clock=self.clock,
            owner=f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}",
            admins=frozenset(self.settings.admins),
            outbox=self.questions,
            others={ATTEST: attestation.letters},
        )
        if self.settings.attest_after_days:
            self.attestation = attestation
        self.questions.settle_answers_with(service.settle)
        self.gaps = self._gaps(service, messenger)
        self.handlers = self._handlers(service)
        return service

    def _gaps(self, service: CheckinService, messenger: Messenger) -> GapService:
        """The weekly knowledge gaps digest, posted where maintainers hear."""
        channel = self.settings.knowledge_channel
        return GapService(
            answers=lambda: self.answers,
            store=SqlDigestStore(self.engine),
            poster=messenger,
            clock=self.clock,
            owner=f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}",
            schedule=DigestSchedule(
                cron=self.settings.digest_cron, zone=self.settings.digest_timezone
            ),
            targets=lambda: self._maintainers(service, messenger),
            where=f"the knowledge channel ({channel})" if channel else "the admins, by DM",
            is_admin=service.is_admin,
        )

    def _maintainers(self, service: CheckinService, messenger: Messenger) -> list[str]:
        """Where knowledge maintainers hear: the knowledge channel, else each admin."""
        if self.settings.knowledge_channel:
            return [self.settings.knowledge_channel]
        # A bare Entra object id in OPSBOT_ADMINS is a Teams user; the rest are Slack's.
        found = [f"teams:{a}" if _ENTRA_ID.fullmatch(a) else a for a in self.settings.admins]
        for person in self.answers.knowledge.of_kind("person"):
            user = messenger.address(person)
            if user is not None and user not in found and service.is_admin(user):
                found.append(user)
        return found

    def tick_with(
        self, service: CheckinService, before: Sequence[Callable[[], Awaitable[None]]] = ()
    ) -> Callable[[], Awaitable[object]]:
        """The periodic work: pick up edited knowledge (and `before`: the platforms'
        conversation references), then run the check-ins."""

        async def tick() -> object:
            self.reload_if_changed()
            for step in before:
                await step()
            if self.attestation is not None:
                await self.attestation.tick()
            result = await service.tick()
            if self.gaps is not None:
                await self.gaps.tick()
            await self.forget_old_claims()
            return result

        return tick

    async def forget_old_claims(self) -> None:
        """Prune event claims, at most once an hour."""
        now = self.clock.now()
        if self.claims_pruned is not None and now - self.claims_pruned < timedelta(hours=1):
            return
        dropped = await self.store.forget_claims(now - CLAIMS_KEPT)
        self.claims_pruned = now
        log.debug("event_claims_pruned", dropped=dropped)

    def reload_if_changed(self) -> bool:
        """Load the knowledge again if its files changed: its valid part, as at start; keep
        the old one if the new one is refused (strict mode, or nothing valid)."""
        seen = fingerprint(self.settings.knowledge_dir)
        if seen == self.knowledge_seen:
            return False
        self.knowledge_seen = seen
        try:
            self.answers, self.left_out = load_engine(self.settings, self.clock)
        except KnowledgeError as exc:
            log.error("knowledge_reload_failed", problems=exc.problems[:20])
            return False
        entities = len(self.answers.knowledge)
        log.info("knowledge_reloaded", entities=entities, left_out=len(self.left_out))
        return True

    def knowledge_status(self) -> dict[str, object]:
        """What /readyz says of the knowledge: entities served, and the first left out."""
        return {
            "entities": len(self.answers.knowledge),
            "left_out": [
                {"where": item.where, "problem": item.problem}
                for item in self.left_out[:READY_LEFT_OUT]
            ],
            "left_out_count": len(self.left_out),
        }

    async def readiness(self) -> str | None:
        """None when the database answers and knowledge is loaded, else why not."""
        if len(self.answers.knowledge) == 0:
            return "no knowledge loaded"
        try:
            await self.store.ping()
        except BotError as exc:
            return str(exc)
        return None


@asynccontextmanager
async def open_bot(
    settings: Settings, *, clock: Clock | None = None, telemetry: Telemetry | None = None
) -> AsyncIterator[Bot]:
    """Load knowledge, migrate the database, and hand out a ready `Bot`."""
    clock = clock or SystemClock()
    answers, left_out = load_engine(settings, clock)
    async with open_engine(settings.database_url) as engine:
        await upgrade(engine)
        log.info(
            "bot_ready",
            entities=len(answers.knowledge),
            knowledge=str(settings.knowledge_dir),
            database=safe_url(engine.url),
        )
        store = SqlStore(engine)
        writer = QuestionWriter(store, spool_dir=settings.spool_path, telemetry=telemetry)
        async with writer.running() as questions:
            yield Bot(
                settings=settings,
                answers=answers,
                engine=engine,
                store=store,
                questions=questions,
                clock=clock,
                telemetry=telemetry,
                left_out=left_out,
            )


@asynccontextmanager
async def serving(settings: Settings, *, clock: Clock | None = None) -> AsyncIterator[Served]:
    """What `opsbot serve` runs on: the bot, its metrics, and Slack and Teams when configured."""
    metrics = Metrics()
    async with open_bot(settings, clock=clock, telemetry=metrics) as bot, AsyncExitStack() as stack:
        slack = None
        teams = None
        messengers: list[Messenger] = []
        refresh: list[Callable[[], Awaitable[None]]] = []
        if settings.slack_enabled:
            # One pacing: replies go at once, nudges keep the pace, a 429 pauses both.
            # The pace is per workspace, shared by the replicas on PostgreSQL.
            pacing = post_pacing(
                settings.slack_posts_per_second,
                per_channel=settings.slack_channel_posts_per_second,
                pace=pace_for(bot.engine),
            )
            nudges = slack_client(settings, pacing, bulk=True)
            messengers.append(SlackMessenger(nudges, metrics))
        if settings.teams_enabled:
            session = await stack.enter_async_context(aiohttp.ClientSession())
            teams, messenger = teams_adapter(bot, metrics, session)
            stack.push_async_callback(teams.drain)
            messengers.append(messenger)
            refresh.append(messenger.refresh)
        if messengers:
            service = bot.enable_checkins(
                messengers[0] if len(messengers) == 1 else Platforms(messengers)
            )
            await stack.enter_async_context(
                ticking(bot.tick_with(service, before=refresh), seconds=settings.tick_seconds)
            )
        if settings.slack_enabled:  # after check-ins: its handlers answer check-in commands
            slack = slack_adapter(bot, metrics, slack_client(settings, pacing))
            stack.push_async_callback(slack.drain)
            if settings.slack_app_token is not None:
                token = settings.slack_app_token.get_secret_value()
                mode = SocketMode(slack.app, token, web_client=slack.client, ping_interval=5)
                await mode.connect_async()  # type: ignore[no-untyped-call]
                stack.push_async_callback(mode.close_async)
        yield Served(
            ready=bot.readiness,
            metrics=metrics,
            slack=slack,
            teams=teams,
            flush=bot.questions.flush,
            knowledge=bot.knowledge_status,
        )


def teams_adapter(
    bot: Bot, metrics: Metrics, session: aiohttp.ClientSession
) -> tuple[TeamsAdapter, TeamsMessenger]:
    """Teams: tokens checked against TEAMS_OPENID_METADATA_URL, replies and nudges through
    the Bot Connector with tokens from TEAMS_LOGIN_URL."""
    settings = bot.settings
    assert settings.teams_app_id and settings.teams_app_password and settings.teams_tenant_id
    app_id, tenant = settings.teams_app_id, settings.teams_tenant_id
    tokens = None
    if settings.teams_allow_anonymous:
        log.warning("teams_anonymous", detail="TEAMS_ALLOW_ANONYMOUS: tokens are not checked")
    else:
        tokens = InboundTokens(
            app_id=app_id,
            tenant_id=tenant,
            openid_metadata_url=settings.teams_openid_metadata_url,
            session=session,
        )
    bot_tokens = BotTokens(
        app_id=app_id,
        app_password=settings.teams_app_password.get_secret_value(),
        tenant_id=tenant,
        session=session,
        login_url=settings.teams_login_url,
    )
    connector = Connector(
        session,
        bot_tokens,
        deadline=settings.teams_reply_deadline_seconds,
        on_retry=lambda method, status: metrics.platform_error("teams", method, str(status)),
    )
    addresses = SqlAddressBook(bot.engine)
    messenger = TeamsMessenger(
        connector=connector,
        addresses=addresses,
        cards=lambda: renderer(),
        bot_id=app_id,
        clock=bot.clock,
        counter=metrics,
        posts_per_second=settings.teams_posts_per_second,
        pace=pace_for(bot.engine),
    )
    renderers: dict[int, TeamsRenderer] = {}

    def renderer() -> TeamsRenderer:
        """One renderer per knowledge (a reload brings a new one)."""
        knowledge = bot.answers.knowledge
        found = renderers.get(id(knowledge))
        if found is None:
            renderers.clear()
            found = renderers[id(knowledge)] = TeamsRenderer(
                knowledge, lambda ref: messenger.teams_user(knowledge.get(ref))
            )
        return found

    adapter = TeamsAdapter(
        handlers=lambda: bot.handlers,
        events=bot.store,
        addresses=addresses,
        clock=bot.clock,
        telemetry=metrics,
        tokens=tokens,
        bot_tokens=bot_tokens,
        connector=connector,
        renderer=renderer,
        app_id=app_id,
        learned=messenger.learn,
    )
    return adapter, messenger


class SocketMode(AsyncSocketModeHandler):
    """bolt's Socket Mode handler, acking envelopes no listener wants (as HTTP gets 200)."""

    async def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        start = time.time()
        response = await run_async_bolt_app(self.app, req)
        if response.status == 404:
            response = BoltResponse(status=200, body="")
        await send_async_response(client, req, response, start)


def slack_client(settings: Settings, pacing: Pacing, *, bulk: bool = False) -> AsyncWebClient:
    """A Web API client: the bot token, or none when each workspace brings its own.

    Nudges (`bulk`) are retried a few times (a later tick sends a failed one again);
    replies to people until they are delivered or their deadline passes.
    """
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    return web_client(
        None if settings.slack_oauth else token,
        settings.slack_api_url,
        pacing=pacing,
        bulk=bulk,
        deadline=None if bulk else settings.slack_reply_deadline_seconds,
    )


def slack_adapter(bot: Bot, telemetry: Telemetry, client: AsyncWebClient) -> SlackAdapter:
    """Slack, single-workspace (SLACK_BOT_TOKEN) or installable (SLACK_CLIENT_ID/SECRET)."""
    settings = bot.settings
    oauth_flow = None
    if settings.slack_oauth:
        assert settings.slack_client_id is not None and settings.slack_client_secret is not None
        client_id = settings.slack_client_id
        oauth_flow = AsyncOAuthFlow(
            client=web_client(None, settings.slack_api_url),
            settings=AsyncOAuthSettings(
                client_id=client_id,
                client_secret=settings.slack_client_secret.get_secret_value(),
                scopes=SLACK_SCOPES,
                installation_store=AsyncSQLAlchemyInstallationStore(client_id, bot.engine),
                state_store=AsyncSQLAlchemyOAuthStateStore(OAUTH_STATE_SECONDS, bot.engine),
            ),
        )
    secret = settings.slack_signing_secret
    return SlackAdapter(
        handlers=bot.handlers,
        answers=lambda: bot.answers,
        events=bot.store,
        clock=bot.clock,
        telemetry=telemetry,
        signing_secret=secret.get_secret_value() if secret else None,
        client=client,
        oauth_flow=oauth_flow,
        reply_deadline=settings.slack_reply_deadline_seconds,
    )


def today(clock: Clock | None = None) -> date:
    return (clock or SystemClock()).now().date()
