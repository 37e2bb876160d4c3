"""A real ``nginx`` load-balancing WebSocket upgrades to several centripetal nodes (R-9b, L-2).

The config is generated in a temporary directory (``daemon off``, ``worker_processes 1``, pid
file, logs and temp paths all inside it); nginx listens on a free loopback port and forwards
with ``proxy_http_version 1.1`` and the ``Upgrade``/``Connection`` headers, with a
``proxy_read_timeout`` longer than the server ping interval (TR-01 behind a proxy). The process
is started and stopped by its own pid.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import pwd
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from support.ports import free_port, port_accepts
from support.timing import scaled
from support.tools import require_tool

__all__ = ["NginxServer"]

PROBE_PATH = "/connection/websocket"


class NginxServer:
    """One ``nginx`` on ``127.0.0.1:<port>`` proxying to ``upstreams`` (``(host, port)`` pairs).

    ``read_timeout`` (seconds) must exceed the servers' ``client.ping_interval`` so idle
    WebSocket connections are not cut by the proxy.
    """

    def __init__(
        self,
        upstreams: Sequence[tuple[str, int]],
        *,
        port: int | None = None,
        workdir: Path | None = None,
        read_timeout: float = 60.0,
    ) -> None:
        if not upstreams:
            raise ValueError("nginx needs at least one upstream")
        self.upstreams = list(upstreams)
        self.host = "127.0.0.1"
        self.port = port if port is not None else free_port()
        self.read_timeout = read_timeout
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="centripetal-nginx-")
            workdir = Path(self._tmp.name)
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.conf_path = self.workdir / "nginx.conf"
        self.pid_path = self.workdir / "nginx.pid"
        self.error_log = self.workdir / "error.log"
        self.access_log = self.workdir / "access.log"
        self._proc: subprocess.Popen[bytes] | None = None

    # -- addresses ---------------------------------------------------------------------------

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def ws_url(self, path: str = "/connection/websocket") -> str:
        return f"ws://{self.host}:{self.port}{path}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    # -- config ------------------------------------------------------------------------------

    def render_config(self) -> str:
        """The nginx.conf text: one worker, round-robin upstream, WebSocket upgrade headers."""
        tmp = self.workdir
        user = ""
        if os.geteuid() == 0:  # workers would otherwise run as nobody, without access to tmp
            user = f"user {pwd.getpwuid(0).pw_name};\n"
        servers = "\n".join(
            f"        server {host}:{port} max_fails=1 fail_timeout=5s;"
            for host, port in self.upstreams
        )
        timeout = max(1, int(self.read_timeout))
        return (
            f"{user}"
            "daemon off;\n"
            "worker_processes 1;\n"
            f"pid {self.pid_path};\n"
            f"error_log {self.error_log} info;\n"
            "events {\n    worker_connections 4096;\n}\n"
            "http {\n"
            f"    access_log {self.access_log};\n"
            f"    client_body_temp_path {tmp / 'body'};\n"
            f"    proxy_temp_path {tmp / 'proxy'};\n"
            f"    fastcgi_temp_path {tmp / 'fastcgi'};\n"
            f"    uwsgi_temp_path {tmp / 'uwsgi'};\n"
            f"    scgi_temp_path {tmp / 'scgi'};\n"
            "    map $http_upgrade $connection_upgrade {\n"
            "        default upgrade;\n"
            "        '' close;\n"
            "    }\n"
            "    upstream centripetal {\n"
            f"{servers}\n"
            "    }\n"
            "    server {\n"
            f"        listen {self.host}:{self.port};\n"
            "        location / {\n"
            "            proxy_pass http://centripetal;\n"
            "            proxy_http_version 1.1;\n"
            "            proxy_set_header Upgrade $http_upgrade;\n"
            "            proxy_set_header Connection $connection_upgrade;\n"
            "            proxy_set_header Host $host;\n"
            "            proxy_connect_timeout 2s;\n"
            f"            proxy_read_timeout {timeout}s;\n"
            f"            proxy_send_timeout {timeout}s;\n"
            "            proxy_next_upstream error timeout;\n"
            "        }\n"
            "    }\n"
            "}\n"
        )

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> NginxServer:
        """Write the config, start nginx and wait until a GET through it gets an HTTP answer."""
        if self._proc is not None and self._proc.poll() is None:
            raise RuntimeError("nginx already started")
        path = require_tool("nginx")
        self.conf_path.write_text(self.render_config(), encoding="utf-8")
        log = (self.workdir / "stdout.log").open("ab")
        cmd = [path, "-p", str(self.workdir), "-c", str(self.conf_path), "-e", str(self.error_log)]
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
                raise RuntimeError(f"nginx exited with {self._proc.returncode}: {self.log_tail()}")
            if port_accepts(self.host, self.port) and self._answers():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nginx not ready on {self.host}:{self.port}: {self.log_tail()}")

    def _answers(self) -> bool:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=2.0)
        try:
            conn.request("GET", PROBE_PATH)
            conn.getresponse().read()
            return True
        except (OSError, http.client.HTTPException):
            return False
        finally:
            conn.close()

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM our own pid (fast shutdown: workers end too), then SIGKILL after a timeout."""
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
        return proc.returncode

    def log_tail(self, lines: int = 30) -> str:
        parts = []
        for name in ("stdout.log", "error.log"):
            with contextlib.suppress(FileNotFoundError):
                text = (self.workdir / name).read_text(errors="replace")
                parts.append("\n".join(text.splitlines()[-lines:]))
        return "\n".join(parts)

    def cleanup(self) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> NginxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
