"""``nats-server`` processes for the NATS broker tests, started and stopped by their own pid.

A server listens on a free loopback port in its own temporary directory; ``restart()`` keeps
the port so connected clients can reconnect (EN-08 reconnect tests). ``args`` are added to the
command line (``--tls --tlscert ... --tlskey ...`` for the TLS tests).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from support.ports import free_port, port_accepts
from support.timing import scaled
from support.tools import require_tool

__all__ = ["NatsServer"]


class NatsServer:
    """One ``nats-server`` on ``127.0.0.1:<port>`` logging to ``workdir/nats.log``."""

    def __init__(self, *, port: int | None = None, args: Sequence[str] = ()) -> None:
        self.host = "127.0.0.1"
        self.args = list(args)
        self.port = port if port is not None else free_port()
        self._tmp: tempfile.TemporaryDirectory[str] | None = tempfile.TemporaryDirectory(
            prefix="centripetal-nats-"
        )
        self.workdir = Path(self._tmp.name)
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self, timeout: float = 10.0) -> NatsServer:
        """Start and wait until the port accepts connections."""
        path = require_tool("nats-server")
        log = (self.workdir / "nats.log").open("ab")
        cmd = [path, "-a", self.host, "-p", str(self.port), "-m", "0", *self.args]
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=str(self.workdir),
        )
        log.close()
        deadline = time.monotonic() + scaled(timeout)
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"nats-server exited: {self.log_tail()}")
            if port_accepts(self.host, self.port):
                return self
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"nats-server not ready on {self.url}: {self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = (self.workdir / "nats.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM our own pid, then SIGKILL if it lingers."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=scaled(timeout))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=scaled(timeout))

    def restart(self) -> NatsServer:
        """Stop and start again on the same port."""
        self.stop()
        return self.start()

    def cleanup(self) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> NatsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
