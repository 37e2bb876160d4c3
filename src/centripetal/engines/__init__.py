"""Engines: a Broker plus a PresenceManager, chosen by ``engine.type`` (EN-01).

Implementations are imported lazily so optional dependencies (Redis, NATS) stay optional.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from centripetal.engines.base import Broker, EngineError, PresenceManager

if TYPE_CHECKING:
    from centripetal.config import schema

__all__ = ["EngineNotAvailableError", "create_engine"]


class EngineNotAvailableError(EngineError):
    """The configured engine type does not exist (yet) in this version."""


def create_engine(config: schema.Config) -> tuple[Broker, PresenceManager]:
    """Build the broker and presence manager for ``config.engine.type`` (EN-01, EN-02)."""
    engine_type = config.engine.type or "memory"
    if engine_type == "memory":
        from centripetal.engines.memory import MemoryBroker, MemoryPresenceManager

        broker = MemoryBroker(history_meta_ttl=config.channel.history_meta_ttl)
        return broker, MemoryPresenceManager()
    if engine_type == "redis":
        from centripetal.engines.redis import create_redis_engine

        return create_redis_engine(config)
    raise EngineNotAvailableError(
        f"unknown engine type {engine_type!r} in engine.type: expected 'memory' or 'redis'"
    )
