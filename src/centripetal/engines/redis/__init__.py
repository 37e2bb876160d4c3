"""The Redis engine: broker and presence manager over one or more Redis shards (EN-03..EN-06).

``create_redis_engine(config)`` builds both from ``engine.redis`` (v6 keys; v3 keys arrive here
translated by the config loader, EN-05).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from centripetal.engines.base import EngineError
from centripetal.engines.redis.addresses import (
    ShardAddress,
    ShardTLS,
    parse_address,
    shard_addresses,
    shard_tls,
)
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
    "ShardTLS",
    "Timeouts",
    "build_shards",
    "create_redis_engine",
    "jump_hash",
    "parse_address",
    "shard_addresses",
    "shard_index",
    "shard_tls",
]


def build_shards(redis_cfg: schema.RedisEngine, key: str = "engine.redis") -> list[Shard]:
    """One :class:`Shard` (with its own connection pool) per configured address (EN-04).

    ``key`` names the section in errors; TLS that cannot be honoured raises ``ConfigError``
    before anything connects (EN-03)."""
    timeouts = Timeouts(connect=redis_cfg.connect_timeout, io=redis_cfg.io_timeout)
    return [
        Shard(
            address,
            timeouts,
            redis_cfg.client_name,
            shard_tls(address, redis_cfg, key),
            sentinel_client_name=redis_cfg.sentinel_client_name,
        )
        for address in shard_addresses(redis_cfg)
    ]


logger = logging.getLogger("centripetal.engines.redis")

_UNUSED_OPTIONS = (
    "history_use_lists",
    "presence_hash_field_ttl",
    "presence_user_mapping",
    "force_resp2",
)


def _warn_unused(redis_cfg: schema.RedisEngine) -> None:
    """Options accepted for compatibility but not acted on: say so at startup, by key."""
    for key in _UNUSED_OPTIONS:
        if getattr(redis_cfg, key):
            logger.warning("engine.redis.%s is set but not supported; it has no effect", key)
    if redis_cfg.replica_client:
        logger.warning("engine.redis.replica_client is set but not supported; reads use masters")
    if redis_cfg.sentinel_tls.enabled:
        raise EngineError(
            "engine.redis.sentinel_tls: TLS to Sentinel is not supported; refusing to connect "
            "in plain text"
        )


def create_redis_engine(config: schema.Config) -> tuple[RedisBroker, RedisPresenceManager]:
    """Build the Redis broker and presence manager for ``engine.type: redis`` (EN-03)."""
    redis_cfg = config.engine.redis
    _warn_unused(redis_cfg)
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
