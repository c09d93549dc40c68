"""Bot Framework tokens: the inbound JWTs Teams signs, and the outbound token the bot sends.

Inbound (`InboundTokens`): the SDK's own validator takes its keys from a fixed table, reads
no OpenID metadata and lets a token without a `serviceurl` claim through, so we validate
ourselves as `teams.md` says: RS256/RS384/RS512 only, the key by `kid` from the `jwks_uri`
of the OpenID metadata (cached; fetched again for an unknown `kid`, at most once a minute so
a flood of made-up kids cannot hammer the identity provider), the Bot Framework or the
tenant's Entra issuer, `aud` equal to the app id, `nbf`/`exp` with 5 minutes of skew, and
`check_service_url` for the activity's `serviceUrl`. `claims_identity` turns the claims into
the SDK's `ClaimsIdentity`, which is all `CloudAdapter.process` reads from the request.

Outbound (`BotTokens`): the SDK's MSAL provider does instance discovery against
login.microsoftonline.com and refuses `http://` authorities, so the bot's token is a plain
client-credentials POST to `{login_url}/{tenant}/oauth2/v2.0/token`, cached until shortly
before it expires, one request in flight. It is an `AccessTokenProviderBase` for the SDK's
`ConnectionManager` and has `token()` for our own connector.

No token or secret ever reaches an error message or a log line.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard
from urllib.parse import SplitResult, urlsplit

import aiohttp
import jwt
import structlog
from azure.core.credentials_async import AsyncTokenCredential
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from microsoft_agents.hosting.core.authorization.access_token_provider_base import (
    AccessTokenProviderBase,
)
from microsoft_agents.hosting.core.authorization.agent_auth_configuration import (
    AgentAuthConfiguration,
)
from microsoft_agents.hosting.core.authorization.auth_types import AuthTypes
from microsoft_agents.hosting.core.authorization.claims_identity import ClaimsIdentity

from bot.errors import BotError, DeliveryFailed

log = structlog.get_logger(__name__)

DEFAULT_OPENID_METADATA_URL = "https://login.botframework.com/v1/.well-known/openidconfiguration"
DEFAULT_LOGIN_URL = "https://login.microsoftonline.com"
BOT_FRAMEWORK_ISSUER = "https://api.botframework.com"
#: The scope of the bot's outbound token: the Bot Connector service.
BOT_FRAMEWORK_SCOPE = "https://api.botframework.com/.default"
#: Signature algorithms accepted inbound; anything else (none, HS*, ES*, PS*) is refused.
ALGORITHMS = ("RS256", "RS384", "RS512")
#: Clock skew allowed on `nbf` and `exp`, in seconds.
LEEWAY = 300.0
#: Tokens remembered as verified (Teams reuses a token for many activities).
VERIFIED_KEPT = 1024
#: An Authorization header longer than this is refused unread.
MAX_AUTHORIZATION = 16 * 1024
#: After a fetch of the signing keys, the next one waits at least this long (seconds)...
REFETCH_INTERVAL = 60.0
#: ...or this long after a fetch that failed, so a short outage is not a minute of 401s.
RETRY_AFTER_FAILURE = 5.0
#: Keys older than this are fetched again (a key Microsoft withdrew stops being accepted).
KEYS_MAX_AGE = 24 * 3600.0
#: RSA keys shorter than this are ignored.
MIN_KEY_BITS = 2048
#: Timeout of each request to the identity provider, in seconds.
HTTP_TIMEOUT = 10.0
#: How the identity of a validated inbound token calls itself (not "anonymous").
AUTHENTICATION_TYPE = "Bearer"
#: An outbound token is used until this long before it expires (or half its lifetime).
TOKEN_MARGIN = 300.0

_SAFE_WORD = re.compile(r"[A-Za-z0-9_.-]{1,32}")
_DEFAULT_PORTS = {"http": 80, "https": 443}


class TeamsAuthError(BotError):
    """An inbound token was refused; the message is a short reason for logs, never the token."""


class TeamsKeysUnavailable(TeamsAuthError):
    """The signing keys could not be fetched: our side (or the identity provider's) failed,
    not the sender. The route may answer 503 instead of 401 so Teams tries again."""


def accepted_issuers(tenant_id: str) -> frozenset[str]:
    """The `iss` values accepted inbound: Bot Framework's and the tenant's two Entra issuers."""
    return frozenset(
        {
            BOT_FRAMEWORK_ISSUER,
            f"https://sts.windows.net/{tenant_id}/",
            f"https://login.microsoftonline.com/{tenant_id}/v2.0",
        }
    )


@dataclass(frozen=True)
class _Key:
    public: RSAPublicKey
    alg: str | None  # the JWK's own `alg`, when it names one


class InboundTokens:
    """Validates the bearer tokens of inbound Bot Framework activities."""

    def __init__(
        self,
        *,
        app_id: str,
        tenant_id: str,
        openid_metadata_url: str,
        session: aiohttp.ClientSession,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._app_id = app_id
        self._issuers = accepted_issuers(tenant_id)
        self._metadata_url = openid_metadata_url
        self._session = session
        self._clock = clock
        self._keys: dict[str, _Key] = {}
        self._fetched_at: float | None = None  # last fetch that succeeded
        self._attempted_at: float | None = None  # last fetch, whatever its outcome
        self._attempt_failed = False
        self._lock = asyncio.Lock()
        self.fetches = 0  # how many times the keys were fetched (metadata + JWKS)
        #: Tokens whose signature was checked, with the key that signed them: the claims
        #: are checked again on each use (expiry), the signature is not.
        self._verified: OrderedDict[str, tuple[dict[str, Any], str]] = OrderedDict()

    @property
    def issuers(self) -> frozenset[str]:
        """The accepted `iss` values."""
        return self._issuers

    async def verify(self, authorization: str | None) -> dict[str, Any]:
        """The claims of the bearer token in `authorization` (an Authorization header's
        value), or `TeamsAuthError` saying briefly why it is refused."""
        token = _bearer(authorization)
        seen = self._verified.get(token)
        if seen is not None and seen[1] in self._keys:  # Teams sends one token for an hour
            self._verified.move_to_end(token)
            self._check_claims(seen[0])
            return dict(seen[0])
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TeamsAuthError("malformed token") from None
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            shown = alg if isinstance(alg, str) and _SAFE_WORD.fullmatch(alg) else "?"
            raise TeamsAuthError(f"algorithm not allowed: {shown}")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid or len(kid) > 256:
            raise TeamsAuthError("token names no signing key")
        key = await self._key(kid)
        if key.alg is not None and key.alg != alg:
            raise TeamsAuthError("algorithm does not match the signing key")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.public,
                algorithms=list(ALGORITHMS),
                options={
                    "verify_signature": True,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_aud": False,
                    "verify_iss": False,
                    "verify_sub": False,
                    "verify_jti": False,
                    "require": [],
                },
            )
        except jwt.InvalidSignatureError:
            raise TeamsAuthError("bad signature") from None
        except jwt.InvalidAlgorithmError:
            raise TeamsAuthError("algorithm not allowed") from None
        except jwt.PyJWTError:
            raise TeamsAuthError("malformed token") from None
        self._check_claims(claims)
        self._verified[token] = (claims, kid)
        if len(self._verified) > VERIFIED_KEPT:
            self._verified.popitem(last=False)
        return dict(claims)

    def check_service_url(self, claims: Mapping[str, Any], service_url: str) -> None:
        """Refuse (`TeamsAuthError`) unless the token's `serviceurl` claim is the activity's
        `serviceUrl`: scheme and host compared case-insensitively, a trailing slash ignored."""
        claimed = claims.get("serviceurl")
        if not isinstance(claimed, str) or not claimed:
            raise TeamsAuthError("token has no serviceurl claim")
        mine, theirs = _url_key(claimed), _url_key(service_url)
        if mine is None or theirs is None or mine != theirs:
            raise TeamsAuthError("serviceurl does not match the activity")

    def _check_claims(self, claims: Mapping[str, Any]) -> None:
        if claims.get("iss") not in self._issuers:
            raise TeamsAuthError("wrong issuer")
        aud = claims.get("aud")
        if not isinstance(aud, str) or aud.casefold() != self._app_id.casefold():
            raise TeamsAuthError("wrong audience")
        now = self._clock()
        exp = claims.get("exp")
        if not _is_number(exp):
            raise TeamsAuthError("token has no expiry")
        if now >= exp + LEEWAY:
            raise TeamsAuthError("token expired")
        nbf = claims.get("nbf")
        if nbf is not None and not _is_number(nbf):
            raise TeamsAuthError("malformed token")
        if nbf is not None and now < nbf - LEEWAY:
            raise TeamsAuthError("token not yet valid")
        iat = claims.get("iat")
        if iat is not None and not _is_number(iat):
            raise TeamsAuthError("malformed token")

    async def _key(self, kid: str) -> _Key:
        key = self._keys.get(kid)
        if key is not None and self._fresh(self._clock()):
            return key
        async with self._lock:
            now = self._clock()
            key = self._keys.get(kid)
            if key is not None and self._fresh(now):
                return key  # fetched while this request waited for the lock
            if self._may_fetch(now):
                try:
                    await self._refresh(now)
                except TeamsKeysUnavailable:
                    if key is None:
                        raise
                    log.warning("teams_signing_keys_stale", kid=kid)
                    return key
                key = self._keys.get(kid)
            if key is not None:
                return key
            if self._fetched_at is None:
                raise TeamsKeysUnavailable("signing keys unavailable")
            raise TeamsAuthError("unknown signing key")

    def _fresh(self, now: float) -> bool:
        return self._fetched_at is not None and now - self._fetched_at < KEYS_MAX_AGE

    def _may_fetch(self, now: float) -> bool:
        if self._attempted_at is None:
            return True
        wait = RETRY_AFTER_FAILURE if self._attempt_failed else REFETCH_INTERVAL
        return now - self._attempted_at >= wait

    async def _refresh(self, now: float) -> None:
        self._attempted_at, self._attempt_failed = now, True
        self.fetches += 1
        metadata = await self._get_json(self._metadata_url, "OpenID metadata")
        jwks_uri = metadata.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri:
            raise TeamsKeysUnavailable("signing keys unavailable: OpenID metadata has no jwks_uri")
        keys = _parse_jwks(await self._get_json(jwks_uri, "JWKS"))
        if not keys:
            raise TeamsKeysUnavailable("signing keys unavailable: no usable key in the JWKS")
        self._keys, self._fetched_at, self._attempt_failed = keys, now, False
        log.info("teams_signing_keys_fetched", keys=len(keys))

    async def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            async with self._session.get(
                url, timeout=aiohttp.ClientTimeout(total=HTTP_TIMEOUT)
            ) as resp:
                if resp.status != 200:
                    raise TeamsKeysUnavailable(
                        f"signing keys unavailable: {what} answered HTTP {resp.status}"
                    )
                body = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning("teams_signing_keys_fetch_failed", what=what, error=type(exc).__name__)
            raise TeamsKeysUnavailable(
                f"signing keys unavailable: {what} fetch failed ({type(exc).__name__})"
            ) from None
        if not isinstance(body, dict):
            raise TeamsKeysUnavailable(f"signing keys unavailable: {what} is not a JSON object")
        return body


def claims_identity(claims: Mapping[str, Any]) -> ClaimsIdentity:
    """The SDK's identity for validated `claims`, as `request["claims_identity"]`: not
    anonymous (it has claims and an authentication type), so replies get a real token."""
    return ClaimsIdentity(claims=dict(claims), authentication_type=AUTHENTICATION_TYPE)


def _bearer(authorization: str | None) -> str:
    if not authorization:
        raise TeamsAuthError("no Authorization header")
    if len(authorization) > MAX_AUTHORIZATION:
        raise TeamsAuthError("Authorization header too long")
    parts = authorization.split()
    if len(parts) != 2 or parts[0].casefold() != "bearer":
        raise TeamsAuthError("not a Bearer token")
    token = parts[1]
    if token.count(".") != 2:
        raise TeamsAuthError("malformed token")
    return token


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _parse_jwks(jwks: Mapping[str, Any]) -> dict[str, _Key]:
    """The usable keys of a JWKS by kid: RSA signing keys of at least MIN_KEY_BITS."""
    found: dict[str, _Key] = {}
    entries = jwks.get("keys")
    if not isinstance(entries, list):
        return found
    skipped = 0
    for entry in entries:
        key = _parse_jwk(entry)
        if key is None:
            skipped += 1
        else:
            found[entry["kid"]] = key
    if skipped:
        log.info("teams_signing_keys_skipped", skipped=skipped)
    return found


def _parse_jwk(entry: object) -> _Key | None:
    if not isinstance(entry, dict) or entry.get("kty") != "RSA":
        return None
    kid, use, alg = entry.get("kid"), entry.get("use"), entry.get("alg")
    if not isinstance(kid, str) or not kid or use not in (None, "sig"):
        return None
    if alg is not None and alg not in ALGORITHMS:
        return None
    try:
        public = jwt.PyJWK(entry, algorithm="RS256").key
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
    if not isinstance(public, RSAPublicKey) or public.key_size < MIN_KEY_BITS:
        return None
    return _Key(public=public, alg=alg)


def _url_key(url: str) -> tuple[str, ...] | None:
    """What two service URLs must share to be the same: scheme and host case-folded,
    default ports filled in, the path without trailing slashes. None if not an http(s) URL."""
    try:
        parts: SplitResult = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return (
        scheme,
        parts.hostname.lower(),
        str(port if port is not None else _DEFAULT_PORTS[scheme]),
        parts.username or "",
        parts.password or "",
        parts.path.rstrip("/"),
        parts.query,
    )


class BotTokens(AccessTokenProviderBase):
    """The bot's outbound access tokens: client credentials against `TEAMS_LOGIN_URL`."""

    def __init__(
        self,
        *,
        app_id: str,
        app_password: str,
        tenant_id: str,
        session: aiohttp.ClientSession,
        login_url: str = DEFAULT_LOGIN_URL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        authority = f"{login_url.rstrip('/')}/{tenant_id}"
        self._url = f"{authority}/oauth2/v2.0/token"
        self._app_id = app_id
        self._password = app_password
        self._session = session
        self._clock = clock
        self._cache: dict[str, tuple[str, float]] = {}  # scope -> (token, use until)
        self._lock = asyncio.Lock()
        self._completed = 0  # token requests finished (each, success or failure)
        self._failure: str | None = None  # why the last request failed, if it did
        # The secret stays out: the SDK logs configurations, and only we use it.
        self._configuration = AgentAuthConfiguration(
            auth_type=AuthTypes.client_secret,
            client_id=app_id,
            tenant_id=tenant_id,
            authority=authority,
            scopes=[BOT_FRAMEWORK_SCOPE],
            connection_name="SERVICE_CONNECTION",
            issuers=sorted(accepted_issuers(tenant_id)),
            validate_issuer=True,
            anonymous_allowed=False,
        )

    @property
    def url(self) -> str:
        """The token endpoint."""
        return self._url

    @property
    def configuration(self) -> AgentAuthConfiguration:
        """The SDK's view of this connection (no client secret in it)."""
        return self._configuration

    async def token(self, scope: str = BOT_FRAMEWORK_SCOPE, *, force_refresh: bool = False) -> str:
        """A bearer token for `scope` (the Bot Connector by default), from the cache while it
        has more than a few minutes left; `force_refresh` after the service refused it.

        Raises DeliveryFailed (naming the HTTP status, never the secret) when none is had."""
        seen = self._completed
        cached = self._cache.get(scope)
        if cached is not None and not force_refresh and self._clock() < cached[1]:
            return cached[0]
        async with self._lock:
            cached = self._cache.get(scope)
            someone_else = self._completed != seen  # a request finished while we waited
            valid = cached is not None and self._clock() < cached[1]
            if cached is not None and valid and (someone_else or not force_refresh):
                return cached[0]
            if someone_else and self._failure is not None:
                raise DeliveryFailed(self._failure)  # it just failed: do not ask again at once
            return await self._request(scope)

    async def get_access_token(
        self, resource_url: str, scopes: list[str], force_refresh: bool = False
    ) -> str:
        """The SDK's way in: a token for `scopes` (one space-separated scope string)."""
        scope = " ".join(scopes) if scopes else BOT_FRAMEWORK_SCOPE
        return await self.token(scope, force_refresh=force_refresh)

    def get_token_credential(self) -> AsyncTokenCredential:
        """Not supported: nothing on our paths needs an azure-core credential."""
        raise NotImplementedError("BotTokens has no azure-core token credential")

    # A bot that only talks to the Bot Connector signs nobody in, nor acts for agents.
    async def acquire_token_on_behalf_of(self, scopes: list[str], user_assertion: str) -> str:
        raise NotImplementedError("opsbot acts on behalf of no user")

    async def get_agentic_application_token(
        self, tenant_id: str, agent_app_instance_id: str
    ) -> str | None:
        raise NotImplementedError("opsbot is not an agentic app")

    async def get_agentic_instance_token(
        self, tenant_id: str, agent_app_instance_id: str
    ) -> tuple[str, str]:
        raise NotImplementedError("opsbot is not an agentic app")

    async def get_agentic_user_token(
        self, tenant_id: str, agent_app_instance_id: str, agentic_user_id: str, scopes: list[str]
    ) -> str | None:
        raise NotImplementedError("opsbot is not an agentic app")

    async def _request(self, scope: str) -> str:
        started = self._clock()
        form = {
            "grant_type": "client_credentials",
            "client_id": self._app_id,
            "client_secret": self._password,
            "scope": scope,
        }
        try:
            token, expires_in = await self._post(form)
        except DeliveryFailed as exc:
            self._completed += 1
            self._failure = str(exc)
            log.warning("teams_bot_token_failed", reason=self._failure)
            raise
        self._completed += 1
        self._failure = None
        margin = min(TOKEN_MARGIN, expires_in / 2)
        self._cache[scope] = (token, started + expires_in - margin)
        log.info("teams_bot_token_fetched", expires_in=expires_in)
        return token

    async def _post(self, form: Mapping[str, str]) -> tuple[str, float]:
        try:
            async with self._session.post(
                self._url, data=dict(form), timeout=aiohttp.ClientTimeout(total=HTTP_TIMEOUT)
            ) as resp:
                status = resp.status
                try:
                    body = await resp.json(content_type=None)
                except ValueError:
                    body = None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DeliveryFailed(f"bot token request failed ({type(exc).__name__})") from None
        if status != 200:
            error = body.get("error") if isinstance(body, dict) else None
            named = f" ({error})" if isinstance(error, str) and _SAFE_WORD.fullmatch(error) else ""
            raise DeliveryFailed(f"bot token request failed: HTTP {status}{named}")
        if not isinstance(body, dict):
            raise DeliveryFailed("bot token response is not a JSON object")
        token, expires_in = body.get("access_token"), body.get("expires_in")
        if isinstance(expires_in, str) and expires_in.isdigit():
            expires_in = int(expires_in)  # v1 endpoints send it as a string
        if not isinstance(token, str) or not token or not _is_number(expires_in):
            raise DeliveryFailed("bot token response lacks access_token or expires_in")
        if expires_in <= 0:
            raise DeliveryFailed("bot token response has expired already")
        return token, float(expires_in)
