"""Proxy answers are capped in size: ``http.max_response_size`` (PX-03, reliability R-11).

A backend answering 50 MB - announced by ``Content-Length``, or chunked without a length -
fails the event closed with error 100, quickly (well before the proxy timeout), with one log
line naming the event, the proxy and the endpoint, and the server's memory does not grow by
the answer's size: the announced body is never read, the chunked one is read only up to the
cap. The default cap is 1 MiB; ``0`` means no cap.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from support.hostile import Record
from support.server import ServerFactory, ServerProcess
from support.timing import scaled

from integration.test_proxy_events import open_ws

INTERNAL = {"code": 100, "message": "internal server error", "temporary": True}
HUGE = 50 * 1024 * 1024
CHUNK = b" " * 65536
MiB = 1024 * 1024


class BigBackend:
    """``/length`` and ``/chunked`` stream 50 MB of blanks until the peer goes away; ``/padded``
    answers a valid connect reply of about 2 MiB; ``/ok`` a small one."""

    def __init__(self) -> None:
        self.url = ""
        self.sent: dict[str, int] = {}
        self._runner: web.AppRunner | None = None

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        await request.read()
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        if path == "length":
            resp.content_length = HUGE
        else:
            resp.enable_chunked_encoding()
        await resp.prepare(request)
        sent = 0
        try:
            while sent < HUGE:
                await resp.write(CHUNK)
                sent += len(CHUNK)
        except (ConnectionError, RuntimeError):
            pass  # the server hung up, as it should
        self.sent[path] = sent
        return resp

    async def _padded(self, request: web.Request) -> web.Response:
        await request.read()
        body = {"result": {"user": "7"}, "padding": "x" * (2 * MiB)}
        return web.json_response(body)

    async def _ok(self, request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"result": {"user": "7"}})

    async def start(self) -> BigBackend:
        app = web.Application()
        app.router.add_post("/padded", self._padded)
        app.router.add_post("/ok", self._ok)
        app.router.add_post("/{path}", self._stream)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def big() -> AsyncIterator[BigBackend]:
    backend = await BigBackend().start()
    yield backend
    await backend.stop()


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def config(url: str, connect_path: str, **http: Any) -> dict[str, Any]:
    return {
        "client": {
            "proxy": {
                "connect": {
                    "enabled": True,
                    "endpoint": f"{url}/{connect_path}",
                    "timeout": "5s",
                    "http": http,
                }
            }
        },
        "proxies": [{"name": "big", "endpoint": f"{url}/chunked", "timeout": "5s", "http": http}],
        "rpc": {"without_namespace": {"proxy_enabled": True, "proxy_name": "big"}},
    }


def log_lines(server: ServerProcess, needle: str) -> list[str]:
    return [line for line in server.log_text().splitlines() if needle in line]


async def test_50mb_answers_fail_closed_quickly_without_memory_growth(
    big: BigBackend, server_factory: ServerFactory, record_property: Record
) -> None:
    server = server_factory(config(big.url, "ok"))
    assert server.pid is not None
    ws = await open_ws(server)
    assert "connect" in await ws.call(connect={})  # the proxy's HTTP client now exists
    before = rss_kib(server.pid)
    try:
        # connect: Content-Length 50 MB is refused before any of the body is read
        cfg_server = server_factory(config(big.url, "length"))
        assert cfg_server.pid is not None
        length_before = rss_kib(cfg_server.pid)
        ws2 = await open_ws(cfg_server)
        started = time.monotonic()
        reply = await ws2.call(connect={})
        elapsed = time.monotonic() - started
        record_property("connect_reply", reply)
        record_property("connect_seconds", round(elapsed, 3))
        assert reply == {"id": 1, "error": INTERNAL}
        assert elapsed < scaled(2.0)
        [line] = log_lines(cfg_server, "proxying connect to")
        assert f"to {big.url}/length for client " in line
        assert line.endswith(
            f"response too large: Content-Length {HUGE} exceeds http.max_response_size {MiB}"
        )
        length_grown = rss_kib(cfg_server.pid) - length_before
        record_property("connect_rss_growth_kib", length_grown)
        assert length_grown < 8 * 1024
        await ws2.conn.close()
        # rpc through the named proxy "big": a chunked 50 MB body is cut at the cap
        for attempt in (1, 2, 3):
            started = time.monotonic()
            rep = await ws.call(rpc={"method": "m", "data": {}})
            record_property(f"rpc_{attempt}_reply", rep)
            record_property(f"rpc_{attempt}_seconds", round(time.monotonic() - started, 3))
            assert rep == {"id": 1 + attempt, "error": INTERNAL}
            assert time.monotonic() - started < scaled(2.0)
        lines = log_lines(server, "proxying rpc (proxy 'big')")
        assert len(lines) == 1  # the same fault twice more is counted, not printed (logs.py)
        assert lines[0].endswith(
            f"response too large: more than {MiB} bytes (http.max_response_size) read and the "
            "body goes on"
        )
        assert f"to {big.url}/chunked for client " in lines[0]
        grown = rss_kib(server.pid) - before
        record_property("rpc_rss_growth_kib", grown)
        assert grown < 8 * 1024, f"RSS grew by {grown} KiB"
    finally:
        await ws.conn.close()
    record_property("backend_bytes_sent", big.sent)
    assert big.sent["chunked"] < HUGE  # the backend was cut off, not drained


@pytest.mark.parametrize(
    ("http", "accepted"),
    [({}, False), ({"max_response_size": 0}, True), ({"max_response_size": 4 * MiB}, True)],
)
async def test_cap_default_zero_and_raised(
    http: dict[str, Any], accepted: bool, big: BigBackend, server_factory: ServerFactory
) -> None:
    """A 2 MiB answer: over the 1 MiB default, under a raised cap, and uncapped with 0."""
    server = server_factory(config(big.url, "padded", **http))
    ws = await open_ws(server)
    try:
        rep = await ws.call(connect={})
    finally:
        await ws.conn.close()
    if accepted:
        assert "connect" in rep, json.dumps(rep)[:200]
    else:
        assert rep == {"id": 1, "error": INTERNAL}
        [line] = log_lines(server, "proxying connect to")
        assert "exceeds http.max_response_size 1048576" in line
