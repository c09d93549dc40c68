"""A local identity provider for Teams tests: OpenID metadata, a JWKS, a token endpoint.

Tokens are real JWTs signed with RSA keys the test owns; the JWKS publishes their public
halves under their kids. Use it as::

    async with FakeIdentityProvider() as idp:
        tokens = InboundTokens(app_id=idp.app_id, tenant_id=idp.tenant_id,
                               openid_metadata_url=idp.openid_url, session=session)
        claims = await tokens.verify(f"Bearer {idp.mint()}")

`bad_authorization(case)` gives the Authorization header (None: no header) for every case
Teams must refuse (`REJECTED`); the last two, the `serviceurl` ones, are refused by
`InboundTokens.check_service_url` against `idp.service_url`, the others by `verify`.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Self

import jwt
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

APP_ID = "11111111-2222-3333-4444-555555555555"
TENANT_ID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
APP_PASSWORD = "test-secret-not-real"
SERVICE_URL = "https://smba.trafficmanager.net/amer/"
BOT_FRAMEWORK_ISSUER = "https://api.botframework.com"
BOT_FRAMEWORK_SCOPE = "https://api.botframework.com/.default"
Json = dict[str, Any]

#: Every inbound token Teams must refuse, by name (teams.md, issue 10 point 2).
REJECTED = (
    "no header",
    "not bearer",
    "malformed",
    "alg none",
    "hs256",
    "unknown kid",
    "wrong issuer",
    "wrong audience",
    "expired",
    "not yet valid",
    "no serviceurl",
    "serviceurl mismatch",
)
#: The cases of REJECTED that only `check_service_url` can refuse (the token itself is fine).
SERVICE_URL_CASES = ("no serviceurl", "serviceurl mismatch")


#: Distinct RSA keys in the pool: generating 2048-bit keys is slow, so keys are reused
#: round-robin across the session; any KEY_POOL keys made in a row are distinct.
KEY_POOL = 8


@functools.cache
def _rsa_key(slot: int, bits: int = 2048) -> rsa.RSAPrivateKey:
    """The RSA key of pool `slot`, generated once per test session."""
    del slot  # only names the cache entry
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


_key_numbers = itertools.count()


@dataclass(frozen=True)
class SigningKey:
    """An RSA key pair the test owns, and the kid it is published under."""

    kid: str
    private: rsa.RSAPrivateKey
    #: The `alg` its JWK names; None (as Bot Framework publishes them) names none.
    alg: str | None = None

    @classmethod
    def new(cls, kid: str | None = None, *, bits: int = 2048, alg: str | None = None) -> SigningKey:
        """Another key (distinct from the last KEY_POOL - 1 made), published as `kid`
        (a unique one if None)."""
        number = next(_key_numbers)
        private = _rsa_key(number % KEY_POOL, bits)
        return cls(kid=kid or f"test-key-{number}", private=private, alg=alg)

    def jwk(self, **extra: Any) -> Json:
        """The public key as a JWK, as Bot Framework publishes it."""
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key()))
        named = {"alg": self.alg} if self.alg else {}
        return {"kty": "RSA", "use": "sig", "kid": self.kid, **named, **public, **extra}

    def public_pem(self) -> bytes:
        """The public key in PEM: what an HS256 confusion attack uses as the HMAC secret."""
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def b64url(data: bytes) -> str:
    """Base64url without padding, as JWS segments are written."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _segment(obj: Mapping[str, Any]) -> str:
    return b64url(json.dumps(obj, separators=(",", ":")).encode())


def unsigned_token(claims: Mapping[str, Any], *, kid: str | None = None) -> str:
    """An `alg: none` token: header and claims, an empty signature."""
    header = {"alg": "none", "typ": "JWT", **({"kid": kid} if kid else {})}
    return f"{_segment(header)}.{_segment(claims)}."


def hs256_token(claims: Mapping[str, Any], secret: bytes, *, kid: str | None = None) -> str:
    """An HS256 token with `secret` as the HMAC key (built by hand: PyJWT refuses a PEM
    secret, which is exactly the confusion a validator must not fall for)."""
    header = {"alg": "HS256", "typ": "JWT", **({"kid": kid} if kid else {})}
    signing_input = f"{_segment(header)}.{_segment(claims)}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def tampered(token: str, **changes: Any) -> str:
    """`token` with its claims changed and its signature kept (so the signature is wrong)."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return f"{header}.{_segment({**claims, **changes})}.{signature}"


#: Tokens that are not JWTs at all, or broken ones.
MALFORMED = (
    "not-a-jwt",
    "a.b",
    "a.b.c",
    "....",
    "e30.e30.e30.e30.e30",  # five segments: a JWE shape
    f"{b64url(b'[1]')}.{b64url(b'{}')}.sig",  # header not an object
)


@dataclass
class TokenCall:
    """One request to the token endpoint: its tenant, its form, the status answered."""

    tenant: str
    form: dict[str, str]
    status: int


@dataclass
class FakeIdentityProvider:
    """OpenID metadata at /openid, a JWKS at /keys, client credentials at
    /{tenant}/oauth2/v2.0/token, on 127.0.0.1; counts every request."""

    app_id: str = APP_ID
    tenant_id: str = TENANT_ID
    app_password: str = APP_PASSWORD
    service_url: str = SERVICE_URL
    clock: Callable[[], float] = time.time
    #: Lifetime of issued outbound tokens, in seconds.
    expires_in: int = 3600
    #: Seconds the token endpoint takes to answer.
    token_delay: float = 0.0
    keys: list[SigningKey] = field(default_factory=lambda: [SigningKey.new()])
    #: Statuses the token endpoint answers next (one popped per request) before it works.
    token_failures: list[int] = field(default_factory=list)
    #: Statuses /openid and /keys answer next (one popped per request) before they work.
    keys_failures: list[int] = field(default_factory=list)
    #: Extra JWKS entries published as they are (not-RSA keys, junk...).
    extra_jwks: list[Json] = field(default_factory=list)
    openid_calls: int = 0
    keys_calls: int = 0
    token_calls: list[TokenCall] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)
    _server: TestServer | None = None

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_get("/openid", self._openid)
        app.router.add_get("/keys", self._keys)
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        self._server = TestServer(app, host="127.0.0.1", port=0)
        await self._server.start_server()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            await self._server.close()

    # -- where things are ----------------------------------------------------------------

    def url(self, path: str) -> str:
        """The absolute URL of `path` on this server."""
        assert self._server is not None, "use FakeIdentityProvider as an async context manager"
        return str(self._server.make_url(path))

    @property
    def openid_url(self) -> str:
        """TEAMS_OPENID_METADATA_URL for this provider."""
        return self.url("/openid")

    @property
    def jwks_uri(self) -> str:
        """The JWKS the OpenID metadata points at."""
        return self.url("/keys")

    @property
    def login_url(self) -> str:
        """TEAMS_LOGIN_URL for this provider (the token endpoint is below it)."""
        return self.url("").rstrip("/")

    @property
    def key(self) -> SigningKey:
        """The key `mint` signs with unless told otherwise."""
        return self.keys[0]

    @property
    def fetches(self) -> int:
        """How many times the JWKS was served."""
        return self.keys_calls

    def rotate(self, kid: str | None = None, *, keep_old: bool = True) -> SigningKey:
        """Publish a new signing key (as after a rotation) and make it the default one."""
        new = SigningKey.new(kid)
        self.keys = [new, *self.keys] if keep_old else [new]
        return new

    def valid_token(self, token: str) -> bool:
        """Whether `token` is an outbound token this provider issued."""
        return token in self.issued

    # -- inbound tokens ------------------------------------------------------------------

    def claims(self, *, drop: Iterable[str] = (), **changes: Any) -> Json:
        """Claims Teams would send now (iss, aud, serviceurl, nbf, exp, iat), with `changes`
        applied and the claims named in `drop` left out."""
        now = int(self.clock())
        claims: Json = {
            "iss": BOT_FRAMEWORK_ISSUER,
            "aud": self.app_id,
            "serviceurl": self.service_url,
            "nbf": now - 5,
            "exp": now + 3600,
            "iat": now - 5,
            **changes,
        }
        for name in drop:
            claims.pop(name, None)
        return claims

    def mint(
        self,
        claims: Mapping[str, Any] | None = None,
        *,
        key: SigningKey | None = None,
        alg: str = "RS256",
        kid: str | None = None,
        headers: Mapping[str, Any] | None = None,
    ) -> str:
        """A real JWT signed by `key` (the default key) with `alg`, its header naming `kid`
        (the key's own kid unless told), carrying `claims` (good ones unless told)."""
        key = key or self.key
        header = {"kid": kid if kid is not None else key.kid, **(headers or {})}
        body = dict(claims) if claims is not None else self.claims()
        return jwt.encode(body, key.private, algorithm=alg, headers=header)

    def bad_authorization(self, case: str) -> str | None:
        """The Authorization header value for one of the REJECTED cases."""
        good = self.claims()
        now = int(self.clock())
        tokens: dict[str, Callable[[], str | None]] = {
            "no header": lambda: None,
            "not bearer": lambda: f"Basic {self.mint()}",
            "malformed": lambda: "Bearer not.a-jwt.at-all",
            "alg none": lambda: f"Bearer {unsigned_token(good, kid=self.key.kid)}",
            "hs256": lambda: f"Bearer {hs256_token(good, self.key.public_pem(), kid=self.key.kid)}",
            "unknown kid": lambda: f"Bearer {self.mint(key=SigningKey.new())}",
            "wrong issuer": lambda: f"Bearer {self.mint(self.claims(iss='https://evil.example'))}",
            "wrong audience": lambda: f"Bearer {self.mint(self.claims(aud='someone-else'))}",
            "expired": lambda: f"Bearer {self.mint(self.claims(nbf=now - 7200, exp=now - 600))}",
            "not yet valid": lambda: f"Bearer {self.mint(self.claims(nbf=now + 600))}",
            "no serviceurl": lambda: f"Bearer {self.mint(self.claims(drop=['serviceurl']))}",
            "serviceurl mismatch": lambda: (
                f"Bearer {self.mint(self.claims(serviceurl='https://evil.example/amer/'))}"
            ),
        }
        return tokens[case]()

    # -- handlers ------------------------------------------------------------------------

    def _refusal(self) -> web.Response | None:
        if self.keys_failures:
            return web.json_response({"error": "unavailable"}, status=self.keys_failures.pop(0))
        return None

    async def _openid(self, request: web.Request) -> web.Response:
        self.openid_calls += 1
        refused = self._refusal()
        if refused is not None:
            return refused
        return web.json_response(
            {
                "issuer": BOT_FRAMEWORK_ISSUER,
                "authorization_endpoint": self.url("/authorize"),
                "jwks_uri": self.jwks_uri,
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            }
        )

    async def _keys(self, request: web.Request) -> web.Response:
        self.keys_calls += 1
        refused = self._refusal()
        if refused is not None:
            return refused
        published = [key.jwk(endorsements=["msteams"]) for key in self.keys]
        return web.json_response({"keys": [*published, *self.extra_jwks]})

    async def _token(self, request: web.Request) -> web.Response:
        tenant = request.match_info["tenant"]
        form = {name: str(value) for name, value in (await request.post()).items()}
        if self.token_delay:
            await asyncio.sleep(self.token_delay)
        status, body = self._token_answer(tenant, form)
        self.token_calls.append(TokenCall(tenant=tenant, form=form, status=status))
        return web.json_response(body, status=status)

    def _token_answer(self, tenant: str, form: Mapping[str, str]) -> tuple[int, Json]:
        if self.token_failures:
            status = self.token_failures.pop(0)
            return status, {"error": "temporarily_unavailable", "error_description": "test"}
        if tenant != self.tenant_id:
            return 400, {"error": "invalid_tenant"}
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}
        if form.get("client_id") != self.app_id or form.get("client_secret") != self.app_password:
            return 401, {"error": "invalid_client"}
        if form.get("scope") != BOT_FRAMEWORK_SCOPE:
            return 400, {"error": "invalid_scope"}
        token = f"bot-token-{len(self.issued) + 1}"
        self.issued.append(token)
        return 200, {"token_type": "Bearer", "expires_in": self.expires_in, "access_token": token}
