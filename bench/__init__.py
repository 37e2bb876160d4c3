"""The centripetal benchmark suite: ``python -m bench``.

Runs the same workloads (connect storm and idle cost, fan-out, fixed-rate latency, many channels,
HTTP publish) against centripetal, Django Channels (uvicorn + channels_redis, the tutorial's
shape) and a picows floor server, with the server on CPU0 and the load generator on CPU1.
See ``docs/benchmark.md``.
"""

from __future__ import annotations

__all__: list[str] = []
