"""Workload parameters per mode: ``quick`` (default), ``full`` and ``smoke`` (benchmark §8.2)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from bench.systems import SYSTEMS


@dataclass(frozen=True)
class Mode:
    name: str
    repeats: int = 1
    # W1 connect storm + idle hold
    storm_conns: int = 5000
    storm_in_flight: int = 100
    hold_s: float = 10.0
    # W2 fan-out (closed loop), W2c bursts of ``burst`` publications per request
    fan_subs: int = 1000
    fan_s: float = 5.0
    fan_in_flight: int = 8
    burst: int = 16
    burst_s: float = 3.0
    # W3 fixed rates (publications/s)
    rates: tuple[float, ...] = (2.0, 20.0)
    rate_s: float = 5.0
    # W4 many channels
    w4_conns: int = 2000
    w4_rooms: int = 200
    w4_ladder: tuple[int, ...] = (250, 1000, 2500, 5000, 7500, 10000, 15000, 20000)
    w4_step_s: float = 1.0
    w4_p99_limit_s: float = 0.1
    # W5 HTTP publish
    w5_conns: int = 64
    w5_s: float = 5.0
    w5_subs: tuple[int, ...] = (0, 100)
    use_wrk: bool = True
    # every k-th subscriber (by connect order) extracts latency
    sample_every: int = 10
    # W2c: a sampled connection parses every seq/ts of its joined frames in Python; at 10 that
    # costs the load generator more than counting the deliveries
    burst_sample_every: int = 50
    # the Redis systems run W1, W2 and W5 only; Centrifugo needs Go (or a cached build) and
    # centripetal-redis-2w a centripetal with --workers: without them the report says why.
    # Smoke mode names neither, nor anything Redis, so it never builds or starts them.
    systems: tuple[str, ...] = SYSTEMS

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


QUICK = Mode("quick")
FULL = Mode("full", repeats=3, hold_s=30.0, burst_s=5.0, w4_step_s=2.0)
SMOKE = Mode(
    "smoke",
    storm_conns=20,
    storm_in_flight=10,
    hold_s=1.0,
    fan_subs=20,
    fan_s=1.0,
    burst_s=1.0,
    rates=(20.0,),
    rate_s=1.0,
    w4_conns=20,
    w4_rooms=2,
    w4_ladder=(50, 100),
    w4_step_s=1.0,
    w5_conns=4,
    w5_s=1.0,
    w5_subs=(0, 20),
    use_wrk=False,
    sample_every=2,
    systems=("centripetal", "floor"),
)
MODES = {m.name: m for m in (QUICK, FULL, SMOKE)}


def mode_from_json(data: dict[str, Any]) -> Mode:
    fields = dict(data)
    for key in ("rates", "w4_ladder", "w5_subs", "systems"):
        fields[key] = tuple(fields[key])
    return Mode(**fields)
