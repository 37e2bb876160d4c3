"""Redis and NATS over TLS with real servers (EN-03, EN-08).

Redis: Debian's ``redis-server`` listening with TLS only (``--port 0 --tls-port P``). The
server certificate is verified by default - a CA the node does not trust (the system CAs, or
``server_ca_pem`` naming another CA) or a ``server_name`` the certificate does not carry is
refused by the node, whose commands then fail and whose log names the reason; a trusted one
serves publications and history. With ``--tls-auth-clients yes`` the node's client
certificate (``cert_pem``/``key_pem``) is required.

NATS: ``nats-server --tls``: trusted through ``server_ca_pem`` the node starts; an untrusted
certificate, a wrong ``server_name``, or a server that offers no TLS at all make the start fail
(exit 1) instead of connecting in plain text.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from support.certs import PKI, make_pki
from support.nats import NatsServer
from support.ports import free_port
from support.redis import NO_PERSISTENCE, RedisServer
from support.server import ServerError, ServerFactory, ServerProcess
from support.timing import scaled

API_KEY = "engines-tls-key"
HISTORY = {"history_size": 10, "history_ttl": "60s"}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


def tls_redis(pki: PKI, *, auth_clients: bool) -> RedisServer:
    port = free_port()
    args = [
        *NO_PERSISTENCE,
        "--port", "0",
        "--tls-port", str(port),
        "--tls-cert-file", str(pki.server.cert),
        "--tls-key-file", str(pki.server.key),
        "--tls-ca-cert-file", str(pki.ca.cert),
        "--tls-auth-clients", "yes" if auth_clients else "no",
    ]  # fmt: skip
    cli = ["--tls", "--cacert", str(pki.ca.cert)]
    if auth_clients:
        cli += ["--cert", str(pki.client.cert), "--key", str(pki.client.key)]
    return RedisServer(args, port=port, cli_args=cli)


@pytest.fixture(scope="module")
def redis_tls(pki: PKI) -> Iterator[RedisServer]:
    with tls_redis(pki, auth_clients=False) as server:
        yield server


@pytest.fixture(scope="module")
def redis_mutual(pki: PKI) -> Iterator[RedisServer]:
    with tls_redis(pki, auth_clients=True) as server:
        yield server


def api(server: ServerProcess, method: str, params: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{server.http_url}/api/{method}",
        data=json.dumps(params).encode(),
        headers={"X-API-Key": API_KEY, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=scaled(10)) as resp:
        answer: dict[str, Any] = json.loads(resp.read())
    return answer


def redis_config(address: str, **tls: Any) -> dict[str, Any]:
    redis: dict[str, Any] = {"address": [address], "connect_timeout": "1s", "io_timeout": "2s"}
    if tls:
        redis["tls"] = {"enabled": True, **tls}
    return {
        "engine": {"type": "redis", "redis": redis},
        "http_api": {"key": API_KEY},
        "channel": {"without_namespace": dict(HISTORY)},
    }


def assert_served(server: ServerProcess, channel: str) -> None:
    """A publication goes through Redis and comes back from its history."""
    assert api(server, "publish", {"channel": channel, "data": {"v": 1}}) == {
        "result": {"offset": 1, "epoch": api_epoch(server, channel)}
    }
    history = api(server, "history", {"channel": channel, "limit": 10})
    assert [p["data"] for p in history["result"]["publications"]] == [{"v": 1}]


def api_epoch(server: ServerProcess, channel: str) -> str:
    result = api(server, "history", {"channel": channel, "limit": 0})["result"]
    epoch: str = result["epoch"]
    return epoch


def assert_refused(server: ServerProcess, reason: str) -> None:
    """Commands fail (error 100, nothing stored) and the failure lines name the TLS reason
    (the first PUB/SUB retry may see the reset that follows the alert instead)."""
    answer = api(server, "publish", {"channel": "refused", "data": {}})
    assert answer["error"]["code"] == 100, answer
    lines = server.log_text().splitlines()
    assert any("redis pubsub connect to" in line and " failed: " in line for line in lines)
    failures = [line for line in lines if " failed: " in line and reason in line]
    assert failures, server.describe(f"no failure line names {reason!r}")


@pytest.mark.parametrize("scheme", ["plain_address", "rediss"])
def test_redis_verified_through_server_ca(
    scheme: str, pki: PKI, redis_tls: RedisServer, server_factory: ServerFactory
) -> None:
    address = redis_tls.address if scheme == "plain_address" else f"rediss://{redis_tls.address}"
    server = server_factory(redis_config(address, server_ca_pem=pki.ca.cert_pem))
    assert_served(server, f"tls_{scheme}")


@pytest.mark.parametrize(
    ("case", "tls", "reason"),
    [
        ("system_cas_by_default", None, "CERTIFICATE_VERIFY_FAILED"),
        ("wrong_ca", {"server_ca_pem": "OTHER"}, "CERTIFICATE_VERIFY_FAILED"),
        (
            "wrong_server_name",
            {"server_ca_pem": "CA", "server_name": "wrong.example"},
            "Hostname mismatch, certificate is not valid for 'wrong.example'",
        ),
    ],
)
def test_redis_untrusted_is_refused(
    case: str,
    tls: dict[str, str] | None,
    reason: str,
    pki: PKI,
    redis_tls: RedisServer,
    server_factory: ServerFactory,
) -> None:
    """EN-03: verification is on by default; a rediss:// address alone trusts the system
    CAs only, which do not include the test CA."""
    if tls is None:
        config = redis_config(f"rediss://{redis_tls.address}")
    else:
        pems = {"CA": pki.ca.cert_pem, "OTHER": pki.other_ca.cert_pem}
        config = redis_config(redis_tls.address, **{k: pems.get(v, v) for k, v in tls.items()})
    server = server_factory(config)
    assert_refused(server, reason)
    assert redis_tls.cli("KEYS", "*refused*").strip() == ""  # nothing reached Redis


def test_redis_insecure_skip_verify_and_server_name(
    pki: PKI, redis_tls: RedisServer, server_factory: ServerFactory
) -> None:
    skip = server_factory(redis_config(redis_tls.address, insecure_skip_verify=True))
    assert_served(skip, "tls_skip")
    named = server_factory(
        redis_config(redis_tls.address, server_ca_pem=str(pki.ca.cert), server_name="localhost")
    )
    assert_served(named, "tls_named")


def test_redis_client_certificate(
    pki: PKI, redis_mutual: RedisServer, server_factory: ServerFactory
) -> None:
    """``--tls-auth-clients yes``: refused without a client certificate, served with one."""
    without = server_factory(redis_config(redis_mutual.address, server_ca_pem=pki.ca.cert_pem))
    assert_refused(without, "CERTIFICATE_REQUIRED")  # the alert Redis sent
    assert "CERTIFICATE_VERIFY_FAILED" not in without.log_text()  # the server refused us
    with_cert = server_factory(
        redis_config(
            redis_mutual.address,
            server_ca_pem=pki.ca.cert_pem,
            cert_pem=pki.client.cert_pem,
            key_pem=pki.client.key_b64,
        )
    )
    assert_served(with_cert, "tls_mutual")


def test_redis_tls_with_sentinel_is_refused_at_start(server_factory: ServerFactory) -> None:
    config = redis_config("127.0.0.1:1", enabled=True)
    config["engine"]["redis"].update(
        {"sentinel_address": ["127.0.0.1:26379"], "sentinel_master_name": "m"}
    )
    with pytest.raises(ServerError) as exc:
        server_factory(config, startup_timeout=10)
    assert "exit code: 1" in str(exc.value)
    assert "engine.redis.tls: TLS with Redis Sentinel is not supported" in str(exc.value)


# -- NATS (EN-08) -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nats_tls(pki: PKI) -> Iterator[NatsServer]:
    args = ["--tls", "--tlscert", str(pki.server.cert), "--tlskey", str(pki.server.key)]
    with NatsServer(args=args) as server:
        yield server


def nats_config(url: str, **tls: Any) -> dict[str, Any]:
    nats: dict[str, Any] = {"url": url, "dial_timeout": "1s"}
    if tls:
        nats["tls"] = {"enabled": True, **tls}
    return {
        "broker": {"enabled": True, "type": "nats", "nats": nats},
        "http_api": {"key": API_KEY},
    }


def test_nats_over_tls(pki: PKI, nats_tls: NatsServer, server_factory: ServerFactory) -> None:
    for tls in (
        {"server_ca_pem": pki.ca.cert_b64},
        {"server_ca_pem": pki.ca.cert_pem, "server_name": "localhost"},
    ):
        server = server_factory(nats_config(nats_tls.url, **tls))
        assert api(server, "publish", {"channel": "n", "data": {}}) == {"result": {}}
        assert "nats broker connected" in server.log_text()


@pytest.mark.parametrize("case", ["system_cas", "wrong_ca", "wrong_server_name", "no_tls"])
def test_nats_refused_at_start(
    case: str, pki: PKI, nats_tls: NatsServer, server_factory: ServerFactory
) -> None:
    """The start fails (exit 1) with the reason logged, never in plain text."""
    url = nats_tls.url
    tls: dict[str, Any] = {}
    reason = "CERTIFICATE_VERIFY_FAILED"
    plain: NatsServer | None = None
    if case == "wrong_ca":
        tls = {"server_ca_pem": pki.other_ca.cert_pem}
    elif case == "wrong_server_name":
        tls = {"server_ca_pem": pki.ca.cert_pem, "server_name": "wrong.example"}
    elif case == "no_tls":
        plain = NatsServer().start()
        url = plain.url
        tls = {"server_ca_pem": pki.ca.cert_pem}
        reason = "secure connection not available: broker.nats.tls is enabled but the server"
    config = nats_config(url, **tls) if tls else nats_config(url, enabled=True)
    try:
        with pytest.raises(ServerError) as exc:
            server_factory(config, startup_timeout=15)
    finally:
        if plain is not None:
            plain.cleanup()
    assert "exit code: 1" in str(exc.value)
    assert "engine start failed: nats: cannot connect" in str(exc.value)
    assert reason in str(exc.value)


async def test_redis_alert_named_when_it_arrives_before_the_first_command(
    pki: PKI, redis_mutual: RedisServer
) -> None:
    """EN-03: with TLS 1.3 a refused client certificate comes as an alert after the TLS
    handshake. When it arrives before the first command is written, redis-py only says the
    server closed the connection; the engine's TLS connection adds the alert (held back here
    by a pause before the first command)."""
    import asyncio

    from redis.exceptions import ConnectionError as RedisConnectionError

    from centripetal.engines.redis.sharding import TLSConnection
    from centripetal.tls import ClientTLS

    class Late(TLSConnection):
        async def on_connect_check_health(self, check_health: bool = True) -> None:
            await asyncio.sleep(0.3)  # the alert is in by now
            await super().on_connect_check_health(check_health=check_health)

    conn = Late(
        tls=ClientTLS(pki.client_context(with_cert=False), None),
        host="127.0.0.1",
        port=redis_mutual.port,
    )
    with pytest.raises(RedisConnectionError, match="CERTIFICATE_REQUIRED"):
        await conn.connect()
    await conn.disconnect()
