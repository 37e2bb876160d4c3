"""Lua scripts of the Redis engine and their NOSCRIPT-safe runner (reliability plan §0.3).

``PUBLISH_SCRIPT`` does a whole publish atomically: idempotency check (HR-12), stream meta
creation with a fresh epoch or refresh (HR-01), version check (HR-13), previous entry for delta
(HR-09), offset increment, ``XADD`` with the offset as entry ID and ``MAXLEN``, TTLs, the
PUB/SUB ``PUBLISH`` tagged with offset and epoch (EN-06), and the idempotent result.
``HISTORY_SCRIPT`` answers P-36 reads and creates the meta when missing. Presence scripts keep
the hash + zset layout of PR-05.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError

__all__ = [
    "HISTORY_SCRIPT",
    "PRESENCE_ADD_SCRIPT",
    "PRESENCE_GET_SCRIPT",
    "PRESENCE_REMOVE_SCRIPT",
    "PUBLISH_SCRIPT",
    "Script",
]

# KEYS: stream, meta, result, pubsub channel
# ARGV: pub, head, history_size, history_ttl_ms, meta_ttl_ms, new_epoch, use_delta,
#       version, version_epoch, result_ttl_ms, idempotent
# Returns {offset, epoch, suppressed, prev}
PUBLISH_SCRIPT = """
local stream, meta, result, chan = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local size = tonumber(ARGV[3])
if ARGV[11] == "1" then
  local cached = redis.call("get", result)
  if cached then
    local sep = string.find(cached, ":", 1, true)
    return {tonumber(string.sub(cached, 1, sep - 1)), string.sub(cached, sep + 1), 1, ""}
  end
end
local offset, epoch, prev = 0, "", ""
if size > 0 then
  local m = redis.call("hmget", meta, "e", "s", "v", "ve")
  epoch = m[1]
  if not epoch then
    epoch = ARGV[6]
    redis.call("del", stream)
    redis.call("hset", meta, "e", epoch)
    m = {epoch, false, false, false}
  end
  local meta_ttl = tonumber(ARGV[5])
  if meta_ttl > 0 then redis.call("pexpire", meta, meta_ttl) else redis.call("persist", meta) end
  local top = tonumber(m[2]) or 0
  local version = tonumber(ARGV[8])
  if version > 0 then
    local last = tonumber(m[3]) or 0
    if (ARGV[9] == "" or ARGV[9] == (m[4] or "")) and version <= last then
      return {top, epoch, 1, ""}
    end
  end
  if ARGV[7] == "1" then
    local last = redis.call("xrevrange", stream, "+", "-", "COUNT", 1)
    if last[1] then prev = last[1][2][2] end
  end
  offset = redis.call("hincrby", meta, "s", 1)
  if version > 0 then redis.call("hset", meta, "v", ARGV[8], "ve", ARGV[9]) end
  redis.call("xadd", stream, "MAXLEN", size, offset .. "-0", "d", ARGV[1])
  redis.call("pexpire", stream, ARGV[4])
end
redis.call("publish", chan,
  "P" .. ARGV[2] .. ":" .. offset .. ":" .. epoch .. ":" .. #prev .. ":" .. prev .. ARGV[1])
if ARGV[11] == "1" then
  redis.call("set", result, offset .. ":" .. epoch, "PX", ARGV[10])
end
return {offset, epoch, 0, prev}
"""

# KEYS: stream, meta
# ARGV: new_epoch, meta_ttl_ms, limit, since_offset (-1 = none), reverse, since_epoch
# Returns {top, epoch, status(0 ok, 1 unrecoverable), id1, d1, id2, d2, ...}
HISTORY_SCRIPT = """
local stream, meta = KEYS[1], KEYS[2]
local m = redis.call("hmget", meta, "e", "s")
local epoch = m[1]
if not epoch then
  epoch = ARGV[1]
  redis.call("del", stream)
  redis.call("hset", meta, "e", epoch)
end
local meta_ttl = tonumber(ARGV[2])
if meta_ttl > 0 then redis.call("pexpire", meta, meta_ttl) end
local top = tonumber(m[2]) or 0
if ARGV[6] ~= "" and ARGV[6] ~= epoch then return {top, epoch, 1} end
local limit, since = tonumber(ARGV[3]), tonumber(ARGV[4])
local out = {top, epoch, 0}
if limit == 0 then return out end
local entries
local args
if ARGV[5] == "1" then
  if since == 0 or since == 1 then return out end
  local high = "+"
  if since > 1 then high = tostring(since - 1) .. "-0" end
  args = {"xrevrange", stream, high, "-"}
else
  local low = "-"
  if since >= 0 then low = tostring(since + 1) .. "-0" end
  args = {"xrange", stream, low, "+"}
end
if limit > 0 then
  table.insert(args, "COUNT")
  table.insert(args, limit)
end
entries = redis.call(unpack(args))
for _, e in ipairs(entries) do
  table.insert(out, e[1])
  table.insert(out, e[2][2])
end
return out
"""

# KEYS: data hash, expire zset; ARGV: client id, info, expire_at (s), key ttl (s)
PRESENCE_ADD_SCRIPT = """
redis.call("zadd", KEYS[2], ARGV[3], ARGV[1])
redis.call("hset", KEYS[1], ARGV[1], ARGV[2])
redis.call("expire", KEYS[1], ARGV[4])
redis.call("expire", KEYS[2], ARGV[4])
return 1
"""

# KEYS: data hash, expire zset; ARGV: client id
PRESENCE_REMOVE_SCRIPT = """
redis.call("hdel", KEYS[1], ARGV[1])
redis.call("zrem", KEYS[2], ARGV[1])
return 1
"""

# KEYS: data hash, expire zset; ARGV: now (s). Drops expired entries, returns the rest.
PRESENCE_GET_SCRIPT = """
local expired = redis.call("zrangebyscore", KEYS[2], "-inf", ARGV[1])
for _, cid in ipairs(expired) do
  redis.call("zrem", KEYS[2], cid)
  redis.call("hdel", KEYS[1], cid)
end
return redis.call("hgetall", KEYS[1])
"""


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
