"""Live mutational fuzzing with a canary (docs/security.md; spec P-13, API-05).

Thousands of mutated client frames — bit flips, cuts, splices, huge and negative numbers, deep
nesting, invalid UTF-8, floods of commands — go to a live server over hundreds of WebSocket
connections, JSON and protobuf, while a canary client subscribed to a channel receives a
numbered stream of publications. The server must come out of it with no task exception in its
log, the canary must have lost nothing, and memory must be back near where it started.
The count is bounded so the run takes seconds; the seed is fixed so a failure replays.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from typing import Any

from support.hostile import Record, api, rss_growth, rss_kb
from support.server import ServerFactory
from support.timing import scaled
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from centripetal.protocol import messages as m
from centripetal.protocol import protobuf_codec

KEY = "fuzz-key"
CONFIG: dict[str, Any] = {
    "client": {"insecure": True},
    "http_api": {"key": KEY},
    "channel": {
        "namespaces": [
            {
                "name": "room",
                "presence": True,
                "join_leave": True,
                "history_size": 50,
                "history_ttl": "60s",
                "allow_history_for_client": True,
                "allow_presence_for_client": True,
                "allow_publish_for_client": True,
                "allow_subscribe_for_client": True,
            }
        ]
    },
}
SEED = 20261207
CONNECTIONS = 600
FRAMES_PER_CONNECTION = 5
PUBLICATIONS = 150

JSON_COMMANDS = [
    b'{"id":1,"connect":{"name":"fuzz","data":{"a":[1,2,{"b":null}]}}}',
    b'{"id":2,"subscribe":{"channel":"room:a","recover":true,"offset":3,"epoch":"x"}}',
    b'{"id":3,"publish":{"channel":"room:a","data":{"text":"hi","n":12}}}',
    b'{"id":4,"presence":{"channel":"room:a"}}',
    b'{"id":5,"presence_stats":{"channel":"room:a"}}',
    b'{"id":6,"history":{"channel":"room:a","limit":10,"since":{"offset":1,"epoch":"e"}}}',
    b'{"id":7,"rpc":{"method":"m","data":{"x":1}}}',
    b'{"id":8,"unsubscribe":{"channel":"room:a"}}',
    b'{"id":9,"refresh":{"token":"t"}}',
    b'{"id":10,"sub_refresh":{"channel":"room:a","token":"t"}}',
    b'{"send":{"data":{"x":true}}}',
    b"{}",
]


def _proto_commands() -> list[bytes]:
    commands = [
        m.Command(id=1, connect=m.ConnectRequest(name="fuzz", data=b'{"a":1}')),
        m.Command(id=2, subscribe=m.SubscribeRequest(channel="room:a", recover=True, offset=3)),
        m.Command(id=3, publish=m.PublishRequest(channel="room:a", data=b"{}")),
        m.Command(id=4, presence=m.PresenceRequest(channel="room:a")),
        m.Command(id=5, history=m.HistoryRequest(channel="room:a", limit=10)),
        m.Command(id=6, rpc=m.RPCRequest(method="m", data=b"{}")),
    ]
    return [protobuf_codec.frame([protobuf_codec.encode_command(c)]) for c in commands]


PROTO_COMMANDS = _proto_commands()


def mutate(rng: random.Random, data: bytes, *, text: bool) -> bytes:
    """One random mutation of a valid frame."""
    kind = rng.randrange(11)
    raw = bytearray(data)
    if kind == 0 and raw:  # flip bits
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(raw))
            raw[i] ^= 1 << rng.randrange(8)
    elif kind == 1 and raw:  # cut
        i = rng.randrange(len(raw))
        del raw[i : i + rng.randint(1, 8)]
    elif kind == 2 and raw:  # duplicate a slice
        i = rng.randrange(len(raw))
        raw[i:i] = raw[i : i + rng.randint(1, 16)] * rng.randint(1, 50)
    elif kind == 3:  # random bytes inserted
        i = rng.randrange(len(raw) + 1)
        raw[i:i] = rng.randbytes(rng.randint(1, 32))
    elif kind == 4 and text:  # huge and negative numbers
        number = rng.choice([b"18446744073709551616", b"1" + b"0" * 40, b"-1", b"1e309"])
        raw = bytearray(data.replace(b"1", number, 1))
    elif kind == 5 and text:  # deep nesting in a payload
        depth = rng.choice([200, 1000, 5000, 20000])
        raw = bytearray(data.replace(b"{}", b"[" * depth + b"]" * depth, 1))
        if b"[" not in raw:
            raw = bytearray(b"[" * depth + b"]" * depth)
    elif kind == 6:  # many commands in one frame
        sep = b"\n" if text else b""
        raw = bytearray(sep.join([data] * rng.randint(100, 3000)))
    elif kind == 7 and text:  # invalid UTF-8 in a string
        raw = bytearray(data.replace(b'"room:a"', b'"\xff\xfe\xc3"', 1))
    elif kind == 8:  # truncated
        raw = raw[: rng.randrange(len(raw) + 1)]
    elif kind == 9 and not text and raw:  # a huge length prefix
        raw[0:1] = b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"
    else:  # splice two frames
        other = rng.choice(JSON_COMMANDS if text else PROTO_COMMANDS)
        raw = raw[: rng.randrange(len(raw) + 1)] + bytearray(other[rng.randrange(len(other)) :])
    return bytes(raw)


async def fuzz_one(port: int, rng: random.Random) -> int:
    """One connection sending up to ``FRAMES_PER_CONNECTION`` mutated frames; how many frames
    (the connect included) went out before the server closed it."""
    sent = 0
    text = rng.random() < 0.7
    query = "" if text else "?cf_protocol=protobuf"
    pool = JSON_COMMANDS if text else PROTO_COMMANDS
    try:
        async with connect(
            f"ws://127.0.0.1:{port}/connection/websocket{query}",
            max_size=None,
            open_timeout=scaled(10),
            close_timeout=1,
        ) as ws:
            if rng.random() < 0.8:
                await ws.send(pool[0].decode() if text else pool[0])
                sent += 1
            for _ in range(FRAMES_PER_CONNECTION):
                frame = mutate(rng, rng.choice(pool), text=text)
                await ws.send(frame.decode("utf-8", "replace") if text else frame)
                sent += 1
            await asyncio.sleep(rng.choice([0, 0, 0.01, 0.05]))
    except (WebSocketException, OSError, TimeoutError):
        pass  # the server closing a connection that misbehaved is the point
    return sent


async def canary(port: int, received: list[int], ready: asyncio.Event) -> None:
    async with connect(f"ws://127.0.0.1:{port}/connection/websocket") as ws:
        await ws.send('{"id":1,"connect":{}}\n{"id":2,"subscribe":{"channel":"room:canary"}}')
        while True:
            frame = await ws.recv()
            for line in str(frame).split("\n"):
                msg = json.loads(line)
                if msg.get("id") == 2:
                    ready.set()
                pub = msg.get("push", {}).get("pub")
                if pub is not None:
                    received.append(pub["data"]["n"])
                elif msg == {}:
                    await ws.send("{}")
                if len(received) == PUBLICATIONS:
                    return


def publish_all(port: int) -> None:
    for n in range(PUBLICATIONS):
        api(port, "publish", {"channel": "room:canary", "data": {"n": n}}, KEY)
        time.sleep(0.01)


async def test_mutated_frames_crash_nothing_and_the_canary_loses_nothing(
    server_factory: ServerFactory, record_property: Record
) -> None:
    server = server_factory(CONFIG)
    assert server.pid is not None
    before = rss_kb(server.pid)
    received: list[int] = []
    ready = asyncio.Event()
    watcher = asyncio.create_task(canary(server.port, received, ready))
    await asyncio.wait_for(ready.wait(), scaled(10))
    publisher = asyncio.create_task(asyncio.to_thread(publish_all, server.port))
    rng = random.Random(SEED)
    slots = asyncio.Semaphore(40)

    async def one(seed: int) -> int:
        async with slots:
            return await fuzz_one(server.port, random.Random(seed))

    started = time.monotonic()
    sent = await asyncio.gather(*(one(rng.getrandbits(32)) for _ in range(CONNECTIONS)))
    fuzz_time = time.monotonic() - started
    await publisher
    await asyncio.wait_for(watcher, scaled(20))
    record_property("connections", CONNECTIONS)
    record_property("frames_sent", sum(sent))
    record_property("fuzz_seconds", round(fuzz_time, 3))
    record_property("canary_received", len(received))
    record_property("canary_lost", len(set(range(PUBLICATIONS)) - set(received)))
    record_property("canary_in_order", received == sorted(received))
    assert received == list(range(PUBLICATIONS))  # nothing lost, nothing out of order
    assert server.running
    info = api(server.port, "info", {}, KEY)["result"]["nodes"][0]
    record_property("clients_left", info["num_clients"])
    assert info["num_clients"] <= 1  # every fuzzing connection is gone (the canary may stay)
    log = server.log_text()
    found = {
        bad: log.count(bad)
        for bad in ("Traceback", "Task exception was never retrieved", "Unhandled", "ERROR")
    }
    record_property("log_counts", found)
    for bad, count in found.items():
        assert not count, f"{bad!r} in the server log:\n{server.log_tail(80)}"
    assert rss_growth(record_property, server.pid, before) < 40 * 1024
    assert fuzz_time < scaled(60)
