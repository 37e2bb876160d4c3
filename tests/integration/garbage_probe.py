"""Run by ``test_cyclic_garbage``: a server in this process (uvloop, as ``centripetal`` runs
it), clients in a thread; prints the cyclic garbage the finished connections left, by type.

Usage: ``python garbage_probe.py [REDIS_ADDRESS]`` (the memory engine without an address).
"""

from __future__ import annotations

import asyncio
import collections
import gc
import json
import socket
import struct
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

import uvloop  # noqa: E402
from support.hostile import RawWebSocket  # noqa: E402
from support.ports import free_port  # noqa: E402
from websockets.frames import Opcode  # noqa: E402

from bench import systems  # noqa: E402
from bench.modes import SMOKE  # noqa: E402
from centripetal import server  # noqa: E402
from centripetal.config import config_from_mapping  # noqa: E402

PORT = free_port()
KEY = systems.API_KEY
OURS = ("centripetal", "websockets", "uvloop", "httptools", "asyncio")


def _wait_for(ws: RawWebSocket, marker: bytes) -> None:
    deadline = time.monotonic() + 5
    ws.sock.settimeout(0.2)
    while marker not in ws.received and time.monotonic() < deadline:
        try:
            ws.received += ws.sock.recv(65536)
        except TimeoutError:
            continue
    if marker not in ws.received:
        raise AssertionError(f"no {marker!r} in {ws.received[:200]!r}")


def websocket_clients(count: int, ending: str) -> None:
    """``count`` clients connect, subscribe and end: close frame, plain EOF or reset."""
    for i in range(count):
        ws = RawWebSocket(PORT)
        ws.send_text(b'{"id":1,"connect":{}}')
        _wait_for(ws, b'"id":1')
        ws.send_text(b'{"id":2,"subscribe":{"channel":"personal:%d"}}' % i)
        _wait_for(ws, b'"id":2')
        if ending == "close frame":
            ws.send(ws.frame(Opcode.CLOSE, struct.pack("!H", 1000)))
            ws.read_until_closed(5)
        elif ending == "reset":
            ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        ws.close()


def storm() -> None:
    """The benchmark's W1 in its smoke size, from its own process: JWT connects and
    subscribes from picows clients, an idle hold, then every client gone at once."""
    system = {
        "kind": "centripetal",
        "ws": f"ws://127.0.0.1:{PORT}",
        "http": f"http://127.0.0.1:{PORT}",
        "secret": systems.JWT_SECRET,
        "api_key": KEY,
        "pids": [],
    }
    job = {"workload": "W1", "system": system, "mode": SMOKE.to_json()}
    subprocess.run(
        [sys.executable, "-m", "bench.loadgen"],
        input=json.dumps(job).encode(),
        stdout=subprocess.DEVNULL,
        cwd=str(ROOT),
        check=True,
        timeout=60,
    )


def api_calls(count: int) -> None:
    """``count`` API requests, each on its own connection."""
    for i in range(count):
        request = urllib.request.Request(
            f"http://127.0.0.1:{PORT}/api/publish",
            data=json.dumps({"channel": "news", "data": {"i": i}}).encode(),
            headers={"X-API-Key": KEY},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            response.read()


async def main() -> dict[str, int]:
    config = config_from_mapping(
        {
            **systems.centripetal_config(f"redis://{sys.argv[1]}" if len(sys.argv) > 1 else ""),
            "client": {"token": {"hmac_secret_key": systems.JWT_SECRET}, "insecure": True},
            "http_server": {"address": "127.0.0.1", "port": PORT},
        }
    )
    ready = asyncio.Event()
    serving = asyncio.create_task(server.serve(config, ready=ready))
    await ready.wait()
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, websocket_clients, 2, "eof")  # warm every code path
    await loop.run_in_executor(None, api_calls, 2)
    await asyncio.sleep(0.3)
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    for ending in ("close frame", "eof", "reset"):
        await loop.run_in_executor(None, websocket_clients, 10, ending)
    await loop.run_in_executor(None, api_calls, 10)
    await loop.run_in_executor(None, storm)
    await asyncio.sleep(0.5)  # the server notices every end
    gc.collect()
    found = collections.Counter(
        f"{type(o).__module__}.{type(o).__qualname__}"
        for o in gc.garbage
        if type(o).__module__.startswith(OURS)
    )
    gc.set_debug(0)
    gc.garbage.clear()
    serving.cancel()
    return dict(found)


if __name__ == "__main__":
    print(json.dumps(uvloop.run(main())))
