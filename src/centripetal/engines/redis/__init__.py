"""The Redis engine: broker and presence manager over one or more Redis shards (EN-03..EN-06).

``create_redis_engine(config)`` builds both from ``engine.redis`` (v6 keys; v3 keys arrive here
translated by the config loader, EN-05).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from centripetal.engines.redis.addresses import ShardAddress, parse_address, shard_addresses
from centripetal.engines.redis.broker import RedisBroker
from centripetal.engines.redis.presence import RedisPresenceManager
from centripetal.engines.redis.sharding import Shard, Timeouts, jump_hash, shard_index

if TYPE_CHECKING:
    from centripetal.config import schema

__all__ = [
    "RedisBroker",
    "RedisPresenceManager",
    "Shard",
    "ShardAddress",
    "Timeouts",
    "build_shards",
    "create_redis_engine",
    "jump_hash",
    "parse_address",
    "shard_addresses",
    "shard_index",
]


def build_shards(redis_cfg: schema.RedisEngine) -> list[Shard]:
    """One :class:`Shard` (with its own connection pool) per configured address (EN-04)."""
    timeouts = Timeouts(connect=redis_cfg.connect_timeout, io=redis_cfg.io_timeout)
    return [
        Shard(address, timeouts, redis_cfg.client_name) for address in shard_addresses(redis_cfg)
    ]


def create_redis_engine(config: schema.Config) -> tuple[RedisBroker, RedisPresenceManager]:
    """Build the Redis broker and presence manager for ``engine.type: redis`` (EN-03)."""
    redis_cfg = config.engine.redis
    broker = RedisBroker(
        build_shards(redis_cfg),
        prefix=redis_cfg.prefix,
        io_timeout=redis_cfg.io_timeout,
        history_meta_ttl=config.channel.history_meta_ttl,
    )
    presence = RedisPresenceManager(
        build_shards(redis_cfg),
        prefix=redis_cfg.prefix,
        presence_ttl=redis_cfg.presence_ttl,
        io_timeout=redis_cfg.io_timeout,
        close_shards=True,
    )
    return broker, presence
