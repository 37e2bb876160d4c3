"""centrifuge-python and raw WebSocket clients against a live server.

Scenarios the oracle suite (``tests/compat``) does not cover: anonymous connect
(AU-30), ``client.insecure`` (P-90 step 10), server-side subscriptions from the token
``channels`` claim (AU-02), subscribe errors 102/103/106 (P-31, E-102/E-103/E-106),
disconnects 3501 (P-13), 3502 (P-93) and 3012 (P-52), the plain GET answer (TR-01)
and the Origin check (TR-12).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web
from centrifuge import (
    Client,
    ClientEventHandler,
    ConnectedContext,
    DisconnectedContext,
    PublicationContext,
    ServerPublicationContext,
    ServerSubscribedContext,
    SubscribedContext,
    SubscriptionEventHandler,
    UnsubscribedContext,
)
from support.server import ServerFactory, ServerProcess
from support.timing import scaled
from support.tokens import connection_token
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

SECRET = "py-test-secret-0123456789abcdef0123"
TOKEN_CONFIG: dict[str, Any] = {
    "client": {"token": {"hmac_secret_key": SECRET}, "channel_limit": 2},
    "channel": {
        "without_namespace": {
            "allow_subscribe_for_client": True,
            "allow_publish_for_client": True,
        },
        "namespaces": [{"name": "locked"}],
    },
}


class Recorder(ClientEventHandler, SubscriptionEventHandler):  # type: ignore[misc]
    """Records client and subscription events as ``(kind, fields)`` in arrival order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self._changed = asyncio.Condition()

    async def _add(self, kind: str, **fields: Any) -> None:
        async with self._changed:
            self.events.append((kind, fields))
            self._changed.notify_all()

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.events]

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [fields for k, fields in self.events if k == kind]

    async def wait(self, kind: str, count: int = 1, timeout: float = 10.0) -> dict[str, Any]:
        """Wait for the ``count``-th event of ``kind``; return it."""

        async def reached() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: len(self.of(kind)) >= count)

        try:
            await asyncio.wait_for(reached(), scaled(timeout))
        except TimeoutError:
            pytest.fail(f"no {count} x {kind!r} within {scaled(timeout):.1f}s; got {self.events}")
        return self.of(kind)[count - 1]

    async def on_connected(self, ctx: ConnectedContext) -> None:
        await self._add("connected", client=ctx.client, version=ctx.version)

    async def on_disconnected(self, ctx: DisconnectedContext) -> None:
        await self._add("disconnected", code=ctx.code, reason=ctx.reason)

    async def on_subscribed(self, ctx: Any) -> None:
        if isinstance(ctx, ServerSubscribedContext):
            await self._add("server_subscribed", channel=ctx.channel)
        else:
            assert isinstance(ctx, SubscribedContext)
            await self._add("subscribed", channel=ctx.channel)

    async def on_unsubscribed(self, ctx: Any) -> None:
        if isinstance(ctx, UnsubscribedContext):
            await self._add("unsubscribed", code=ctx.code, reason=ctx.reason)

    async def on_publication(self, ctx: Any) -> None:
        if isinstance(ctx, ServerPublicationContext):
            await self._add("server_publication", channel=ctx.channel, data=ctx.pub.data)
        else:
            assert isinstance(ctx, PublicationContext)
            await self._add("publication", data=ctx.pub.data, offset=ctx.pub.offset)


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A token-auth server with ``channel_limit: 2`` and a namespace granting nothing."""
    proc = ServerProcess(TOKEN_CONFIG, workdir=tmp_path_factory.mktemp("py-server"))
    proc.start()
    yield proc
    proc.cleanup()


async def _connected_client(url: str, token: str = "") -> tuple[Client, Recorder]:
    rec = Recorder()
    client = Client(url, events=rec, token=token, timeout=scaled(5))
    await client.connect()
    await rec.wait("connected")
    return client, rec


# -- AU-30 anonymous, P-90 insecure, AU-02 channels claim ----------------------------


async def test_anonymous_connect_without_token(server_factory: ServerFactory) -> None:
    """AU-30: ``allow_anonymous_connect_without_token`` accepts a tokenless connect."""
    server = server_factory({"client": {"allow_anonymous_connect_without_token": True}})
    client, rec = await _connected_client(server.ws_url())
    try:
        connected = rec.of("connected")[0]
        assert connected["client"]
        assert connected["version"]
    finally:
        await client.disconnect()


async def test_tokenless_connect_refused_by_default(server_factory: ServerFactory) -> None:
    """AU-30 / P-30: no token and no anonymous option → disconnect 3501, no reconnect."""
    server = server_factory({"client": {"token": {"hmac_secret_key": SECRET}}})
    rec = Recorder()
    client = Client(server.ws_url(), events=rec, timeout=scaled(5))
    await client.connect()
    disconnected = await rec.wait("disconnected")
    try:
        assert disconnected == {"code": 3501, "reason": "bad request"}
        assert rec.of("connected") == []
    finally:
        await client.disconnect()


async def test_insecure_client_subscribes_and_publishes(server_factory: ServerFactory) -> None:
    """P-90 step 10 / P-91: ``client.insecure`` allows tokenless connect, subscribe, publish."""
    server = server_factory({"client": {"insecure": True}})
    client, rec = await _connected_client(server.ws_url())
    try:
        sub = client.new_subscription("insecure_chan", events=rec)
        await sub.subscribe()
        await rec.wait("subscribed")
        await sub.publish({"hello": "insecure"})
        pub = await rec.wait("publication")
        assert pub["data"] == {"hello": "insecure"}
    finally:
        await client.disconnect()


async def test_server_side_subscription_from_token_channels(token_server: ServerProcess) -> None:
    """AU-02: the token ``channels`` claim subscribes the connection server-side."""
    tok = connection_token(SECRET, "u-ss", channels=["ss_news"])
    client, rec = await _connected_client(token_server.ws_url(), tok)
    try:
        assert (await rec.wait("server_subscribed")) == {"channel": "ss_news"}
        await client.publish("ss_news", {"n": 1})
        pub = await rec.wait("server_publication")
        assert pub == {"channel": "ss_news", "data": {"n": 1}}
    finally:
        await client.disconnect()


# -- subscribe errors 102 / 103 / 106 -------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "code", "reason"),
    [
        ("nope:room", 102, "unknown channel"),  # CH-04, E-102
        ("locked:room", 103, "permission denied"),  # P-90, E-103
    ],
)
async def test_subscribe_error(
    token_server: ServerProcess, channel: str, code: int, reason: str
) -> None:
    """P-31: non-temporary subscribe errors end as unsubscribed with the server code."""
    client, rec = await _connected_client(token_server.ws_url(), connection_token(SECRET, "u1"))
    try:
        sub = client.new_subscription(channel, events=rec)
        await sub.subscribe()
        assert (await rec.wait("unsubscribed")) == {"code": code, "reason": reason}
        assert rec.of("subscribed") == []
        assert rec.of("disconnected") == []
    finally:
        await client.disconnect()


async def test_channel_limit_106(token_server: ServerProcess) -> None:
    """E-106: the third subscription with ``client.channel_limit: 2`` → 106 limit exceeded."""
    client, rec = await _connected_client(token_server.ws_url(), connection_token(SECRET, "u2"))
    try:
        for n, name in enumerate(("limit_a", "limit_b"), start=1):
            await client.new_subscription(name, events=rec).subscribe()
            await rec.wait("subscribed", n)
        await client.new_subscription("limit_c", events=rec).subscribe()
        assert (await rec.wait("unsubscribed")) == {"code": 106, "reason": "limit exceeded"}
        assert [s["channel"] for s in rec.of("subscribed")] == ["limit_a", "limit_b"]
    finally:
        await client.disconnect()


# -- raw WebSocket: 3501, 3502, 3012 ----------------------------------------------------


async def _closed_with(ws: Any, timeout: float) -> tuple[int | None, str | None, list[Any]]:
    """Read until the server closes; return (code, reason, frames received before)."""
    frames: list[Any] = []
    try:
        async with asyncio.timeout(scaled(timeout)):
            while True:
                frames.append(await ws.recv())
    except ConnectionClosed as exc:
        rcvd = exc.rcvd
        return (rcvd.code if rcvd else None), (rcvd.reason if rcvd else None), frames
    except TimeoutError:
        pytest.fail(f"server did not close within {scaled(timeout):.1f}s; frames: {frames}")


@pytest.mark.parametrize(
    ("subprotocols", "frame"),
    [
        (None, b"\xff\xfe"),  # binary frame of garbage on the JSON protocol
        (None, "this is not json"),  # valid UTF-8 text, not a command
        (["centrifuge-protobuf"], b"\xff\xfe"),  # truncated varint length prefix (P-03)
    ],
    ids=["json-binary-garbage", "json-text-garbage", "protobuf-garbage"],
)
async def test_garbage_frame_closes_3501(
    token_server: ServerProcess, subprotocols: list[str] | None, frame: bytes | str
) -> None:
    """P-13: an undecodable frame → close 3501 "bad request"."""
    async with ws_connect(token_server.ws_url(), subprotocols=subprotocols) as ws:  # type: ignore[arg-type]
        await ws.send(frame)
        code, reason, frames = await _closed_with(ws, 5)
    assert (code, reason) == (3501, "bad request")
    assert frames == []


async def test_stale_connection_closes_3502(server_factory: ServerFactory) -> None:
    """P-93 / D-3502: no connect command within ``stale_close_delay`` → close 3502 "stale"."""
    server = server_factory({"client": {"stale_close_delay": "1s"}})
    started = time.monotonic()
    async with ws_connect(server.ws_url()) as ws:
        code, reason, frames = await _closed_with(ws, 6)
    elapsed = time.monotonic() - started
    assert (code, reason) == (3502, "stale")
    assert frames == []
    assert elapsed >= 0.8, f"closed after {elapsed:.2f}s, before stale_close_delay"


async def test_no_pong_closes_3012(server_factory: ServerFactory) -> None:
    """P-50..P-52: connect advertises ping=2/pong=true; the first ping `{}` comes within
    [interval/2, interval); left unanswered → close 3012 "no pong" after pong_timeout."""
    server = server_factory(
        {
            "client": {
                "token": {"hmac_secret_key": SECRET},
                "ping_interval": "2s",
                "pong_timeout": "1s",
            }
        }
    )
    tok = connection_token(SECRET, "pinger")
    timeline: list[tuple[float, Any]] = []
    async with ws_connect(server.ws_url()) as ws:
        await ws.send(json.dumps({"id": 1, "connect": {"token": tok, "name": "raw"}}))
        reply = json.loads(await asyncio.wait_for(ws.recv(), scaled(5)))
        started = time.monotonic()
        try:
            async with asyncio.timeout(scaled(8)):
                while True:
                    frame = await ws.recv()
                    timeline.append((time.monotonic() - started, json.loads(frame)))
        except ConnectionClosed as exc:
            closed_at = time.monotonic() - started
            close = (exc.rcvd.code, exc.rcvd.reason) if exc.rcvd else (None, None)
        except TimeoutError:
            pytest.fail(f"no close within {scaled(8):.1f}s; frames: {timeline}")
    assert reply["id"] == 1
    assert (reply["connect"]["ping"], reply["connect"]["pong"]) == (2, True)
    assert reply["connect"]["client"]
    assert [frame for _, frame in timeline] == [{}]
    assert close == (3012, "no pong")
    ping_at = timeline[0][0]
    assert 0.8 <= ping_at <= scaled(2.5), f"first ping {ping_at:.2f}s after connect"
    waited = closed_at - ping_at
    assert 0.8 <= waited <= scaled(2.0), f"closed {waited:.2f}s after the unanswered ping"


# -- HTTP: plain GET, Origin check ------------------------------------------------------


def test_plain_get_on_websocket_endpoint_is_400(token_server: ServerProcess) -> None:
    """TR-01: a non-upgrade GET on /connection/websocket is answered with HTTP 400."""
    status, _, _ = token_server.http_get("/connection/websocket")
    assert status == 400


@pytest.fixture(scope="module")
def origin_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    config = {"client": {"allowed_origins": ["http://good.example"], "insecure": True}}
    proc = ServerProcess(config, workdir=tmp_path_factory.mktemp("origin-server"))
    proc.start()
    yield proc
    proc.cleanup()


async def test_disallowed_origin_is_403(origin_server: ServerProcess) -> None:
    """TR-12: a handshake with an Origin not in ``allowed_origins`` → HTTP 403."""
    with pytest.raises(InvalidStatus) as info:
        async with ws_connect(origin_server.ws_url(), origin="http://evil.example"):  # type: ignore[arg-type]
            pass
    assert info.value.response.status_code == 403


@pytest.mark.parametrize("origin", ["http://good.example", None], ids=["allowed", "absent"])
async def test_allowed_or_absent_origin_upgrades(
    origin_server: ServerProcess, origin: str | None
) -> None:
    """TR-12: an allowed Origin, or none at all, gets 101 Switching Protocols."""
    async with ws_connect(origin_server.ws_url(), origin=origin) as ws:  # type: ignore[arg-type]
        assert ws.response is not None
        assert ws.response.status_code == 101


# -- client.concurrency (P-26, P-27, SV-09) -----------------------------------------------------


class DelayedRPCBackend:
    """An RPC proxy backend (PX-15) that answers ``{"n": n}`` after the ``delay`` seconds
    given in the call's data, and counts the calls it is serving at once."""

    def __init__(self) -> None:
        self.active = 0
        self.most = 0
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _rpc(self, request: web.Request) -> web.Response:
        data = (await request.json())["data"]
        self.active += 1
        self.most = max(self.most, self.active)
        try:
            await asyncio.sleep(data["delay"])
        finally:
            self.active -= 1
        return web.json_response({"result": {"data": {"n": data["n"]}}})

    async def __aenter__(self) -> DelayedRPCBackend:
        app = web.Application()
        app.router.add_post("/rpc", self._rpc)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/rpc"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


RPC_DELAYS = [0.40, 0.35, 0.30, 0.25, 0.20, 0.15, 0.10, 0.05]


def _makespan(delays: list[float], slots: int) -> float:
    """When the last of ``delays`` ends, each started in order as soon as one of ``slots``
    is free."""
    free_at = [0.0] * slots
    for delay in delays:
        free_at.sort()
        free_at[0] += delay
    return max(free_at)


async def _rpcs_at_once(
    server: ServerProcess, delays: list[float] = RPC_DELAYS
) -> tuple[list[int], list[int], float]:
    """Send every RPC of ``delays`` at once from one centrifuge-python client; return the
    order the replies came in, the ``n`` each reply carried (by call) and the time taken."""
    client, _ = await _connected_client(server.ws_url())
    finished: list[int] = []

    async def call(n: int, delay: float) -> int:
        result = await client.rpc("slow", {"n": n, "delay": delay}, timeout=scaled(10))
        finished.append(n)
        answered: int = result.data["n"]
        return answered

    try:
        started = time.monotonic()
        answered = await asyncio.gather(*(call(n, d) for n, d in enumerate(delays)))
        elapsed = time.monotonic() - started
    finally:
        await client.disconnect()
    return finished, list(answered), elapsed


def _concurrency_config(backend_url: str, concurrency: int) -> dict[str, Any]:
    return {
        "client": {"insecure": True, "concurrency": concurrency},
        "rpc": {"proxy": {"endpoint": backend_url}, "without_namespace": {"proxy_enabled": True}},
    }


@pytest.mark.parametrize("concurrency", [0, 1])
async def test_commands_are_processed_one_at_a_time_by_default_p27(
    server_factory: ServerFactory, concurrency: int
) -> None:
    async with DelayedRPCBackend() as backend:
        server = server_factory(_concurrency_config(backend.url, concurrency))
        finished, answered, elapsed = await _rpcs_at_once(server)
    assert finished == list(range(len(RPC_DELAYS)))  # replies in command order (P-26)
    assert answered == list(range(len(RPC_DELAYS)))
    assert backend.most == 1
    assert elapsed >= sum(RPC_DELAYS) - 0.05  # 1.8 s: one after the other


async def test_client_concurrency_overlaps_commands_p26_p27(server_factory: ServerFactory) -> None:
    delays = [0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]  # 100 ms apart: the finishing order
    async with DelayedRPCBackend() as backend:
        server = server_factory(_concurrency_config(backend.url, 8))
        finished, answered, elapsed = await _rpcs_at_once(server, delays)
    assert answered == list(range(len(delays)))  # every reply matches its command's id
    assert finished == list(reversed(range(len(delays))))  # the shortest first
    assert backend.most == 8
    assert elapsed < max(delays) + scaled(0.6)  # not the 3.6 s sum


async def test_client_concurrency_is_bounded_per_connection_p27(
    server_factory: ServerFactory,
) -> None:
    async with DelayedRPCBackend() as backend:
        server = server_factory(_concurrency_config(backend.url, 3))
        finished, answered, elapsed = await _rpcs_at_once(server)
    assert answered == list(range(len(RPC_DELAYS)))
    assert sorted(finished) == list(range(len(RPC_DELAYS)))
    assert backend.most == 3
    expected = _makespan(RPC_DELAYS, 3)  # 0.65 s with three at a time
    assert expected - 0.05 <= elapsed < expected + scaled(0.6)
