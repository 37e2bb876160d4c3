"""What changes when several workers serve one port (docs/scaling.md, EN-10).

Each worker is a node of the configured engine. The memory engine shares nothing between
processes, so more than one worker with it is refused: clients of different workers would not
see each other's publications. Settings that are per node in Centrifugo (connection limits,
memory presence, metrics) stay per node, which here means per worker: startup warnings say so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from centripetal.config.schema import Config

__all__ = ["engine_kinds", "refusal", "startup_warnings"]


def engine_kinds(config: Config) -> tuple[str, str]:
    """The broker and presence manager types the engine will be built from (EN-01, EN-07)."""
    engine = config.engine.type or "memory"
    broker = config.broker.type if config.broker.enabled and config.broker.type else engine
    presence = engine
    if config.presence_manager.enabled and config.presence_manager.type:
        presence = config.presence_manager.type
    return broker, presence


def refusal(config: Config, count: int) -> str | None:
    """Why ``count`` workers cannot run with this configuration, or ``None``."""
    if count > 1 and engine_kinds(config)[0] == "memory":
        return (
            f"{count} workers need an engine shared between processes: the memory engine keeps "
            "channels, history and presence inside one process, so workers would not see each "
            "other; use the Redis engine (engine.type redis) or the NATS broker "
            "(broker.enabled with broker.type nats), or run one worker"
        )
    return None


def startup_warnings(config: Config, count: int) -> list[str]:
    """Per-node settings that become per-worker settings with ``count`` workers."""
    found: list[str] = []
    presence = engine_kinds(config)[1]
    if presence == "memory":
        found.append(
            f"presence_manager: presence is kept in memory, per worker: with {count} workers "
            "presence and presence_stats answer for the worker that receives the call only, "
            "and join/leave reach the other workers through the broker; use "
            "presence_manager.type redis to share presence"
        )
    client = config.client
    for key, value in (
        ("client.connection_limit", client.connection_limit),
        ("client.connection_rate_limit", client.connection_rate_limit),
        ("client.user_connection_limit", client.user_connection_limit),
    ):
        if value > 0:
            found.append(
                f"{key}: {value} is counted per node, and each of the {count} workers is a "
                f"node: this server admits up to {value * count}"
            )
    if config.prometheus.enabled:
        found.append(
            f"prometheus.enabled: each of the {count} workers is a node with its own metrics; "
            "a scrape is answered by the worker that accepts it"
        )
    return found
