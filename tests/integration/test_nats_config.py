"""Which broker and presence manager a configuration builds (EN-01, EN-07, EN-08, MG-19).

Building never connects, so these tests need no server.
"""

from __future__ import annotations

from typing import Any

import pytest

from centripetal.config import config_from_mapping
from centripetal.engines import EngineNotAvailableError, create_engine
from centripetal.engines.memory import MemoryBroker, MemoryPresenceManager
from centripetal.engines.nats.broker import NatsBroker
from centripetal.engines.redis import RedisBroker, RedisPresenceManager


def build(raw: dict[str, Any]) -> tuple[Any, Any]:
    return create_engine(config_from_mapping(raw))


def test_default_engine_is_memory() -> None:
    broker, presence = build({})
    assert (type(broker), type(presence)) == (MemoryBroker, MemoryPresenceManager)


def test_memory_engine_with_nats_broker() -> None:
    """EN-07: the broker section replaces the PUB/SUB half; presence stays in memory."""
    broker, presence = build(
        {
            "broker": {
                "enabled": True,
                "type": "nats",
                "nats": {"url": "nats://127.0.0.1:4999", "prefix": "px", "write_timeout": "3s"},
            }
        }
    )
    assert (type(broker), type(presence)) == (NatsBroker, MemoryPresenceManager)
    assert broker.subject("chat") == "px.client.chat"
    assert broker._servers == ["nats://127.0.0.1:4999"]
    assert broker._write_timeout == 3.0


def test_redis_engine_with_nats_broker_keeps_redis_presence() -> None:
    """EN-07: engine redis + broker nats = NATS PUB/SUB (no history) + Redis presence."""
    broker, presence = build(
        {
            "engine": {"type": "redis", "redis": {"prefix": "rp"}},
            "broker": {"enabled": True, "type": "nats"},
        }
    )
    assert (type(broker), type(presence)) == (NatsBroker, RedisPresenceManager)
    assert presence._prefix == "rp"
    assert broker.subject("a") == "centrifugo.client.a"


def test_disabled_broker_section_is_ignored() -> None:
    broker, _ = build({"broker": {"enabled": False, "type": "nats"}})
    assert type(broker) is MemoryBroker


def test_presence_manager_section_replaces_presence() -> None:
    """EN-07: presence_manager.redis is read, not engine.redis."""
    broker, presence = build(
        {"presence_manager": {"enabled": True, "type": "redis", "redis": {"prefix": "pm"}}}
    )
    assert (type(broker), type(presence)) == (MemoryBroker, RedisPresenceManager)
    assert presence._prefix == "pm"


def test_redis_broker_section_uses_its_own_redis_settings() -> None:
    broker, presence = build(
        {
            "engine": {"type": "memory"},
            "broker": {"enabled": True, "type": "redis", "redis": {"prefix": "bk"}},
        }
    )
    assert (type(broker), type(presence)) == (RedisBroker, MemoryPresenceManager)
    assert broker._prefix == "bk"


def test_v3_flat_broker_nats() -> None:
    """EN-08, MG-19: v3 ``broker: "nats"`` and ``nats_*`` keys select the NATS broker."""
    broker, presence = build(
        {
            "broker": "nats",
            "nats_url": "nats://127.0.0.1:4223",
            "nats_prefix": "legacy",
            "nats_dial_timeout": "2s",
        }
    )
    assert (type(broker), type(presence)) == (NatsBroker, MemoryPresenceManager)
    assert broker._servers == ["nats://127.0.0.1:4223"]
    assert broker.subject("x") == "legacy.client.x"
    assert broker._dial_timeout == 2.0


@pytest.mark.parametrize(
    ("section", "kind", "message"),
    [
        ("broker", "postgres", "unknown broker type 'postgres'"),
        ("broker", "", "broker.enabled needs broker.type"),
        ("presence_manager", "nats", "unknown presence manager type 'nats'"),
        ("presence_manager", "", "presence_manager.enabled needs presence_manager.type"),
    ],
)
def test_unknown_types_are_startup_errors(section: str, kind: str, message: str) -> None:
    """Checked again here for configurations built without the validator."""
    config = config_from_mapping({})
    part = getattr(config, section)
    part.enabled = True
    part.type = kind
    with pytest.raises(EngineNotAvailableError, match=message):
        create_engine(config)


def test_nats_raw_mode_is_refused() -> None:
    with pytest.raises(Exception, match="raw_mode is not supported"):
        build(
            {"broker": {"enabled": True, "type": "nats", "nats": {"raw_mode": {"enabled": True}}}}
        )
