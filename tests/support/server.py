"""A centripetal server in a child process, started and stopped by its own pid.

The server is started the way Centrifugo is (``-c config.json -p PORT``); it is
ready when its port accepts TCP connections **and** a plain GET on
``/connection/websocket`` gets any HTTP response (Centrifugo answers 400, TR-01).
Its stdout and stderr go to a log file whose tail is quoted in every failure.

A server configured with TLS (SV-01) is given ``ssl_context``: the readiness GET and
``http_get`` then go over HTTPS with that client context, and the URL helpers answer
``https://`` / ``wss://``.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Protocol

from support.ports import free_port, port_accepts
from support.timing import scaled

__all__ = ["ServerError", "ServerFactory", "ServerProcess"]

WEBSOCKET_PATH = "/connection/websocket"


class ServerError(RuntimeError):
    """The server did not start, or died; the message carries its log tail."""


class ServerProcess:
    """One ``python -m centripetal`` process on a loopback port.

    ``config`` is written as JSON to ``workdir`` (a fresh temporary directory when
    not given). ``env`` is added to the inherited environment. All waits are
    scaled by ``TIMEOUT_FACTOR``.
    """

    def __init__(
        self,
        config: Mapping[str, Any],
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        env: Mapping[str, str] | None = None,
        workdir: Path | None = None,
        extra_args: Sequence[str] = (),
        startup_timeout: float = 20.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.ssl_context = ssl_context
        self.port = port if port is not None else free_port(host)
        self.config: dict[str, Any] = json.loads(json.dumps(dict(config)))
        self.config.setdefault("http_server", {}).setdefault("address", host)
        self.extra_env = dict(env or {})
        self.extra_args = list(extra_args)
        self.startup_timeout = startup_timeout
        self._owned_tmp: tempfile.TemporaryDirectory[str] | None = None
        if workdir is None:
            self._owned_tmp = tempfile.TemporaryDirectory(prefix="centripetal-test-")
            workdir = Path(self._owned_tmp.name)
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = self.workdir / f"config-{self.port}.json"
        self.log_path = self.workdir / f"server-{self.port}.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    # -- addresses ---------------------------------------------------------------

    @property
    def tls(self) -> bool:
        """Whether the server is reached over TLS (``ssl_context`` was given)."""
        return self.ssl_context is not None

    @property
    def http_url(self) -> str:
        """``http://host:port`` of the server (``https://`` with TLS)."""
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    def ws_url(self, path: str = WEBSOCKET_PATH) -> str:
        """``ws://host:port/<path>`` (``wss://`` with TLS; default: the bidirectional
        WebSocket endpoint)."""
        return f"{'wss' if self.tls else 'ws'}://{self.host}:{self.port}{path}"

    @property
    def pid(self) -> int | None:
        """Pid of the started process, or ``None`` before :meth:`start`."""
        return self._proc.pid if self._proc is not None else None

    @property
    def command(self) -> list[str]:
        """The command line used to start the server."""
        return [
            sys.executable,
            "-m",
            "centripetal",
            "-c",
            str(self.config_path),
            "-p",
            str(self.port),
            *self.extra_args,
        ]

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> ServerProcess:
        """Start the process and wait until it serves HTTP; raise :class:`ServerError` if not."""
        if self._proc is not None:
            raise ServerError("server already started")
        self.config_path.write_text(json.dumps(self.config, indent=2), encoding="utf-8")
        environ = dict(os.environ)
        environ.update(self.extra_env)
        self._log = self.log_path.open("wb")
        self._proc = subprocess.Popen(
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=str(self.workdir),
            env=environ,
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + scaled(self.startup_timeout)
        last_error = "port never accepted a connection"
        while time.monotonic() < deadline:
            code = self.returncode()
            if code is not None:
                raise ServerError(self.describe(f"server exited with code {code} during startup"))
            if port_accepts(self.host, self.port):
                try:
                    self.http_get(WEBSOCKET_PATH, timeout=2.0)
                    return
                except (OSError, http.client.HTTPException) as exc:
                    last_error = f"GET {WEBSOCKET_PATH} failed: {exc!r}"
            time.sleep(0.05)
        raise ServerError(
            self.describe(
                f"server not ready after {scaled(self.startup_timeout):.1f}s ({last_error})"
            )
        )

    def returncode(self) -> int | None:
        """Exit code once the process has ended, else ``None``."""
        return self._proc.poll() if self._proc is not None else None

    @property
    def running(self) -> bool:
        """Whether the process was started and has not exited."""
        return self._proc is not None and self._proc.poll() is None

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM our own pid, then SIGKILL it after ``scaled(timeout)``; return the exit code."""
        proc = self._proc
        if proc is None:
            return None
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=scaled(timeout))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=scaled(timeout))
        if self._log is not None and not self._log.closed:
            self._log.close()
        return proc.returncode

    def cleanup(self) -> None:
        """Stop the process and remove the temporary directory if this object made it."""
        self.stop()
        if self._owned_tmp is not None:
            self._owned_tmp.cleanup()
            self._owned_tmp = None

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()

    # -- diagnostics -------------------------------------------------------------

    def log_text(self) -> str:
        """The whole captured stdout/stderr so far."""
        if self._log is not None and not self._log.closed:
            self._log.flush()
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 60) -> str:
        """The last ``lines`` lines of the captured output."""
        return "\n".join(self.log_text().splitlines()[-lines:])

    def describe(self, what: str) -> str:
        """``what`` followed by the command, exit code and the log tail, for assertion messages."""
        return (
            f"{what}\ncommand: {' '.join(self.command)}\nexit code: {self.returncode()}\n"
            f"--- server log tail ({self.log_path.name}) ---\n{self.log_tail()}"
        )

    # -- plain HTTP ----------------------------------------------------------------

    def http_get(
        self, path: str, *, headers: Mapping[str, str] | None = None, timeout: float = 5.0
    ) -> tuple[int, dict[str, str], bytes]:
        """One GET request (HTTPS with ``ssl_context``); return ``(status, headers, body)``."""
        conn: http.client.HTTPConnection
        if self.ssl_context is not None:
            conn = http.client.HTTPSConnection(
                self.host, self.port, timeout=scaled(timeout), context=self.ssl_context
            )
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=scaled(timeout))
        try:
            conn.request("GET", path, headers=dict(headers or {}))
            response = conn.getresponse()
            body = response.read()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, body
        finally:
            conn.close()


class ServerFactory(Protocol):
    """Signature of the ``server_factory`` fixture: start a server, return it running."""

    def __call__(
        self,
        config: Mapping[str, Any],
        *,
        env: Mapping[str, str] | None = None,
        port: int | None = None,
        extra_args: tuple[str, ...] = (),
        startup_timeout: float = 20.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> ServerProcess: ...
