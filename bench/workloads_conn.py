"""Connection and HTTP workloads (benchmark §8.2): W1 connect storm + idle, W5 HTTP publish.

W1 opens N connections with 100 handshakes in flight, each authenticated (HS256 JWT for
centripetal) and subscribed to ``personal:<i>``; it reports connects/s and failures, the
server's CPU per connection (and the rate one whole core would allow at that cost), the
server's RSS delta per connection, the kernel slab delta per connection (both socket ends),
and the server's CPU per connection while all of them sit idle.
W5 drives the publish endpoint with 64 keep-alive connections through ``wrk`` (Lua script
``wrk_publish.lua``) or, without wrk, an aiohttp client; optionally with subscribers. It also
reports requests per second of server CPU, the per-core figure when the client is the bound.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench import procfs
from bench.client import Stats, close_all, logical_to_room, open_subs, payload
from bench.measure import CpuPhase, drain, percentile, received
from bench.modes import Mode

W5_CHANNEL = "w5"
LUA = Path(__file__).with_name("wrk_publish.lua")


async def connect_storm(system: dict[str, Any], mode: Mode) -> dict[str, Any]:
    """W1: storm, then hold idle for ``mode.hold_s``."""
    pids = system["pids"]
    n = mode.storm_conns
    sets = [[f"personal:{i}"] for i in range(n)]
    rss0 = procfs.rss_kb(pids)
    slab0 = procfs.slab_kb()
    phase = CpuPhase(pids)
    subs, failures, elapsed = await open_subs(
        system, sets, lambda i: False, Stats(), in_flight=mode.storm_in_flight
    )
    storm = phase.finish()
    await asyncio.sleep(0.5)
    ok = max(len(subs), 1)
    rss1 = procfs.rss_kb(pids)
    slab1 = procfs.slab_kb()
    cpu0 = procfs.cpu_seconds(pids)
    t0 = time.monotonic()
    await asyncio.sleep(mode.hold_s)
    idle_cpu = procfs.cpu_seconds(pids) - cpu0
    held = time.monotonic() - t0
    alive = sum(1 for s in subs if s.transport is not None and not s.transport.is_disconnected)
    await close_all(subs)
    # the server's CPU per connection in the storm, and the rate that CPU would allow on a
    # whole core: the figure that matters when the load generator is the bound
    cpu_us = storm["server_cpu_pct"] / 100 * elapsed / ok * 1e6
    return {
        "connections": n,
        "connected": len(subs),
        "server_cpu_us_per_conn": round(cpu_us, 1),
        "server_capacity_conn_per_s": round(1e6 / cpu_us, 1) if cpu_us else None,
        "client_bound": storm["client_bound"],
        "failures": failures,
        "failed": sum(failures.values()),
        "storm_s": round(elapsed, 3),
        "connects_per_s": round(len(subs) / elapsed, 1),
        "storm_cpu": storm,
        "rss_kb_before": rss0,
        "rss_kb_after": rss1,
        "rss_kb_per_conn": round((rss1 - rss0) / ok, 2),
        "slab_kb_per_conn_both_ends": round((slab1 - slab0) / ok, 2),
        "hold_s": round(held, 2),
        "alive_after_hold": alive,
        "idle_cpu_us_per_s_per_conn": round(idle_cpu / held / ok * 1e6, 3),
    }


def _request(system: dict[str, Any]) -> tuple[str, bytes, dict[str, str]]:
    data = payload(0)
    headers = {"Content-Type": "application/json"}
    if system["kind"] == "centripetal":
        headers["X-API-Key"] = system["api_key"]
        body = b'{"channel":"%s","data":%s}' % (W5_CHANNEL.encode(), data)
        return f"{system['http']}/api/publish", body, headers
    room = logical_to_room(W5_CHANNEL).encode()
    return f"{system['http']}/publish/", b'{"room":"%s","message":%s}' % (room, data), headers


async def _run_wrk(url: str, body: bytes, headers: dict[str, str], mode: Mode) -> dict[str, Any]:
    env = dict(os.environ, BENCH_BODY=body.decode(), BENCH_API_KEY=headers.get("X-API-Key", ""))
    argv = ["wrk", "-t1", f"-c{mode.w5_conns}", f"-d{mode.w5_s:g}s", "-s", str(LUA), url]
    proc = await asyncio.create_subprocess_exec(
        *argv,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        preexec_fn=lambda: procfs.pin_self(procfs.CLIENT_CPU),
    )
    out, _ = await proc.communicate()
    for line in out.decode(errors="replace").splitlines():
        if line.startswith("BENCH_JSON "):
            raw = json.loads(line[len("BENCH_JSON ") :])
            ok = raw["requests"] - raw["status_errors"]
            return {
                "client": "wrk",
                "requests": raw["requests"],
                "ok": ok,
                "errors": raw["status_errors"] + raw["socket_errors"],
                "req_per_s": round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
                "p50_ms": raw["p50_us"] / 1000,
                "p99_ms": raw["p99_us"] / 1000,
                "max_ms": raw["max_us"] / 1000,
            }
    raise RuntimeError(f"wrk gave no result: {out.decode(errors='replace')[-500:]}")


async def _run_aiohttp(
    url: str, body: bytes, headers: dict[str, str], mode: Mode
) -> dict[str, Any]:
    lat: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=mode.w5_conns)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        t0 = time.monotonic()
        deadline = t0 + mode.w5_s

        async def worker() -> None:
            nonlocal errors
            while (start := time.monotonic()) < deadline:
                async with session.post(url, data=body) as resp:
                    text = await resp.read()
                if resp.status != 200 or b'"error"' in text:
                    errors += 1
                lat.append(time.monotonic() - start)

        await asyncio.gather(*(worker() for _ in range(mode.w5_conns)))
        elapsed = time.monotonic() - t0
    lat.sort()
    return {
        "client": "aiohttp",
        "requests": len(lat),
        "ok": len(lat) - errors,
        "errors": errors,
        "req_per_s": round(len(lat) / elapsed, 1),
        "p50_ms": round(percentile(lat, 50) * 1000, 3),
        "p99_ms": round(percentile(lat, 99) * 1000, 3),
        "max_ms": round((lat[-1] if lat else 0.0) * 1000, 3),
    }


async def http_publish(system: dict[str, Any], mode: Mode) -> dict[str, Any]:
    """W5: for each subscriber count, req/s and latency; deliveries are counted."""
    if system["kind"] == "floor":
        return {"skipped": "the floor server has no HTTP endpoint"}
    url, body, headers = _request(system)
    use_wrk = mode.use_wrk and shutil.which("wrk") is not None
    out: dict[str, Any] = {}
    for n in mode.w5_subs:
        subs, failures, _ = await open_subs(system, [[W5_CHANNEL]] * n, lambda i: False, Stats())
        base = received(subs)
        phase = CpuPhase(system["pids"])
        run = _run_wrk if use_wrk else _run_aiohttp
        res = await run(url, body, headers, mode)
        expected = res["ok"] * len(subs)
        got, _ = await drain(subs, base, expected) if subs else (0, 0.0)
        res.update(phase.finish())
        res.update(subscribers=len(subs), connect_failures=failures, expected=expected)
        # wrk stops with requests in flight that the server may still publish: received can
        # exceed expected by up to the connection count times the subscribers.
        res.update(received=got, loss=max(0, expected - got), extra=max(0, got - expected))
        res["deliveries_per_s"] = round(got / (mode.w5_s or 1), 1)
        # requests per second of server CPU: what one whole core allows at this cost
        share = res["server_cpu_pct"] / 100
        res["server_capacity_req_per_s"] = round(res["req_per_s"] / share, 1) if share else None
        out[str(n)] = res
        await close_all(subs)
    return out
