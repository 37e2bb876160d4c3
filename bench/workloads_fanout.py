"""Fan-out workloads (benchmark §8.2): W2 max rate, W2c bursts, W3 fixed rates, W4 many channels.

Every publication carries ``seq`` and ``ts``; every subscriber counts what it received, and
``loss = expected - received`` is reported, never assumed. Latency comes from every k-th
subscriber by connect order (plus the last), so the whole fan-out order is sampled.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from typing import Any

from bench.client import Stats, Sub, close_all, open_subs, payload
from bench.measure import CpuPhase, drain, latency_summary, received, sleep_until
from bench.modes import Mode
from bench.publishers import HttpPublisher, Publisher, RoomMemberPublisher, WsPublisher

FAN_CHANNEL = "bench"


async def _publisher(system: dict[str, Any], mode: Mode) -> Publisher:
    if system["kind"] == "floor":
        return await WsPublisher(system).start()
    return HttpPublisher(system, connections=mode.fan_in_flight)


async def _fan_subs(
    system: dict[str, Any], mode: Mode, stats: Stats, k: int = 0
) -> tuple[list[Sub], Any]:
    n, k = mode.fan_subs, k or mode.sample_every
    subs, failures, _ = await open_subs(
        system, [[FAN_CHANNEL]] * n, lambda i: i % k == 0 or i == n - 1, stats
    )
    return subs, failures


async def fanout_max(system: dict[str, Any], mode: Mode, burst: int) -> dict[str, Any]:
    """W2 (burst 1) and W2c (burst > 1): closed loop, ``fan_in_flight`` requests in flight."""
    if burst > 1 and system["kind"] == "channels":
        return {"skipped": "one group_send per message: no burst publish path"}
    stats = Stats()
    k = mode.sample_every if burst == 1 else mode.burst_sample_every
    subs, failures = await _fan_subs(system, mode, stats, k)
    pub = await _publisher(system, mode)
    seq = itertools.count()
    published = 0
    base = received(subs)
    frames0 = sum(sub.frames for sub in subs)
    phase = CpuPhase(system["pids"])
    t0 = time.monotonic()
    deadline = t0 + (mode.fan_s if burst == 1 else mode.burst_s)

    async def worker() -> None:
        nonlocal published
        while time.monotonic() < deadline:
            await pub.publish([(FAN_CHANNEL, payload(next(seq))) for _ in range(burst)])
            published += burst

    await asyncio.gather(*(worker() for _ in range(mode.fan_in_flight)))
    t_pub = time.monotonic()
    expected = (published - pub.errors) * len(subs)
    got, t_last = await drain(subs, base, expected)
    frames = sum(sub.frames for sub in subs) - frames0
    result = {
        "subscribers": len(subs),
        "connect_failures": failures,
        "burst": burst,
        "publishes": published,
        "publish_errors": pub.errors,
        "publishes_per_s": round(published / (t_pub - t0), 1),
        "expected": expected,
        "received": got,
        "loss": expected - got,
        "deliveries_per_s": round(got / max(t_last - t0, 1e-9), 1),
        "frames": frames,
        "deliveries_per_frame": round(got / frames, 2) if frames else 0.0,
        **latency_summary(stats),
        **phase.finish(),
    }
    # deliveries per second of server CPU: what the server allows when the client is the bound
    server_share = result["server_cpu_pct"] / 100
    result["server_capacity_deliveries_per_s"] = (
        round(got / max(t_last - t0, 1e-9) / server_share, 1) if server_share else None
    )
    await pub.close()
    await close_all(subs)
    return result


async def fixed_rate(system: dict[str, Any], mode: Mode) -> dict[str, Any]:
    """W3: open loop at each of ``mode.rates`` publications/s to the same subscribers.

    ``loss`` counts what did not arrive within the drain window (3 s after the last publish):
    dropped or too late to matter.
    """
    stats = Stats()
    subs, failures = await _fan_subs(system, mode, stats)
    pub = await _publisher(system, mode)
    next_seq = 0
    out: dict[str, Any] = {"subscribers": len(subs), "connect_failures": failures}
    for rate in sorted(mode.rates):  # lowest first: a backlog never spills into a later rate
        stats.reset(next_seq)
        errors0 = pub.errors
        base = received(subs)
        phase = CpuPhase(system["pids"])
        t0 = time.monotonic()
        count = int(rate * mode.rate_s)
        for i in range(count):
            await sleep_until(t0 + i / rate)
            pub.fire([(FAN_CHANNEL, payload(next_seq))])
            next_seq += 1
        await pub.settle()
        expected = (count - (pub.errors - errors0)) * len(subs)
        got, _ = await drain(subs, base, expected)
        out[f"{rate:g}"] = {
            "rate": rate,
            "deliveries_per_s_target": rate * len(subs),
            "publishes": count,
            "publish_errors": pub.errors - errors0,
            "expected": expected,
            "received": got,
            "loss": expected - got,
            **latency_summary(stats),
            **phase.finish(),
        }
    await pub.close()
    await close_all(subs)
    return out


async def many_channels(system: dict[str, Any], mode: Mode) -> dict[str, Any]:
    """W4: personal + room channels; step the room publish rate until p99 or loss fails."""
    stats = Stats()
    n, rooms = mode.w4_conns, mode.w4_rooms
    members = max(1, n // rooms)
    room_of = [min(i // members, rooms - 1) for i in range(n)]
    if system["kind"] == "channels":  # the tutorial's consumer joins exactly one group
        sets = [[f"room:{room_of[i]}"] for i in range(n)]
    else:
        sets = [[f"personal:{i}", f"room:{room_of[i]}"] for i in range(n)]
    k = mode.sample_every
    subs, failures, _ = await open_subs(system, sets, lambda i: i % k == 0, stats)
    if len(subs) != n:
        return {"connect_failures": failures, "connected": len(subs), "steps": []}
    pub: Publisher
    if system["kind"] == "channels":
        first = {f"room:{room_of[i]}": subs[i].transport for i in reversed(range(n))}
        pub = RoomMemberPublisher({ch: t for ch, t in first.items() if t is not None})
    else:
        pub = await WsPublisher(system).start()
    seq = itertools.count()
    steps: list[dict[str, Any]] = []
    best: dict[str, Any] | None = None
    for rate in mode.w4_ladder:
        stats.reset()
        per_room = [0] * rooms
        before = [sub.count for sub in subs]
        errors0 = pub.errors
        phase = CpuPhase(system["pids"])
        t0 = time.monotonic()
        end = t0 + mode.w4_step_s
        sent = 0
        while (now := time.monotonic()) < end:
            due = int((now - t0) * rate) - sent
            if due > 0:
                items = []
                for _ in range(min(due, 500)):
                    r = random.randrange(rooms)
                    per_room[r] += 1
                    items.append((f"room:{r}", payload(next(seq))))
                pub.fire(items)
                sent += len(items)
            await asyncio.sleep(0.002)
        items = []
        for _ in range(int(rate * mode.w4_step_s) - sent):  # the step's exact count
            r = random.randrange(rooms)
            per_room[r] += 1
            items.append((f"room:{r}", payload(next(seq))))
        if items:
            pub.fire(items)
            sent += len(items)
        t_send = time.monotonic()
        await pub.settle()
        expected = sum(per_room[room_of[i]] for i in range(n))
        got, t_last = await drain(subs, sum(before), expected)
        loss = sum(max(0, per_room[room_of[i]] - (subs[i].count - before[i])) for i in range(n))
        step = {
            "rate": rate,
            "achieved_pubs_per_s": round(sent / (t_send - t0), 1),
            "expected": expected,
            "received": got,
            "loss": loss,
            "publish_errors": pub.errors - errors0,
            # sustained rate: the step's deliveries over its nominal length (it only counts
            # when all of them arrived, p99 within the limit), and over sending + draining
            "deliveries_per_s": round(got / mode.w4_step_s, 1),
            "deliveries_per_s_incl_drain": round(got / max(t_last - t0, 1e-9), 1),
            **latency_summary(stats),
            **phase.finish(),
        }
        step["ok"] = (
            loss == 0
            and step["publish_errors"] == 0
            and step["p99_ms"] <= mode.w4_p99_limit_s * 1000
            and step["achieved_pubs_per_s"] >= 0.9 * rate
        )
        steps.append(step)
        if not step["ok"]:
            break
        best = step
    await pub.close()
    await close_all(subs)
    return {
        "connections": n,
        "rooms": rooms,
        "members_per_room": members,
        "connect_failures": failures,
        "steps": steps,
        "max_ok_pubs_per_s": best["rate"] if best else 0,
        "max_ok_deliveries_per_s": best["deliveries_per_s"] if best else 0.0,
        "max_ok_p99_ms": best["p99_ms"] if best else None,
    }
