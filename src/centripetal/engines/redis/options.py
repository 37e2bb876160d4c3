"""What a ``*.redis`` section asks of the broker and of the presence manager (EN-03, EN-07).

``engine.redis`` configures both halves of the Redis engine; ``broker.redis`` and
``presence_manager.redis`` configure one half each (EN-07). Every option is either honoured
by the half that reads it or named in a startup warning with the reason:

* ``history_use_lists`` (HR-15): the broker keeps history in a LIST instead of a STREAM.
* ``presence_user_mapping`` / ``presence_hash_field_ttl`` (PR-05): presence layout.
* ``replica_client.enabled``: presence reads go to replicas found through Sentinel or Redis
  Cluster; PUB/SUB subscriptions and history stay on the master (see ``replicas``).
* ``force_resp2``: every command connection speaks RESP2; otherwise RESP3 is asked for with
  ``HELLO 3`` and RESP2 used when the server refuses it (``sharding.Shard``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from centripetal.config import schema
    from centripetal.engines.redis.addresses import ShardAddress

__all__ = ["BROKER_ONLY", "PRESENCE_ONLY", "PresenceLayout", "warn_unused_half"]

logger = logging.getLogger("centripetal.engines.redis")

BROKER_ONLY = ("history_use_lists",)
PRESENCE_ONLY = ("presence_user_mapping", "presence_hash_field_ttl", "replica_client")


@dataclass(frozen=True, slots=True)
class PresenceLayout:
    """How the presence manager stores and reads entries (PR-05, EN-03).

    ``key`` names the configuration section in errors and warnings."""

    user_mapping: bool = False
    hash_field_ttl: bool = False
    replica_reads: bool = False
    key: str = "engine.redis"

    @classmethod
    def from_config(
        cls, cfg: schema.RedisEngine, key: str, addresses: list[ShardAddress]
    ) -> PresenceLayout:
        """The layout of section ``key``; warns when replicas cannot be found."""
        replica_reads = cfg.replica_client.enabled
        if replica_reads:
            single = [a for a in addresses if a.kind == "single"]
            if single:
                where = ", ".join(f"{h}:{p}" for a in single for h, p in a.hosts)
                logger.warning(
                    "%s.replica_client.enabled: %s is a single server address; replicas are "
                    "found only through Sentinel or Redis Cluster, so presence reads stay on "
                    "the master",
                    key,
                    where,
                )
                replica_reads = len(single) < len(addresses)
        return cls(cfg.presence_user_mapping, cfg.presence_hash_field_ttl, replica_reads, key)


def _is_set(cfg: schema.RedisEngine, name: str) -> bool:
    value = getattr(cfg, name)
    return bool(value.enabled) if name == "replica_client" else bool(value)


def warn_unused_half(cfg: schema.RedisEngine, key: str, *, broker: bool, presence: bool) -> None:
    """Warn about options of section ``key`` that belong to a half this section does not
    configure (``broker.redis.presence_user_mapping`` ...), and about ``replica_client`` in a
    section used by the broker, whose subscriptions and history never move to replicas."""
    unused = [] if presence else [n for n in PRESENCE_ONLY if _is_set(cfg, n)]
    unused += [] if broker else [n for n in BROKER_ONLY if _is_set(cfg, n)]
    for name in unused:
        half = "broker" if name in BROKER_ONLY else "presence manager"
        shown = f"{name}.enabled" if name == "replica_client" else name
        logger.warning(
            "%s.%s is set but this section does not configure the %s; it has no effect",
            key,
            shown,
            half,
        )
    if broker and cfg.replica_client.enabled:
        logger.log(
            logging.INFO if presence else logging.WARNING,
            "%s.replica_client.enabled: the broker keeps PUB/SUB subscriptions and history "
            "on the master (a replica cut off from its master keeps answering while it "
            "receives no publications, a silent gap; history reads create stream meta)",
            key,
        )
