"""Server CPU per engine publish, without HTTP or clients: ``python -m bench.publish_cost``.

What the issue's "server CPU per Redis publish" means here: the engine's own cost. One process
(pinned to CPU0, like the benchmark's servers) publishes ``--count`` publications through the
broker, ``--concurrency`` at a time (64, as W5's wrk connections), into a channel nobody is
subscribed to (as W5 with 0 subscribers). The figure is (CPU of this process + CPU of the
``redis-server``, also on CPU0) / count, in µs, split between the two, for three cases: the
memory broker, the Redis broker without history (one ``PUBLISH``), and with history (the
publish script: ``XADD``, meta, TTLs). Each case runs ``--repeat`` times; the report gives
the median and the range.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from bench import procfs
from centripetal.engines.base import PublishOptions
from centripetal.engines.memory import MemoryBroker
from centripetal.engines.redis import RedisBroker, Shard, Timeouts, parse_address

NO_HISTORY = PublishOptions()
HISTORY = PublishOptions(history_size=100, history_ttl=300.0)
DATA = b'{"text":"hello from the publish cost benchmark","seq":123456}'


class _Nobody:
    """The node's place: nobody is subscribed, so nothing is delivered."""

    def handle_publication(self, *args: object) -> None:
        pass

    def handle_join(self, *args: object) -> None:
        pass

    def handle_leave(self, *args: object) -> None:
        pass

    def handle_control(self, *args: object) -> None:
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _start_redis(workdir: str) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed")
    port = _free_port()
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
    argv += ["no", "--dir", workdir]
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=lambda: procfs.pin_self(procfs.SERVER_CPU),
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("redis-server did not start")


async def _publish_all(broker: object, opts: PublishOptions, count: int, conc: int) -> None:
    sem = asyncio.Semaphore(conc)
    publish = broker.publish  # type: ignore[attr-defined]

    async def one() -> None:
        async with sem:
            await publish("cost", DATA, opts)

    for start in range(0, count, conc * 16):
        await asyncio.gather(*(one() for _ in range(min(conc * 16, count - start))))


async def _case(
    name: str, address: str, count: int, conc: int, redis_pid: int
) -> tuple[float, float]:
    broker: MemoryBroker | RedisBroker
    if name == "memory":
        broker = MemoryBroker()
        opts = NO_HISTORY
    else:
        shard = Shard(parse_address(address), Timeouts(connect=1.0, io=4.0))
        broker = RedisBroker([shard], prefix=f"cost{os.getpid()}")
        await broker.run()
        opts = HISTORY if name == "redis-history" else NO_HISTORY
    broker.set_event_handler(_Nobody())  # type: ignore[arg-type]
    try:
        await _publish_all(broker, opts, min(count, 2000), conc)  # warm: scripts, connections
        before = time.process_time(), procfs.cpu_seconds([redis_pid])
        await _publish_all(broker, opts, count, conc)
        after = time.process_time(), procfs.cpu_seconds([redis_pid])
    finally:
        if isinstance(broker, RedisBroker):
            await broker.close()
    own = after[0] - before[0]
    redis = after[1] - before[1]
    return own / count * 1e6, redis / count * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.publish_cost", description=__doc__)
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    procfs.pin_self(procfs.SERVER_CPU)
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - the bench extra installs it
        pass
    with tempfile.TemporaryDirectory(prefix="bench-publish-cost-") as workdir:
        redis, address = _start_redis(workdir)
        try:
            results: dict[str, list[tuple[float, float]]] = {}
            for _ in range(args.repeat):
                for name in ("memory", "redis", "redis-history"):
                    cost = asyncio.run(
                        _case(name, address, args.count, args.concurrency, redis.pid)
                    )
                    results.setdefault(name, []).append(cost)
        finally:
            redis.terminate()
            redis.wait(timeout=10)
    print(f"server CPU per publish, µs ({args.count} publishes, {args.concurrency} in flight)")
    print("  case            total (min-max)        this process   redis-server")
    for name, runs in results.items():
        totals = [own + redis for own, redis in runs]
        own = statistics.median(r[0] for r in runs)
        server = statistics.median(r[1] for r in runs)
        print(
            f"  {name:14} {statistics.median(totals):6.1f} ({min(totals):.1f}-{max(totals):.1f})"
            f"   {own:12.1f} {server:14.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
