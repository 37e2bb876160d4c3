"""The Redis presence manager (PR-01, PR-02, PR-05, EN-03).

Layout (PR-05, ``presence_scripts`` has the keys): hash ``<prefix>.presence.data.<ch>`` (client
id -> encoded ClientInfo) with zset ``<prefix>.presence.expire.<ch>`` (client id -> unix expiry),
or per-field TTLs instead of the zset with ``presence_hash_field_ttl`` (Redis >= 7.4). An entry
expires ``presence_ttl`` after it was last added; the node re-adds its entries every
``client.presence_update_interval`` (PR-01). Reads never return an entry past its expiry. The
keys also get the TTL, so a channel whose nodes all died is cleaned by Redis itself.

``presence_user_mapping`` keeps a user id -> client count hash (with its own expiry zset, or
field TTLs) beside the entries, so ``presence_stats`` is two ``HLEN`` instead of loading every
entry (PR-02). ``replica_client.enabled`` sends ``presence`` and ``presence_stats`` to the
shard's replicas with scripts that do not write; the master then drops expired entries on adds.

``run()`` refuses to start when ``presence_hash_field_ttl`` is set and a shard's server lacks
``HPEXPIRE``: silently keeping entries forever would be worse than not starting.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

from redis.exceptions import RedisError, ResponseError

from centripetal.engines.base import ClientInfo, EngineError, PresenceStats
from centripetal.engines.redis import codec
from centripetal.engines.redis.options import PresenceLayout
from centripetal.engines.redis.presence_scripts import (
    PRESENCE_ADD,
    PRESENCE_GET,
    PRESENCE_GET_READONLY,
    PRESENCE_REMOVE,
    PRESENCE_STATS,
    PRESENCE_STATS_READONLY,
)
from centripetal.engines.redis.scripts import Script
from centripetal.engines.redis.sharding import Shard, shard_index
from centripetal.observability.logs import describe_exception

__all__ = ["DEFAULT_PRESENCE_TTL", "RedisPresenceManager"]

DEFAULT_PRESENCE_TTL = 60.0

_add = Script(PRESENCE_ADD)
_remove = Script(PRESENCE_REMOVE)
_get = Script(PRESENCE_GET)
_get_readonly = Script(PRESENCE_GET_READONLY)
_stats = Script(PRESENCE_STATS)
_stats_readonly = Script(PRESENCE_STATS_READONLY)


def _flag(on: bool) -> str:
    return "1" if on else "0"


class RedisPresenceManager:
    """``base.PresenceManager`` over the same shards as the broker (EN-04, PR-05)."""

    def __init__(
        self,
        shards: Sequence[Shard],
        *,
        prefix: str = "centrifugo",
        presence_ttl: float = DEFAULT_PRESENCE_TTL,
        io_timeout: float = 4.0,
        wall_clock: Callable[[], float] = time.time,
        close_shards: bool = False,
        layout: PresenceLayout | None = None,
    ) -> None:
        if not shards:
            raise EngineError("redis presence manager needs at least one shard")
        self._shards = list(shards)
        self._prefix = prefix
        self._ttl = presence_ttl if presence_ttl > 0 else DEFAULT_PRESENCE_TTL
        self._io_timeout = io_timeout
        self._wall_clock = wall_clock
        self._close_shards = close_shards
        self.layout = layout or PresenceLayout()
        self._mapping = _flag(self.layout.user_mapping)
        self._hfe = _flag(self.layout.hash_field_ttl)

    # -- lifecycle ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Check that every shard can honour the layout (EN-03); raises ``EngineError``."""
        if not self.layout.hash_field_ttl:
            return
        key = f"{self.layout.key}.presence_hash_field_ttl"
        probe = f"{self._prefix}.presence.probe"
        for shard in self._shards:
            try:  # HPTTL reads only: it answers [-2] for a missing key where it exists
                await asyncio.wait_for(
                    shard.client.execute_command("HPTTL", probe, "FIELDS", 1, "f"),
                    self._io_timeout + shard.timeouts.connect,
                )
                continue
            except ResponseError as exc:
                if "unknown command" not in str(exc).lower():
                    raise EngineError(f"{key}: {describe_exception(exc)}") from exc
                version = await self._version(shard)
            except (RedisError, OSError, TimeoutError) as exc:
                raise EngineError(
                    f"{key}: cannot check that Redis supports hash field TTL: "
                    f"{describe_exception(exc)}"
                ) from exc
            raise EngineError(
                f"{key} needs Redis >= 7.4 (hash field TTL, HPEXPIRE); the server of shard "
                f"{_where(shard)} runs Redis {version}: upgrade it or remove the option"
            )

    async def _version(self, shard: Shard) -> str:
        try:
            info = await asyncio.wait_for(shard.client.info("server"), self._io_timeout)
        except (RedisError, OSError, TimeoutError):
            return "?"
        return str(info.get("redis_version", "?")) if isinstance(info, dict) else "?"

    async def close(self) -> None:
        if self._close_shards:
            for shard in self._shards:
                await shard.close()

    # -- operations --------------------------------------------------------------------------

    def _keys(self, channel: str) -> tuple[Shard, list[str]]:
        shard = self._shards[shard_index(channel, len(self._shards))]
        return shard, [
            shard.key(self._prefix, "presence.data", channel),
            shard.key(self._prefix, "presence.expire", channel),
            shard.key(self._prefix, "presence.user.clients", channel),
            shard.key(self._prefix, "presence.user.expire", channel),
        ]

    async def _call(self, script: Script, channel: str, args: list[Any], *, nkeys: int = 4) -> Any:
        shard, keys = self._keys(channel)
        try:
            return await script.run(shard, keys[:nkeys], args)
        except (RedisError, OSError, TimeoutError) as exc:
            raise EngineError(f"redis presence: {describe_exception(exc)}") from exc

    async def _read(self, script: Script, replica_script: Script, channel: str, nkeys: int) -> Any:
        """A read on the shard's replica when there is one (``replica_client``), else the
        master's script, which also drops expired entries."""
        shard, keys = self._keys(channel)
        args = [self._wall_clock(), self._hfe]
        if shard.replica is None or not self.layout.replica_reads:
            return await self._call(script, channel, args, nkeys=nkeys)
        try:
            return await asyncio.wait_for(
                replica_script.on_replica(shard.replica, keys[:nkeys], args, cluster=shard.cluster),
                self._io_timeout + shard.timeouts.connect,
            )
        except (RedisError, OSError, TimeoutError) as exc:
            raise EngineError(f"redis presence replica: {describe_exception(exc)}") from exc

    async def add_presence(self, channel: str, client_id: str, info: ClientInfo) -> None:
        """PR-01: add or refresh; the entry lives ``presence_ttl`` from now."""
        now = self._wall_clock()
        prune = now if self.layout.replica_reads else ""
        args = [
            client_id,
            codec.encode_info(info),
            now + self._ttl,
            int(self._ttl * 1000),
            info.user,
            self._mapping,
            self._hfe,
            prune,
        ]
        await self._call(_add, channel, args)

    async def remove_presence(self, channel: str, client_id: str, user: str) -> None:
        await self._call(_remove, channel, [client_id, user, self._mapping, self._hfe])

    async def presence(self, channel: str) -> dict[str, ClientInfo]:
        """PR-02: client id -> ClientInfo of the live entries."""
        reply = await self._read(_get, _get_readonly, channel, 2)
        out: dict[str, ClientInfo] = {}
        for i in range(0, len(reply), 2):
            cid = reply[i]
            out[cid.decode() if isinstance(cid, bytes) else str(cid)] = codec.decode_info(
                reply[i + 1]
            )
        return out

    async def presence_stats(self, channel: str) -> PresenceStats:
        """PR-02: clients and distinct users (anonymous clients count as one user ``""``);
        two counters in Redis with the user mapping, else counted over the entries."""
        if self.layout.user_mapping:
            clients, users = await self._read(_stats, _stats_readonly, channel, 4)
            return PresenceStats(num_clients=int(clients), num_users=int(users))
        entries = await self.presence(channel)
        users_seen = {info.user for info in entries.values()}
        return PresenceStats(num_clients=len(entries), num_users=len(users_seen))


def _where(shard: Shard) -> str:
    return ",".join(f"{host}:{port}" for host, port in shard.address.hosts) or "redis"
