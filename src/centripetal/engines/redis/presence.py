"""The Redis presence manager (PR-01, PR-02, PR-05).

Layout (PR-05): hash ``<prefix>.presence.data.<ch>`` (client id -> encoded ClientInfo) and
zset ``<prefix>.presence.expire.<ch>`` (client id -> unix expiry seconds). An entry expires
``presence_ttl`` after it was last added; the node re-adds its entries every
``client.presence_update_interval`` (PR-01). Reads drop expired entries inside the same Lua
script, so a reader never sees an entry the zset says is gone. Both keys also get the TTL, so
a channel whose nodes all died is cleaned by Redis itself.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from redis.exceptions import RedisError

from centripetal.engines.base import ClientInfo, EngineError, PresenceStats
from centripetal.engines.redis import codec
from centripetal.engines.redis.scripts import (
    PRESENCE_ADD_SCRIPT,
    PRESENCE_GET_SCRIPT,
    PRESENCE_REMOVE_SCRIPT,
    Script,
)
from centripetal.engines.redis.sharding import Shard, shard_index
from centripetal.observability.logs import describe_exception

__all__ = ["DEFAULT_PRESENCE_TTL", "RedisPresenceManager"]

DEFAULT_PRESENCE_TTL = 60.0

_add = Script(PRESENCE_ADD_SCRIPT)
_remove = Script(PRESENCE_REMOVE_SCRIPT)
_get = Script(PRESENCE_GET_SCRIPT)


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
    ) -> None:
        if not shards:
            raise EngineError("redis presence manager needs at least one shard")
        self._shards = list(shards)
        self._prefix = prefix
        self._ttl = presence_ttl if presence_ttl > 0 else DEFAULT_PRESENCE_TTL
        self._io_timeout = io_timeout
        self._wall_clock = wall_clock
        self._close_shards = close_shards

    def _keys(self, channel: str) -> tuple[Shard, list[str]]:
        shard = self._shards[shard_index(channel, len(self._shards))]
        return shard, [
            shard.key(self._prefix, "presence.data", channel),
            shard.key(self._prefix, "presence.expire", channel),
        ]

    async def _call(self, script: Script, channel: str, args: list[Any]) -> Any:
        shard, keys = self._keys(channel)
        try:
            return await asyncio.wait_for(
                script(shard.client, keys, args), self._io_timeout + shard.timeouts.connect
            )
        except (RedisError, OSError, TimeoutError) as exc:
            raise EngineError(f"redis presence: {describe_exception(exc)}") from exc

    async def add_presence(self, channel: str, client_id: str, info: ClientInfo) -> None:
        """PR-01: add or refresh; the entry lives ``presence_ttl`` from now."""
        expire_at = self._wall_clock() + self._ttl
        key_ttl = math.ceil(self._ttl)
        await self._call(_add, channel, [client_id, codec.encode_info(info), expire_at, key_ttl])

    async def remove_presence(self, channel: str, client_id: str, user: str) -> None:
        await self._call(_remove, channel, [client_id])

    async def presence(self, channel: str) -> dict[str, ClientInfo]:
        """PR-02: client id -> ClientInfo of the live entries."""
        reply = await self._call(_get, channel, [self._wall_clock()])
        out: dict[str, ClientInfo] = {}
        for i in range(0, len(reply), 2):
            cid = reply[i]
            out[cid.decode() if isinstance(cid, bytes) else str(cid)] = codec.decode_info(
                reply[i + 1]
            )
        return out

    async def presence_stats(self, channel: str) -> PresenceStats:
        """PR-02: clients and distinct users (anonymous clients count as one user ``""``)."""
        entries = await self.presence(channel)
        users = {info.user for info in entries.values()}
        return PresenceStats(num_clients=len(entries), num_users=len(users))

    async def close(self) -> None:
        if self._close_shards:
            for shard in self._shards:
                await shard.close()
