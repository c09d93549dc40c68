"""The Slack fakes behave like Slack for slack_sdk's real clients."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from urllib.parse import parse_qs

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.signature import Clock, SignatureVerifier
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from tests.slack_fake import (
    FakeSlack,
    FakeSocketMode,
    action_body,
    event_body,
    sign,
    slash_command_body,
    view_submission_body,
)


@pytest.fixture
def client(slack: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token="xoxb-test", base_url=slack.api_url)


async def test_post_message_is_recorded_with_its_blocks(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    """A chat.postMessage from AsyncWebClient is recorded with its params and token."""
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]
    response = await client.chat_postMessage(channel="C1", text="hi", blocks=blocks)
    [call] = await slack.wait_for("chat.postMessage")
    assert call.params["channel"] == "C1"
    assert call.json("blocks") == blocks
    assert call.headers["authorization"] == "Bearer xoxb-test"
    assert response["channel"] == "C1"
    assert response["ts"] == "1700000000.000100"


async def test_form_encoded_and_get_calls_are_recorded(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    """Form-encoded blocks stay a JSON string that call.json decodes; GET params are read."""
    blocks = [{"type": "divider"}]
    await client.api_call("chat.postMessage", data={"channel": "C1", "blocks": json.dumps(blocks)})
    await client.api_call("conversations.history", http_verb="GET", params={"channel": "C1"})
    post, history = slack.calls
    assert isinstance(post.params["blocks"], str)
    assert post.json("blocks") == blocks
    assert history.params == {"channel": "C1"}


async def test_timestamps_increase_and_are_unique(client: AsyncWebClient) -> None:
    """Each posted message gets a later ts than the one before."""
    first = await client.chat_postMessage(channel="C1", text="a")
    second = await client.chat_postMessage(channel="C2", text="b")
    assert float(second["ts"]) > float(first["ts"])


async def test_missing_token_gets_not_authed(slack: FakeSlack) -> None:
    """A call without a bearer token is refused with not_authed over HTTP 200."""
    anonymous = AsyncWebClient(base_url=slack.api_url)
    with pytest.raises(SlackApiError) as caught:
        await anonymous.auth_test()
    assert caught.value.response.status_code == 200
    assert caught.value.response["error"] == "not_authed"


async def test_app_token_is_refused_outside_socket_mode(slack: FakeSlack) -> None:
    """An xapp- token on chat.postMessage gets not_allowed_token_type."""
    with pytest.raises(SlackApiError) as caught:
        await AsyncWebClient(token="xapp-1", base_url=slack.api_url).chat_postMessage(
            channel="C1", text="hi"
        )
    assert caught.value.response["error"] == "not_allowed_token_type"


async def test_auth_test_names_the_bot(client: AsyncWebClient) -> None:
    """auth.test answers with the bot's user, bot and team ids."""
    response = await client.auth_test()
    assert (response["user_id"], response["bot_id"], response["team_id"]) == (
        "UBOT",
        "BBOT",
        "T0001",
    )


async def test_scripted_error_fails_once_then_succeeds(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    """A scripted channel_not_found fails the next call only."""
    slack.fail("chat.postMessage", error="channel_not_found")
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel="C404", text="hi")
    assert caught.value.response["error"] == "channel_not_found"
    assert (await client.chat_postMessage(channel="C404", text="hi"))["ok"]


async def test_rate_limit_is_visible_to_a_client_without_retries(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    """A scripted 429 reaches a client without retry handlers with its Retry-After."""
    slack.fail("chat.postMessage", status=429, retry_after=7)
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel="C1", text="hi")
    assert caught.value.response.status_code == 429
    assert caught.value.response.headers["Retry-After"] == "7"
    assert caught.value.response["error"] == "ratelimited"


async def test_rate_limit_handler_retries_after_429(slack: FakeSlack) -> None:
    """AsyncRateLimitErrorRetryHandler waits out a 429 and the retry succeeds."""
    slack.fail("chat.postMessage", status=429, retry_after=0)
    client = AsyncWebClient(
        token="xoxb-test",
        base_url=slack.api_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)],
    )
    response = await client.chat_postMessage(channel="C1", text="hi")
    assert response["ok"]
    assert [c.status for c in slack.calls_to("chat.postMessage")] == [429, 200]


async def test_server_error_handler_retries_5xx(slack: FakeSlack) -> None:
    """AsyncServerErrorRetryHandler retries two 503s and the third attempt succeeds."""
    slack.fail("chat.postMessage", status=503, times=2)
    quick = FixedValueRetryIntervalCalculator(0.01)
    client = AsyncWebClient(
        token="xoxb-test",
        base_url=slack.api_url,
        retry_handlers=[AsyncServerErrorRetryHandler(max_retry_count=2, interval_calculator=quick)],
    )
    assert (await client.chat_postMessage(channel="C1", text="hi"))["ok"]
    assert [c.status for c in slack.calls_to("chat.postMessage")] == [503, 503, 200]


async def test_token_bucket_limits_per_channel(slack: FakeSlack, client: AsyncWebClient) -> None:
    """A per-channel rate limit refuses the second quick post to a channel, not to another."""
    slack.rate_limit("chat.postMessage", per_second=1, burst=1, key="channel")
    await client.chat_postMessage(channel="C1", text="a")
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel="C1", text="b")
    assert caught.value.response.status_code == 429
    assert caught.value.response.headers["Retry-After"] == "1"
    assert (await client.chat_postMessage(channel="C2", text="c"))["ok"]


async def test_workspace_cap_limits_across_channels(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    """A workspace cap refuses a call once its burst is spent, whatever the channel."""
    slack.workspace_cap(per_second=0.5, burst=2)
    await client.chat_postMessage(channel="C1", text="a")
    await client.chat_postMessage(channel="C2", text="b")
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel="C3", text="c")
    assert caught.value.response.headers["Retry-After"] == "2"


async def test_history_finds_a_dm_nudge_by_its_metadata(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    """A DM posted with metadata shows up, newest first, in conversations.history."""
    dm = (await client.conversations_open(users="U1"))["channel"]["id"]
    metadata = {"event_type": "nudge", "event_payload": {"claim": "r1:U1"}}
    await client.chat_postMessage(channel=dm, text="older")
    posted = await client.chat_postMessage(channel="U1", text="nudge", metadata=metadata)
    assert posted["channel"] == dm
    history = await client.conversations_history(channel=dm, include_all_metadata=True)
    assert [m["text"] for m in history["messages"]] == ["nudge", "older"]
    assert history["messages"][0]["metadata"] == metadata
    plain = await client.conversations_history(channel=dm)
    assert "metadata" not in plain["messages"][0]


async def test_chat_update_changes_the_stored_message(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    """chat.update rewrites a posted message and reports unknown ones as message_not_found."""
    posted = await client.chat_postMessage(channel="C1", text="before")
    await client.chat_update(channel="C1", ts=posted["ts"], text="after")
    assert [m["text"] for m in slack.messages("C1")] == ["after"]
    with pytest.raises(SlackApiError) as caught:
        await client.chat_update(channel="C1", ts="1.000000", text="x")
    assert caught.value.response["error"] == "message_not_found"


async def test_users_info_answers_configured_timezone(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    """users.info answers a configured user's timezone and a default one for others."""
    slack.add_user("U2", tz="America/New_York")
    configured = (await client.users_info(user="U2"))["user"]
    default = (await client.users_info(user="U3"))["user"]
    assert configured["tz"] == "America/New_York"
    assert configured["tz_offset"] in {-5 * 3600, -4 * 3600}
    assert default["tz"] == "Europe/London"


async def test_views_publish_returns_a_view_id(slack: FakeSlack, client: AsyncWebClient) -> None:
    """views.publish echoes the view with an id and records it as sent."""
    view = {"type": "home", "blocks": []}
    response = await client.views_publish(user_id="U1", view=view)
    assert response["view"]["id"].startswith("V")
    assert slack.calls_to("views.publish")[0].json("view") == view


async def test_files_upload_v2_completes_end_to_end(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    """files_upload_v2 gets an upload URL, uploads the bytes and completes the upload."""
    response = await client.files_upload_v2(
        channel="C1", content="a,b\n1,2\n", filename="report.csv", title="Report"
    )
    file_id = response["file"]["id"]
    assert slack.uploads[file_id] == b"a,b\n1,2\n"
    assert response["file"]["title"] == "Report"
    assert [c.method for c in slack.calls] == [
        "files.getUploadURLExternal",
        f"upload_url:{file_id}",
        "files.completeUploadExternal",
    ]
    assert slack.calls[-1].params["channel_id"] == "C1"


@pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")
async def test_oauth_v2_access_returns_a_bot_token(slack: FakeSlack) -> None:
    """oauth.v2.access with client credentials returns a bot token and its team."""
    response = await AsyncWebClient(base_url=slack.api_url).oauth_v2_access(
        client_id="1.2", client_secret="secret", code="c0de"
    )
    assert response["access_token"].startswith("xoxb-")
    assert response["team"] == {"id": "T0001", "name": "Acme"}
    assert slack.calls[0].headers["authorization"].startswith("Basic ")


async def test_response_url_records_posted_json(slack: FakeSlack) -> None:
    """A POST to a response_url is recorded as a response_url:<name> call."""
    async with (
        aiohttp.ClientSession() as http,
        http.post(slack.response_url("cmd1"), json={"text": "done"}) as response,
    ):
        assert response.status == 200
    [call] = await slack.wait_for("response_url:cmd1")
    assert call.params == {"text": "done"}


async def test_wait_for_names_the_calls_it_saw(slack: FakeSlack, client: AsyncWebClient) -> None:
    """wait_for times out with an AssertionError that lists the calls seen."""
    await client.auth_test()
    with pytest.raises(AssertionError, match=r"chat\.postMessage.*auth\.test"):
        await slack.wait_for("chat.postMessage", timeout=0.05)


def test_signature_matches_slack_sdk_verifier() -> None:
    """sign() produces headers that slack_sdk's own verifier accepts."""
    body = slash_command_body("help")
    headers = sign(body, "s3cret", timestamp=1_700_000_000)
    expected = hmac.new(b"s3cret", b"v0:1700000000:" + body, hashlib.sha256).hexdigest()
    assert headers["X-Slack-Signature"] == f"v0={expected}"
    verifier = SignatureVerifier("s3cret", clock=_FixedClock(1_700_000_010))
    assert verifier.is_valid_request(body, headers)


def test_builders_produce_slack_shaped_bodies() -> None:
    """The builders encode a slash command, an event, a click and a submission like Slack."""
    command = parse_qs(slash_command_body("who owns db", user_id="U9").decode())
    assert (command["command"], command["text"], command["user_id"]) == (
        ["/ops"],
        ["who owns db"],
        ["U9"],
    )
    event = json.loads(event_body({"type": "app_mention", "text": "hi"}, event_id="Ev9"))
    assert (event["type"], event["event_id"], event["event"]["type"]) == (
        "event_callback",
        "Ev9",
        "app_mention",
    )
    payload = json.loads(parse_qs(action_body("checkin:r1:q1:yes", "yes").decode())["payload"][0])
    assert payload["type"] == "block_actions"
    assert payload["actions"][0]["action_id"] == "checkin:r1:q1:yes"
    submission = parse_qs(view_submission_body("feedback", {"b": {"a": {"value": "x"}}}).decode())
    view = json.loads(submission["payload"][0])["view"]
    assert (view["callback_id"], view["state"]["values"]["b"]["a"]["value"]) == ("feedback", "x")


class _FixedClock(Clock):
    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


# --- Socket Mode ------------------------------------------------------------------------------


@pytest.fixture
async def socket_mode(slack: FakeSlack) -> AsyncIterator[FakeSocketMode]:
    async with FakeSocketMode(slack) as sm:
        yield sm


@pytest.fixture
async def sm_client(
    slack: FakeSlack, socket_mode: FakeSocketMode
) -> AsyncIterator[SocketModeClient]:
    """A real SocketModeClient that acks every request; a short ping_interval speeds reconnects."""
    web = AsyncWebClient(base_url=slack.api_url)
    client = SocketModeClient(app_token="xapp-1-test", web_client=web, ping_interval=0.1)
    client.socket_mode_request_listeners.append(_ack)
    await client.connect()
    yield client
    await client.close()


async def _ack(client: AsyncBaseSocketModeClient, request: SocketModeRequest) -> None:
    payload = {"text": "ok"} if request.type == "slash_commands" else None
    await client.send_socket_mode_response(
        SocketModeResponse(envelope_id=request.envelope_id, payload=payload)
    )


async def test_socket_mode_client_connects_and_acks(
    slack: FakeSlack, socket_mode: FakeSocketMode, sm_client: SocketModeClient
) -> None:
    """SocketModeClient opens a connection, receives an envelope and acks it."""
    await socket_mode.wait_connected(1)
    event = json.loads(event_body({"type": "app_mention", "text": "hi"}))
    envelope_id = await socket_mode.send("events_api", event)
    assert await socket_mode.wait_ack(envelope_id) == {"envelope_id": envelope_id}
    assert slack.calls_to("apps.connections.open")[0].headers["authorization"] == (
        "Bearer xapp-1-test"
    )


async def test_socket_mode_ack_carries_response_payload(
    socket_mode: FakeSocketMode, sm_client: SocketModeClient
) -> None:
    """An ack for a slash command carries the client's response payload."""
    await socket_mode.wait_connected(1)
    command = {k: v[0] for k, v in parse_qs(slash_command_body("help").decode()).items()}
    envelope_id = await socket_mode.send("slash_commands", command, accepts_response_payload=True)
    ack = await socket_mode.wait_ack(envelope_id)
    assert ack["payload"] == {"text": "ok"}


async def test_socket_mode_reconnects_after_disconnect_request(
    slack: FakeSlack, socket_mode: FakeSocketMode, sm_client: SocketModeClient
) -> None:
    """A disconnect frame makes the client fetch a new URL and connect again."""
    await socket_mode.wait_connected(1)
    await socket_mode.disconnect()
    await socket_mode.wait_connected(2)
    assert socket_mode.connected_tickets == ["1", "2"]
    envelope_id = await socket_mode.send("events_api", {"event": {"type": "app_mention"}})
    await socket_mode.wait_ack(envelope_id)
    await socket_mode.wait_open(1)


async def test_socket_mode_reconnects_after_dropped_connection(
    socket_mode: FakeSocketMode, sm_client: SocketModeClient
) -> None:
    """A connection cut without a close frame is noticed and replaced, twice over."""
    await socket_mode.wait_connected(1)
    await socket_mode.drop()
    await socket_mode.wait_connected(2)
    await socket_mode.drop()
    await socket_mode.wait_connected(3)
    envelope_id = await socket_mode.send("events_api", {"event": {"type": "app_mention"}})
    await socket_mode.wait_ack(envelope_id)


async def test_apps_connections_open_without_socket_mode_fails(slack: FakeSlack) -> None:
    """apps.connections.open without an attached FakeSocketMode answers ok: false."""
    with pytest.raises(SlackApiError):
        await AsyncWebClient(token="xapp-1", base_url=slack.api_url).apps_connections_open(
            app_token="xapp-1"
        )
