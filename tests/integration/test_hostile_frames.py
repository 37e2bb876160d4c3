"""Hostile client frames on a live WebSocket close with 3501 (spec P-13; v1: 3003, L-33).

The first frame also goes through protocol detection (L-59), which must not fail on it.
The server log never holds a traceback for any of these.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from support.hostile import Record
from support.server import ServerProcess
from support.timing import scaled
from support.tokens import connection_token

from centripetal.protocol import protobuf_codec as pc

SECRET = "hostile-ws-secret-0123456789abcdef01234"
CONFIG = {
    "client": {"token": {"hmac_secret_key": SECRET}},
    "channel": {"without_namespace": {"allow_subscribe_for_client": True}},
}


def deep(n: int) -> bytes:
    return b"[" * n + b"]" * n


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ServerProcess(CONFIG, workdir=Path(tmp_path_factory.mktemp("ws-hostile")))
    srv.start()
    yield srv
    srv.stop()
    assert "Traceback" not in srv.log_text(), srv.describe("a traceback in the server log")


async def close_code(server: ServerProcess, frames: list[bytes], *, binary: bool) -> int | None:
    """Send ``frames``; the close code the server answers with."""
    url = server.ws_url() + ("?format=protobuf" if binary else "")
    timeout = aiohttp.ClientWSTimeout(ws_close=scaled(5))
    async with aiohttp.ClientSession() as s, s.ws_connect(url, timeout=timeout) as ws:
        for frame in frames:
            if binary:
                await ws.send_bytes(frame)
            else:
                await ws.send_str(frame.decode("utf-8", "surrogateescape"))
        while True:
            msg = await ws.receive(timeout=scaled(5))
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                return ws.close_code
            if msg.type == aiohttp.WSMsgType.ERROR:  # pragma: no cover - diagnostic
                raise AssertionError(msg)


def _connect() -> bytes:
    return json.dumps({"id": 1, "connect": {"token": connection_token(SECRET, "u")}}).encode()


FIRST_FRAMES = {
    "publish data 1000 deep": b'{"id":1,"publish":{"data":' + deep(1_000) + b"}}",
    "frame 1000 deep": deep(1_000),
    "frame 20000 deep": deep(20_000),  # 40 KB: within the default message size limit
    "v1-looking, params 1000 deep": b'{"id":1,"method":1,"params":' + deep(1_000) + b"}",
    "id 2^64": b'{"id":18446744073709551616,"connect":{}}',
    "offset 10^40": b'{"id":1,"subscribe":{"channel":"a","offset":' + b"1" + b"0" * 40 + b"}}",
}


@pytest.mark.parametrize("what", sorted(FIRST_FRAMES))
async def test_hostile_first_json_frame_closes_with_3501_p13(
    server: ServerProcess, what: str, record_property: Record
) -> None:
    code = await close_code(server, [FIRST_FRAMES[what]], binary=False)
    record_property("close_code", code)
    assert code in (3501, 3003), (what, code)  # 3003: the v1 codec's bad request (L-33)


@pytest.mark.parametrize(
    "frame",
    [
        b'{"id":2,"subscribe":{"channel":"a","offset":18446744073709551616}}',
        b'{"id":2,"history":{"channel":"a","limit":2147483648}}',
        b'{"id":2,"publish":{"channel":"a","data":' + deep(20_000) + b"}}",
    ],
)
async def test_hostile_command_after_connect_closes_with_3501_p13(
    server: ServerProcess, frame: bytes, record_property: Record
) -> None:
    code = await close_code(server, [_connect(), frame], binary=False)
    record_property("close_code", code)
    assert code == 3501


async def test_hostile_protobuf_frames_close_with_3501_p13(server: ServerProcess) -> None:
    nested = b"\x12\x01k"
    for _ in range(1_000):
        nested = b"\x32" + pc.uvarint(len(nested)) + nested
    sub = b"\x0a\x01c\x6a" + pc.uvarint(len(nested)) + nested
    frames = [
        pc.frame_one(b"\x2a" + pc.uvarint(len(sub)) + sub),  # filter 1,000 deep
        b"\xff" * 9 + b"\x02",  # varint over 64 bits
        pc.uvarint(2**63) + b"\x08\x01",  # length prefix past the end
    ]
    for frame in frames:
        assert await close_code(server, [frame], binary=True) == 3501
