"""Redis presence layouts (PR-05, PR-02, EN-03): the per-user mapping that makes
``presence_stats`` two counters, and hash field TTL, refused at start on a Redis older than
7.4 and exercised on a newer one."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterator

import pytest
import redis
from support.redis import RedisServer, hash_field_ttl_server

from centripetal.config import config_from_mapping
from centripetal.engines import create_engine
from centripetal.engines.base import ClientInfo, EngineError
from centripetal.engines.redis import (
    PresenceLayout,
    RedisPresenceManager,
    Shard,
    Timeouts,
    parse_address,
)
from centripetal.server import serve

FAST = Timeouts(connect=0.5, io=1.0)


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
def hfe_server() -> Iterator[RedisServer]:
    with RedisServer(executable=hash_field_ttl_server()) as server:
        yield server


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


def manager(
    server: RedisServer, prefix: str, ttl: float = 60.0, **layout: bool
) -> RedisPresenceManager:
    return RedisPresenceManager(
        [Shard(parse_address(server.address), FAST)],
        prefix=prefix,
        presence_ttl=ttl,
        close_shards=True,
        layout=PresenceLayout(**layout),
    )


def hash_of(server: RedisServer, key: str) -> dict[str, str]:
    with redis.Redis(port=server.port, decode_responses=True) as raw:
        return raw.hgetall(key)


# -- presence_user_mapping ---------------------------------------------------------------------


async def test_user_mapping_keys_and_counts_pr05(redis_server: RedisServer, prefix: str) -> None:
    """PR-05: ``presence.user.clients`` counts each user's client ids and
    ``presence.user.expire`` holds each user's expiry; stats read those two (PR-02)."""
    pm = manager(redis_server, prefix, user_mapping=True)
    try:
        for cid, user in [("a", "u1"), ("b", "u1"), ("c", "u2"), ("d", "")]:
            await pm.add_presence("ch", cid, ClientInfo(user=user, client=cid))
        await pm.add_presence("ch", "a", ClientInfo(user="u1", client="a"))  # refresh: no count
        keys = sorted(redis_server.cli("KEYS", f"{prefix}.*").split())
        assert keys == [
            f"{prefix}.presence.data.ch",
            f"{prefix}.presence.expire.ch",
            f"{prefix}.presence.user.clients.ch",
            f"{prefix}.presence.user.expire.ch",
        ]
        assert hash_of(redis_server, f"{prefix}.presence.user.clients.ch") == {
            "u1": "2",
            "u2": "1",
            "": "1",
        }
        users = redis_server.cli("ZRANGE", f"{prefix}.presence.user.expire.ch", "0", "-1")
        assert sorted(users.splitlines()) == ["", "u1", "u2"]
        stats = await pm.presence_stats("ch")
        assert (stats.num_clients, stats.num_users) == (4, 3)
        await pm.remove_presence("ch", "a", "u1")
        await pm.remove_presence("ch", "c", "u2")
        await pm.remove_presence("ch", "c", "u2")  # a second remove changes nothing
        assert hash_of(redis_server, f"{prefix}.presence.user.clients.ch") == {"u1": "1", "": "1"}
        users = redis_server.cli("ZRANGE", f"{prefix}.presence.user.expire.ch", "0", "-1")
        assert sorted(users.splitlines()) == ["", "u1"]
        stats = await pm.presence_stats("ch")
        assert (stats.num_clients, stats.num_users) == (2, 2)
        assert sorted(await pm.presence("ch")) == ["b", "d"]
    finally:
        await pm.close()


async def test_user_mapping_expires_with_its_clients_pr01(
    redis_server: RedisServer, prefix: str
) -> None:
    """PR-01: a user whose clients all stopped refreshing drops out of the stats once
    ``presence_ttl`` passed; stats drop the expired entries from both hashes."""
    pm = manager(redis_server, prefix, ttl=1.0, user_mapping=True)
    try:
        await pm.add_presence("ch", "a", ClientInfo(user="u1", client="a"))
        await pm.add_presence("ch", "b", ClientInfo(user="u2", client="b"))
        await asyncio.sleep(0.6)
        await pm.add_presence("ch", "b", ClientInfo(user="u2", client="b"))
        await asyncio.sleep(0.6)
        stats = await pm.presence_stats("ch")
        assert (stats.num_clients, stats.num_users) == (1, 1)
        assert hash_of(redis_server, f"{prefix}.presence.user.clients.ch") == {"u2": "1"}
        assert redis_server.cli("HKEYS", f"{prefix}.presence.data.ch").split() == ["b"]
    finally:
        await pm.close()


async def test_user_mapping_from_config_en03(
    redis_server: RedisServer, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """EN-03/EN-07: ``presence_manager.redis.presence_user_mapping`` is honoured by the
    presence manager; in ``broker.redis`` it is named as having no effect."""
    section = {"address": [redis_server.address], "prefix": prefix, "presence_user_mapping": True}
    cfg = config_from_mapping(
        {
            "engine": {"type": "memory"},
            "broker": {"enabled": True, "type": "redis", "redis": section},
            "presence_manager": {"enabled": True, "type": "redis", "redis": section},
        }
    )
    with caplog.at_level(logging.WARNING):
        broker, presence = create_engine(cfg)
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "broker.redis.presence_user_mapping is set but this section does not configure the "
        "presence manager; it has no effect"
    ]
    assert isinstance(presence, RedisPresenceManager) and presence.layout.user_mapping
    assert presence.layout.key == "presence_manager.redis"
    try:
        await presence.add_presence("ch", "a", ClientInfo(user="u", client="a"))
        assert hash_of(redis_server, f"{prefix}.presence.user.clients.ch") == {"u": "1"}
    finally:
        await broker.close()
        await presence.close()


# -- presence_hash_field_ttl ---------------------------------------------------------------------


def redis_version(server: RedisServer) -> str:
    for line in server.cli("INFO", "server").splitlines():
        if line.startswith("redis_version:"):
            return line.partition(":")[2].strip()
    raise AssertionError("no redis_version in INFO")


async def test_hash_field_ttl_refused_on_old_redis_en03(
    redis_server: RedisServer, prefix: str
) -> None:
    """EN-03/PR-05: on a Redis without HPEXPIRE the option refuses to start, naming the key,
    the required version and the server's; nothing is written."""
    version = redis_version(redis_server)
    if tuple(int(x) for x in version.split(".")[:2]) >= (7, 4):
        pytest.skip(f"the distribution's redis-server {version} has hash field TTL")
    cfg = config_from_mapping(
        {
            "engine": {"type": "memory"},
            "presence_manager": {
                "enabled": True,
                "type": "redis",
                "redis": {
                    "address": [redis_server.address],
                    "prefix": prefix,
                    "presence_hash_field_ttl": True,
                },
            },
        }
    )
    _, presence = create_engine(cfg)
    try:
        with pytest.raises(EngineError) as err:
            await presence.run()
    finally:
        await presence.close()
    assert str(err.value) == (
        "presence_manager.redis.presence_hash_field_ttl needs Redis >= 7.4 (hash field TTL, "
        f"HPEXPIRE); the server of shard {redis_server.address} runs Redis {version}: upgrade "
        "it or remove the option"
    )
    assert redis_server.cli("DBSIZE").strip() == "0"


async def test_server_exits_when_hash_field_ttl_cannot_be_honoured_en03(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """EN-03: ``serve`` logs the refusal and returns 1 before listening."""
    version = redis_version(redis_server)
    if tuple(int(x) for x in version.split(".")[:2]) >= (7, 4):
        pytest.skip(f"the distribution's redis-server {version} has hash field TTL")
    cfg = config_from_mapping(
        {
            "http_server": {"port": 0},
            "engine": {
                "type": "redis",
                "redis": {"address": [redis_server.address], "presence_hash_field_ttl": True},
            },
        }
    )
    with caplog.at_level(logging.ERROR):
        assert await serve(cfg) == 1
    assert "engine.redis.presence_hash_field_ttl needs Redis >= 7.4" in caplog.text


async def test_hash_field_ttl_layout_on_redis_74_pr05(hfe_server: RedisServer, prefix: str) -> None:
    """PR-05 with ``presence_hash_field_ttl`` (and the user mapping): no zsets, every hash
    field carries the presence TTL, an entry not refreshed disappears on its own."""
    pm = manager(hfe_server, prefix, ttl=1.0, user_mapping=True, hash_field_ttl=True)
    try:
        await pm.run()
        await pm.add_presence("ch", "a", ClientInfo(user="u1", client="a"))
        await pm.add_presence("ch", "b", ClientInfo(user="u2", client="b"))
        keys = sorted(hfe_server.cli("KEYS", f"{prefix}.*").split())
        assert keys == [f"{prefix}.presence.data.ch", f"{prefix}.presence.user.clients.ch"]
        ttls = hfe_server.cli("HPTTL", f"{prefix}.presence.data.ch", "FIELDS", "2", "a", "b")
        assert all(0 < int(ms) <= 1000 for ms in ttls.split())
        stats = await pm.presence_stats("ch")
        assert (stats.num_clients, stats.num_users) == (2, 2)
        await asyncio.sleep(0.6)
        await pm.add_presence("ch", "b", ClientInfo(user="u2", client="b"))
        await asyncio.sleep(0.6)
        assert list(await pm.presence("ch")) == ["b"]
        assert hfe_server.cli("HKEYS", f"{prefix}.presence.data.ch").split() == ["b"]
        assert hash_of(hfe_server, f"{prefix}.presence.user.clients.ch") == {"u2": "1"}
        stats = await pm.presence_stats("ch")
        assert (stats.num_clients, stats.num_users) == (1, 1)
        await pm.remove_presence("ch", "b", "u2")
        stats = await pm.presence_stats("ch")
        assert (stats.num_clients, stats.num_users) == (0, 0)
    finally:
        await pm.close()
