"""Helpers for servers started with ``--workers N`` (docs/scaling.md).

With several workers on one port the kernel picks the worker of each new TCP connection, so a
test tells the workers apart through the server API: ``info`` answers with the node that
serves the request first (``Cluster.all_nodes``), with its own counts fresh. A
:class:`WorkerPeer` is one keep-alive HTTP connection, bound to one worker for its life, that
knows which worker that is.
"""

from __future__ import annotations

import http.client
import json
import re
import sys
import time
from collections.abc import Iterable
from typing import Any

from support.server import ServerProcess
from support.timing import scaled

__all__ = ["PinnedServer", "WorkerPeer", "peers_for", "wait_for_workers", "worker_pids"]


class WorkerPeer:
    """One kept-alive HTTP/1.1 connection to ``host:port``; ``uid`` / ``name`` are those of
    the worker that accepted it."""

    def __init__(self, host: str, port: int) -> None:
        self.conn = http.client.HTTPConnection(host, port, timeout=scaled(5))
        self.conn.connect()
        self._sock = self.conn.sock
        nodes = self.api("info")["nodes"]
        self.uid: str = nodes[0]["uid"]
        self.name: str = nodes[0]["name"]

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        self.conn.request(method, path, body=data, headers=headers)
        resp = self.conn.getresponse()
        payload = resp.read()
        assert self.conn.sock is self._sock, "the connection was re-opened: another worker"
        return resp.status, payload

    def api(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Call the server API on this worker; return ``result`` (assert no error)."""
        status, payload = self.request("POST", f"/api/{method}", params or {})
        assert status == 200, (status, payload)
        reply: dict[str, Any] = json.loads(payload)
        assert "error" not in reply, reply
        result: dict[str, Any] = reply.get("result", {})
        return result

    def local(self) -> dict[str, Any]:
        """This worker's own node entry from ``info`` (counts are fresh)."""
        node: dict[str, Any] = self.api("info")["nodes"][0]
        assert node["uid"] == self.uid
        return node

    def close(self) -> None:
        self.conn.close()


def peers_for(host: str, port: int, uids: Iterable[str], tries: int = 64) -> dict[str, WorkerPeer]:
    """A peer bound to each worker in ``uids`` (new connections until every one is met)."""
    wanted = set(uids)
    found: dict[str, WorkerPeer] = {}
    for _ in range(tries):
        peer = WorkerPeer(host, port)
        if peer.uid in wanted and peer.uid not in found:
            found[peer.uid] = peer
            if len(found) == len(wanted):
                return found
        else:
            peer.close()
    raise AssertionError(f"{tries} connections met only {sorted(found)} of {sorted(wanted)}")


def wait_for_workers(server: ServerProcess, count: int, timeout: float = 30.0) -> list[str]:
    """Wait until ``count`` workers serve and each lists exactly ``count`` nodes (node info
    goes out every 3 s, EN-10); return their uids."""
    seen: dict[str, int] = {}
    deadline = time.monotonic() + scaled(timeout)
    while time.monotonic() < deadline:
        peer = WorkerPeer(server.host, server.port)
        seen[peer.uid] = len(peer.api("info")["nodes"])
        peer.close()
        if len(seen) == count and all(n == count for n in seen.values()):
            return sorted(seen)
        if len(seen) > count:  # a replaced worker: forget what we knew
            seen = {}
        time.sleep(0.05)
    raise AssertionError(server.describe(f"never {count} workers each listing {count}: {seen}"))


_STARTED = re.compile(r"worker (\d+) started \(pid (\d+)\)")


def worker_pids(server: ServerProcess) -> dict[int, int]:
    """Worker number -> pid of its latest process, from the supervisor's log."""
    return {int(m[1]): int(m[2]) for m in _STARTED.finditer(server.log_text())}


class PinnedServer(ServerProcess):
    """A server started with its CPU affinity set to ``cpus`` (so ``--workers auto`` has a
    known answer on any machine)."""

    def __init__(self, *args: Any, cpus: Iterable[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cpus = sorted(cpus)

    @property
    def command(self) -> list[str]:
        pin = (
            f"import os, sys; os.sched_setaffinity(0, {self.cpus!r}); "
            "os.execv(sys.executable, [sys.executable] + sys.argv[1:])"
        )
        return [sys.executable, "-c", pin, *super().command[1:]]
