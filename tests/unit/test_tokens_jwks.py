"""JWKSKeySource against a tiny aiohttp server on 127.0.0.1, port 0 (AU-05).

The one unit test file allowed to open a socket: the key source is the only I/O in token
verification.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import jwt_corpus as jc
import pytest
from aiohttp import web
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from centripetal.auth_jwks import JWKSFetchError, JWKSKeySource, UnknownKeyError
from centripetal.config import schema
from centripetal.core.tokens import TokenInvalidError, TokenVerifier, code_for


class JWKSServer:
    def __init__(self) -> None:
        self.hits = 0
        self.fail_next = 0  # answer 500 this many times
        self.keys: list[dict[str, Any]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.hits += 1
        if self.fail_next:
            self.fail_next -= 1
            return web.Response(status=500)
        return web.json_response({"keys": self.keys})


def jwk(alg_obj: Any, public_key: Any, kid: str, alg: str | None, **extra: Any) -> dict[str, Any]:
    data = json.loads(alg_obj.to_jwk(public_key))
    data.update({"kid": kid, **extra})
    if alg:
        data["alg"] = alg
    return data


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def jwks_env() -> AsyncIterator[tuple[JWKSServer, str, aiohttp.ClientSession]]:
    k = jc.keys()
    server = JWKSServer()
    server.keys = [
        jwk(RSAAlgorithm, k.rsa.public_key(), "rsa-1", "RS256"),
        jwk(ECAlgorithm, k.p256.public_key(), "ec-1", "ES256"),
        jwk(OKPAlgorithm, k.ed25519.public_key(), "ed-1", None),
        jwk(RSAAlgorithm, k.rsa_other.public_key(), "enc-1", "RS256", use="enc"),
        {"kty": "oct", "kid": "hmac-1", "k": "c2VjcmV0"},
    ]
    app = web.Application()
    app.router.add_get("/jwks", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    session = aiohttp.ClientSession()
    try:
        yield server, f"http://127.0.0.1:{port}/jwks", session
    finally:
        await session.close()
        await runner.cleanup()


async def test_tokens_verified_with_fetched_rsa_ec_okp_keys(jwks_env: Any) -> None:
    server, url, session = jwks_env
    source = JWKSKeySource(url, lambda: session)
    v = TokenVerifier(schema.TokenConfig(jwks_public_endpoint=url), jwks=source)
    k = jc.keys()
    for kid, alg, key in (
        ("rsa-1", "RS256", k.rsa),
        ("ec-1", "ES256", k.p256),
        ("ed-1", "EdDSA", k.ed25519),
    ):
        tok = jc.token({"sub": kid}, alg=alg, key=key, header={"alg": alg, "kid": kid})
        assert (await v.verify_connect(tok)).user == kid
    assert server.hits == 1  # cached


async def test_non_signature_and_symmetric_keys_are_not_served(jwks_env: Any) -> None:
    _server, url, session = jwks_env
    source = JWKSKeySource(url, lambda: session, refetch_interval=0)
    for kid in ("enc-1", "hmac-1"):
        with pytest.raises(UnknownKeyError):
            await source.get_key(kid)
    v = TokenVerifier(schema.TokenConfig(jwks_public_endpoint=url), jwks=source)
    tok = jc.token({"sub": "x"}, key=b"secret", header={"alg": "HS256", "kid": "hmac-1"})
    with pytest.raises(TokenInvalidError) as info:
        await v.verify_connect(tok)
    assert code_for(info.value, "connect") == 3500


async def test_cache_expires_after_an_hour(jwks_env: Any) -> None:
    server, url, session = jwks_env
    clock = Clock()
    source = JWKSKeySource(url, lambda: session, clock=clock)
    await source.get_key("rsa-1")
    clock.now += 3599
    await source.get_key("rsa-1")
    assert server.hits == 1
    clock.now += 1
    await source.get_key("rsa-1")
    assert server.hits == 2


async def test_unknown_kid_refetches_rate_limited(jwks_env: Any) -> None:
    server, url, session = jwks_env
    clock = Clock()
    source = JWKSKeySource(url, lambda: session, clock=clock, refetch_interval=10)
    await source.get_key("rsa-1")
    for _ in range(5):
        with pytest.raises(UnknownKeyError):
            await source.get_key("../../dev/null")
    assert server.hits == 1  # within refetch_interval: no new request
    clock.now += 10
    server.keys.append(jwk(RSAAlgorithm, jc.keys().rsa_other.public_key(), "rsa-2", "RS256"))
    key, alg = await source.get_key("rsa-2")
    assert key.public_numbers() == jc.keys().rsa_other.public_key().public_numbers()
    assert alg == "RS256" and server.hits == 2


async def test_one_retry_after_failure(jwks_env: Any) -> None:
    server, url, session = jwks_env
    server.fail_next = 1
    source = JWKSKeySource(url, lambda: session)
    _key, alg = await source.get_key("ec-1")
    assert alg == "ES256"
    assert server.hits == 2


async def test_two_failures_raise_and_stale_keys_keep_serving(jwks_env: Any) -> None:
    server, url, session = jwks_env
    clock = Clock()
    source = JWKSKeySource(url, lambda: session, clock=clock)
    server.fail_next = 2
    with pytest.raises(JWKSFetchError):
        await source.get_key("rsa-1")
    assert server.hits == 2
    with pytest.raises(JWKSFetchError):  # rate-limited: no new request yet
        await source.get_key("rsa-1")
    assert server.hits == 2
    clock.now += 10
    await source.get_key("rsa-1")
    assert server.hits == 3
    clock.now += 3600
    server.fail_next = 2
    _key, alg = await source.get_key("rsa-1")  # refresh failed, stale key served
    assert alg == "RS256" and server.hits == 5


async def test_unreachable_endpoint_times_out_as_fetch_error() -> None:
    async with aiohttp.ClientSession() as session:
        source = JWKSKeySource("http://127.0.0.1:9/jwks", lambda: session, timeout=0.5)
        with pytest.raises(JWKSFetchError):
            await source.get_key("rsa-1")
        assert source.fetch_count == 2
