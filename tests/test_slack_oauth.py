"""Multi-workspace installs end to end: bolt's OAuth flow on our routes and our database.

Texts and names come from bolt 1.30 / slack_sdk 3.48: the state cookie is
`slack-app-oauth-state` (Secure, HttpOnly), the install page links "Add to Slack",
success says "Thank you!", failure "Oops, Something Went Wrong!" with a reason.
The cookie is Secure, so a browser sends it back over https only; the tests, on
plain http, send it back themselves as the `Cookie` header.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.slack_env import Opsbot, running, slack_settings
from tests.slack_fake import FakeSlack, event_body, slash_command_body

pytestmark = pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")

CLIENT_ID, CLIENT_SECRET = "111.222", "shh"
COOKIE = "slack-app-oauth-state"
#: The bot token FakeSlack's oauth.v2.access hands out.
INSTALLED_TOKEN = "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy"
QUESTION = "who-owns model monitoring"


@asynccontextmanager
async def installable(tmp_path: Path) -> AsyncIterator[tuple[FakeSlack, Opsbot]]:
    """opsbot with SLACK_CLIENT_ID/SECRET and no bot token: tokens come from installs."""
    async with FakeSlack() as slack:
        settings = slack_settings(
            tmp_path,
            slack,
            SLACK_CLIENT_ID=CLIENT_ID,
            SLACK_CLIENT_SECRET=CLIENT_SECRET,
            SLACK_BOT_TOKEN="",
        )
        assert settings.slack_bot_token is None and settings.slack_oauth
        async with running(settings, slack) as bot:
            yield slack, bot


async def start_install(bot: Opsbot) -> str:
    """GET /slack/install; the state it issued."""
    response = await bot.client.get("/slack/install")
    assert response.status == 200
    page = await response.text()
    [href] = re.findall(r'<a href="([^"]+)"><img alt="Add to Slack"', page)
    [state] = parse_qs(urlsplit(html.unescape(href)).query)["state"]
    return state


async def finish_install(bot: Opsbot, state: str, *, cookie: str | None = None) -> str:
    """GET /slack/oauth_redirect as Slack sends the browser back; the page shown."""
    headers = {"Cookie": f"{COOKIE}={state if cookie is None else cookie}"}
    response = await bot.client.get(
        "/slack/oauth_redirect", params={"code": "abc", "state": state}, headers=headers
    )
    assert response.status == 200, await response.text()
    return await response.text()


async def install(bot: Opsbot) -> None:
    assert "Thank you!" in await finish_install(bot, await start_install(bot))


async def test_install_page_links_to_slack_with_a_stored_state(tmp_path: Path) -> None:
    """GET /slack/install shows an Add to Slack link with a state kept in our table and cookie."""
    async with installable(tmp_path) as (slack, bot):
        response = await bot.client.get("/slack/install")
        assert response.status == 200
        assert response.content_type == "text/html"
        page = await response.text()
        [href] = re.findall(r'<a href="([^"]+)"><img alt="Add to Slack"', page)
        url = urlsplit(html.unescape(href))
        assert (url.scheme, url.netloc, url.path) == ("https", "slack.com", "/oauth/v2/authorize")
        query = parse_qs(url.query)
        assert query["client_id"] == [CLIENT_ID]
        assert "chat:write" in query["scope"][0].split(",")
        [state] = query["state"]
        assert await bot.rows("select state from slack_oauth_states") == [(state,)]
        cookie = response.headers["Set-Cookie"]
        assert cookie.startswith(f"{COOKIE}={state};")
        assert "HttpOnly" in cookie and "Secure" in cookie and "Max-Age=600" in cookie
        assert slack.calls == []  # nothing asked of Slack before the user approves


async def test_redirect_with_the_state_stores_the_installation(tmp_path: Path) -> None:
    """The OAuth redirect exchanges the code and stores the installation and its bot."""
    async with installable(tmp_path) as (slack, bot):
        state = await start_install(bot)
        page = await finish_install(bot, state)
        assert "Thank you!" in page
        assert "slack://app?team=T0001&amp;id=A1" in page
        [access] = slack.calls_to("oauth.v2.access")
        assert access.params["code"] == "abc"
        scheme, _, credentials = access.headers["authorization"].partition(" ")
        assert scheme == "Basic"
        assert base64.b64decode(credentials).decode() == f"{CLIENT_ID}:{CLIENT_SECRET}"
        [check] = slack.calls_to("auth.test")  # bolt looks up the new bot's id
        assert check.headers["authorization"] == f"Bearer {INSTALLED_TOKEN}"
        assert await bot.rows(
            "select client_id, app_id, team_id, team_name, bot_token, bot_id, bot_user_id,"
            " user_id from slack_installations"
        ) == [(CLIENT_ID, "A1", "T0001", "Acme", INSTALLED_TOKEN, "BBOT", "UBOT", "U1")]
        assert await bot.rows(
            "select client_id, team_id, bot_token, bot_id, bot_user_id from slack_bots"
        ) == [(CLIENT_ID, "T0001", INSTALLED_TOKEN, "BBOT", "UBOT")]
        assert await bot.rows("select state from slack_oauth_states") == []  # consumed


async def test_redirect_with_a_bad_state_is_refused(tmp_path: Path) -> None:
    """A redirect with an unknown, cookieless or reused state fails and stores nothing."""
    async with installable(tmp_path) as (slack, bot):
        state = await start_install(bot)

        unknown = await bot.client.get(
            "/slack/oauth_redirect",
            params={"code": "abc", "state": "forged"},
            headers={"Cookie": f"{COOKIE}=forged"},
        )
        assert unknown.status == 401
        assert "Oops, Something Went Wrong!" in await unknown.text()
        assert "invalid_state" in await unknown.text()

        cookieless = await bot.client.get(
            "/slack/oauth_redirect", params={"code": "abc", "state": state}
        )
        assert cookieless.status == 400
        assert "invalid_browser" in await cookieless.text()

        mismatched = await bot.client.get(
            "/slack/oauth_redirect",
            params={"code": "abc", "state": state},
            headers={"Cookie": f"{COOKIE}=forged"},
        )
        assert mismatched.status == 400

        assert slack.calls_to("oauth.v2.access") == []
        assert await bot.rows("select count(*) from slack_installations") == [(0,)]
        assert await bot.rows("select count(*) from slack_bots") == [(0,)]

        assert "Thank you!" in await finish_install(bot, state)  # the real state works once...
        replay = await bot.client.get(
            "/slack/oauth_redirect",
            params={"code": "abc", "state": state},
            headers={"Cookie": f"{COOKIE}={state}"},
        )
        assert replay.status == 401  # ...and only once
        assert "invalid_state" in await replay.text()
        assert len(slack.calls_to("oauth.v2.access")) == 1


async def test_command_from_an_installed_workspace_is_answered(tmp_path: Path) -> None:
    """After an install, a signed slash command from that workspace is answered."""
    async with installable(tmp_path) as (slack, bot):
        await install(bot)
        slack_adapter = bot.served.slack
        assert slack_adapter is not None
        # Never send it if bolt would authorize against real Slack.
        assert slack_adapter.app.client.base_url == slack.api_url
        response = await bot.post(slash_command_body(QUESTION))
        assert response.status == 200
        answer = json.loads(await response.text())
        assert "Model monitoring is owned by ML Platform" in answer["text"]
        authorized = slack.calls_to("auth.test")[-1]  # with the token from our database
        assert authorized.headers["authorization"] == f"Bearer {INSTALLED_TOKEN}"


async def test_mention_in_an_installed_workspace_is_answered(tmp_path: Path) -> None:
    """After an install, an app_mention is answered with that workspace's bot token."""
    async with installable(tmp_path) as (slack, bot):
        await install(bot)
        slack_adapter = bot.served.slack
        assert slack_adapter is not None
        # Never send it if bolt would authorize against real Slack.
        assert slack_adapter.app.client.base_url == slack.api_url
        event = {
            "type": "app_mention",
            "user": "U1",
            "channel": "C1",
            "ts": "1700000100.000100",
            "text": "<@UBOT> who owns model monitoring?",
        }
        response = await bot.post(event_body(event), content_type="application/json")
        assert response.status == 200
        await bot.settle()
        [post] = slack.calls_to("chat.postMessage")
        assert post.headers["authorization"] == f"Bearer {INSTALLED_TOKEN}"
        assert post.error is None


async def test_command_from_an_unknown_workspace_is_told_to_reinstall(tmp_path: Path) -> None:
    """A slash command from a workspace without an installation gets bolt's reinstall notice."""
    async with installable(tmp_path) as (slack, bot):
        await install(bot)
        body = slash_command_body(
            QUESTION, team_id="T9999", response_url=slack.response_url("unknown")
        )
        response = await bot.post(body)
        # bolt finds no installation: it posts its notice to the response_url and acks empty
        assert response.status == 200
        assert await response.text() == ""
        [notice] = await slack.wait_for("response_url:unknown")
        assert "Please reinstall this app into your workspace" in notice.params["text"]
        assert len(slack.calls_to("auth.test")) == 1  # the install's only: no token to check
        await bot.settle()
        assert await bot.rows("select count(*) from questions") == [(0,)]
