"""The Redis engine: broker and presence manager over one or more Redis shards (EN-03..EN-06).

``create_redis_broker`` and ``create_redis_presence`` build each half from a ``*.redis``
section (``engine.redis``, ``broker.redis``, ``presence_manager.redis``; v3 keys arrive
translated by the config loader, EN-05); ``options`` says which option each half honours.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from centripetal.engines.redis.addresses import (
    ShardAddress,
    ShardTLS,
    parse_address,
    shard_addresses,
    shard_tls,
)
from centripetal.engines.redis.broker import RedisBroker
from centripetal.engines.redis.options import PresenceLayout, warn_unused_half
from centripetal.engines.redis.presence import RedisPresenceManager
from centripetal.engines.redis.sharding import Shard, Timeouts, jump_hash, shard_index

if TYPE_CHECKING:
    from centripetal.config import schema

__all__ = [
    "PresenceLayout",
    "RedisBroker",
    "RedisPresenceManager",
    "Shard",
    "ShardAddress",
    "ShardTLS",
    "Timeouts",
    "build_shards",
    "create_redis_broker",
    "create_redis_engine",
    "create_redis_presence",
    "jump_hash",
    "parse_address",
    "shard_addresses",
    "shard_index",
    "shard_tls",
]


def build_shards(
    redis_cfg: schema.RedisEngine, key: str = "engine.redis", *, replica: bool = False
) -> list[Shard]:
    """One :class:`Shard` (with its own connection pool) per configured address (EN-04).

    ``key`` names the section in errors; TLS that cannot be honoured raises ``ConfigError``
    before anything connects (EN-03). ``force_resp2`` pins the protocol; ``replica`` adds the
    replica clients (``replica_client``)."""
    timeouts = Timeouts(connect=redis_cfg.connect_timeout, io=redis_cfg.io_timeout)
    return [
        Shard(
            address,
            timeouts,
            redis_cfg.client_name,
            shard_tls(address, redis_cfg, key),
            force_resp2=redis_cfg.force_resp2,
            replica=replica,
            sentinel_client_name=redis_cfg.sentinel_client_name,
        )
        for address in shard_addresses(redis_cfg)
    ]


def create_redis_broker(
    config: schema.Config, redis_cfg: schema.RedisEngine, key: str = "engine.redis"
) -> RedisBroker:
    """The broker half of section ``key`` (EN-03, HR-15 ``history_use_lists``)."""
    return RedisBroker(
        build_shards(redis_cfg, key),
        prefix=redis_cfg.prefix,
        io_timeout=redis_cfg.io_timeout,
        history_meta_ttl=config.channel.history_meta_ttl,
        use_lists=redis_cfg.history_use_lists,
    )


def create_redis_presence(
    redis_cfg: schema.RedisEngine, key: str = "engine.redis"
) -> RedisPresenceManager:
    """The presence half of section ``key`` (PR-05, EN-03 ``replica_client``)."""
    layout = PresenceLayout.from_config(redis_cfg, key, shard_addresses(redis_cfg))
    return RedisPresenceManager(
        build_shards(redis_cfg, key, replica=layout.replica_reads),
        prefix=redis_cfg.prefix,
        presence_ttl=redis_cfg.presence_ttl,
        io_timeout=redis_cfg.io_timeout,
        close_shards=True,
        layout=layout,
    )


def create_redis_engine(config: schema.Config) -> tuple[RedisBroker, RedisPresenceManager]:
    """Both halves from ``engine.redis`` for ``engine.type: redis`` (EN-03)."""
    redis_cfg = config.engine.redis
    warn_unused_half(redis_cfg, "engine.redis", broker=True, presence=True)
    presence = create_redis_presence(redis_cfg)
    return create_redis_broker(config, redis_cfg), presence
