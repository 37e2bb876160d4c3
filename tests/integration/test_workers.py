"""``centripetal --workers N`` on one port (docs/scaling.md; EN-10, EN-11, SV-02, SV-15, D-3001).

Two workers on a real Redis, and on a real NATS broker (with Redis presence), behave as one
server: connections land on both (each worker's own ``num_clients``), a publication reaches
every client, presence and history answer the same on both, an emulation request that lands
on the other worker is routed, a SIGKILLed worker is replaced and serves again, SIGTERM closes
every client with 3001 and the parent exits 0. The memory engine is refused; ``auto`` is the
CPU count; ``CENTRIPETAL_WORKERS`` works; the internal port is served by every worker.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from support.nats import NatsServer
from support.redis import RedisServer
from support.server import ServerFactory, ServerProcess
from support.timing import scaled
from support.tokens import connection_token
from support.workers import PinnedServer, WorkerPeer, peers_for, wait_for_workers, worker_pids
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

SECRET = "workers-secret-0123456789abcdef0123456789"
CLIENTS = 20


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


def redis_config(redis: RedisServer) -> dict[str, Any]:
    return {
        "client": {"token": {"hmac_secret_key": SECRET}},
        "http_api": {"insecure": True},
        "engine": {"type": "redis", "redis": {"address": [redis.url], "prefix": "wk"}},
        "http_stream": {"enabled": True},
        "channel": {
            "without_namespace": {
                "presence": True,
                "history_size": 10,
                "history_ttl": "300s",
                "allow_subscribe_for_client": True,
                "allow_publish_for_client": True,
                "allow_presence_for_subscriber": True,
                "allow_history_for_subscriber": True,
            }
        },
    }


def nats_config(nats: NatsServer, redis: RedisServer) -> dict[str, Any]:
    """NATS PUB/SUB between the workers, presence in Redis (EN-07, EN-08)."""
    config = redis_config(redis)
    del config["engine"]
    config["broker"] = {"enabled": True, "type": "nats", "nats": {"url": nats.url}}
    config["presence_manager"] = {
        "enabled": True,
        "type": "redis",
        "redis": {"address": [redis.url], "prefix": "wkn"},
    }
    return config


def start_workers(
    factory: ServerFactory, config: dict[str, Any], count: int = 2, **kw: Any
) -> tuple[ServerProcess, list[str]]:
    server = factory(config, extra_args=("--workers", str(count)), **kw)
    return server, wait_for_workers(server, count)


async def subscriber(server: ServerProcess, user: str, channel: str) -> ClientConnection:
    """A raw JSON-protocol WebSocket client, connected and subscribed to ``channel``."""
    ws = await ws_connect(server.ws_url())
    await ws.send(json.dumps({"id": 1, "connect": {"token": connection_token(SECRET, user)}}))
    await ws.send(json.dumps({"id": 2, "subscribe": {"channel": channel}}))
    replies: dict[int, Any] = {}
    while len(replies) < 2:
        for line in str(await asyncio.wait_for(ws.recv(), scaled(5))).split("\n"):
            msg = json.loads(line)
            replies[msg["id"]] = msg
    assert "connect" in replies[1] and "subscribe" in replies[2], replies
    return ws


async def next_push(ws: ClientConnection) -> dict[str, Any]:
    while True:
        for line in str(await asyncio.wait_for(ws.recv(), scaled(5))).split("\n"):
            msg = json.loads(line)
            if "push" in msg:
                push: dict[str, Any] = msg["push"]
                return push


def local_counts(peers: dict[str, WorkerPeer]) -> dict[str, int]:
    """Worker name -> its own num_clients."""
    return {p.name: p.local()["num_clients"] for p in peers.values()}


@pytest.fixture(params=["redis", "nats"])
def shared_config(request: pytest.FixtureRequest, redis_server: RedisServer) -> dict[str, Any]:
    if request.param == "redis":
        return redis_config(redis_server)
    nats = NatsServer().start()
    request.addfinalizer(nats.stop)
    return nats_config(nats, redis_server)


async def test_two_workers_act_as_one_server(
    server_factory: ServerFactory, shared_config: dict[str, Any]
) -> None:
    """EN-10 / EN-11: ``info`` lists both workers under distinct names; clients spread over
    both; one publication reaches all; presence and history agree on both workers."""
    server, uids = start_workers(server_factory, shared_config)
    peers = peers_for(server.host, server.port, uids)
    names = sorted(p.name for p in peers.values())
    assert names == [f"{socket.gethostname()}_{server.port}_{i}" for i in (1, 2)]
    clients = [await subscriber(server, f"u{i}", "news") for i in range(CLIENTS)]
    try:
        counts = local_counts(peers)
        print(f"connections per worker: {counts}")
        assert sum(counts.values()) == CLIENTS and min(counts.values()) >= 1, counts
        publisher = next(iter(peers.values()))
        publisher.api("publish", {"channel": "news", "data": {"n": 1}})
        pushes = [await next_push(ws) for ws in clients]
        assert [p["pub"]["data"] for p in pushes] == [{"n": 1}] * CLIENTS
        presences = [p.api("presence", {"channel": "news"})["presence"] for p in peers.values()]
        assert presences[0] == presences[1]
        assert sorted(c["user"] for c in presences[0].values()) == sorted(
            f"u{i}" for i in range(CLIENTS)
        )
        stats = [p.api("presence_stats", {"channel": "news"}) for p in peers.values()]
        assert stats == [{"num_clients": CLIENTS, "num_users": CLIENTS}] * 2
        if "engine" in shared_config:  # Redis streams: the same history from both workers
            history = [p.api("history", {"channel": "news", "limit": 10}) for p in peers.values()]
            assert history[0] == history[1]
            assert [(x["offset"], x["data"]) for x in history[0]["publications"]] == [(1, {"n": 1})]
        else:  # NATS keeps no history: both workers say so (E-108, EN-08)
            for p in peers.values():
                status, body = p.request("POST", "/api/history", {"channel": "news"})
                assert status == 200 and json.loads(body)["error"]["code"] == 108
        channels = [p.api("channels")["channels"] for p in peers.values()]
        assert channels[0] == channels[1] == {"news": {"num_clients": CLIENTS}}
        twins = await clients_on_both_workers(server, peers, "twin")
        publisher.api("disconnect", {"user": "twin", "disconnect": {"code": 4321, "reason": "x"}})
        for ws in twins:  # API-14 / EN-10: the command reached the user on both workers
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(ws.recv(), scaled(5))
            assert closed.value.rcvd is not None
            assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4321, "x")
    finally:
        for ws in clients:
            await ws.close()


async def clients_on_both_workers(
    server: ServerProcess, peers: dict[str, WorkerPeer], user: str
) -> list[ClientConnection]:
    """Connections of ``user``, one held by each worker (the extra ones are closed)."""
    kept: list[ClientConnection] = []
    held: set[str] = set()
    for _ in range(64):
        base = local_counts(peers)
        ws = await subscriber(server, user, "twins")
        now = local_counts(peers)
        (grown,) = [name for name in now if now[name] > base[name]]
        if grown not in held:
            held.add(grown)
            kept.append(ws)
            if len(held) == len(peers):
                return kept
            continue
        await ws.close()
        deadline = time.monotonic() + scaled(5)
        while local_counts(peers) != base:  # the worker saw the close
            assert time.monotonic() < deadline, "a closed connection was never unregistered"
            await asyncio.sleep(0.02)
    raise AssertionError(f"64 connections of {user} never reached every worker: {held}")


async def test_emulation_request_on_the_other_worker_is_routed(
    server_factory: ServerFactory, redis_server: RedisServer
) -> None:
    """TR-04 / EN-10: the http_stream session lives on one worker; the ``/emulation`` POST
    goes over a connection held by the other worker, which routes it."""
    server, uids = start_workers(server_factory, redis_config(redis_server))
    async with aiohttp.ClientSession() as http:
        resp = await http.post(
            f"{server.http_url}/connection/http_stream",
            data=json.dumps({"id": 1, "connect": {"token": connection_token(SECRET, "roamer")}}),
        )
        connect = json.loads(await asyncio.wait_for(resp.content.readline(), scaled(5)))
        owner = connect["connect"]["node"]
        assert owner in uids
        (other_uid,) = set(uids) - {owner}
        other = peers_for(server.host, server.port, [other_uid])[other_uid]
        data = json.dumps({"id": 2, "subscribe": {"channel": "roam"}})
        body = {"node": owner, "session": connect["connect"]["session"], "data": data}
        status, _ = other.request("POST", "/emulation", body)
        assert status == 204
        reply = json.loads(await asyncio.wait_for(resp.content.readline(), scaled(5)))
        assert reply["id"] == 2 and "subscribe" in reply
        other.api("publish", {"channel": "roam", "data": {"via": "other worker"}})
        push = json.loads(await asyncio.wait_for(resp.content.readline(), scaled(5)))
        assert push["push"]["pub"]["data"] == {"via": "other worker"}
        resp.close()


async def test_killed_worker_is_replaced_and_serves_again(
    server_factory: ServerFactory, redis_server: RedisServer
) -> None:
    """A worker killed with SIGKILL is logged and restarted in its slot (same name, new
    uid); the replacement serves clients that get publications from the other worker."""
    server, uids = start_workers(server_factory, redis_config(redis_server))
    peers = peers_for(server.host, server.port, uids)
    by_name = {p.name.rsplit("_", 1)[1]: p for p in peers.values()}
    pids = worker_pids(server)
    assert sorted(pids) == [1, 2] and server.pid not in pids.values()
    os.kill(pids[2], signal.SIGKILL)
    deadline = time.monotonic() + scaled(20)
    while True:
        replacement = worker_pids(server)[2]
        if replacement != pids[2] and f"worker 2 (pid {replacement}) is serving" in (
            server.log_text()
        ):
            break
        assert time.monotonic() < deadline, server.describe("worker 2 was not replaced")
        await asyncio.sleep(0.05)
    log = server.log_text()
    assert f"worker 2 (pid {pids[2]}) was killed by SIGKILL after" in log
    assert "restarting it in 0.0s" in log
    assert server.running and worker_pids(server)[1] == pids[1]
    fresh = peer_named(server, by_name["2"].name)
    assert fresh.uid not in uids  # a new node in the same slot (EN-11: uid per start)
    survivor = by_name["1"]  # its kept-alive connection outlived worker 2
    clients = []
    try:
        for i in range(64):  # connect until one lands on the replacement
            clients.append(await subscriber(server, f"r{i}", "after"))
            if fresh.local()["num_clients"] >= 1:
                break
        assert fresh.local()["num_clients"] == 1, server.describe(f"pid {replacement} idle")
        survivor.api("publish", {"channel": "after", "data": "hello"})
        pushes = [await next_push(ws) for ws in clients]
        assert [p["pub"]["data"] for p in pushes] == ["hello"] * len(clients)
    finally:
        for ws in clients:
            await ws.close()


def peer_named(server: ServerProcess, name: str, tries: int = 64) -> WorkerPeer:
    """A connection held by the worker called ``name``."""
    for _ in range(tries):
        peer = WorkerPeer(server.host, server.port)
        if peer.name == name:
            return peer
        peer.close()
    raise AssertionError(server.describe(f"{tries} connections never reached {name}"))


async def test_sigterm_stops_every_worker_with_3001_and_parent_exits_0(
    server_factory: ServerFactory, redis_server: RedisServer, tmp_path: Path
) -> None:
    """SV-02 / D-3001: SIGHUP is passed on (each worker logs that it cannot reload and keeps
    serving); SIGTERM to the parent reaches every worker, every client on either worker gets
    3001, the parent exits 0; the pid file holds the parent's pid."""
    pid_file = tmp_path / "centripetal.pid"
    config = {**redis_config(redis_server), "pid_file": str(pid_file)}
    config["shutdown"] = {"timeout": "5s"}
    server, uids = start_workers(server_factory, config)
    assert pid_file.read_text() == str(server.pid)
    peers = peers_for(server.host, server.port, uids)
    clients = [await subscriber(server, f"s{i}", "bye") for i in range(CLIENTS)]
    counts = local_counts(peers)
    assert min(counts.values()) >= 1, counts
    pids = worker_pids(server)
    assert server.pid is not None
    os.kill(server.pid, signal.SIGHUP)  # passed on: every worker says it cannot reload
    deadline = time.monotonic() + scaled(10)
    while server.log_text().count("SIGHUP: reloading the configuration is not supported") < 2:
        assert time.monotonic() < deadline, server.describe("SIGHUP not passed on")
        await asyncio.sleep(0.05)
    assert "SIGHUP: passed on to 2 workers" in server.log_text()
    assert worker_pids(server) == pids and local_counts(peers) == counts  # nobody left
    for peer in peers.values():
        peer.close()
    stopping = asyncio.get_running_loop().run_in_executor(None, server.stop, 15)
    codes = []
    for ws in clients:
        with pytest.raises(ConnectionClosed) as info:
            while True:
                await asyncio.wait_for(ws.recv(), scaled(10))
        assert info.value.rcvd is not None
        codes.append((info.value.rcvd.code, info.value.rcvd.reason))
    assert codes == [(3001, "shutdown")] * CLIENTS
    assert await stopping == 0, server.describe("parent exit code")
    for pid in pids.values():
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    log = server.log_text()
    assert "SIGTERM: stopping 2 workers" in log
    assert "worker 1 (pid" in log and "worker 2 (pid" in log and "exited with code 0" in log


async def test_internal_port_is_served_by_every_worker(
    server_factory: ServerFactory, redis_server: RedisServer
) -> None:
    """SV-01: ``http_server.internal_port`` (the API) listens in every worker too."""
    internal = socket.socket()
    internal.bind(("127.0.0.1", 0))
    internal_port = internal.getsockname()[1]
    internal.close()
    config = redis_config(redis_server)
    config["http_server"] = {"internal_port": internal_port}
    server = server_factory(config, extra_args=("--workers", "2"))
    deadline = time.monotonic() + scaled(20)
    seen: dict[str, int] = {}
    while not (len(seen) == 2 and all(n == 2 for n in seen.values())):
        assert time.monotonic() < deadline, server.describe(f"internal port: {seen}")
        peer = WorkerPeer(server.host, internal_port)
        seen[peer.uid] = len(peer.api("info")["nodes"])
        peer.close()
        await asyncio.sleep(0.05)
    status, _, _ = server.http_get("/api/info")
    assert status == 404  # the API moved to the internal port


def test_memory_engine_is_refused(tmp_path: Path) -> None:
    """N > 1 with the memory engine: exit 1 and a message naming Redis and NATS."""
    (tmp_path / "config.json").write_text(json.dumps({"client": {"insecure": True}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CENTRIFUGO_")}
    done = subprocess.run(
        [sys.executable, "-m", "centripetal", "--workers", "2", "-p", "0"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=scaled(30),
    )
    assert done.returncode == 1
    assert done.stdout.startswith("error: 2 workers need an engine shared between processes")
    assert "engine.type redis" in done.stdout and "broker.type nats" in done.stdout


def test_env_workers_and_auto_cpu_count(
    server_factory: ServerFactory, redis_server: RedisServer, tmp_path: Path
) -> None:
    """``CENTRIPETAL_WORKERS=auto`` runs one worker per CPU the process may use: started with
    its affinity set to two CPUs (one on a one-CPU machine), the server has that many."""
    cpus = sorted(os.sched_getaffinity(0))[:2]
    server = PinnedServer(
        redis_config(redis_server),
        cpus=cpus,
        env={"CENTRIPETAL_WORKERS": "auto"},
        workdir=tmp_path / "auto",
    )
    with server:
        if len(cpus) == 1:  # one worker: the single-process server, no supervisor
            assert "starting" not in server.log_text()
        else:
            assert wait_for_workers(server, len(cpus))
            assert f"starting {len(cpus)} workers on port {server.port}" in server.log_text()
    env_server = server_factory(redis_config(redis_server), env={"CENTRIPETAL_WORKERS": "2"})
    assert len(wait_for_workers(env_server, 2)) == 2


async def test_nats_with_memory_presence_warns(
    server_factory: ServerFactory, redis_server: RedisServer
) -> None:
    """Presence in memory is per worker: the supervisor says so at startup."""
    nats = NatsServer().start()
    try:
        config = nats_config(nats, redis_server)
        del config["presence_manager"]
        server, _ = start_workers(server_factory, config)
        assert "presence_manager: presence is kept in memory, per worker" in server.log_text()
    finally:
        nats.stop()
