"""One worker process: a node of the shared engine on the shared port (docs/scaling.md).

The parent forks the worker and calls :func:`run_worker` in it. The worker serves exactly as
the single-process server does (``server.serve``), with three differences: it listens with
``SO_REUSEPORT`` beside the other workers; its node name carries the worker number (EN-11:
the default ``<hostname>_<port>`` would be the same in every worker); and it tells the parent
through ``ready_fd`` when its ports listen.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import socket
import sys
from typing import TYPE_CHECKING

from msgspec.structs import replace

from centripetal import server

if TYPE_CHECKING:
    from centripetal.config.schema import Config

__all__ = ["READY", "run_worker", "worker_config", "worker_name"]

logger = logging.getLogger("centripetal.workers")

READY = b"r"  # written to the readiness pipe once the worker listens
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def worker_name(config: Config, index: int, port: int) -> str:
    """``node.name`` of worker ``index``: the configured name, or Centrifugo's default
    ``<hostname>_<port>`` (EN-11), followed by ``_<index>``."""
    base = config.node.name or f"{socket.gethostname()}_{port}"
    return f"{base}_{index}"


def worker_config(config: Config, index: int, port: int) -> Config:
    """The configuration worker ``index`` runs with: its own node name, the port the parent
    resolved, and no pid file (the parent writes its own pid there)."""
    return replace(
        config,
        node=replace(config.node, name=worker_name(config, index, port)),
        http_server=replace(config.http_server, port=port),
        pid_file="",
    )


def run_worker(config: Config, index: int, ready_fd: int, parent: int) -> int:
    """The worker's whole life; returns its exit code."""
    _end_with_parent(parent)
    server.setup_logging(config, tag=f"worker {index}")
    return server.run_loop(_serve(config, ready_fd))


async def _serve(config: Config, ready_fd: int) -> int:
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGHUP, _on_sighup)
    ready = asyncio.Event()
    serving = asyncio.ensure_future(server.serve(config, ready=ready, reuse_port=True))
    listening = asyncio.ensure_future(ready.wait())
    try:
        await asyncio.wait((serving, listening), return_when=asyncio.FIRST_COMPLETED)
    finally:
        listening.cancel()
    if ready.is_set():
        with contextlib.suppress(OSError):  # the parent is gone: pdeathsig stops us
            os.write(ready_fd, READY)
    os.close(ready_fd)
    return await serving


def _on_sighup() -> None:
    """The parent passes SIGHUP on. Centrifugo reloads some settings on it (SV-02), which
    centripetal does not do yet: say so, and keep serving."""
    logger.warning(
        "SIGHUP: reloading the configuration is not supported (SV-02); "
        "serving on with the configuration this worker started with"
    )


def _end_with_parent(parent: int) -> None:
    """Get SIGTERM (a graceful stop) when the parent dies, so no worker outlives it (Linux
    ``PR_SET_PDEATHSIG``; elsewhere workers stop only when told)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)
