"""Engines: a Broker plus a PresenceManager, chosen by ``engine.type`` (EN-01).

The v6 sections ``broker.{enabled,type}`` and ``presence_manager.{enabled,type}`` replace the
matching half of the engine (EN-07): ``engine.type: redis`` with ``broker.type: nats`` gives
NATS PUB/SUB and Redis presence. Implementations are imported lazily so optional dependencies
(Redis, NATS) stay optional.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from centripetal.engines.base import Broker, EngineError, PresenceManager

if TYPE_CHECKING:
    from centripetal.config import schema

__all__ = ["EngineNotAvailableError", "create_broker", "create_engine", "create_presence_manager"]

BROKER_TYPES = ("memory", "redis", "nats")
PRESENCE_TYPES = ("memory", "redis")


class EngineNotAvailableError(EngineError):
    """The configured engine type does not exist (yet) in this version."""


def create_broker(
    kind: str, config: schema.Config, redis: schema.RedisEngine, key: str = "engine.redis"
) -> Broker:
    """One broker of ``kind`` (EN-01, EN-03, EN-08); ``redis`` is the section it reads (named
    ``key`` in errors)."""
    if kind == "memory":
        from centripetal.engines.memory import MemoryBroker

        return MemoryBroker(history_meta_ttl=config.channel.history_meta_ttl)
    if kind == "redis":
        from centripetal.engines.redis import create_redis_broker

        return create_redis_broker(config, redis, key)
    if kind == "nats":
        from centripetal.engines.nats import create_nats_broker

        return create_nats_broker(config.broker.nats)
    raise EngineNotAvailableError(f"unknown broker type {kind!r}: expected one of {BROKER_TYPES}")


def create_presence_manager(
    kind: str, redis: schema.RedisEngine, key: str = "engine.redis"
) -> PresenceManager:
    """One presence manager of ``kind`` (EN-01, PR-01); ``redis`` is the section it reads
    (named ``key`` in errors)."""
    if kind == "memory":
        from centripetal.engines.memory import MemoryPresenceManager

        return MemoryPresenceManager()
    if kind == "redis":
        from centripetal.engines.redis import create_redis_presence

        return create_redis_presence(redis, key)
    raise EngineNotAvailableError(
        f"unknown presence manager type {kind!r}: expected one of {PRESENCE_TYPES}"
    )


def create_engine(config: schema.Config) -> tuple[Broker, PresenceManager]:
    """Build the broker and presence manager (EN-01, EN-02, EN-07).

    ``engine.type`` picks both halves; an enabled ``broker`` or ``presence_manager`` section
    replaces its half with its own ``type`` and ``redis`` settings.
    """
    engine_type = config.engine.type or "memory"
    if engine_type not in ("memory", "redis"):
        raise EngineNotAvailableError(
            f"unknown engine type {engine_type!r} in engine.type: expected 'memory' or 'redis'"
        )
    broker_kind, broker_redis, broker_key = engine_type, config.engine.redis, "engine.redis"
    if config.broker.enabled:
        if not config.broker.type:
            raise EngineNotAvailableError("broker.enabled needs broker.type")
        broker_kind, broker_redis = config.broker.type, config.broker.redis
        broker_key = "broker.redis"
    presence_kind, presence_redis, presence_key = engine_type, config.engine.redis, "engine.redis"
    if config.presence_manager.enabled:
        if not config.presence_manager.type:
            raise EngineNotAvailableError("presence_manager.enabled needs presence_manager.type")
        presence_kind = config.presence_manager.type
        presence_redis = config.presence_manager.redis
        presence_key = "presence_manager.redis"
    _warn_redis_sections(
        (broker_key, broker_redis) if broker_kind == "redis" else None,
        (presence_key, presence_redis) if presence_kind == "redis" else None,
    )
    presence = create_presence_manager(presence_kind, presence_redis, presence_key)
    return create_broker(broker_kind, config, broker_redis, broker_key), presence


def _warn_redis_sections(
    broker: tuple[str, schema.RedisEngine] | None,
    presence: tuple[str, schema.RedisEngine] | None,
) -> None:
    """Name the options of each Redis section that the half it configures cannot use
    (``broker.redis.presence_user_mapping`` ...), EN-03 / EN-07."""
    from centripetal.engines.redis.options import warn_unused_half

    sections: dict[str, tuple[schema.RedisEngine, bool, bool]] = {}
    if broker is not None:
        sections[broker[0]] = (broker[1], True, False)
    if presence is not None:
        cfg, used_by_broker, _ = sections.get(presence[0], (presence[1], False, False))
        sections[presence[0]] = (cfg, used_by_broker, True)
    for key, (cfg, for_broker, for_presence) in sections.items():
        warn_unused_half(cfg, key, broker=for_broker, presence=for_presence)
