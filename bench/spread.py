"""How the kernel spreads new connections over worker processes on one port (docs/scaling.md).

``python -m bench.spread [--workers 2] [--connections 1000] [--batch 100]``

Two ways for several processes to accept on one port, each tried with the same client:

* ``shared``: one listening socket, bound by the parent and inherited by every forked worker
  (what ``uvicorn --workers`` and gunicorn do); the workers race to accept from one queue.
* ``reuseport``: one socket per worker with ``SO_REUSEPORT`` (what ``centripetal --workers``
  does); the kernel hashes each new connection's addresses to one of the sockets.

Each worker is an event loop (uvloop when installed) that answers every connection with its
number and keeps it open, as a WebSocket server keeps its clients. The client opens the
connections in concurrent batches, keeps them all, and counts them per worker. A second round
makes worker 1 busy (its loop blocked 100 ms of every 200 ms, as under a fan-out burst) and
reports the connect-to-answer latency too.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import sys
import time
from collections.abc import Coroutine
from typing import Any, cast

HOST = "127.0.0.1"


class Answer(asyncio.Protocol):
    """Write the worker's number, then hold the connection."""

    held: list[asyncio.BaseTransport] = []

    def __init__(self, index: int) -> None:
        self.index = index

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        cast(asyncio.WriteTransport, transport).write(bytes([self.index]))
        Answer.held.append(transport)


def _block(loop: asyncio.AbstractEventLoop) -> None:
    time.sleep(0.1)  # the loop is stuck, as in a long fan-out
    loop.call_later(0.1, _block, loop)


async def _worker(index: int, sock: socket.socket | None, port: int, busy: bool) -> None:
    loop = asyncio.get_running_loop()
    if sock is not None:
        await loop.create_server(lambda: Answer(index), sock=sock, backlog=4096)
    else:
        await loop.create_server(
            lambda: Answer(index), HOST, port, reuse_port=True, reuse_address=True, backlog=4096
        )
    if busy:
        loop.call_soon(_block, loop)
    await asyncio.Event().wait()


def _run(main: Coroutine[Any, Any, None]) -> None:
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
        return
    uvloop.run(main)


def start_workers(mode: str, count: int, busy_first: bool) -> tuple[int, list[int]]:
    """Fork ``count`` workers listening the ``mode`` way; return the port and their pids."""
    shared: socket.socket | None = None
    if mode == "shared":
        shared = socket.socket()
        shared.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        shared.bind((HOST, 0))
        shared.listen(4096)
        port = shared.getsockname()[1]
    else:
        with socket.socket() as probe:
            probe.bind((HOST, 0))
            port = probe.getsockname()[1]
    pids = []
    for index in range(1, count + 1):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                _run(_worker(index, shared, port, busy_first and index == 1))
            except BaseException:
                code = 1
            os._exit(code)
        pids.append(pid)
    if shared is not None:
        shared.close()
    time.sleep(0.5)  # every worker listens
    return port, pids


async def connect_all(port: int, total: int, batch: int) -> tuple[list[int], list[float]]:
    """Open ``total`` connections, ``batch`` at a time; return each one's worker number and
    connect-to-answer time (all kept open until the end)."""
    held: list[asyncio.StreamWriter] = []
    workers: list[int] = []
    times: list[float] = []

    async def one() -> None:
        started = time.perf_counter()
        reader, writer = await asyncio.open_connection(HOST, port)
        workers.append((await reader.readexactly(1))[0])
        times.append(time.perf_counter() - started)
        held.append(writer)

    for _ in range(total // batch):
        await asyncio.gather(*(one() for _ in range(batch)))
    for writer in held:
        writer.close()
    return workers, times


def trial(mode: str, count: int, total: int, batch: int, busy: bool) -> str:
    port, pids = start_workers(mode, count, busy)
    try:
        workers, times = asyncio.run(connect_all(port, total, batch))
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    counts = [workers.count(i) for i in range(1, count + 1)]
    ms = sorted(t * 1000 for t in times)
    p99 = ms[int(len(ms) * 0.99) - 1]
    return (
        f"| {mode} | {'worker 1 busy' if busy else 'idle'} | {' / '.join(map(str, counts))} | "
        f"{statistics.median(ms):.1f} / {p99:.1f} / {ms[-1]:.1f} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.spread", description=__doc__)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"{args.connections} connections in batches of {args.batch}, {args.workers} workers")
    print("| listening | workers | connections per worker | answer ms p50 / p99 / max |")
    print("|---|---|---|---|")
    for busy in (False, True):
        for _ in range(args.rounds):
            for mode in ("shared", "reuseport"):
                print(trial(mode, args.workers, args.connections, args.batch, busy), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
