"""Publishers of the load generator, one per system's natural publish path.

- centripetal: the server HTTP API (``/api/publish``, ``/api/batch`` for bursts, API-10, API-23)
  or, for many-channel rates, protocol v2 ``publish`` commands batched in one frame (P-40).
- channels: the Django view calling ``async_to_sync(group_send)``; in W4 a room member's
  socket, which the tutorial's consumer turns into ``group_send``.
- floor: ``/pub`` frames of ``<channel> <payload>`` lines, acknowledged per frame.

``publish`` is closed loop (returns when the server has acknowledged); ``fire`` is open loop
and ``settle`` waits for everything fired.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit

import httptools
from picows import WSFrame, WSListener, WSTransport, ws_connect

from bench.client import TEXT, logical_to_room, token_for

Item = tuple[str, bytes]  # (logical channel, payload JSON)
MAX_COMMANDS_PER_FRAME = 100  # ~17 KB: below websocket.message_size_limit (64 KB, P-12)


class Publisher:
    errors = 0

    async def publish(self, items: list[Item]) -> None:
        raise NotImplementedError

    def fire(self, items: list[Item]) -> None:
        raise NotImplementedError

    async def settle(self) -> None:
        return None

    async def close(self) -> None:
        return None


class _HttpConnection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection with one request in flight; httptools parses the
    answers (a few µs per request on the load generator's core, against a few hundred for an
    aiohttp client request, which W3 would count as server latency)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.body = bytearray()
        self.waiter: asyncio.Future[bool] | None = None
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        ok = self.parser.get_status_code() == 200 and b'"error"' not in self.body
        self.body.clear()
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(ok)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(False)
        if not self.lost.done():
            self.lost.set_result(None)

    async def request(self, head: bytes, body: bytes) -> bool:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return await self.waiter


class HttpPublisher(Publisher):
    """Server API (centripetal) or the Django publish view (channels), over a pool of raw
    keep-alive connections."""

    def __init__(self, system: dict[str, Any], connections: int = 8) -> None:
        self.kind = system["kind"]
        url = urlsplit(system["http"])
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 80
        self.extra = b"Content-Type: application/json\r\n"
        if self.kind == "centripetal":
            self.extra += b"X-API-Key: %s\r\n" % system["api_key"].encode()
        self.gate = asyncio.Semaphore(connections)  # requests in flight, one per connection
        self.idle: list[_HttpConnection] = []
        self.tasks: set[asyncio.Task[None]] = set()

    def _request(self, items: list[Item]) -> tuple[str, bytes]:
        if self.kind == "channels":
            channel, data = items[0]
            room = json.dumps(logical_to_room(channel)).encode()
            return "/publish/", b'{"room":%s,"message":%s}' % (room, data)
        if len(items) == 1:
            channel, data = items[0]
            body = b'{"channel":%s,"data":%s}' % (json.dumps(channel).encode(), data)
            return "/api/publish", body
        cmds = b",".join(
            b'{"publish":{"channel":%s,"data":%s}}' % (json.dumps(ch).encode(), data)
            for ch, data in items
        )
        return "/api/batch", b'{"commands":[%s]}' % cmds

    async def _open(self) -> _HttpConnection:
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(_HttpConnection, self.host, self.port)
        return conn

    async def publish(self, items: list[Item]) -> None:
        if self.kind == "channels" and len(items) > 1:
            for item in items:
                await self.publish([item])
            return
        path, body = self._request(items)
        head = b"POST %s HTTP/1.1\r\nHost: %s\r\n%s" % (
            path.encode(),
            self.host.encode(),
            self.extra,
        )
        async with self.gate:
            conn = self.idle.pop() if self.idle else await self._open()
            try:
                ok = await conn.request(head, body)
            finally:
                if not conn.lost.done():
                    self.idle.append(conn)
        if not ok:
            self.errors += len(items)

    def fire(self, items: list[Item]) -> None:
        task = asyncio.ensure_future(self.publish(items))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def settle(self) -> None:
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)

    async def close(self) -> None:
        await self.settle()
        for conn in self.idle:
            if conn.transport is not None:
                conn.transport.close()


class WsPublisher(Publisher, WSListener):
    """A publisher connection: floor ``/pub`` or centripetal ``publish`` commands."""

    def __init__(self, system: dict[str, Any]) -> None:
        self.kind = system["kind"]
        self.system = system
        self.transport: WSTransport | None = None
        self.sent = 0  # units awaiting acknowledgement: frames (floor) or commands
        self.acked = 0
        self.next_id = 1
        self.progress = asyncio.Event()
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def start(self) -> WsPublisher:
        if self.kind == "floor":
            url = f"{self.system['ws']}/pub"
        else:
            url = f"{self.system['ws']}/connection/websocket"
        await ws_connect(lambda: self, url)
        if self.kind == "centripetal":
            token = token_for(self.system, "publisher")
            self._send([b'{"id":%d,"connect":{"token":"%s"}}' % (self._id(), token.encode())])
        else:
            self.ready.set_result(None)
        await asyncio.wait_for(self.ready, 10)
        return self

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def _send(self, lines: list[bytes]) -> None:
        assert self.transport is not None
        self.transport.send(TEXT, b"\n".join(lines))

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        data = frame.get_payload_as_bytes()
        if self.kind == "floor":
            self.acked += 1
        else:
            if data[:2] == b"{}" or b"\n{}" in data:
                transport.send(TEXT, b"{}")
            replies = data.count(b'{"id"')
            self.errors += data.count(b'"error"')
            if not self.ready.done():
                self.acked = self.sent  # the connect reply
                self.ready.set_result(None)
                return
            self.acked += replies
        self.progress.set()

    def fire(self, items: list[Item]) -> None:
        if self.kind == "floor":
            self._send([b"%s %s" % (ch.encode(), data) for ch, data in items])
            self.sent += 1
            return
        lines = [
            b'{"id":%d,"publish":{"channel":%s,"data":%s}}'
            % (self._id(), json.dumps(ch).encode(), data)
            for ch, data in items
        ]
        for i in range(0, len(lines), MAX_COMMANDS_PER_FRAME):  # stay under the 64 KB limit
            self._send(lines[i : i + MAX_COMMANDS_PER_FRAME])
        self.sent += len(lines)

    async def wait_acked(self, target: int, timeout: float = 10.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.acked < target and loop.time() < deadline:
            self.progress.clear()
            try:
                await asyncio.wait_for(self.progress.wait(), deadline - loop.time())
            except TimeoutError:
                break

    async def publish(self, items: list[Item]) -> None:
        self.fire(items)
        await self.wait_acked(self.sent)

    async def settle(self) -> None:
        await self.wait_acked(self.sent)

    async def close(self) -> None:
        if self.transport is not None:
            self.transport.disconnect()


class RoomMemberPublisher(Publisher):
    """Channels W4: a message on a member's socket is the tutorial's publish path."""

    def __init__(self, members: dict[str, WSTransport]) -> None:
        self.members = members

    def fire(self, items: list[Item]) -> None:
        for channel, data in items:
            self.members[channel].send(TEXT, b'{"message":%s}' % data)

    async def publish(self, items: list[Item]) -> None:
        self.fire(items)
