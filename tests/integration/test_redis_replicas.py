"""``replica_client.enabled``: presence reads served by a real replica found through Sentinel
or Redis Cluster; writes, PUB/SUB and history stay on the master (EN-03, PR-02, PR-05).

Which read went where is taken from each server's ``INFO commandstats``: scripts replicate as
their effects, so a script call counted on a replica was sent to it by us.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Iterator

import pytest
from contract.engine_harness import RecordingHandler
from support.redis import CLUSTER_NODE, RedisServer, cluster_port, redis_cli
from support.timing import scaled
from support.tools import require_tool

from centripetal.config import config_from_mapping
from centripetal.engines import create_engine
from centripetal.engines.base import ClientInfo, EngineError, HistoryFilter, PublishOptions
from centripetal.engines.redis import (
    RedisBroker,
    RedisPresenceManager,
    Shard,
    Timeouts,
    parse_address,
)


def wait(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + scaled(timeout)
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def calls(server: RedisServer, command: str) -> int:
    """How many times ``command`` succeeded on ``server`` (INFO commandstats; a NOSCRIPT
    answer counts as a failed call)."""
    for line in server.cli("INFO", "commandstats").splitlines():
        if line.startswith(f"cmdstat_{command}:"):
            stats = dict(kv.split("=") for kv in line.partition(":")[2].split(","))
            return int(stats["calls"]) - int(stats.get("failed_calls", "0"))
    return 0


def replica_of(master: RedisServer, extra: list[str] | None = None) -> RedisServer:
    args = ["--save", "", "--appendonly", "no", *(extra or [])]
    replica = RedisServer([*args, "--replicaof", "127.0.0.1", str(master.port)]).start()
    wait(
        lambda: "master_link_status:up" in replica.cli("INFO", "replication"),
        10,
        "the replica to sync",
    )
    return replica


TTL = 4.0  # presence_ttl of the Sentinel replica test: wide margins on a loaded machine


def engine_config(address: str, prefix: str, ttl: float = 60.0) -> object:
    return config_from_mapping(
        {
            "engine": {
                "type": "redis",
                "redis": {
                    "address": [address],
                    "prefix": prefix,
                    "presence_ttl": f"{ttl}s",
                    "presence_user_mapping": True,
                    "replica_client": {"enabled": True},
                },
            }
        }
    )


# -- Sentinel ------------------------------------------------------------------------------------


@pytest.fixture
def sentinel_set() -> Iterator[tuple[RedisServer, RedisServer, RedisServer]]:
    """A master, its replica (``--replicaof``) and a sentinel that reports both."""
    require_tool("redis-sentinel")
    servers: list[RedisServer] = []
    try:
        master = RedisServer().start()
        servers.append(master)
        replica = replica_of(master)
        servers.append(replica)
        conf = f"sentinel monitor mymaster 127.0.0.1 {master.port} 1\n"
        sentinel = RedisServer([], executable="redis-sentinel", config=conf).start()
        servers.append(sentinel)
        wait(
            lambda: str(replica.port) in sentinel.cli("SENTINEL", "REPLICAS", "mymaster"),
            15,
            "the sentinel to report the replica",
        )
        yield master, replica, sentinel
    finally:
        for server in reversed(servers):
            server.cleanup()


async def test_publishes_follow_a_sentinel_failover_en03(
    sentinel_set: tuple[RedisServer, RedisServer, RedisServer],
) -> None:
    """EN-03: after ``SENTINEL FAILOVER`` the old master answers ``READONLY``; the engine's
    connection is dropped on that reply and the next one goes to the new master, so publishes
    go on (at most the ones in flight at the switch fail) with offsets continuing there."""
    master, replica, sentinel = sentinel_set
    address = f"redis+sentinel://127.0.0.1:{sentinel.port}?sentinel_master_name=mymaster"
    broker = RedisBroker(
        [Shard(parse_address(address), Timeouts(connect=1.0, io=2.0))], prefix="fo"
    )
    broker.set_event_handler(RecordingHandler())
    await broker.run()
    opts = PublishOptions(history_size=100, history_ttl=300.0)
    try:
        first, _ = await broker.publish("ch", b"1", opts)
        assert first.offset == 1
        wait(
            lambda: replica.cli("INFO", "replication").count("master_link_status:up") == 1,
            15,
            "the replica to be in sync",
        )
        # refused (NOGOODSLAVE) until the sentinel has fresh INFO from the replica
        wait(
            lambda: "OK" in sentinel.cli("SENTINEL", "FAILOVER", "mymaster"),
            20,
            "the sentinel to accept the failover",
        )
        wait(
            lambda: (
                str(replica.port) in sentinel.cli("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster")
            ),
            20,
            "the sentinel to promote the replica",
        )
        wait(lambda: "role:slave" in master.cli("INFO", "replication"), 20, "the demotion")
        failures = 0
        offsets: list[int] = []
        deadline = time.monotonic() + scaled(20)
        while len(offsets) < 5 and time.monotonic() < deadline:
            try:
                pos, _ = await broker.publish("ch", b"n", opts)
                offsets.append(pos.offset)
            except EngineError:
                failures += 1
                await asyncio.sleep(0.1)
        assert offsets == [2, 3, 4, 5, 6]  # the history moved with the data to the new master
        assert failures <= 1
        assert int(replica.cli("XLEN", "fo.stream.ch")) == 6
    finally:
        await broker.close()


async def test_sentinel_presence_reads_from_replica_en03(
    sentinel_set: tuple[RedisServer, RedisServer, RedisServer], caplog: pytest.LogCaptureFixture
) -> None:
    """EN-03: presence and presence_stats run on the replica Sentinel reports, entries past
    their TTL are skipped there and dropped by the next add on the master; publish, history
    and PUB/SUB stay on the master."""
    master, replica, sentinel = sentinel_set
    prefix = f"t{uuid.uuid4().hex[:8]}"
    address = f"redis+sentinel://127.0.0.1:{sentinel.port}?sentinel_master_name=mymaster"
    with caplog.at_level(logging.WARNING):
        broker, pm = create_engine(engine_config(address, prefix, ttl=TTL))  # type: ignore[arg-type]
    assert caplog.records == []
    assert isinstance(pm, RedisPresenceManager) and isinstance(broker, RedisBroker)
    handler = RecordingHandler()
    broker.set_event_handler(handler)
    await pm.run()
    await broker.run()
    try:
        added_from = time.monotonic()
        await pm.add_presence("ch", "a", ClientInfo(user="u1", client="a"))
        added_by = time.monotonic()
        await pm.add_presence("ch", "b", ClientInfo(user="u2", client="b"))
        master.cli("WAIT", "1", "2000")
        before = (calls(replica, "evalsha"), calls(master, "evalsha"))
        assert sorted(await pm.presence("ch")) == ["a", "b"]
        stats = await pm.presence_stats("ch")
        assert (stats.num_clients, stats.num_users) == (2, 2)
        after = (calls(replica, "evalsha"), calls(master, "evalsha"))
        assert after == (before[0] + 2, before[1])  # both reads on the replica, none on master

        # refresh "b" well before "a" expires (an add drops only expired entries) ...
        await asyncio.sleep(max(0.0, added_from + TTL - 1.5 - time.monotonic()))
        await pm.add_presence("ch", "b", ClientInfo(user="u2", client="b"))
        assert time.monotonic() < added_from + TTL, "too slow to refresh before the expiry"
        # ... then until "a" expired: nothing dropped it on the master yet
        await asyncio.sleep(max(0.0, added_by + TTL + 0.3 - time.monotonic()))
        master.cli("WAIT", "1", "2000")
        assert sorted(master.cli("HKEYS", f"{prefix}.presence.data.ch").split()) == ["a", "b"]
        assert list(await pm.presence("ch")) == ["b"]
        stats = await pm.presence_stats("ch")
        assert (stats.num_clients, stats.num_users) == (1, 1)
        await pm.add_presence("ch", "c", ClientInfo(user="u3", client="c"))  # drops "a"
        assert sorted(master.cli("HKEYS", f"{prefix}.presence.data.ch").split()) == ["b", "c"]
        users = master.cli("HKEYS", f"{prefix}.presence.user.clients.ch").split()
        assert sorted(users) == ["u2", "u3"]

        await broker.subscribe("news")
        before_history = calls(replica, "evalsha")
        top, _ = await broker.publish("news", b"1", PublishOptions(history_size=5, history_ttl=60))
        res = await broker.history("news", HistoryFilter(limit=-1))
        assert [p.offset for p in res.publications] == [top.offset] == [1]
        assert calls(replica, "evalsha") == before_history
        assert [p.data for p in handler.publications()] == [b"1"]
        assert "news" in master.cli("PUBSUB", "CHANNELS", f"{prefix}.client.*")
        assert replica.cli("PUBSUB", "CHANNELS", f"{prefix}.*").strip() == ""
    finally:
        await broker.close()
        await pm.close()


# -- Redis Cluster -------------------------------------------------------------------------------


@pytest.fixture
def cluster_pair() -> Iterator[tuple[RedisServer, RedisServer]]:
    """A one-master Redis Cluster (all 16384 slots) with one replica."""
    require_tool("redis-cli")
    args = CLUSTER_NODE
    nodes: list[RedisServer] = []
    try:
        master = RedisServer(args, port=cluster_port()).start()
        nodes.append(master)
        replica = RedisServer(args, port=cluster_port()).start()
        nodes.append(replica)
        master.cli("CLUSTER", "ADDSLOTSRANGE", "0", "16383")
        replica.cli("CLUSTER", "MEET", "127.0.0.1", str(master.port))
        master_id = master.cli("CLUSTER", "MYID").strip()
        wait(lambda: master_id in replica.cli("CLUSTER", "NODES"), 10, "the cluster to meet")
        replica.cli("CLUSTER", "REPLICATE", master_id)
        wait(
            lambda: (
                "master_link_status:up" in replica.cli("INFO", "replication")
                and all("cluster_state:ok" in redis_cli(n.port, "CLUSTER", "INFO") for n in nodes)
            ),
            15,
            "the cluster replica to sync",
        )
        master.cli("SET", "warm-up", "1")  # CLUSTER SLOTS lists a replica once it has data
        wait(
            lambda: str(replica.port) in master.cli("CLUSTER", "SLOTS"),
            15,
            "CLUSTER SLOTS to list the replica",
        )
        yield master, replica
    finally:
        for node in reversed(nodes):
            node.cleanup()


async def test_cluster_presence_reads_from_replica_en03(
    cluster_pair: tuple[RedisServer, RedisServer],
) -> None:
    """EN-03/EN-06: in a Cluster the presence reads go to the slot's replica as ``EVAL_RO``
    (the only script call redis-py routes to replicas); adds stay on the master."""
    master, replica = cluster_pair
    prefix = f"t{uuid.uuid4().hex[:8]}"
    cfg = engine_config(f"redis+cluster://{master.address}", prefix)
    broker, pm = create_engine(cfg)  # type: ignore[arg-type]
    assert isinstance(pm, RedisPresenceManager)
    try:
        await pm.run()
        await pm.add_presence("ch", "a", ClientInfo(user="u1", client="a"))
        await pm.add_presence("ch", "b", ClientInfo(user="u1", client="b"))
        master.cli("WAIT", "1", "2000")
        assert calls(master, "evalsha") >= 2
        before = (calls(replica, "eval_ro"), calls(master, "eval_ro"))
        assert sorted(await pm.presence("ch")) == ["a", "b"]
        stats = await pm.presence_stats("ch")
        assert (stats.num_clients, stats.num_users) == (2, 1)
        assert (calls(replica, "eval_ro"), calls(master, "eval_ro")) == (before[0] + 2, 0)
        assert master.cli("HLEN", f"{prefix}.presence.data.{{ch}}").strip() == "2"
    finally:
        await broker.close()
        await pm.close()


# -- a single server address ---------------------------------------------------------------------


async def test_single_address_keeps_reads_on_master_with_warning_en03(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """EN-03: a plain address cannot lead to its replicas; the option is named in a warning
    and reads stay on the master."""
    with RedisServer() as master:
        prefix = f"t{uuid.uuid4().hex[:8]}"
        with caplog.at_level(logging.WARNING):
            broker, pm = create_engine(engine_config(master.address, prefix))  # type: ignore[arg-type]
        assert [r.getMessage() for r in caplog.records] == [
            f"engine.redis.replica_client.enabled: {master.address} is a single server "
            "address; replicas are found only through Sentinel or Redis Cluster, so presence "
            "reads stay on the master"
        ]
        assert isinstance(pm, RedisPresenceManager) and not pm.layout.replica_reads
        try:
            await pm.add_presence("ch", "a", ClientInfo(user="u1", client="a"))
            before = calls(master, "evalsha")
            assert list(await pm.presence("ch")) == ["a"]
            assert calls(master, "evalsha") == before + 1
        finally:
            await broker.close()
            await pm.close()
