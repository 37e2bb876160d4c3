"""Several worker processes on one machine: ``centripetal --workers N`` (docs/scaling.md).

Every worker is a node of the configured Redis or NATS engine (EN-10) listening on the same
port with ``SO_REUSEPORT``; the parent supervises them (supervisor.py). ``--workers 1`` (the
default) never comes here: the single-process server runs as before.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from centripetal.workers.checks import refusal, startup_warnings
from centripetal.workers.count import WORKERS_ENV, usable_cpus, worker_count

if TYPE_CHECKING:
    from centripetal.config.schema import Config

__all__ = [
    "WORKERS_ENV",
    "refusal",
    "run_workers",
    "startup_warnings",
    "usable_cpus",
    "worker_count",
]

logger = logging.getLogger("centripetal.workers")

STOP_GRACE = 5.0  # seconds past shutdown.timeout before a stopping worker is killed


def run_workers(config: Config, count: int) -> int:
    """Check the configuration and the ports, then run ``count`` supervised workers; return
    the exit code (1, with the reason logged, when :func:`refusal` objects)."""
    from centripetal.server import setup_logging
    from centripetal.workers.child import run_worker, worker_config
    from centripetal.workers.ports import ListenError, probe
    from centripetal.workers.supervisor import Supervisor

    setup_logging(config, tag="supervisor")
    problem = refusal(config, count)
    if problem is not None:
        logger.error("%s", problem)
        return 1
    for warning in startup_warnings(config, count):
        logger.warning("%s", warning)
    hs = config.http_server
    try:
        port = probe(hs.address, hs.port)
        if hs.internal_port:
            probe(hs.internal_address or hs.address, hs.internal_port)
    except ListenError as exc:
        logger.error("%s", exc)
        return 1
    parent = os.getpid()
    configs = [worker_config(config, index, port) for index in range(1, count + 1)]

    def body(index: int, ready_fd: int) -> int:
        return run_worker(configs[index - 1], index, ready_fd, parent)

    logger.info(
        "starting %d workers on port %d (supervisor pid %d); node names %s",
        count,
        port,
        parent,
        ", ".join(c.node.name for c in configs),
    )
    supervisor = Supervisor(
        count,
        body,
        stop_timeout=config.shutdown.timeout,
        pid_file=config.pid_file,
        grace=STOP_GRACE,
    )
    return supervisor.run()
