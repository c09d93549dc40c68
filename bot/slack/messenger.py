"""Check-ins on Slack: nudges as DMs with buttons, reports with charts, the `Messenger` port."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import DeliveryFailed, Unreachable
from bot.events import answer_payload, round_payload
from bot.model import CheckInQuestion, Entity, PersonSpec
from bot.ports import Delivered, DigestMessage, NudgeMessage, Telemetry
from bot.slack import markup as mk
from bot.slack.blocks import FALLBACK_TEXT, Block, button, context, plain, section
from bot.slack.digest import METADATA_DIGEST, digest_message
from bot.slack.markup import Mrkdwn
from bot.styled import Styled

ACTION_CHECKIN = "checkin"
ACTION_CHECKIN_TEXT = "checkin_text"
VIEW_CHECKIN_TEXT = "checkin_text"
METADATA_TYPE = "opsbot_nudge"
#: Errors after which nothing we do will let this person receive a DM.
UNREACHABLE = frozenset(
    {
        "user_not_found",
        "user_disabled",
        "account_inactive",
        "cannot_dm_bot",
        "channel_not_found",
        "is_archived",
        "not_in_channel",
        "restricted_action",
        "messages_tab_disabled",
    }
)


class SlackMessenger:
    """Delivers check-ins through the Slack Web API (with its retrying client)."""

    platform = "slack"

    def __init__(self, client: AsyncWebClient, telemetry: Telemetry) -> None:
        self.client = client
        self.telemetry = telemetry

    def address(self, person: Entity, prefer: Sequence[str] = ()) -> str | None:
        return person.spec.slack if isinstance(person.spec, PersonSpec) else None

    async def timezone(self, user: str) -> str | None:
        response = await self._call("users.info", self.client.users_info(user=user))
        tz = (response.get("user") or {}).get("tz")
        return str(tz) if tz else None

    async def nudge(self, message: NudgeMessage) -> Delivered:
        text, blocks = nudge_message(message)
        response = await self._call(
            "chat.postMessage",
            self.client.chat_postMessage(
                channel=message.user,
                text=text,
                blocks=blocks,
                metadata={"event_type": METADATA_TYPE, "event_payload": {"key": message.key}},
            ),
        )
        return Delivered(channel=str(response["channel"]), ts=str(response["ts"]))

    async def find_nudge(self, user: str, key: str) -> Delivered | None:
        opened = await self._call("conversations.open", self.client.conversations_open(users=user))
        channel = str((opened.get("channel") or {}).get("id", ""))
        history = await self._call(
            "conversations.history",
            self.client.conversations_history(
                channel=channel, limit=100, include_all_metadata=True
            ),
        )
        for item in history.get("messages") or []:
            payload = (item.get("metadata") or {}).get("event_payload") or {}
            if payload.get("key") == key:
                return Delivered(channel=channel, ts=str(item.get("ts")))
        return None

    async def digest(self, target: str, message: DigestMessage) -> Delivered:
        """The gaps digest to a channel, or to a user by DM, tagged with its key."""
        text, blocks = digest_message(message)
        response = await self._call(
            "chat.postMessage",
            self.client.chat_postMessage(
                channel=target,
                text=text,
                blocks=blocks,
                metadata={"event_type": METADATA_DIGEST, "event_payload": {"key": message.key}},
            ),
        )
        return Delivered(channel=str(response["channel"]), ts=str(response["ts"]))

    async def find_digest(self, target: str, key: str) -> Delivered | None:
        """The digest `key` among the latest messages where it goes (a user: their DM)."""
        channel = target
        if target[:1] in ("U", "W"):
            opened = await self._call(
                "conversations.open", self.client.conversations_open(users=target)
            )
            channel = str((opened.get("channel") or {}).get("id", ""))
        history = await self._call(
            "conversations.history",
            self.client.conversations_history(
                channel=channel, limit=100, include_all_metadata=True
            ),
        )
        for item in history.get("messages") or []:
            metadata = item.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if metadata.get("event_type") == METADATA_DIGEST and payload.get("key") == key:
                return Delivered(channel=channel, ts=str(item.get("ts")))
        return None

    async def report(self, channel: str, text: Styled, chart: bytes | None, title: str) -> None:
        fallback, blocks = report_message(text)
        posted = await self._call(
            "chat.postMessage",
            self.client.chat_postMessage(channel=channel, text=fallback, blocks=blocks),
        )
        if chart is not None:
            await self.upload(str(posted["channel"]), chart, "report.png", title)

    async def upload(self, channel: str, content: bytes, filename: str, title: str) -> None:
        """A file into a channel, with Slack's current upload API (files.uploadV2)."""
        await self._call(
            "files.uploadV2",
            self.client.files_upload_v2(
                channel=channel, content=content, filename=filename, title=mk.escape(title)
            ),
        )

    async def _call(self, method: str, call: Any) -> Any:
        try:
            return await call
        except SlackApiError as exc:
            error = str(exc.response.get("error", "unknown")) if exc.response else "unknown"
            self.telemetry.platform_error("slack", method, error)
            if error in UNREACHABLE:
                raise Unreachable(f"{method}: {error}") from None
            raise DeliveryFailed(f"{method}: {error}") from None
        except OSError as exc:
            self.telemetry.platform_error("slack", method, type(exc).__name__)
            raise DeliveryFailed(f"{method}: {type(exc).__name__}") from None


def report_message(report: Styled) -> tuple[Mrkdwn, list[Block]]:
    """A round's report for a channel: the same escaped mrkdwn as text and as its block."""
    text = mk.styled(report)
    return mk.cut(text, FALLBACK_TEXT), [section(text)]


def nudge_message(message: NudgeMessage) -> tuple[Mrkdwn, list[Block]]:
    """A nudge's text (its heading, escaped) and blocks."""
    return mk.escape(_heading(message)), nudge_blocks(message)


def _heading(message: NudgeMessage) -> str:
    return f"Reminder: {message.title}" if message.reminder else message.title


def nudge_blocks(message: NudgeMessage) -> list[Block]:
    """A check-in as a DM: each question with its buttons, then "later" and "skip"."""
    blocks: list[Block] = [{"type": "header", "text": plain(_heading(message), 150)}]
    for question in message.questions:
        blocks.append(section(mk.bold(question.text)))
        blocks.append({"type": "actions", "elements": _answers(message.round_id, question)})
    blocks.append(
        {
            "type": "actions",
            "elements": [
                button(
                    "Remind me in an hour",
                    f"{ACTION_CHECKIN}_later",
                    value=round_payload("later", message.round_id),
                ),
                button(
                    "Skip this round",
                    f"{ACTION_CHECKIN}_skip",
                    value=round_payload("skip", message.round_id),
                ),
            ],
        }
    )
    blocks.append(context(mk.ours("You can change your answers until the round closes.")))
    return blocks[:50]


def _answers(round_id: int, question: CheckInQuestion) -> list[Block]:
    if question.type == "text":
        value = answer_payload(round_id, question.id, "")
        return [button("Answer", f"{ACTION_CHECKIN_TEXT}_{question.id}", value=value)]
    options = (
        question.options
        if question.type == "choice"
        else tuple(str(v) for v in range(question.min, question.max + 1))
    )
    return [
        button(
            option,
            f"{ACTION_CHECKIN}_{question.id}_{i}",
            value=answer_payload(round_id, question.id, option),
        )
        for i, option in enumerate(options[:25])
    ]


def text_view(question_text: str, payload: str) -> dict[str, Any]:
    """The modal that takes a free-text answer."""
    return {
        "type": "modal",
        "callback_id": VIEW_CHECKIN_TEXT,
        "private_metadata": payload,
        "title": plain("Check-in", 24),
        "submit": plain("Save", 24),
        "close": plain("Cancel", 24),
        "blocks": [
            {
                "type": "input",
                "block_id": "answer",
                "label": plain(question_text, 2000),
                "element": {
                    "type": "plain_text_input",
                    "action_id": "value",
                    "multiline": True,
                    "max_length": 3000,
                },
            }
        ],
    }
