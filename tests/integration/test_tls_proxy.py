"""Proxies to an https:// backend (PX-03, PX-27, reliability R-11).

The backend is the recording aiohttp server of test_proxy_events serving TLS with the test
server certificate (SAN ``localhost``, ``127.0.0.1``). A backend trusted through
``http.tls.server_ca_pem`` (or not verified with ``insecure_skip_verify``) answers; one whose
certificate does not verify - not in the system CAs, signed by another CA, or not matching
``server_name`` - fails the call closed with error 100, logged once with the reason, before
any request reaches it. ``server_name`` is the name sent (SNI) and verified; a client
certificate is presented to a backend that requires one.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from typing import Any

import pytest
from support.certs import PKI, make_pki
from support.server import ServerFactory, ServerProcess

from integration.test_proxy_events import FakeBackend, open_ws

INTERNAL = {"code": 100, "message": "internal server error", "temporary": True}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


class TLSBackend(FakeBackend):
    """The fake backend over TLS; records the SNI names it was sent."""

    def __init__(self, pki: PKI, *, require_client_cert: bool = False) -> None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(pki.server.cert), str(pki.server.key))
        if require_client_cert:
            ctx.load_verify_locations(cafile=str(pki.ca.cert))
            ctx.verify_mode = ssl.CERT_REQUIRED
        self.sni: list[str | None] = []
        ctx.sni_callback = lambda _obj, name, _ctx: self.sni.append(name)  # type: ignore[assignment]
        super().__init__(ssl_context=ctx)
        self.answers["connect"] = {"result": {"user": "56"}}


@pytest.fixture
async def backend(pki: PKI) -> AsyncIterator[TLSBackend]:
    fake = TLSBackend(pki)
    await fake.start()
    yield fake
    await fake.stop()


def connect_config(endpoint: str, **tls: Any) -> dict[str, Any]:
    http: dict[str, Any] = {"tls": {"enabled": True, **tls}} if tls else {}
    return {
        "client": {
            "proxy": {
                "connect": {"enabled": True, "endpoint": endpoint, "timeout": "2s", "http": http}
            }
        }
    }


async def connect_reply(server: ServerProcess) -> dict[str, Any]:
    ws = await open_ws(server)
    try:
        return await ws.call(connect={})
    finally:
        await ws.conn.close()


def proxy_errors(server: ServerProcess) -> list[str]:
    return [line for line in server.log_text().splitlines() if "proxying connect to" in line]


@pytest.mark.parametrize("form", ["raw", "file"])
async def test_backend_trusted_through_server_ca(
    form: str, pki: PKI, backend: TLSBackend, server_factory: ServerFactory
) -> None:
    ca = pki.ca.cert_pem if form == "raw" else str(pki.ca.cert)
    server = server_factory(connect_config(f"{backend.url}/connect", server_ca_pem=ca))
    rep = await connect_reply(server)
    assert rep["connect"]["client"] and "error" not in rep
    assert len(backend.of("connect")) == 1
    assert backend.sni == [None]  # an IP address is never sent as SNI


@pytest.mark.parametrize("case", ["system_cas", "other_ca"])
async def test_untrusted_backend_fails_closed(
    case: str, pki: PKI, backend: TLSBackend, server_factory: ServerFactory
) -> None:
    """R-11: a certificate that does not verify is a backend fault - error 100, one log line
    with the reason, and the backend never sees the request."""
    tls = {} if case == "system_cas" else {"server_ca_pem": pki.other_ca.cert_pem}
    server = server_factory(connect_config(f"{backend.url}/connect", **tls))
    assert await connect_reply(server) == {"id": 1, "error": INTERNAL}
    [line] = proxy_errors(server)
    assert "CERTIFICATE_VERIFY_FAILED" in line
    assert backend.of("connect") == []


async def test_insecure_skip_verify_passes(
    backend: TLSBackend, server_factory: ServerFactory
) -> None:
    server = server_factory(connect_config(f"{backend.url}/connect", insecure_skip_verify=True))
    rep = await connect_reply(server)
    assert "connect" in rep
    assert len(backend.of("connect")) == 1


async def test_server_name_is_sent_and_verified(
    pki: PKI, backend: TLSBackend, server_factory: ServerFactory
) -> None:
    """``server_name``: the backend is reached by IP but verified (and asked, by SNI) as the
    configured name: ``localhost`` is in its certificate, ``wrong.example`` is not."""
    ok = server_factory(
        connect_config(
            f"{backend.url}/connect", server_ca_pem=pki.ca.cert_pem, server_name="localhost"
        )
    )
    assert "connect" in await connect_reply(ok)
    assert backend.sni == ["localhost"]
    wrong = server_factory(
        connect_config(
            f"{backend.url}/connect", server_ca_pem=pki.ca.cert_pem, server_name="wrong.example"
        )
    )
    assert await connect_reply(wrong) == {"id": 1, "error": INTERNAL}
    [line] = proxy_errors(wrong)
    assert "wrong.example" in line and "CERTIFICATE_VERIFY_FAILED" in line
    assert len(backend.of("connect")) == 1  # only the first server's call arrived


async def test_client_certificate_for_a_backend_that_requires_one(
    pki: PKI, server_factory: ServerFactory
) -> None:
    fake = TLSBackend(pki, require_client_cert=True)
    await fake.start()
    try:
        endpoint = f"{fake.url}/connect"
        mutual = server_factory(
            connect_config(
                endpoint,
                server_ca_pem=pki.ca.cert_pem,
                cert_pem=pki.client.cert_b64,
                key_pem=str(pki.client.key),
            )
        )
        assert "connect" in await connect_reply(mutual)
        assert len(fake.of("connect")) == 1
        anonymous = server_factory(connect_config(endpoint, server_ca_pem=pki.ca.cert_pem))
        assert await connect_reply(anonymous) == {"id": 1, "error": INTERNAL}
        assert len(proxy_errors(anonymous)) == 1
        assert len(fake.of("connect")) == 1
    finally:
        await fake.stop()
