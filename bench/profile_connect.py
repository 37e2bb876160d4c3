"""``python -m bench.profile_connect``: the server's CPU per WebSocket connect, reproducibly.

The connect path of workload W1 (benchmark §8.2) on its own: the ``centripetal`` system of
systems.py (memory engine, HS256 JWT, the benchmark's config) is started on CPU0, this process
pins itself to CPU1 and runs rounds of N connections, 100 handshakes in flight, each one
``connect`` with a JWT (claim ``sub`` only) then ``subscribe`` to ``personal:<i>`` — the same
client code as W1 (bench/client.py). Each round is then closed, and its close is measured
apart.

The figure is the server's CPU time per connection: the run time of every thread of the server
process, read in nanoseconds from ``/proc/<pid>/task/*/schedstat``, not wall time (which
counts the waits too). It still varies by some ten per cent from run to run on a machine
whose cores are shared: compare versions in alternating runs. The first round warms the server
up (imports, caches, allocator); it is reported on its own, being what workload W1 measures
(one storm on a fresh server), and the later rounds' median beside it.

``--system`` picks another system of systems.py that W1 runs on: ``centripetal-redis`` or
``centripetal-redis-2w``. The figure is then the CPU of all its processes (the supervisor, every
worker and redis-server), each process's share shown per round, as the benchmark counts it.

``--profile`` writes a py-spy flame graph (SVG) or a raw collapsed-stack file of the rounds, to
see where the time goes; ``--cprofile`` runs the server under cProfile (its stats are written
when it stops). Both slow the server: figures taken with them are not comparable with figures
taken without.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import procfs, systems
from bench.client import Stats, close_all, open_subs


def user_sys(pid: int) -> tuple[int, int]:
    """User and system CPU ticks of ``pid`` (``/proc/<pid>/stat``): how the run time splits."""
    with open(f"/proc/{pid}/stat") as fh:
        raw = fh.read()
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[11]), int(fields[12])


def run_ns_of(pid: int) -> int:
    """Nanoseconds the threads of ``pid`` have run on a CPU (``schedstat``'s first field);
    ticks of ``/proc/<pid>/stat`` would be 10 ms coarse."""
    total = 0
    task_dir = f"/proc/{pid}/task"
    for tid in os.listdir(task_dir):
        try:
            with open(f"{task_dir}/{tid}/schedstat") as fh:
                total += int(fh.read().split()[0])
        except OSError:
            continue  # a thread that ended meanwhile
    return total


def run_ns(pids: list[int]) -> list[int]:
    return [run_ns_of(pid) for pid in pids]


async def one_round(
    system: dict[str, object], pids: list[int], n: int, in_flight: int
) -> dict[str, Any]:
    """Open ``n`` connections (connect + subscribe), then close them; CPU µs per connection
    of each phase, in all ``pids`` together and per process for the connects."""
    sets = [[f"personal:{i}"] for i in range(n)]
    ticks = [user_sys(pid) for pid in pids]
    before = run_ns(pids)
    t0 = time.monotonic()
    subs, failures, _ = await open_subs(system, sets, lambda i: False, Stats(), in_flight)
    wall = time.monotonic() - t0
    opened = run_ns(pids)
    user = sys_ = 0
    for pid, (u0, s0) in zip(pids, ticks, strict=True):
        u1, s1 = user_sys(pid)
        user, sys_ = user + u1 - u0, sys_ + s1 - s0
    if failures or len(subs) != n:
        raise RuntimeError(f"{n - len(subs)} connections failed: {failures}")
    await close_all(subs)
    # closing is done once the server's CPU stays still (its cleanup runs after the close)
    last = sum(run_ns(pids))
    while True:
        await asyncio.sleep(0.3)
        now = sum(run_ns(pids))
        if now - last < 2_000_000:
            break
        last = now
    per_process = [(b - a) / n / 1000 for a, b in zip(before, opened, strict=True)]
    return {
        "connect_us": sum(per_process),
        "per_process_us": per_process,
        "user_share": user / ((user + sys_) or 1),
        "close_us": (now - sum(opened)) / n / 1000,
        "wall_s": wall,
    }


async def measure(args: argparse.Namespace, running: systems.Running) -> list[dict[str, Any]]:
    """Every round's figures, the first (on the fresh server) included."""
    system = running.descriptor()
    pids = list(running.pids)
    rounds = []
    for i in range(args.rounds + 1):
        res = await one_round(system, pids, args.conns, args.in_flight)
        label = "first" if i == 0 else f"round {i}"
        shares = ""
        if len(pids) > 1:
            per = res["per_process_us"]
            shares = "  [" + " + ".join(f"{us:.1f}" for us in per) + " per process]"
        print(
            f"{label:8s}  connect {res['connect_us']:7.1f} µs ({res['user_share']:.0%} user)"
            f"  close {res['close_us']:6.1f} µs"
            f"  ({args.conns} in {res['wall_s']:.2f} s){shares}",
            flush=True,
        )
        rounds.append(res)
        await asyncio.sleep(0.5)
    return rounds


def start(cprofile: str | None, system: str = "centripetal") -> systems.Running:
    """A system of systems.py (``centripetal`` by default), optionally run under cProfile (the
    memory engine's only; its stats are written to ``cprofile`` when the server stops)."""
    if not cprofile:
        return systems.start(system)
    workdir = tempfile.mkdtemp(prefix="bench-profile-")
    port = systems.free_port()
    cfg = os.path.join(workdir, "config.json")
    with open(cfg, "w") as fh:
        json.dump(systems.centripetal_config(), fh)
    argv = [sys.executable, "-m", "cProfile", "-o", os.path.abspath(cprofile)]
    argv += ["-m", "centripetal", "-c", cfg, "-p", str(port), "-a", "127.0.0.1"]
    procs = [systems._spawn(argv, workdir, "server.log")]
    systems._wait_port(port, procs, workdir)
    return systems.Running("centripetal", port, [procs[0].pid], procs, workdir, "centripetal")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_connect", description=__doc__)
    parser.add_argument("--conns", type=int, default=2000, help="connections per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds after the first")
    parser.add_argument("--in-flight", type=int, default=100, help="handshakes in flight")
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--profile", metavar="FILE", help="py-spy record the server into FILE (.svg or .txt)"
    )
    group.add_argument("--cprofile", metavar="FILE", help="run the server under cProfile")
    parser.add_argument(
        "--system",
        choices=("centripetal", "centripetal-redis", "centripetal-redis-2w"),
        default="centripetal",
        help="the system to measure (all of its processes)",
    )
    args = parser.parse_args(argv)
    if args.cprofile and args.system != "centripetal":
        parser.error("--cprofile runs the memory engine's server only")
    running = start(args.cprofile, args.system)
    spy: subprocess.Popen[bytes] | None = None
    try:
        if args.profile:
            py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
            fmt = "flamegraph" if args.profile.endswith(".svg") else "raw"
            argv_spy = [py_spy, "record", "-p", str(running.pids[0]), "-o", args.profile]
            argv_spy += ["-f", fmt, "-r", "1000", "--nonblocking"]
            spy = subprocess.Popen(argv_spy, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            time.sleep(1.0)
        procfs.pin_self(procfs.CLIENT_CPU)
        import uvloop

        rounds = uvloop.run(measure(args, running))
    finally:
        if spy is not None:
            spy.send_signal(signal.SIGINT)  # py-spy writes its output and exits
            spy.wait(timeout=30)
        running.stop()
    first, later = rounds[0], rounds[1:]
    line = f"server CPU per connect: first round {first['connect_us']:.1f} µs"
    if later:
        connect = [r["connect_us"] for r in later]
        close = [r["close_us"] for r in later]
        line += (
            f"; later rounds median {statistics.median(connect):.1f} µs"
            f" (min {min(connect):.1f}, max {max(connect):.1f});"
            f" per close median {statistics.median(close):.1f} µs"
        )
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
