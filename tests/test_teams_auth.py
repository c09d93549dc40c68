"""Teams tokens: inbound Bot Framework JWTs (teams.md "Inbound") and the bot's outbound token."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from microsoft_agents.hosting.core.authorization.connection_manager import ConnectionManager

from bot.errors import DeliveryFailed
from bot.teams.auth import (
    AUTHENTICATION_TYPE,
    BOT_FRAMEWORK_SCOPE,
    BotTokens,
    InboundTokens,
    TeamsAuthError,
    TeamsKeysUnavailable,
    claims_identity,
)
from tests.teams_idp import (
    APP_PASSWORD,
    MALFORMED,
    REJECTED,
    SERVICE_URL_CASES,
    FakeIdentityProvider,
    SigningKey,
    hs256_token,
    tampered,
    unsigned_token,
)

#: A port nothing listens on (discard): connections to it are refused.
CLOSED = "http://127.0.0.1:9"


class Clock:
    """A settable clock, shared by the identity provider and the code under test."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def idp(clock: Clock) -> AsyncIterator[FakeIdentityProvider]:
    async with FakeIdentityProvider(clock=clock) as provider:
        yield provider


@pytest.fixture
def tokens(
    idp: FakeIdentityProvider, session: aiohttp.ClientSession, clock: Clock
) -> InboundTokens:
    return InboundTokens(
        app_id=idp.app_id,
        tenant_id=idp.tenant_id,
        openid_metadata_url=idp.openid_url,
        session=session,
        clock=clock,
    )


@pytest.fixture
def bot_tokens(
    idp: FakeIdentityProvider, session: aiohttp.ClientSession, clock: Clock
) -> BotTokens:
    return BotTokens(
        app_id=idp.app_id,
        app_password=idp.app_password,
        tenant_id=idp.tenant_id,
        session=session,
        login_url=idp.login_url,
        clock=clock,
    )


async def refused(tokens: InboundTokens, authorization: str | None) -> str:
    """The reason `verify` gives for refusing `authorization` (fails if it accepts it)."""
    with pytest.raises(TeamsAuthError) as caught:
        await tokens.verify(authorization)
    return str(caught.value)


# -- accepted -------------------------------------------------------------------------------


async def test_accepts_a_bot_framework_token(tokens: InboundTokens, idp: FakeIdentityProvider):
    """A Bot Framework token signed by a published key gives back its claims."""
    claims = idp.claims()
    assert await tokens.verify(f"Bearer {idp.mint(claims)}") == claims


@pytest.mark.parametrize(
    "issuer",
    [
        "https://sts.windows.net/{tenant}/",
        "https://login.microsoftonline.com/{tenant}/v2.0",
    ],
)
async def test_accepts_the_tenant_entra_issuers(
    tokens: InboundTokens, idp: FakeIdentityProvider, issuer: str
):
    """A token from the tenant's Entra issuer (v1 or v2) is accepted."""
    iss = issuer.format(tenant=idp.tenant_id)
    claims = await tokens.verify(f"Bearer {idp.mint(idp.claims(iss=iss))}")
    assert claims["iss"] == iss


@pytest.mark.parametrize("alg", ["RS384", "RS512"])
async def test_accepts_rs384_and_rs512(tokens: InboundTokens, idp: FakeIdentityProvider, alg: str):
    """RS384 and RS512 tokens signed by a published key are accepted."""
    claims = await tokens.verify(f"Bearer {idp.mint(alg=alg)}")
    assert claims["aud"] == idp.app_id


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "BeArEr"])
async def test_bearer_scheme_is_case_insensitive(
    tokens: InboundTokens, idp: FakeIdentityProvider, scheme: str
):
    """The Bearer scheme is accepted in any case."""
    claims = await tokens.verify(f"{scheme} {idp.mint()}")
    assert claims["serviceurl"] == idp.service_url


async def test_accepts_an_expired_token_within_five_minutes_of_skew(
    tokens: InboundTokens, idp: FakeIdentityProvider, clock: Clock
):
    """A token that expired less than 300 s ago is still accepted."""
    now = int(clock())
    claims = await tokens.verify(f"Bearer {idp.mint(idp.claims(exp=now - 299))}")
    assert claims["exp"] == now - 299


async def test_accepts_a_future_nbf_within_five_minutes_of_skew(
    tokens: InboundTokens, idp: FakeIdentityProvider, clock: Clock
):
    """A token valid from less than 300 s in the future is already accepted."""
    now = int(clock())
    claims = await tokens.verify(f"Bearer {idp.mint(idp.claims(nbf=now + 299))}")
    assert claims["nbf"] == now + 299


async def test_accepts_a_key_whose_jwk_names_the_token_algorithm(
    tokens: InboundTokens, idp: FakeIdentityProvider
):
    """A JWK with `alg: RS512` verifies an RS512 token."""
    key = SigningKey.new(alg="RS512")
    idp.keys = [key]
    claims = await tokens.verify(f"Bearer {idp.mint(key=key, alg='RS512')}")
    assert claims["iss"] == "https://api.botframework.com"


@pytest.mark.parametrize(
    "activity_url",
    [
        "https://smba.trafficmanager.net/amer/",
        "https://smba.trafficmanager.net/amer",
        "HTTPS://SMBA.TrafficManager.NET/amer/",
        "https://smba.trafficmanager.net:443/amer/",
    ],
)
def test_service_url_matches_ignoring_case_of_host_and_trailing_slash(
    tokens: InboundTokens, activity_url: str
):
    """The serviceurl claim matches the activity's serviceUrl up to host case and a slash."""
    tokens.check_service_url({"serviceurl": "https://smba.trafficmanager.net/amer/"}, activity_url)
    tokens.check_service_url({"serviceurl": activity_url}, "https://smba.trafficmanager.net/amer")


def test_claims_identity_is_an_authenticated_bot_framework_identity():
    """The SDK identity of validated claims is not anonymous and asks for Bot Framework tokens."""
    claims = {"iss": "https://api.botframework.com", "aud": "app", "serviceurl": "https://x/"}
    identity = claims_identity(claims)
    assert identity.claims == claims
    assert identity.claims is not claims
    assert identity.authentication_type == AUTHENTICATION_TYPE
    assert not identity.allow_anonymous
    assert not identity.is_agent_claim()
    assert identity.get_claim_value("serviceurl") == "https://x/"
    assert identity.get_token_scope() == [BOT_FRAMEWORK_SCOPE]


# -- refused by verify ----------------------------------------------------------------------


@pytest.mark.parametrize("case", REJECTED)
async def test_every_rejected_case_is_refused(
    tokens: InboundTokens, idp: FakeIdentityProvider, case: str
):
    """Each case teams.md lists is refused, and the reason never contains the token."""
    authorization = idp.bad_authorization(case)
    if case in SERVICE_URL_CASES:
        claims = await tokens.verify(authorization)
        with pytest.raises(TeamsAuthError) as caught:
            tokens.check_service_url(claims, idp.service_url)
    else:
        with pytest.raises(TeamsAuthError) as caught:
            await tokens.verify(authorization)
    token = (authorization or "").split()[-1] if authorization else ""
    assert not token or token not in str(caught.value)
    assert len(str(caught.value)) < 80


@pytest.mark.parametrize("authorization", [None, ""])
async def test_refuses_a_missing_header(tokens: InboundTokens, authorization: str | None):
    """No Authorization header is refused."""
    assert await refused(tokens, authorization) == "no Authorization header"


@pytest.mark.parametrize("form", ["Basic {t}", "Bearer", "Bearer {t} extra", "{t}", "Token {t}"])
async def test_refuses_what_is_not_a_bearer_token(
    tokens: InboundTokens, idp: FakeIdentityProvider, form: str
):
    """An Authorization header that is not `Bearer <token>` is refused."""
    assert await refused(tokens, form.format(t=idp.mint())) == "not a Bearer token"


async def test_refuses_a_header_longer_than_16_kib(
    tokens: InboundTokens, idp: FakeIdentityProvider
):
    """An Authorization header over 16 KiB is refused before it is parsed."""
    big = idp.mint(idp.claims(padding="x" * 17_000))
    assert await refused(tokens, f"Bearer {big}") == "Authorization header too long"
    assert idp.fetches == 0


@pytest.mark.parametrize("token", MALFORMED)
async def test_refuses_a_malformed_token(tokens: InboundTokens, token: str):
    """A token that is not a three-part JWS is refused as malformed."""
    assert await refused(tokens, f"Bearer {token}") == "malformed token"


async def test_refuses_alg_none(tokens: InboundTokens, idp: FakeIdentityProvider):
    """An unsigned (`alg: none`) token is refused."""
    token = unsigned_token(idp.claims(), kid=idp.key.kid)
    assert await refused(tokens, f"Bearer {token}") == "algorithm not allowed: none"


async def test_refuses_hs256_signed_with_the_public_key(
    tokens: InboundTokens, idp: FakeIdentityProvider
):
    """An HS256 token keyed with the published public key (key confusion) is refused."""
    token = hs256_token(idp.claims(), idp.key.public_pem(), kid=idp.key.kid)
    assert await refused(tokens, f"Bearer {token}") == "algorithm not allowed: HS256"


async def test_refuses_ps256_even_from_a_published_rsa_key(
    tokens: InboundTokens, idp: FakeIdentityProvider
):
    """A PS256 token is refused although its RSA key is published."""
    assert (
        await refused(tokens, f"Bearer {idp.mint(alg='PS256')}") == "algorithm not allowed: PS256"
    )


async def test_refuses_an_es256_token(tokens: InboundTokens, idp: FakeIdentityProvider):
    """An ES256 token is refused."""
    token = jwt.encode(
        idp.claims(), ec.generate_private_key(ec.SECP256R1()), "ES256", {"kid": idp.key.kid}
    )
    assert await refused(tokens, f"Bearer {token}") == "algorithm not allowed: ES256"


async def test_refuses_an_unknown_kid(tokens: InboundTokens, idp: FakeIdentityProvider):
    """A token signed by a key the JWKS does not publish is refused."""
    assert await refused(tokens, f"Bearer {idp.mint(key=SigningKey.new())}") == (
        "unknown signing key"
    )


async def test_refuses_a_token_without_kid(tokens: InboundTokens, idp: FakeIdentityProvider):
    """A token whose header names no key is refused."""
    token = jwt.encode(idp.claims(), idp.key.private, "RS256")
    assert await refused(tokens, f"Bearer {token}") == "token names no signing key"


async def test_refuses_a_published_kid_signed_by_another_key(
    tokens: InboundTokens, idp: FakeIdentityProvider
):
    """A token naming a published kid but signed by another key is refused."""
    token = idp.mint(key=SigningKey.new(), kid=idp.key.kid)
    assert await refused(tokens, f"Bearer {token}") == "bad signature"


async def test_refuses_tampered_claims(tokens: InboundTokens, idp: FakeIdentityProvider):
    """A validly signed token whose claims were changed afterwards is refused."""
    token = tampered(idp.mint(idp.claims(aud="someone-else")), aud=idp.app_id)
    assert await refused(tokens, f"Bearer {token}") == "bad signature"


async def test_refuses_an_algorithm_the_jwk_does_not_name(
    tokens: InboundTokens, idp: FakeIdentityProvider
):
    """A JWK declaring `alg: RS256` does not verify an RS512 token."""
    idp.keys = [SigningKey.new(alg="RS256")]
    assert await refused(tokens, f"Bearer {idp.mint(alg='RS512')}") == (
        "algorithm does not match the signing key"
    )


@pytest.mark.parametrize(
    "iss",
    [
        "https://evil.example",
        "https://api.botframework.com/",
        "https://API.botframework.com",
        "https://sts.windows.net/99999999-9999-9999-9999-999999999999/",
        "https://login.microsoftonline.com/99999999-9999-9999-9999-999999999999/v2.0",
        "https://sts.windows.net/{tenant}",
        None,
    ],
)
async def test_refuses_a_wrong_issuer(
    tokens: InboundTokens, idp: FakeIdentityProvider, iss: str | None
):
    """A token from any issuer but Bot Framework or the tenant's Entra is refused."""
    claims = (
        idp.claims(drop=["iss"])
        if iss is None
        else idp.claims(iss=iss.format(tenant=idp.tenant_id))
    )
    assert await refused(tokens, f"Bearer {idp.mint(claims)}") == "wrong issuer"


@pytest.mark.parametrize("aud", ["someone-else", ["{app}"], None, "https://api.botframework.com"])
async def test_refuses_a_wrong_audience(
    tokens: InboundTokens, idp: FakeIdentityProvider, aud: object
):
    """A token for any audience but the app id (a list of one too) is refused."""
    if aud is None:
        claims = idp.claims(drop=["aud"])
    elif isinstance(aud, list):
        claims = idp.claims(aud=[idp.app_id])
    else:
        claims = idp.claims(aud=aud)
    assert await refused(tokens, f"Bearer {idp.mint(claims)}") == "wrong audience"


async def test_refuses_an_expired_token(
    tokens: InboundTokens, idp: FakeIdentityProvider, clock: Clock
):
    """A token expired 300 s ago or more is refused."""
    now = int(clock())
    token = idp.mint(idp.claims(exp=now - 300))
    assert await refused(tokens, f"Bearer {token}") == "token expired"


async def test_refuses_a_token_without_expiry(tokens: InboundTokens, idp: FakeIdentityProvider):
    """A token with no `exp` is refused."""
    token = idp.mint(idp.claims(drop=["exp"]))
    assert await refused(tokens, f"Bearer {token}") == "token has no expiry"


async def test_refuses_a_token_not_yet_valid(
    tokens: InboundTokens, idp: FakeIdentityProvider, clock: Clock
):
    """A token whose `nbf` is more than 300 s away is refused."""
    now = int(clock())
    token = idp.mint(idp.claims(nbf=now + 301))
    assert await refused(tokens, f"Bearer {token}") == "token not yet valid"


async def test_expiry_follows_the_injected_clock(
    tokens: InboundTokens, idp: FakeIdentityProvider, clock: Clock
):
    """The same token is accepted until exp + 300 s on the validator's clock, then refused."""
    token = f"Bearer {idp.mint(idp.claims(exp=int(clock()) + 60))}"
    await tokens.verify(token)
    clock.now += 359
    await tokens.verify(token)
    clock.now += 1
    assert await refused(tokens, token) == "token expired"


# -- refused by check_service_url -----------------------------------------------------------


@pytest.mark.parametrize("claims", [{}, {"serviceurl": ""}, {"serviceurl": 42}])
def test_refuses_a_token_without_serviceurl(tokens: InboundTokens, claims: dict[str, object]):
    """A token without a (string) serviceurl claim is refused."""
    with pytest.raises(TeamsAuthError, match="no serviceurl"):
        tokens.check_service_url(claims, "https://smba.trafficmanager.net/amer/")


@pytest.mark.parametrize(
    "activity_url",
    [
        "https://evil.example/amer/",
        "http://smba.trafficmanager.net/amer/",
        "https://smba.trafficmanager.net/emea/",
        "https://smba.trafficmanager.net/AMER/",
        "https://smba.trafficmanager.net:8443/amer/",
        "https://user@smba.trafficmanager.net/amer/",
        "https://smba.trafficmanager.net.evil.example/amer/",
        "smba.trafficmanager.net/amer/",
        "",
        "https://smba.trafficmanager.net:99999/amer/",
    ],
)
def test_refuses_a_mismatched_serviceurl(tokens: InboundTokens, activity_url: str):
    """A serviceurl claim naming another scheme, host, port or path is refused."""
    with pytest.raises(TeamsAuthError, match="serviceurl does not match"):
        tokens.check_service_url(
            {"serviceurl": "https://smba.trafficmanager.net/amer/"}, activity_url
        )


# -- signing keys ---------------------------------------------------------------------------


async def test_keys_are_fetched_once_for_many_tokens(
    tokens: InboundTokens, idp: FakeIdentityProvider, clock: Clock
):
    """Many tokens, one after another and at once, fetch the metadata and the JWKS once."""
    await asyncio.gather(*(tokens.verify(f"Bearer {idp.mint()}") for _ in range(10)))
    for _ in range(10):
        clock.now += 30
        await tokens.verify(f"Bearer {idp.mint()}")
    assert (idp.openid_calls, idp.keys_calls, tokens.fetches) == (1, 1, 1)


async def test_an_unknown_kid_fetches_the_rotated_keys(
    tokens: InboundTokens, idp: FakeIdentityProvider, clock: Clock
):
    """After a key rotation, a token with the new kid refetches the JWKS and is accepted."""
    old = idp.key
    await tokens.verify(f"Bearer {idp.mint()}")
    clock.now += 61
    new = idp.rotate()
    claims = await tokens.verify(f"Bearer {idp.mint(key=new)}")
    assert claims["aud"] == idp.app_id
    await tokens.verify(f"Bearer {idp.mint(key=old)}")
    assert idp.keys_calls == 2


async def test_an_unknown_kid_refetches_at_most_once_a_minute(
    tokens: InboundTokens, idp: FakeIdentityProvider, clock: Clock
):
    """A flood of unknown kids refetches the JWKS once per 60 s, no more."""
    await tokens.verify(f"Bearer {idp.mint()}")
    assert await refused(tokens, f"Bearer {idp.mint(kid='made-up-0')}") == "unknown signing key"
    assert idp.keys_calls == 1  # the keys were fetched less than 60 s ago
    clock.now += 60
    bad = [f"Bearer {idp.mint(kid=f'made-up-{n}')}" for n in range(20)]
    results = await asyncio.gather(*(tokens.verify(b) for b in bad), return_exceptions=True)
    assert all(isinstance(r, TeamsAuthError) for r in results)
    assert idp.keys_calls == 2
    clock.now += 59
    await refused(tokens, f"Bearer {idp.mint(kid='made-up-x')}")
    assert idp.keys_calls == 2
    clock.now += 1
    await refused(tokens, f"Bearer {idp.mint(kid='made-up-y')}")
    assert idp.keys_calls == 3


async def test_a_key_rotated_in_within_the_minute_waits_for_the_next_refetch(
    tokens: InboundTokens, idp: FakeIdentityProvider, clock: Clock
):
    """A new kid seen less than 60 s after a fetch is refused, and accepted once 60 s pass."""
    await tokens.verify(f"Bearer {idp.mint()}")
    new = idp.rotate()
    token = f"Bearer {idp.mint(key=new)}"
    assert await refused(tokens, token) == "unknown signing key"
    clock.now += 60
    assert (await tokens.verify(token))["aud"] == idp.app_id


async def test_keys_older_than_a_day_are_fetched_again(
    tokens: InboundTokens, idp: FakeIdentityProvider, clock: Clock
):
    """After 24 h the JWKS is fetched again, and a withdrawn key stops being accepted."""
    old = idp.key
    await tokens.verify(f"Bearer {idp.mint()}")
    idp.rotate(keep_old=False)
    clock.now += 24 * 3600
    assert await refused(tokens, f"Bearer {idp.mint(idp.claims(), key=old)}") == (
        "unknown signing key"
    )
    assert idp.keys_calls == 2
    await tokens.verify(f"Bearer {idp.mint()}")
    assert idp.keys_calls == 2


async def test_stale_keys_still_verify_while_the_provider_is_down(
    tokens: InboundTokens, idp: FakeIdentityProvider, clock: Clock
):
    """When the day-old keys cannot be refreshed, the cached ones keep working."""
    await tokens.verify(f"Bearer {idp.mint()}")
    clock.now += 24 * 3600
    idp.keys_failures = [503]
    claims = await tokens.verify(f"Bearer {idp.mint()}")
    assert claims["aud"] == idp.app_id
    assert idp.openid_calls == 2


async def test_unreachable_metadata_is_keys_unavailable(
    session: aiohttp.ClientSession, idp: FakeIdentityProvider
):
    """Keys that cannot be fetched (connection refused) refuse the token as unavailable."""
    tokens = InboundTokens(
        app_id=idp.app_id,
        tenant_id=idp.tenant_id,
        openid_metadata_url=f"{CLOSED}/openid",
        session=session,
    )
    with pytest.raises(TeamsKeysUnavailable, match="signing keys unavailable"):
        await tokens.verify(f"Bearer {idp.mint()}")


async def test_a_failing_jwks_is_keys_unavailable_and_retried_after_five_seconds(
    tokens: InboundTokens, idp: FakeIdentityProvider, clock: Clock
):
    """A 500 from the provider refuses as unavailable; 5 s later the fetch is tried again."""
    idp.keys_failures = [500]
    with pytest.raises(TeamsKeysUnavailable, match="HTTP 500"):
        await tokens.verify(f"Bearer {idp.mint()}")
    with pytest.raises(TeamsKeysUnavailable):
        await tokens.verify(f"Bearer {idp.mint()}")
    assert idp.openid_calls == 1
    clock.now += 5
    assert (await tokens.verify(f"Bearer {idp.mint()}"))["aud"] == idp.app_id
    assert (idp.openid_calls, idp.keys_calls) == (2, 1)


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
async def test_unusable_jwks_entries_are_ignored(tokens: InboundTokens, idp: FakeIdentityProvider):
    """Encryption keys, weak RSA keys and junk in the JWKS verify nothing; good keys still do."""
    weak = SigningKey.new("weak", bits=1024)
    enc = SigningKey.new("enc")
    idp.extra_jwks = [
        weak.jwk(),
        enc.jwk(use="enc"),
        {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"},
        {"kty": "RSA", "kid": "junk", "n": "!!", "e": "AQAB"},
        {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
        "not a key",
    ]
    assert (await tokens.verify(f"Bearer {idp.mint()}"))["aud"] == idp.app_id
    assert await refused(tokens, f"Bearer {idp.mint(key=weak)}") == "unknown signing key"
    assert await refused(tokens, f"Bearer {idp.mint(key=enc)}") == "unknown signing key"


async def test_a_jwks_without_usable_keys_is_keys_unavailable(
    tokens: InboundTokens, idp: FakeIdentityProvider
):
    """A JWKS with no usable key refuses tokens as unavailable."""
    idp.keys = []
    with pytest.raises(TeamsKeysUnavailable, match="no usable key"):
        await tokens.verify(f"Bearer {idp.mint(key=SigningKey.new())}")


# -- outbound tokens ------------------------------------------------------------------------


async def test_bot_token_is_a_client_credentials_grant(
    bot_tokens: BotTokens, idp: FakeIdentityProvider
):
    """The bot's token comes from a client-credentials POST for the Bot Framework scope."""
    token = await bot_tokens.token()
    assert idp.valid_token(token)
    [call] = idp.token_calls
    assert call.tenant == idp.tenant_id
    assert call.form == {
        "grant_type": "client_credentials",
        "client_id": idp.app_id,
        "client_secret": APP_PASSWORD,
        "scope": BOT_FRAMEWORK_SCOPE,
    }
    assert bot_tokens.url == f"{idp.login_url}/{idp.tenant_id}/oauth2/v2.0/token"


async def test_bot_token_is_cached_until_five_minutes_before_expiry(
    bot_tokens: BotTokens, idp: FakeIdentityProvider, clock: Clock
):
    """The token is reused until 300 s before it expires, then fetched again."""
    first = await bot_tokens.token()
    clock.now += 3299
    assert await bot_tokens.token() == first
    assert len(idp.token_calls) == 1
    clock.now += 1
    second = await bot_tokens.token()
    assert second != first
    assert len(idp.token_calls) == 2


async def test_a_short_lived_bot_token_is_renewed_at_half_its_life(
    bot_tokens: BotTokens, idp: FakeIdentityProvider, clock: Clock
):
    """A token living 200 s is reused for 100 s, then fetched again."""
    idp.expires_in = 200
    first = await bot_tokens.token()
    clock.now += 99
    assert await bot_tokens.token() == first
    clock.now += 1
    assert await bot_tokens.token() != first
    assert len(idp.token_calls) == 2


async def test_one_bot_token_request_is_in_flight_at_a_time(
    bot_tokens: BotTokens, idp: FakeIdentityProvider
):
    """Many callers at once share one token request."""
    idp.token_delay = 0.05
    got = await asyncio.gather(*(bot_tokens.token() for _ in range(10)))
    assert len(set(got)) == 1
    assert len(idp.token_calls) == 1


async def test_a_failed_bot_token_request_is_delivery_failed_naming_the_status(
    bot_tokens: BotTokens, idp: FakeIdentityProvider
):
    """A 500 from the token endpoint raises DeliveryFailed naming 500; the next call retries."""
    idp.token_failures = [500]
    with pytest.raises(DeliveryFailed, match="HTTP 500") as caught:
        await bot_tokens.token()
    assert APP_PASSWORD not in str(caught.value)
    assert idp.valid_token(await bot_tokens.token())
    assert len(idp.token_calls) == 2


async def test_a_wrong_secret_is_delivery_failed_without_the_secret(
    idp: FakeIdentityProvider, session: aiohttp.ClientSession
):
    """A refused client secret names 401 and the error code, never the secret."""
    wrong = "wrong-secret-1234"
    tokens = BotTokens(
        app_id=idp.app_id,
        app_password=wrong,
        tenant_id=idp.tenant_id,
        session=session,
        login_url=idp.login_url,
    )
    with pytest.raises(DeliveryFailed) as caught:
        await tokens.token()
    assert str(caught.value) == "bot token request failed: HTTP 401 (invalid_client)"
    assert wrong not in str(caught.value)


async def test_callers_waiting_on_a_failing_request_share_its_failure(
    bot_tokens: BotTokens, idp: FakeIdentityProvider
):
    """Callers queued behind a failing request fail with it instead of asking again."""
    idp.token_failures = [503]
    idp.token_delay = 0.05
    results = await asyncio.gather(*(bot_tokens.token() for _ in range(5)), return_exceptions=True)
    assert all(isinstance(r, DeliveryFailed) and "HTTP 503" in str(r) for r in results)
    assert len(idp.token_calls) == 1


async def test_an_unreachable_token_endpoint_is_delivery_failed(session: aiohttp.ClientSession):
    """A token endpoint that refuses connections raises DeliveryFailed."""
    tokens = BotTokens(
        app_id="app", app_password=APP_PASSWORD, tenant_id="t", session=session, login_url=CLOSED
    )
    with pytest.raises(DeliveryFailed, match="bot token request failed"):
        await tokens.token()


async def test_force_refresh_fetches_a_new_token(bot_tokens: BotTokens, idp: FakeIdentityProvider):
    """force_refresh replaces a cached token that is still valid."""
    first = await bot_tokens.token()
    second = await bot_tokens.token(force_refresh=True)
    assert second != first
    assert await bot_tokens.token() == second
    assert len(idp.token_calls) == 2


async def test_the_sdk_gets_the_cached_token_through_its_protocol(
    bot_tokens: BotTokens, idp: FakeIdentityProvider
):
    """The SDK's ConnectionManager hands out BotTokens, whose get_access_token uses the cache."""
    manager = ConnectionManager(
        provider_factory=lambda config: bot_tokens,
        connections_configurations={"SERVICE_CONNECTION": bot_tokens.configuration},
    )
    identity = claims_identity({"iss": "https://api.botframework.com", "aud": idp.app_id})
    provider = manager.get_token_provider(identity, idp.service_url)
    assert provider is bot_tokens
    token = await provider.get_access_token(
        "https://api.botframework.com", identity.get_token_scope()
    )
    assert token == await bot_tokens.token()
    assert len(idp.token_calls) == 1


def test_configuration_describes_the_connection_without_the_secret(
    bot_tokens: BotTokens, idp: FakeIdentityProvider
):
    """The SDK configuration names app, tenant, authority and scope, and holds no secret."""
    config = bot_tokens.configuration
    named = (config.CLIENT_ID, config.TENANT_ID, config.AUTHORITY)
    assert named == (idp.app_id, idp.tenant_id, f"{idp.login_url}/{idp.tenant_id}")
    assert config.SCOPES == [BOT_FRAMEWORK_SCOPE]
    assert config.CLIENT_SECRET is None
    assert not config.ANONYMOUS_ALLOWED
    assert "https://api.botframework.com" in config.ISSUERS


def test_token_credential_is_not_supported(bot_tokens: BotTokens):
    """get_token_credential says it is not implemented."""
    with pytest.raises(NotImplementedError):
        bot_tokens.get_token_credential()


async def test_a_token_used_again_is_not_verified_again_but_still_expires(
    tokens: InboundTokens, idp: FakeIdentityProvider, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Teams sends one token for many activities: its signature is checked once, its
    expiry every time; a token whose key was withdrawn is checked afresh."""
    token = f"Bearer {idp.mint(idp.claims(exp=int(clock()) + 60))}"
    assert (await tokens.verify(token))["aud"] == idp.app_id
    decoded: list[str] = []
    real = jwt.decode

    def counting(*args: Any, **kwargs: Any) -> Any:
        decoded.append("decode")
        return real(*args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting)
    for _ in range(5):
        assert (await tokens.verify(token))["aud"] == idp.app_id
    assert decoded == []
    clock.now += 60 + 301
    assert "expired" in await refused(tokens, token)
