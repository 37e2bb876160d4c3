"""Load-generator connections: picows listeners that count every delivery (benchmark §8.1 item 5).

A :class:`Sub` counts publications by the ``"seq"`` marker each one carries, so a
newline-batched frame of 16 publications counts 16; only sampled connections extract
``seq`` and ``ts`` (with ``bytes.find``, never a JSON parse) to measure latency against
``time.monotonic()`` — the publisher lives in the same process. Each system is reached
its own way: centripetal with the protocol v2 ``connect``/``subscribe`` commands and an HS256
JWT, Channels by the tutorial's ``ws/chat/<room>/`` URL, the floor by ``/ws/<channels>``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import jwt
from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

TEXT = WSMsgType.TEXT
CLOSE = WSMsgType.CLOSE
monotonic = time.monotonic
TEXT_LINE = b"hello from the benchmark: a chat line of ordinary size"


def payload(seq: int) -> bytes:
    """The ~100 B chat message every system carries (design §8.1 item 6)."""
    ts = monotonic()
    return b'{"text":"%s","user":"bench","seq":%d,"ts":%.6f}' % (TEXT_LINE, seq, ts)


def _number(data: bytes, key: bytes, start: int) -> tuple[bytes, int]:
    i = data.find(key, start)
    if i < 0:
        return b"", -1
    j = i + len(key)
    while data[j] in (58, 32):  # ':' ' '
        j += 1
    k = j
    while data[k] not in (44, 125):  # ',' '}'
        k += 1
    return data[j:k], k


class Stats:
    """Latency samples of one phase: per delivery, and per publication the slowest sample."""

    __slots__ = ("fanout", "lat", "min_seq")

    def __init__(self) -> None:
        self.lat: list[float] = []
        self.fanout: dict[int, float] = {}
        self.min_seq = 0

    def reset(self, min_seq: int = 0) -> None:
        """Start a phase: publications numbered below ``min_seq`` (late ones) are ignored."""
        self.lat = []
        self.fanout = {}
        self.min_seq = min_seq

    def record(self, data: bytes) -> None:
        now = monotonic()
        pos = 0
        lat = self.lat
        fanout = self.fanout
        while True:
            seq_raw, pos = _number(data, b'"seq"', pos)
            if pos < 0:
                return
            ts_raw, pos = _number(data, b'"ts"', pos)
            seq = int(seq_raw)
            if seq < self.min_seq:
                continue
            delay = now - float(ts_raw)
            lat.append(delay)
            if delay > fanout.get(seq, 0.0):
                fanout[seq] = delay


def logical_to_room(channel: str) -> str:
    """Channels room names allow only ``\\w``: ``personal:5`` -> ``personal5``."""
    return channel.replace(":", "")


class Sub(WSListener):
    """One subscriber connection; ``ready`` resolves once connected and subscribed."""

    __slots__ = (
        "channels",
        "count",
        "frames",
        "kind",
        "pending",
        "ready",
        "sample",
        "stats",
        "token",
        "transport",
    )

    def __init__(self, kind: str, channels: list[str], token: str, stats: Stats | None) -> None:
        self.kind = kind
        self.token = token
        self.channels = channels
        self.pending: set[int] = set()
        self.stats = stats
        self.sample = stats is not None
        self.count = 0
        self.frames = 0
        self.transport: WSTransport | None = None
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        if self.kind == "centripetal":
            cmd = {"id": 1, "connect": {"token": self.token, "name": "bench"}}
            transport.send(TEXT, json.dumps(cmd).encode())
        else:
            self.ready.set_result(None)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("closed during handshake"))

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type is not TEXT:
            if frame.msg_type is CLOSE:
                transport.disconnect()
            return
        data = frame.get_payload_as_bytes()
        n = data.count(b'"seq"')
        if n:
            self.count += n
            self.frames += 1
            if self.sample:
                self.stats.record(data)  # type: ignore[union-attr]
        if self.kind == "centripetal":
            if data[:2] == b"{}" or b"\n{}" in data:
                transport.send(TEXT, b"{}")  # pong (P-50)
            if not self.ready.done():
                self._handshake(transport, data)

    def _handshake(self, transport: WSTransport, data: bytes) -> None:
        for line in data.split(b"\n"):
            if not line.startswith(b'{"id"'):
                continue
            reply = json.loads(line)
            if "error" in reply:
                self.ready.set_exception(ConnectionError(f"error {reply['error'].get('code')}"))
                return
            if reply["id"] == 1:
                cmds = [
                    json.dumps({"id": 2 + i, "subscribe": {"channel": ch}})
                    for i, ch in enumerate(self.channels)
                ]
                self.pending = set(range(2, 2 + len(cmds)))
                transport.send(TEXT, "\n".join(cmds).encode())
            else:
                self.pending.discard(reply["id"])
                if not self.pending:
                    self.ready.set_result(None)


def sub_url(system: dict[str, Any], channels: list[str]) -> str:
    kind = system["kind"]
    if kind == "centripetal":
        return f"{system['ws']}/connection/websocket"
    if kind == "channels":
        return f"{system['ws']}/ws/chat/{logical_to_room(channels[0])}/"
    return f"{system['ws']}/ws/{','.join(channels)}"


def token_for(system: dict[str, Any], user: str) -> str:
    if system["kind"] != "centripetal":
        return ""
    return jwt.encode({"sub": user}, system["secret"], algorithm="HS256")


async def open_subs(
    system: dict[str, Any],
    channel_sets: list[list[str]],
    sampled: Callable[[int], bool],
    stats: Stats,
    in_flight: int = 100,
    timeout: float = 15.0,
) -> tuple[list[Sub], dict[str, int], float]:
    """Open one subscriber per channel set, ``in_flight`` handshakes at a time.

    Returns the ready connections, failures by reason and the elapsed seconds.
    """
    tokens = [token_for(system, str(i)) for i in range(len(channel_sets))]
    gate = asyncio.Semaphore(in_flight)
    ready: list[tuple[int, Sub]] = []
    failures: dict[str, int] = {}

    async def one(i: int) -> None:
        chans = channel_sets[i]
        sub = Sub(system["kind"], chans, tokens[i], stats if sampled(i) else None)
        async with gate:
            try:
                await ws_connect(
                    lambda: sub, sub_url(system, chans), websocket_handshake_timeout=timeout
                )
                await asyncio.wait_for(sub.ready, timeout)
            except Exception as exc:  # every failure is counted, by kind
                reason = f"{type(exc).__name__}: {str(exc)[:60]}"
                failures[reason] = failures.get(reason, 0) + 1
                if sub.transport is not None:
                    sub.transport.disconnect()
                return
        ready.append((i, sub))

    start = monotonic()
    await asyncio.gather(*(one(i) for i in range(len(channel_sets))))
    elapsed = monotonic() - start
    ready.sort(key=lambda pair: pair[0])
    return [sub for _, sub in ready], failures, elapsed


async def close_all(subs: list[Sub]) -> None:
    for sub in subs:
        if sub.transport is not None:
            sub.transport.disconnect()
    await asyncio.sleep(0.2)
