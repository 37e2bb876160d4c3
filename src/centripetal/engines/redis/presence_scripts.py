"""Lua scripts of the presence manager (PR-01, PR-02, PR-05).

Keys of channel ``ch`` (all in one Cluster slot, EN-06), as Centrifugo names them:

* ``<prefix>.presence.data.<ch>``: hash, client id -> encoded ClientInfo;
* ``<prefix>.presence.expire.<ch>``: zset, client id -> unix expiry (seconds);
* ``<prefix>.presence.user.clients.<ch>``: hash, user id -> number of its client ids
  (``presence_user_mapping``);
* ``<prefix>.presence.user.expire.<ch>``: zset, user id -> unix expiry
  (``presence_user_mapping``).

With ``presence_hash_field_ttl`` (Redis >= 7.4) the two zsets are not used: every hash field
carries its own TTL (``HPEXPIRE … FIELDS 1 <id>``) and Redis drops expired entries itself.
Otherwise expired entries are dropped by the reads on the master, or, when reads go to a
replica (which cannot write), by each add on the master, a bounded batch at a time.

Flags travel as ``"1"``/``"0"`` arguments: ``mapping`` (user mapping), ``hfe`` (hash field TTL).
"""

from __future__ import annotations

__all__ = [
    "PRESENCE_ADD",
    "PRESENCE_GET",
    "PRESENCE_GET_READONLY",
    "PRESENCE_REMOVE",
    "PRESENCE_STATS",
    "PRESENCE_STATS_READONLY",
    "PRUNE_BATCH",
]

PRUNE_BATCH = 100  # expired entries an add drops when reads are served by replicas

# KEYS: data, expire, user clients, user expire
# ARGV: client id, info, expire_at (s), ttl_ms, user, mapping, hfe, prune_now ("" = no prune)
PRESENCE_ADD = f"""
local data, expire, uclients, uexpire = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local cid, ttl, user = ARGV[1], ARGV[4], ARGV[5]
local mapping, hfe = ARGV[6] == "1", ARGV[7] == "1"
local new = mapping and redis.call("hexists", data, cid) == 0
redis.call("hset", data, cid, ARGV[2])
redis.call("pexpire", data, ttl)
if hfe then
  redis.call("hpexpire", data, ttl, "FIELDS", 1, cid)
else
  redis.call("zadd", expire, ARGV[3], cid)
  redis.call("pexpire", expire, ttl)
end
if mapping then
  if new then redis.call("hincrby", uclients, user, 1) end
  redis.call("pexpire", uclients, ttl)
  if hfe then
    redis.call("hpexpire", uclients, ttl, "FIELDS", 1, user)
  else
    redis.call("zadd", uexpire, ARGV[3], user)
    redis.call("pexpire", uexpire, ttl)
  end
end
if ARGV[8] ~= "" and not hfe then
  local dead = redis.call("zrangebyscore", expire, "-inf", ARGV[8], "LIMIT", 0, {PRUNE_BATCH})
  for _, id in ipairs(dead) do
    redis.call("hdel", data, id)
    redis.call("zrem", expire, id)
  end
  if mapping then
    dead = redis.call("zrangebyscore", uexpire, "-inf", ARGV[8], "LIMIT", 0, {PRUNE_BATCH})
    for _, id in ipairs(dead) do
      redis.call("hdel", uclients, id)
      redis.call("zrem", uexpire, id)
    end
  end
end
return 1
"""

# KEYS: data, expire, user clients, user expire; ARGV: client id, user, mapping, hfe
PRESENCE_REMOVE = """
local data, expire, uclients, uexpire = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local cid, user = ARGV[1], ARGV[2]
local mapping, hfe = ARGV[3] == "1", ARGV[4] == "1"
local existed = mapping and redis.call("hexists", data, cid) == 1
redis.call("hdel", data, cid)
if not hfe then redis.call("zrem", expire, cid) end
if existed then
  if redis.call("hincrby", uclients, user, -1) <= 0 then
    redis.call("hdel", uclients, user)
    if not hfe then redis.call("zrem", uexpire, user) end
  end
end
return 1
"""

# KEYS: data, expire; ARGV: now (s), hfe. Drops expired entries, returns the rest (flat).
PRESENCE_GET = """
if ARGV[2] ~= "1" then
  local dead = redis.call("zrangebyscore", KEYS[2], "-inf", ARGV[1])
  for _, id in ipairs(dead) do
    redis.call("hdel", KEYS[1], id)
    redis.call("zrem", KEYS[2], id)
  end
end
return redis.call("hgetall", KEYS[1])
"""

# The same answer without writing (a replica): expired entries are skipped, not dropped.
PRESENCE_GET_READONLY = """
local all = redis.call("hgetall", KEYS[1])
if ARGV[2] == "1" then return all end
local dead = redis.call("zrangebyscore", KEYS[2], "-inf", ARGV[1])
if #dead == 0 then return all end
local skip = {}
for _, id in ipairs(dead) do skip[id] = true end
local out = {}
for i = 1, #all, 2 do
  if not skip[all[i]] then
    table.insert(out, all[i])
    table.insert(out, all[i + 1])
  end
end
return out
"""

# KEYS: data, expire, user clients, user expire; ARGV: now (s), hfe
# Returns {clients, users} from the user mapping (PR-02), dropping expired entries first.
PRESENCE_STATS = """
if ARGV[2] ~= "1" then
  for _, pair in ipairs({{KEYS[1], KEYS[2]}, {KEYS[3], KEYS[4]}}) do
    local dead = redis.call("zrangebyscore", pair[2], "-inf", ARGV[1])
    for _, id in ipairs(dead) do
      redis.call("hdel", pair[1], id)
      redis.call("zrem", pair[2], id)
    end
  end
end
return {redis.call("hlen", KEYS[1]), redis.call("hlen", KEYS[3])}
"""

# The same counts without writing (a replica): live members of the expiry zsets.
PRESENCE_STATS_READONLY = """
if ARGV[2] == "1" then
  return {redis.call("hlen", KEYS[1]), redis.call("hlen", KEYS[3])}
end
local after = "(" .. ARGV[1]
return {redis.call("zcount", KEYS[2], after, "+inf"), redis.call("zcount", KEYS[4], after, "+inf")}
"""
