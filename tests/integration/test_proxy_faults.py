"""Backend faults fail closed (reliability R-11, PX-03, PX-07).

For connect, subscribe, publish and refresh: the backend sleeps past the 1 s timeout,
answers HTTP 500, refuses the connection, or sends malformed JSON. Commands get error 100
(temporary) within ~1.2 s; nothing is admitted or published; refresh keeps the connection.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from support.ports import free_port
from support.server import ServerFactory
from support.timing import scaled

from integration.test_proxy_events import FakeBackend, backend, open_ws, refresh_config, v6_config

__all__ = ["backend"]  # the fixture, imported for this module's tests

INTERNAL = {"code": 100, "message": "internal server error", "temporary": True}
FAULTS = ["timeout", "status_500", "refused", "garbage"]


def arm(backend: FakeBackend, cfg: dict[str, Any], path: str, fault: str) -> None:
    """Make the backend (or the endpoint of ``path``) fail with ``fault``."""
    if fault == "timeout":
        backend.answers[path] = ("sleep", 2.0, {"result": {}})
    elif fault == "status_500":
        backend.answers[path] = ("status", 500)
    elif fault == "garbage":
        backend.answers[path] = ("raw", b"{not json")
    elif fault == "refused":
        dead = f"http://127.0.0.1:{free_port('127.0.0.1')}/{path}"
        if path in ("connect", "refresh"):
            cfg["client"]["proxy"][path]["endpoint"] = dead
        else:
            cfg["channel"]["proxy"][path]["endpoint"] = dead


@pytest.mark.parametrize("fault", FAULTS)
async def test_r11_connect_fault_is_error_100_and_nothing_admitted(
    fault: str, backend: FakeBackend, server_factory: ServerFactory
) -> None:
    cfg = v6_config(backend.url)
    arm(backend, cfg, "connect", fault)
    server = server_factory(cfg)
    ws = await open_ws(server)
    started = time.monotonic()
    rep = await ws.call(connect={})
    elapsed = time.monotonic() - started
    assert rep == {"id": 1, "error": INTERNAL}
    assert elapsed < scaled(1.2)
    if fault == "timeout":
        assert elapsed >= 0.9
    # fail closed: the connection is not usable (P-22)
    await ws.conn.send(json.dumps({"id": 2, "subscribe": {"channel": "news"}}))
    assert (await ws.closed())[0] == 3501


@pytest.mark.parametrize("fault", FAULTS)
async def test_r11_subscribe_fault_then_backend_heals(
    fault: str, backend: FakeBackend, server_factory: ServerFactory
) -> None:
    cfg = v6_config(backend.url)
    arm(backend, cfg, "subscribe", fault)
    backend.answers["connect"] = {"result": {"user": "9"}}
    server = server_factory(cfg)
    ws = await open_ws(server)
    assert "connect" in await ws.call(connect={})
    started = time.monotonic()
    rep = await ws.call(subscribe={"channel": "rooms:x"})
    assert rep == {"id": 2, "error": INTERNAL}
    assert time.monotonic() - started < scaled(1.2)
    if fault != "refused":
        backend.answers["subscribe"] = {"result": {}}
        assert await ws.call(subscribe={"channel": "rooms:x"}) == {"id": 3, "subscribe": {}}
    await ws.conn.close()


@pytest.mark.parametrize("fault", FAULTS)
async def test_r11_publish_fault_is_error_and_nothing_published(
    fault: str, backend: FakeBackend, server_factory: ServerFactory
) -> None:
    cfg = v6_config(backend.url)
    arm(backend, cfg, "publish", fault)
    backend.answers["connect"] = {"result": {"user": "9"}}
    server = server_factory(cfg)
    ws = await open_ws(server)
    assert "connect" in await ws.call(connect={})
    assert "subscribe" in await ws.call(subscribe={"channel": "rooms:x"})
    rep = await ws.call(publish={"channel": "rooms:x", "data": {"t": 1}})
    assert rep == {"id": 3, "error": INTERNAL}
    with pytest.raises(TimeoutError):
        await ws.push(timeout=0.5)
    await ws.conn.close()


@pytest.mark.parametrize("fault", ["timeout", "status_500", "refused", "garbage", "error"])
async def test_r11_refresh_fault_keeps_connection(
    fault: str, backend: FakeBackend, server_factory: ServerFactory
) -> None:
    cfg = refresh_config(backend.url)
    if fault == "error":  # PX-07: refresh honours only "result"; an error means no result
        backend.answers["refresh"] = {"error": {"code": 403, "message": "nope"}}
    else:
        arm(backend, cfg, "refresh", fault)
    backend.answers["connect"] = lambda _: {
        "result": {"user": "5", "expire_at": int(time.time()) + 2}
    }
    server = server_factory(cfg)
    ws = await open_ws(server)
    assert "connect" in await ws.call(connect={})
    if fault == "error":
        assert (await ws.closed(timeout=5))[0] == 3005
        return
    # the refresh proxy is called at expiry (~1 s); poll until it was (or, refused, wait)
    deadline = time.monotonic() + scaled(4.0)
    while fault != "refused" and not backend.of("refresh") and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    if fault == "refused":
        await asyncio.sleep(scaled(2.5))
    else:
        assert backend.of("refresh"), "refresh proxy was never called"
    # still connected: a command after the failed refresh is answered
    rep = await ws.call(rpc={"method": "nope:m"})
    assert rep["error"]["code"] == 104
    await ws.conn.close()
