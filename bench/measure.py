"""Shared measurement helpers of the workloads: latency summaries, draining, CPU phases."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from typing import Any

from bench import procfs
from bench.client import Stats, Sub

NO_PROGRESS_S = 1.0  # a drain gives up once no delivery arrived for this long
DRAIN_CAP_S = 3.0  # what has not arrived 3 s after the last publish counts as lost


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending sequence (0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(0, min(len(sorted_values) - 1, round(q / 100.0 * len(sorted_values)) - 1))
    return sorted_values[rank]


def latency_summary(stats: Stats) -> dict[str, Any]:
    """p50/p99/max of sampled deliveries and p99 of fan-out completion, in milliseconds."""
    lat = sorted(stats.lat)
    fan = sorted(stats.fanout.values())
    return {
        "samples": len(lat),
        "p50_ms": round(percentile(lat, 50) * 1000, 3),
        "p99_ms": round(percentile(lat, 99) * 1000, 3),
        "max_ms": round((lat[-1] if lat else 0.0) * 1000, 3),
        "fanout_p99_ms": round(percentile(fan, 99) * 1000, 3),
    }


def received(subs: Sequence[Sub]) -> int:
    return sum(sub.count for sub in subs)


async def drain(subs: Sequence[Sub], base: int, expected: int) -> tuple[int, float]:
    """Wait until ``expected`` deliveries arrived, or none arrived for ``NO_PROGRESS_S``.

    Returns the deliveries counted and the time the last of them was seen.
    """
    start = last_time = time.monotonic()
    last = received(subs) - base
    while last < expected:
        await asyncio.sleep(0.005)
        now = time.monotonic()
        got = received(subs) - base
        if got != last:
            last, last_time = got, now
        elif now - last_time > NO_PROGRESS_S or now - start > DRAIN_CAP_S:
            break
    return last, last_time


class CpuPhase:
    """Per-CPU busy split and the server's own CPU time over one measured phase."""

    def __init__(self, pids: Sequence[int]) -> None:
        self.pids = list(pids)
        self.cpu0 = procfs.cpu_times()
        self.proc0 = procfs.cpu_seconds(self.pids)
        self.self0 = procfs.cpu_seconds([os.getpid()], children=True)
        self.t0 = time.monotonic()

    def finish(self) -> dict[str, Any]:
        split = procfs.cpu_split(self.cpu0, procfs.cpu_times())
        elapsed = max(time.monotonic() - self.t0, 1e-9)
        server = 100.0 * (procfs.cpu_seconds(self.pids) - self.proc0) / elapsed
        client = 100.0 * (procfs.cpu_seconds([os.getpid()], children=True) - self.self0) / elapsed
        return {
            "cpu": split,
            "server_cpu_pct": round(server, 1),
            "client_cpu_pct": round(client, 1),
            "client_bound": procfs.client_bound(split, server, client),
        }


async def sleep_until(when: float) -> None:
    delay = when - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)
