"""Starting and stopping the systems under test, each pinned to CPU0 (benchmark design §8.1).

- ``centripetal``: ``python -m centripetal -c config.json -p PORT``, memory engine, HS256 JWT.
- ``centripetal-redis``: the same with ``engine.type: redis`` (EN-03) on its own ``redis-server``;
  it runs W2 and W5 only (:data:`ONLY`).
- ``channels``: ``redis-server`` plus uvicorn serving :mod:`bench.channels_app`.
- ``floor``: :mod:`bench.floor_server` (picows broadcast).

A :class:`Running` system carries what the load generator needs (URLs, secrets) and the pids
whose RSS and CPU time are the server's cost.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.procfs import SERVER_CPU, pinning_possible

SYSTEMS = ("centripetal", "centripetal-redis", "channels", "floor")
# Systems that run a subset of the workloads; the others are recorded as skipped.
ONLY: dict[str, tuple[str, ...]] = {"centripetal-redis": ("W2", "W5")}
JWT_SECRET = "bench-hmac-secret-key-of-enough-length-32b"
API_KEY = "bench-api-key"
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def centripetal_config(redis_url: str = "") -> dict[str, Any]:
    """JWT-checked connects; clients may subscribe to every channel and publish to rooms.

    With ``redis_url`` the engine is Redis (``engine.type: redis``, EN-03) instead of memory.
    """
    allow = {"allow_subscribe_for_client": True, "allow_publish_for_client": True}
    engine = {"type": "redis", "redis": {"address": [redis_url]}} if redis_url else {}
    return {
        **({"engine": engine} if engine else {}),
        "client": {"token": {"hmac_secret_key": JWT_SECRET}},
        "http_api": {"key": API_KEY},
        "channel": {
            "without_namespace": allow,
            "namespaces": [
                {"name": "personal", "allow_subscribe_for_client": True},
                {"name": "room", **allow},
            ],
        },
        "log": {"level": "error"},
    }


@dataclass
class Running:
    """A started system: endpoints for the load generator and the processes to stop."""

    name: str
    port: int
    pids: list[int]
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    workdir: str = ""
    kind: str = ""  # the client protocol spoken (``centripetal`` for both engines)

    def descriptor(self) -> dict[str, Any]:
        return {
            "kind": self.kind or self.name,
            "ws": f"ws://127.0.0.1:{self.port}",
            "http": f"http://127.0.0.1:{self.port}",
            "secret": JWT_SECRET,
            "api_key": API_KEY,
            "pids": self.pids,
        }

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.procs)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=8)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


def _pin() -> None:
    if pinning_possible():
        os.sched_setaffinity(0, {SERVER_CPU})


def _spawn(argv: list[str], workdir: str, log: str, env: dict[str, str] | None = None) -> Any:
    out = open(os.path.join(workdir, log), "wb")  # noqa: SIM115 - owned by the child
    return subprocess.Popen(
        argv, stdout=out, stderr=subprocess.STDOUT, preexec_fn=_pin, env=env, cwd=str(ROOT)
    )


def _wait_port(port: int, procs: list[subprocess.Popen[bytes]], workdir: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    logs = "".join(
        f"--- {name}\n{(Path(workdir) / name).read_text(errors='replace')[-2000:]}"
        for name in os.listdir(workdir)
        if name.endswith(".log")
    )
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
    raise RuntimeError(f"server on port {port} did not start\n{logs}")


def _start_redis(name: str, procs: list[subprocess.Popen[bytes]], workdir: str) -> str:
    """A throw-away ``redis-server`` (no persistence) on CPU0; returns its URL."""
    redis_bin = shutil.which("redis-server")
    if redis_bin is None:
        raise RuntimeError(f"redis-server is not installed (needed for the {name} system)")
    redis_port = free_port()
    redis_argv = [redis_bin, "--port", str(redis_port), "--bind", "127.0.0.1"]
    redis_argv += ["--save", "", "--appendonly", "no", "--dir", workdir]
    procs.append(_spawn(redis_argv, workdir, "redis.log"))
    _wait_port(redis_port, procs, workdir)
    return f"redis://127.0.0.1:{redis_port}"


def start(name: str) -> Running:
    """Start one system on a free loopback port and wait until it accepts connections."""
    workdir = tempfile.mkdtemp(prefix=f"bench-{name}-")
    port = free_port()
    procs: list[subprocess.Popen[bytes]] = []
    kind = name
    if name in ("centripetal", "centripetal-redis"):
        kind = "centripetal"
        redis_url = _start_redis(name, procs, workdir) if name == "centripetal-redis" else ""
        cfg = os.path.join(workdir, "config.json")
        with open(cfg, "w") as fh:
            json.dump(centripetal_config(redis_url), fh)
        argv = [sys.executable, "-m", "centripetal", "-c", cfg, "-p", str(port)]
        argv += ["-a", "127.0.0.1"]
        procs.append(_spawn(argv, workdir, "server.log"))
    elif name == "floor":
        argv = [sys.executable, "-m", "bench.floor_server", str(port)]
        procs.append(_spawn(argv, workdir, "server.log"))
    elif name == "channels":
        env = dict(os.environ, BENCH_REDIS_URL=_start_redis(name, procs, workdir))
        env["DJANGO_SETTINGS_MODULE"] = "bench.channels_app.settings"
        argv = [sys.executable, "-m", "uvicorn", "bench.channels_app.asgi:application"]
        argv += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
        argv += ["--ws-per-message-deflate", "false", "--log-level", "warning"]
        argv += ["--loop", "uvloop", "--http", "httptools"]
        procs.append(_spawn(argv, workdir, "uvicorn.log", env))
    else:
        raise ValueError(f"unknown system {name!r} (known: {', '.join(SYSTEMS)})")
    _wait_port(port, procs, workdir)
    return Running(name, port, [p.pid for p in procs], procs, workdir, kind)
