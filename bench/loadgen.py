"""The load generator process: ``python -m bench.loadgen`` reads one job (JSON) on stdin.

It pins itself to CPU1, runs the workload on uvloop with picows connections and writes the
result as one JSON line on stdout (benchmark §8.1 items 2 and 5). One process per workload
keeps every run's client state fresh.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from bench import procfs
from bench.modes import Mode, mode_from_json
from bench.workloads_conn import connect_storm, http_publish
from bench.workloads_fanout import fanout_max, fixed_rate, many_channels

Workload = Callable[[dict[str, Any], Mode], Coroutine[Any, Any, dict[str, Any]]]


async def _w2(system: dict[str, Any], mode: Mode) -> dict[str, Any]:
    return await fanout_max(system, mode, 1)


async def _w2c(system: dict[str, Any], mode: Mode) -> dict[str, Any]:
    return await fanout_max(system, mode, mode.burst)


WORKLOADS: dict[str, Workload] = {
    "W1": connect_storm,
    "W2": _w2,
    "W2c": _w2c,
    "W3": fixed_rate,
    "W4": many_channels,
    "W5": http_publish,
}


def main() -> int:
    job = json.loads(sys.stdin.read())
    procfs.pin_self(procfs.CLIENT_CPU)
    import uvloop

    workload = WORKLOADS[job["workload"]]
    result: dict[str, Any] = uvloop.run(workload(job["system"], mode_from_json(job["mode"])))
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
