"""Engine contract fixtures: every test here runs against each engine implementation (EN-01).

Engines: ``memory``, ``redis`` (one real redis-server), ``redis-sharded`` (two real
redis-servers, EN-04), ``redis-lists`` (one redis-server, list history and presence user
mapping: HR-15, PR-05) and ``redis-cluster`` (a real 3-master Redis Cluster, hash-tagged keys,
EN-06). The servers are started once per session and stopped by their pid; a missing
``redis-server`` fails under ``CI=true`` and skips elsewhere. ``redis_engine`` is the same
fixture over the Redis engines only.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

import pytest
from contract.engine_harness import ENGINE_FACTORIES, EngineHarness
from contract.redis_harness import REDIS_ENGINES, redis_harness
from support.redis import RedisServer, running_cluster


@pytest.fixture(scope="session")
def contract_redis_servers() -> Iterator[list[RedisServer]]:
    servers: list[RedisServer] = []
    try:
        for _ in range(2):
            servers.append(RedisServer().start())
        yield servers
    finally:
        for server in servers:
            server.cleanup()


@pytest.fixture(scope="session")
def contract_redis_cluster() -> Iterator[list[RedisServer]]:
    with running_cluster() as nodes:
        yield nodes


@contextlib.asynccontextmanager
async def _running(request: pytest.FixtureRequest, name: str) -> AsyncIterator[EngineHarness]:
    """The harness of engine ``name``, running (presence manager, then broker) until the
    block ends."""
    if name == "redis-cluster":
        nodes: list[RedisServer] = request.getfixturevalue("contract_redis_cluster")
        harness = await redis_harness(name, nodes)
    elif name in REDIS_ENGINES:
        servers: list[RedisServer] = request.getfixturevalue("contract_redis_servers")
        used = servers if name == "redis-sharded" else servers[:1]
        harness = await redis_harness(name, used)
    else:
        harness = await ENGINE_FACTORIES[name]()
    await harness.presence.run()
    await harness.broker.run()
    try:
        yield harness
    finally:
        await harness.broker.close()
        await harness.presence.close()


@pytest.fixture(params=[*sorted(ENGINE_FACTORIES), *REDIS_ENGINES])
async def engine(request: pytest.FixtureRequest) -> AsyncIterator[EngineHarness]:
    async with _running(request, request.param) as harness:
        yield harness


@pytest.fixture(params=REDIS_ENGINES)
async def redis_engine(request: pytest.FixtureRequest) -> AsyncIterator[EngineHarness]:
    async with _running(request, request.param) as harness:
        yield harness
