"""Readers for ``/proc``: process RSS and CPU time, per-CPU busy time, kernel slab, and pinning.

The benchmark pins the system under test to CPU0 and the load generator to CPU1 (benchmark
design §8.1 item 2) and flags a result "client-bound" when CPU1 is saturated while CPU0 is not.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

CLK_TCK = os.sysconf("SC_CLK_TCK")
SERVER_CPU = 0
CLIENT_CPU = 1
SATURATED = 90.0  # percent


def cpu_count() -> int:
    return os.cpu_count() or 1


def pinning_possible() -> bool:
    return cpu_count() >= 2 and hasattr(os, "sched_setaffinity")


def pin_self(cpu: int) -> None:
    """Pin the calling process to one CPU (no-op on a single-CPU machine)."""
    if pinning_possible():
        os.sched_setaffinity(0, {cpu})


def rss_kb(pids: Iterable[int]) -> int:
    """Sum of ``VmRSS`` (KiB) of the given processes."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            continue
    return total


def cpu_seconds(pids: Iterable[int], children: bool = False) -> float:
    """User + system CPU seconds consumed so far by the given processes (and, with
    ``children``, by their exited and waited-for children, such as ``wrk``)."""
    ticks = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                raw = fh.read()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
        if children:
            ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / CLK_TCK


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (children, grandchildren ...), from the parent pid in
    each ``/proc/N/stat``; ``/proc/N/task/N/children`` needs a kernel option that is often
    off. Used for a server that forks worker processes (``centripetal --workers N``)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                raw = fh.read()
        except OSError:
            continue  # exited meanwhile
        ppid = int(raw[raw.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return sorted(found)


def slab_kb() -> int:
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("Slab:"):
                return int(line.split()[1])
    return 0


CpuTimes = dict[int, tuple[int, int, int, int]]  # cpu -> (user, system, softirq, total) jiffies


def cpu_times() -> CpuTimes:
    """Per-CPU counters from ``/proc/stat``."""
    out: CpuTimes = {}
    with open("/proc/stat") as fh:
        for line in fh:
            if not line.startswith("cpu") or line.startswith("cpu "):
                continue
            parts = line.split()
            cpu = int(parts[0][3:])
            v = [int(x) for x in parts[1:]]
            user, nice, system, idle, iowait, irq, softirq = v[:7]
            steal = v[7] if len(v) > 7 else 0
            total = user + nice + system + idle + iowait + irq + softirq + steal
            out[cpu] = (user + nice, system + irq, softirq, total)
    return out


def cpu_split(before: CpuTimes, after: CpuTimes) -> dict[str, dict[str, float]]:
    """Busy percentages per CPU between two samples: user, sys, softirq and busy."""
    out: dict[str, dict[str, float]] = {}
    for cpu in sorted(after):
        if cpu not in before:
            continue
        d = [a - b for a, b in zip(after[cpu], before[cpu], strict=True)]
        total = d[3] or 1
        user, system, softirq = (100.0 * x / total for x in d[:3])
        out[f"cpu{cpu}"] = {
            "user": round(user, 1),
            "sys": round(system, 1),
            "softirq": round(softirq, 1),
            "busy": round(user + system + softirq, 1),
        }
    return out


def client_bound(
    split: dict[str, dict[str, float]], server_pct: float | None = None, client_pct: float = 0.0
) -> bool:
    """§8.1: the load generator's CPU > 90 % busy while the server's is < 90 %.

    With process CPU times given (server processes; the load generator and its children),
    those decide: on a machine shared with other work, CPU0 and CPU1 can be busy with
    processes that are neither. Otherwise CPU0 and CPU1 busy from ``/proc/stat`` decide.
    """
    if server_pct is None:
        client = split.get(f"cpu{CLIENT_CPU}", {}).get("busy", 0.0)
        server = split.get(f"cpu{SERVER_CPU}", {}).get("busy", 0.0)
    else:
        client, server = client_pct, server_pct
    return client > SATURATED and server < SATURATED
