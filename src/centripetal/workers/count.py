"""How many worker processes to run: ``--workers N`` / ``CENTRIPETAL_WORKERS`` (see
docs/scaling.md).

The flag wins over the environment; neither given (or an empty variable) means 1, the
single-process server. ``auto`` is the number of CPUs this process may run on (its CPU
affinity, so a container or ``taskset`` limit is respected), at least 1.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from centripetal.config.tree import ConfigError

__all__ = ["AUTO", "WORKERS_ENV", "WORKERS_FLAG", "usable_cpus", "worker_count"]

WORKERS_ENV = "CENTRIPETAL_WORKERS"
WORKERS_FLAG = "--workers"
AUTO = "auto"


def usable_cpus() -> int:
    """CPUs this process may be scheduled on (affinity mask), else ``os.cpu_count()``."""
    affinity = getattr(os, "sched_getaffinity", None)
    if affinity is not None:
        return max(1, len(affinity(0)))
    return max(1, os.cpu_count() or 1)


def worker_count(flag: str | None, environ: Mapping[str, str]) -> int:
    """The number of workers from the ``--workers`` value (``None`` when not given) and the
    environment; raises :class:`ConfigError` naming the source and the value."""
    if flag is not None:
        raw, source = flag, WORKERS_FLAG
    else:
        raw, source = environ.get(WORKERS_ENV, ""), WORKERS_ENV
    text = raw.strip().lower()
    if not text and source == WORKERS_ENV:
        return 1
    if text == AUTO:
        return usable_cpus()
    try:
        count = int(text, 10)
    except ValueError:
        count = 0
    if count < 1:
        raise ConfigError(
            f"{source}: invalid value {raw!r}: expected a positive integer or {AUTO!r}"
        )
    return count
