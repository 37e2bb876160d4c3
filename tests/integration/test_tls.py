"""TLS on the listening ports against live servers and real clients (SV-01, CFG-129..CFG-139).

centrifuge-python over ``wss://``, centrifuge-js over ``wss://``, HTTP-streaming and SSE, the
server API over ``https://`` with ``cent``; certificate and key as a file path, raw PEM and
base64 PEM (and the v3 ``tls_cert``/``tls_key`` file paths); client certificates required by
``client_ca_pem``; the ``internal_tls`` and ``tls_external`` port rules; and starts that must
fail closed: the process exits 1 with the reason on stderr and the port never accepted a
connection.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from cent import Client as CentClient
from cent import PublishRequest
from centrifuge import Client, PublicationContext, SubscriptionEventHandler
from support.certs import PKI, make_pki
from support.hostile import Record
from support.node_js import check_ok, ensure_packages, events_of, scenario_runner
from support.ports import free_port, port_accepts
from support.server import ServerFactory, ServerProcess
from support.timing import scaled
from support.tokens import connection_token

SECRET = "tls-test-secret-0123456789abcdef0123"
API_KEY = "tls-api-key"
OPEN_CHANNELS = {
    "allow_subscribe_for_client": True,
    "allow_publish_for_client": True,
    "history_size": 10,
    "history_ttl": "60s",
}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


def base_config(**http_server: Any) -> dict[str, Any]:
    return {
        "client": {"token": {"hmac_secret_key": SECRET}},
        "http_api": {"key": API_KEY},
        "http_stream": {"enabled": True},
        "sse": {"enabled": True},
        "health": {"enabled": True},
        "channel": {"without_namespace": dict(OPEN_CHANNELS)},
        "http_server": http_server,
    }


def server_tls(pki: PKI, form: str = "file", **extra: Any) -> dict[str, Any]:
    """``http_server.tls`` with the server certificate given as ``form``."""
    cert, key = {
        "file": (str(pki.server.cert), str(pki.server.key)),
        "raw": (pki.server.cert_pem, pki.server.key_pem),
        "base64": (pki.server.cert_b64, pki.server.key_b64),
    }[form]
    return {"enabled": True, "cert_pem": cert, "key_pem": key, **extra}


def get(
    port: int, path: str, ctx: ssl.SSLContext | None, timeout: float = 5.0
) -> tuple[int, bytes]:
    """One GET on 127.0.0.1:``port``: HTTPS with ``ctx``, plain HTTP without."""
    conn: http.client.HTTPConnection
    if ctx is not None:
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=scaled(timeout), context=ctx)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=scaled(timeout))
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def plain_http_fails(port: int) -> bool:
    """A plain-HTTP GET to a TLS port gets no HTTP answer (the handshake fails)."""
    try:
        get(port, "/health", None, timeout=3.0)
    except (http.client.HTTPException, OSError):
        return True
    return False


class Publications(SubscriptionEventHandler):  # type: ignore[misc]
    def __init__(self) -> None:
        self.received: asyncio.Queue[Any] = asyncio.Queue()

    async def on_publication(self, ctx: PublicationContext) -> None:
        await self.received.put(ctx.pub.data)


async def python_round_trip(
    server: ServerProcess, pki: PKI, channel: str, *, with_cert: bool = False
) -> Any:
    """centrifuge-python over ``wss://`` subscribes; ``cent`` publishes over ``https://``
    (trusting the test CA, and presenting the client certificate when ``with_cert``, through
    its requests session); return what the subscriber got."""
    ctx = pki.client_context(with_cert=with_cert)
    client = Client(
        server.ws_url(),
        token=connection_token(SECRET, "alice"),
        ssl_context=ctx,
        timeout=scaled(5),
    )
    pubs = Publications()
    sub = client.new_subscription(channel, events=pubs)
    try:
        await client.connect()
        await sub.subscribe()
        await sub.ready(timeout=scaled(5))
        session = requests.Session()
        session.trust_env = False  # REQUESTS_CA_BUNDLE would replace ``verify``
        session.verify = str(pki.ca.cert)
        if with_cert:
            session.cert = (str(pki.client.cert), str(pki.client.key))
        api = CentClient(f"{server.http_url}/api", API_KEY, timeout=scaled(5), session=session)
        result = await asyncio.to_thread(
            api.publish, PublishRequest(channel=channel, data={"over": "tls"})
        )
        assert result.offset == 1
        return await asyncio.wait_for(pubs.received.get(), scaled(5))
    finally:
        await client.disconnect()


def trusting(pki: PKI, *, with_cert: bool = False) -> ssl.SSLContext:
    return pki.client_context(with_cert=with_cert)


# -- wss://, https:// with the official clients ----------------------------------------------


@pytest.mark.parametrize("form", ["file", "raw", "base64"])
async def test_wss_and_api_over_https_with_each_pem_form(
    form: str, pki: PKI, server_factory: ServerFactory, record_property: Record
) -> None:
    """SV-01: cert/key as a file path, raw PEM or base64 PEM; centrifuge-python over wss://
    receives what cent published over https://; plain HTTP on the same port gets nothing."""
    ctx = trusting(pki)
    server = server_factory(base_config(tls=server_tls(pki, form)), ssl_context=ctx)
    assert await python_round_trip(server, pki, f"news_{form}") == {"over": "tls"}
    refused = plain_http_fails(server.port)
    record_property("plain_http_refused", refused)
    assert refused
    assert "serving https on 127.0.0.1:" in server.log_text()


async def test_v3_flat_tls_keys(pki: PKI, server_factory: ServerFactory) -> None:
    """CFG-129/137/139: the tutorial-era ``tls``, ``tls_cert``, ``tls_key`` (file paths)."""
    ctx = trusting(pki)
    flat = {
        "token_hmac_secret_key": SECRET,
        "api_key": API_KEY,
        "allow_subscribe_for_client": True,
        "history_size": 10,
        "history_lifetime": 60,
        "tls": True,
        "tls_cert": str(pki.server.cert),
        "tls_key": str(pki.server.key),
    }
    server = server_factory(flat, ssl_context=ctx)
    assert await python_round_trip(server, pki, "flat") == {"over": "tls"}


@pytest.fixture(scope="module")
def js_runners(require_tool: Callable[[str], str], pki: PKI) -> dict[str, Any]:
    node = require_tool("node")
    ensure_packages(require_tool("npm"), "eventsource/package.json")
    env = {"NODE_EXTRA_CA_CERTS": str(pki.ca.cert)}
    return {
        "ws": scenario_runner(node, "scenario.mjs", env),
        "fallback": scenario_runner(node, "fallback_scenario.mjs", env),
    }


def js_steps(channel: str) -> list[dict[str, Any]]:
    return [
        {"op": "connect", "client": "a"},
        {"op": "subscribe", "client": "a", "channel": channel},
        {"op": "publish", "client": "a", "channel": channel, "data": {"js": channel}},
        {"op": "wait", "client": "a", "event": "publication", "channel": channel},
    ]


def test_centrifuge_js_over_wss_http_stream_and_sse(
    js_runners: dict[str, Any], pki: PKI, server_factory: ServerFactory
) -> None:
    """TR-01 over wss://, TR-02/TR-03 (+ /emulation) over https://, trusting the test CA
    through NODE_EXTRA_CA_CERTS."""
    server = server_factory(base_config(tls=server_tls(pki)), ssl_context=trusting(pki))
    token = connection_token(SECRET, "bob")
    report = js_runners["ws"](
        {
            "url": server.ws_url(),
            "clients": {"a": {"token": token, "protocol": "json"}},
            "steps": js_steps("js_ws"),
        }
    )
    check_ok(report, server)
    [pub] = events_of(report, "a", "publication", channel="js_ws")
    assert pub["data"] == {"js": "js_ws"}
    for transport in ("http_stream", "sse"):
        channel = f"js_{transport}"
        report = js_runners["fallback"](
            {
                "base": server.http_url,
                "clients": {"a": {"token": token, "protocol": "json", "transports": [transport]}},
                "steps": js_steps(channel),
            }
        )
        check_ok(report, server)
        connected = events_of(report, "a", "connected")[0]
        assert connected["transport"] == transport
        [pub] = events_of(report, "a", "publication", channel=channel)
        assert pub["data"] == {"js": channel}


# -- client certificates (client_ca_pem) ------------------------------------------------------


def answer_without_certificate(port: int, ctx: ssl.SSLContext, version: ssl.TLSVersion) -> bytes:
    """Handshake at most ``version`` without a client certificate, send a GET, return what
    came back; an ``ssl.SSLError`` means the handshake itself was cut."""
    ctx.minimum_version = ctx.maximum_version = version
    raw = socket.create_connection(("127.0.0.1", port), timeout=scaled(5))
    with raw, ctx.wrap_socket(raw, server_hostname="localhost") as conn:
        conn.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        return conn.recv(1024)


async def test_client_certificate_required(pki: PKI, server_factory: ServerFactory) -> None:
    """SV-01 ``client_ca_pem``: a client without a certificate is refused by the server (TLS
    1.2: the server ends the handshake; TLS 1.3: the client's handshake completes, then the
    server closes without answering); a client with a certificate from the CA is served,
    over https:// and wss://."""
    with_cert = trusting(pki, with_cert=True)
    server = server_factory(
        base_config(tls=server_tls(pki, client_ca_pem=pki.ca.cert_pem)), ssl_context=with_cert
    )
    assert get(server.port, "/health", with_cert) == (200, b"{}")
    with pytest.raises(ssl.SSLError):
        answer_without_certificate(server.port, trusting(pki), ssl.TLSVersion.TLSv1_2)
    try:
        answer = answer_without_certificate(server.port, trusting(pki), ssl.TLSVersion.TLSv1_3)
    except ssl.SSLError as exc:  # the alert, when it is flushed before the close
        answer = exc.reason.encode() if exc.reason else b"ssl error"
    assert not answer.startswith(b"HTTP/"), answer
    assert await python_round_trip(server, pki, "mutual", with_cert=True) == {"over": "tls"}


# -- which port gets which TLS (SV-01) --------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "main_tls", "internal_tls"),
    [("tls", True, True), ("tls_external", True, False), ("internal_tls", False, True)],
)
def test_internal_port_rules(
    case: str, main_tls: bool, internal_tls: bool, pki: PKI, server_factory: ServerFactory
) -> None:
    """The internal port follows ``http_server.tls`` unless ``tls_external``; ``internal_tls``
    gives it its own object."""
    internal = free_port()
    hs: dict[str, Any] = {"internal_port": internal}
    if case in ("tls", "tls_external"):
        hs["tls"] = server_tls(pki)
    if case == "tls_external":
        hs["tls_external"] = True
    if case == "internal_tls":
        hs["internal_tls"] = server_tls(pki, "raw")
    ctx = trusting(pki)
    server = server_factory(base_config(**hs), ssl_context=ctx if main_tls else None)
    # /health lives on the internal port; the WebSocket endpoint on the main one
    assert get(internal, "/health", ctx if internal_tls else None) == (200, b"{}")
    assert plain_http_fails(internal) == internal_tls
    status, _ = get(server.port, "/connection/websocket", ctx if main_tls else None)
    assert status == 400
    assert plain_http_fails(server.port) == main_tls


# -- fail closed (SV-01) ----------------------------------------------------------------------


def unreadable_file(directory: Path) -> str:
    """A regular file that cannot be read: mode 000, or for root (whom modes do not stop)
    ``/proc/self/mem``, whose first page always fails with EIO."""
    if os.geteuid() == 0:
        return "/proc/self/mem"
    path = directory / "unreadable.key"
    path.write_text("x")
    path.chmod(0)
    return str(path)


def refused_start(config: dict[str, Any], workdir: Path) -> tuple[int, str, bool]:
    """Run the server with ``config`` until it exits; return (exit code, stderr, whether its
    port ever accepted a TCP connection meanwhile)."""
    port = free_port()
    config.setdefault("http_server", {}).setdefault("address", "127.0.0.1")
    path = workdir / "config.json"
    path.write_text(json.dumps(config))
    proc = subprocess.Popen(
        [sys.executable, "-m", "centripetal", "-c", str(path), "-p", str(port)],
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    accepted = False
    deadline = time.monotonic() + scaled(20)
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            accepted = accepted or port_accepts("127.0.0.1", port, timeout=0.05)
            time.sleep(0.01)
        code = proc.wait(timeout=scaled(5))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.stderr is not None
    return code, proc.stderr.read().decode(errors="replace"), accepted


@pytest.mark.parametrize(
    "case",
    [
        "no_key",
        "unreadable_key",
        "garbage_key",
        "key_mismatch",
        "no_cert_no_key",
        "autocert",
        "v3_no_key",
        "broken_internal_tls",
        "broken_proxy_tls",
    ],
)
def test_start_fails_closed(case: str, pki: PKI, tmp_path: Path, record_property: Record) -> None:
    """A TLS setting that cannot be honoured: exit 1, the reason (with its key path) on stderr,
    and no plaintext server in between."""
    cert, key = str(pki.server.cert), str(pki.server.key)
    tls_obj: dict[str, Any] = {"enabled": True, "cert_pem": cert, "key_pem": key}
    config: dict[str, Any] = {"http_server": {"tls": tls_obj}}
    if case == "no_key":
        del tls_obj["key_pem"]
        expected = "http_server.tls.key_pem: required together with http_server.tls.cert_pem"
    elif case == "unreadable_key":
        tls_obj["key_pem"] = unreadable_file(tmp_path)
        expected = f"http_server.tls.key_pem: cannot read file {tls_obj['key_pem']!r}"
    elif case == "garbage_key":
        tls_obj["key_pem"] = "-----BEGIN PRIVATE KEY-----\nnot base64 at all\n"
        expected = (
            "http_server.tls.key_pem: invalid PEM data: not a valid file path, "
            "base64-encoded PEM content, or raw PEM content"
        )
    elif case == "key_mismatch":
        tls_obj["key_pem"] = pki.client.key_pem
        expected = (
            "http_server.tls.key_pem: the private key does not match the certificate of "
            "http_server.tls.cert_pem"
        )
    elif case == "no_cert_no_key":
        config["http_server"]["tls"] = {"enabled": True}
        expected = "http_server.tls.cert_pem: required when http_server.tls.enabled is true"
    elif case == "autocert":
        config = {"http_server": {"tls_autocert": {"enabled": True, "host_whitelist": ["a.b"]}}}
        expected = (
            "http_server.tls_autocert.enabled: automatic certificates (ACME / Let's Encrypt) "
            "are not supported"
        )
    elif case == "v3_no_key":
        config = {"port": 8000, "tls": True, "tls_cert": cert}
        expected = "http_server.tls.key_pem: required together with http_server.tls.cert_pem"
    elif case == "broken_internal_tls":
        config = {"http_server": {"internal_port": free_port(), "internal_tls": {"enabled": True}}}
        expected = "http_server.internal_tls.cert_pem: required when"
    else:
        config = {
            "client": {
                "proxy": {
                    "connect": {
                        "enabled": True,
                        "endpoint": "https://127.0.0.1:1/connect",
                        "http": {"tls": {"enabled": True, "server_ca_pem": "garbage"}},
                    }
                }
            }
        }
        expected = "client.proxy.connect.http.tls.server_ca_pem: invalid PEM data"
    code, stderr, accepted = refused_start(config, tmp_path)
    record_property("exit_code", code)
    record_property("port_accepted", accepted)
    assert code == 1, stderr
    assert expected in stderr
    assert not accepted, "the port accepted a connection before the process gave up"
