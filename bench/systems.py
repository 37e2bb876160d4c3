"""Starting and stopping the systems under test, each pinned to CPU0 (benchmark design §8.1).

- ``centripetal``: ``python -m centripetal -c config.json -p PORT``, memory engine, HS256 JWT.
- ``centripetal-redis``: the same with ``engine.type: redis`` (EN-03) on its own ``redis-server``;
  it runs W1, W2 and W5 only (:data:`ONLY`).
- ``centripetal-redis-2w``: ``centripetal-redis`` started with ``--workers 2``; its cost is the
  parent's and every worker process's (found in ``/proc``). Not run when the installed
  centripetal has no ``--workers`` flag.
- ``centrifugo`` / ``centrifugo-redis``: Centrifugo v6.9.1 built by :mod:`bench.centrifugo_build`,
  ``GOMAXPROCS=1``, with the same config file as centripetal's (same channel options, HS256
  secret, API key) plus ``http_server`` and ``usage_stats.disabled``. Not run without Go.
- ``channels``: ``redis-server`` plus uvicorn serving :mod:`bench.channels_app`.
- ``floor``: :mod:`bench.floor_server` (picows broadcast).

:func:`prepare` says before any measurement why a system cannot run (building Centrifugo on
the way); a :class:`Running` system carries what the load generator needs (URLs, secrets) and
the pids whose RSS and CPU time are the server's cost.
"""

from __future__ import annotations

import contextlib
import functools
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

from bench import centrifugo_build
from bench.procfs import SERVER_CPU, descendants, pinning_possible

SYSTEMS = (
    "centripetal",
    "centrifugo",
    "centripetal-redis",
    "centrifugo-redis",
    "centripetal-redis-2w",
    "channels",
    "floor",
)
# Systems that run a subset of the workloads; the others are recorded as skipped.
REDIS_WORKLOADS = ("W1", "W2", "W5")
ONLY: dict[str, tuple[str, ...]] = {
    "centripetal-redis": REDIS_WORKLOADS,
    "centrifugo-redis": REDIS_WORKLOADS,
    "centripetal-redis-2w": REDIS_WORKLOADS,
}
WORKERS = 2  # centripetal-redis-2w
WORKERS_WAIT_S = 15.0
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


def centrifugo_config(port: int, redis_url: str = "") -> dict[str, Any]:
    """centripetal's config, plus what Centrifugo reads from the file rather than flags.

    ``http_server`` takes the place of centripetal's ``-a``/``-p`` flags; ``usage_stats`` is
    turned off so the process makes no outbound connections while it is measured.
    """
    return {
        **centripetal_config(redis_url),
        "http_server": {"address": "127.0.0.1", "port": port},
        "usage_stats": {"disabled": True},
    }


def _shown(path: str) -> str:
    """A path as the report shows it: relative to the repository when inside it, with ``~``
    for the home directory otherwise (the report names no machine's directories)."""
    resolved = Path(path).resolve()
    if resolved.is_relative_to(ROOT):
        return str(resolved.relative_to(ROOT))
    home = Path.home()
    return "~/" + str(resolved.relative_to(home)) if resolved.is_relative_to(home) else path


def centripetal_source() -> dict[str, Any]:
    """Which centripetal the servers run: the package directory the benchmark's interpreter
    imports (the same as ``python -m centripetal`` from the repository root), its version, and
    the git commit of that tree (``+dirty`` with uncommitted changes), for the report."""
    probe = "import centripetal, os; print(os.path.dirname(centripetal.__file__))"
    probe += "; print(centripetal.__version__)"
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, timeout=60, cwd=str(ROOT)
    )
    if proc.returncode != 0:
        return {"error": proc.stderr.decode(errors="replace")[-300:]}
    path, version = proc.stdout.decode().split()
    info: dict[str, Any] = {"path": _shown(path), "version": version}
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, cwd=path)
    if head.returncode == 0:
        status = subprocess.run(
            ["git", "status", "--porcelain", "--", "."], capture_output=True, cwd=path
        )
        dirty = "+dirty" if status.stdout.strip() else ""
        info["commit"] = head.stdout.decode().strip() + dirty
    return info


def has_workers_flag() -> bool:
    """Whether the installed centripetal accepts ``--workers N`` (its ``--help`` lists it)."""
    proc = subprocess.run(
        [sys.executable, "-m", "centripetal", "--help"],
        capture_output=True,
        timeout=60,
        cwd=str(ROOT),
    )
    return proc.returncode == 0 and b"--workers" in proc.stdout


@functools.cache
def _centrifugo() -> centrifugo_build.Binary | str:
    """The Centrifugo binary, or why there is none; one build attempt per benchmark run."""
    try:
        return centrifugo_build.ensure()
    except centrifugo_build.Unavailable as exc:
        return str(exc)


def prepare(name: str) -> tuple[str | None, dict[str, Any]]:
    """Before any measurement: (why ``name`` cannot run or None, facts for the report).

    Builds Centrifugo (:func:`bench.centrifugo_build.ensure`) the first time it is needed.
    """
    if name in ("centrifugo", "centrifugo-redis"):
        binary = _centrifugo()
        if isinstance(binary, str):
            return binary, {}
        return None, {"binary": _shown(binary.path), "module": binary.module, "go": binary.go}
    if name == "centripetal-redis-2w" and not has_workers_flag():
        return (
            f"this centripetal has no --workers flag (`python -m centripetal --help`), "
            f"so {WORKERS} worker processes cannot be started",
            {},
        )
    return None, {}


@dataclass
class Running:
    """A started system: endpoints for the load generator and the processes to stop."""

    name: str
    port: int
    pids: list[int]
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    workdir: str = ""
    # the client protocol spoken: ``centripetal`` for both engines and for Centrifugo, which
    # speaks the same protocol v2 (JSON) and server HTTP API
    kind: str = ""

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
        # worker processes (pids we did not spawn ourselves) go with their parent; one left
        # behind would skew the next system's figures
        started = {p.pid for p in self.procs}
        for pid in self.pids:
            if pid not in started:
                with contextlib.suppress(ProcessLookupError):  # already gone
                    os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.workdir, ignore_errors=True)


def _pin() -> None:
    if pinning_possible():
        os.sched_setaffinity(0, {SERVER_CPU})


def _spawn(
    argv: list[str], workdir: str, log: str, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
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


def _wait_workers(parent: int, procs: list[subprocess.Popen[bytes]]) -> list[int]:
    """The processes below a ``--workers`` parent, once :data:`WORKERS` of them exist (or
    what exists after :data:`WORKERS_WAIT_S`); at least one is required."""
    deadline = time.monotonic() + WORKERS_WAIT_S
    found = descendants(parent)
    while len(found) < WORKERS and time.monotonic() < deadline:
        time.sleep(0.1)
        found = descendants(parent)
    if not found:
        for proc in procs:
            proc.kill()
        raise RuntimeError(f"centripetal --workers {WORKERS} started no worker process")
    time.sleep(1.0)  # the last worker to appear may still be binding its socket
    return descendants(parent)


def start(name: str) -> Running:
    """Start one system on a free loopback port and wait until it accepts connections.

    :func:`prepare` must have returned no reason for ``name``.
    """
    if name not in SYSTEMS:
        raise ValueError(f"unknown system {name!r} (known: {', '.join(SYSTEMS)})")
    workdir = tempfile.mkdtemp(prefix=f"bench-{name}-")
    port = free_port()
    procs: list[subprocess.Popen[bytes]] = []
    kind = name
    with_redis = "redis" in name or name == "channels"
    redis_url = _start_redis(name, procs, workdir) if with_redis else ""
    cfg = os.path.join(workdir, "config.json")
    if name.startswith("centripetal"):
        kind = "centripetal"
        with open(cfg, "w") as fh:
            json.dump(centripetal_config(redis_url), fh)
        argv = [sys.executable, "-m", "centripetal", "-c", cfg, "-p", str(port)]
        argv += ["-a", "127.0.0.1"]
        if name == "centripetal-redis-2w":
            argv += ["--workers", str(WORKERS)]
        procs.append(_spawn(argv, workdir, "server.log"))
    elif name.startswith("centrifugo"):
        kind = "centripetal"
        binary = centrifugo_build.cached()
        if binary is None:
            raise RuntimeError(f"no Centrifugo {centrifugo_build.VERSION} binary: run prepare()")
        with open(cfg, "w") as fh:
            json.dump(centrifugo_config(port, redis_url), fh)
        env = dict(os.environ, GOMAXPROCS="1")  # one core, as the Python servers have
        procs.append(_spawn([binary.path, "-c", cfg], workdir, "server.log", env))
    elif name == "floor":
        argv = [sys.executable, "-m", "bench.floor_server", str(port)]
        procs.append(_spawn(argv, workdir, "server.log"))
    else:  # channels
        env = dict(os.environ, BENCH_REDIS_URL=redis_url)
        env["DJANGO_SETTINGS_MODULE"] = "bench.channels_app.settings"
        argv = [sys.executable, "-m", "uvicorn", "bench.channels_app.asgi:application"]
        argv += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
        argv += ["--ws-per-message-deflate", "false", "--log-level", "warning"]
        argv += ["--loop", "uvloop", "--http", "httptools"]
        procs.append(_spawn(argv, workdir, "uvicorn.log", env))
    _wait_port(port, procs, workdir)
    pids = [p.pid for p in procs]
    if name == "centripetal-redis-2w":
        pids += _wait_workers(procs[-1].pid, procs)
    return Running(name, port, pids, procs, workdir, kind)
