"""Engine contract fixtures: every test here runs against each engine implementation (EN-01).

Engines: ``memory``, ``redis`` (one real redis-server), ``redis-sharded`` (two real
redis-servers, EN-04) and ``redis-lists`` (one redis-server, list history and presence user
mapping: HR-15, PR-05). The servers are started once per session and stopped by their pid; a
missing ``redis-server`` fails under ``CI=true`` and skips elsewhere.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from contract.engine_harness import ENGINE_FACTORIES, EngineHarness
from contract.redis_harness import REDIS_ENGINES, redis_harness
from support.redis import RedisServer


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


@pytest.fixture(params=[*sorted(ENGINE_FACTORIES), *REDIS_ENGINES])
async def engine(request: pytest.FixtureRequest) -> AsyncIterator[EngineHarness]:
    if request.param in REDIS_ENGINES:
        servers: list[RedisServer] = request.getfixturevalue("contract_redis_servers")
        used = servers if request.param == "redis-sharded" else servers[:1]
        harness = await redis_harness(request.param, used)
    else:
        harness = await ENGINE_FACTORIES[request.param]()
    await harness.presence.run()
    await harness.broker.run()
    try:
        yield harness
    finally:
        await harness.broker.close()
        await harness.presence.close()
