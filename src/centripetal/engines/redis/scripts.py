"""The NOSCRIPT-safe runner of the Redis engine's Lua scripts (reliability plan §0.3).

The scripts themselves live with their users: ``history_scripts`` (publish and history over
a STREAM or a LIST, HR-01, HR-15) and ``presence_scripts`` (PR-05).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError

__all__ = ["Script"]


class Script:
    """A Lua script run by EVALSHA; on NOSCRIPT (script cache flushed, Redis restarted) it is
    loaded again and the call repeated once, so the first call after a restart succeeds.

    A connection error is retried once on a fresh connection: pooled connections die silently
    when Redis restarts, and the first command on such a connection fails before it reaches
    the new server. (A reply lost after the server ran the script is the rare case where a
    retry can apply a publication twice; idempotency keys cover it, HR-12.)"""

    __slots__ = ("sha", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    async def __call__(self, client: Any, keys: Sequence[str], args: Sequence[Any]) -> Any:
        try:
            return await self._run(client, keys, args)
        except RedisConnectionError:
            return await self._run(client, keys, args)

    async def _run(self, client: Any, keys: Sequence[str], args: Sequence[Any]) -> Any:
        try:
            return await client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            await client.script_load(self.source)
            return await client.evalsha(self.sha, len(keys), *keys, *args)

    async def run(self, shard: Any, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run on ``shard``'s pipeline (``Shard.execute``, routed by the first key); NOSCRIPT
        loads the script on that server and runs it again."""
        key = keys[0]
        try:
            return await shard.execute("EVALSHA", self.sha, len(keys), *keys, *args, key=key)
        except NoScriptError:
            await shard.execute("SCRIPT", "LOAD", self.source, key=key)
            return await shard.execute("EVALSHA", self.sha, len(keys), *keys, *args, key=key)

    async def on_replica(
        self, client: Any, keys: Sequence[str], args: Sequence[Any], *, cluster: bool
    ) -> Any:
        """Run a script that does not write on a replica client (EN-03 ``replica_client``).

        A Cluster client routes only ``EVAL_RO`` to replicas and loads scripts on primaries
        only, so there the source travels with every call (Redis >= 7.0); a Sentinel replica
        client is one server and caches the script as usual."""
        if cluster:
            return await client.execute_command("EVAL_RO", self.source, len(keys), *keys, *args)
        return await self(client, keys, args)
