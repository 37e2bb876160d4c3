"""Lua scripts of the broker: publish and history over a STREAM or a LIST (HR-01, HR-15, EN-06).

Both layouts share the stream meta hash (``e`` epoch, ``s`` top offset, ``v``/``ve`` last
version, HR-13) and one argument and reply shape, so the broker only picks the script pair and
the key names:

* STREAM (default): ``<prefix>.stream.<ch>``, one entry per publication with the offset as
  entry ID (``XADD … MAXLEN size``); reads are ``XRANGE``/``XREVRANGE`` from the offset.
* LIST (``history_use_lists``, HR-15): ``<prefix>.list.<ch>`` with meta ``<prefix>.list.meta.<ch>``
  as Centrifugo names them. ``LPUSH`` puts the newest publication at index 0 and ``LTRIM 0
  size-1`` drops the oldest; each element is ``<offset>:<publication>``. Offsets in the list are
  consecutive (every offset increment pushes in the same script, trimming only drops the tail,
  a new epoch deletes the list), so the element holding offset ``o`` sits at index
  ``head - o``: a read is one ``LRANGE`` over exactly the wanted indexes, forwards (oldest
  first, the slice reversed) or backwards (newest first). Centrifugo's list reader ignores
  ``reverse``; here it is served like the stream's.

Publish (both): idempotency result check (HR-12), meta creation with a fresh epoch or refresh
(HR-01), version check (HR-13), previous publication for delta (HR-09), offset increment, append
with size trim and TTL, ``PUBLISH`` tagged with offset and epoch, idempotent result.
"""

from __future__ import annotations

from string import Template

__all__ = [
    "HISTORY_LIST_SCRIPT",
    "HISTORY_STREAM_SCRIPT",
    "PUBLISH_LIST_SCRIPT",
    "PUBLISH_STREAM_SCRIPT",
]

# KEYS: history (stream or list), meta, result, pubsub channel
# ARGV: pub, head, history_size, history_ttl_ms, meta_ttl_ms, new_epoch, use_delta,
#       version, version_epoch, result_ttl_ms, idempotent
# Returns {offset, epoch, suppressed, prev}
_PUBLISH = Template("""
local hist, meta, result, chan = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
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
    redis.call("del", hist)
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
$previous
  end
  offset = redis.call("hincrby", meta, "s", 1)
  if version > 0 then redis.call("hset", meta, "v", ARGV[8], "ve", ARGV[9]) end
$append
  redis.call("pexpire", hist, ARGV[4])
end
redis.call("publish", chan,
  "P" .. ARGV[2] .. ":" .. offset .. ":" .. epoch .. ":" .. #prev .. ":" .. prev .. ARGV[1])
if ARGV[11] == "1" then
  redis.call("set", result, offset .. ":" .. epoch, "PX", ARGV[10])
end
return {offset, epoch, 0, prev}
""")

PUBLISH_STREAM_SCRIPT = _PUBLISH.substitute(
    previous="""
    local last = redis.call("xrevrange", hist, "+", "-", "COUNT", 1)
    if last[1] then prev = last[1][2][2] end""",
    append="""
  redis.call("xadd", hist, "MAXLEN", size, offset .. "-0", "d", ARGV[1])""",
)

PUBLISH_LIST_SCRIPT = _PUBLISH.substitute(
    previous="""
    local last = redis.call("lindex", hist, 0)
    if last then prev = string.sub(last, string.find(last, ":", 1, true) + 1) end""",
    append="""
  redis.call("lpush", hist, offset .. ":" .. ARGV[1])
  redis.call("ltrim", hist, 0, size - 1)""",
)

# KEYS: history (stream or list), meta
# ARGV: new_epoch, meta_ttl_ms, limit, since_offset (-1 = none), reverse, since_epoch
# Returns {top, epoch, status(0 ok, 1 unrecoverable), offset1, pub1, offset2, pub2, ...}
# (a stream gives entry IDs "<offset>-0" as offsets)
_HISTORY = Template("""
local hist, meta = KEYS[1], KEYS[2]
local m = redis.call("hmget", meta, "e", "s")
local epoch = m[1]
if not epoch then
  epoch = ARGV[1]
  redis.call("del", hist)
  redis.call("hset", meta, "e", epoch)
end
local meta_ttl = tonumber(ARGV[2])
if meta_ttl > 0 then redis.call("pexpire", meta, meta_ttl) end
local top = tonumber(m[2]) or 0
if ARGV[6] ~= "" and ARGV[6] ~= epoch then return {top, epoch, 1} end
local limit, since = tonumber(ARGV[3]), tonumber(ARGV[4])
local out = {top, epoch, 0}
if limit == 0 then return out end
local reverse = ARGV[5] == "1"
if reverse and (since == 0 or since == 1) then return out end
$read
return out
""")

HISTORY_STREAM_SCRIPT = _HISTORY.substitute(
    read="""
local args
if reverse then
  local high = "+"
  if since > 1 then high = tostring(since - 1) .. "-0" end
  args = {"xrevrange", hist, high, "-"}
else
  local low = "-"
  if since >= 0 then low = tostring(since + 1) .. "-0" end
  args = {"xrange", hist, low, "+"}
end
if limit > 0 then
  table.insert(args, "COUNT")
  table.insert(args, limit)
end
for _, e in ipairs(redis.call(unpack(args))) do
  table.insert(out, e[1])
  table.insert(out, e[2][2])
end""",
)

HISTORY_LIST_SCRIPT = _HISTORY.substitute(
    read="""
local newest = redis.call("lindex", hist, 0)
if not newest then return out end
local head = tonumber(string.sub(newest, 1, string.find(newest, ":", 1, true) - 1))
local lo, hi
if reverse then
  lo = 0
  if since > 1 then lo = math.max(0, head - since + 1) end
  hi = -1
  if limit > 0 then hi = lo + limit - 1 end
else
  hi = redis.call("llen", hist) - 1
  if since >= 0 then hi = math.min(hi, head - since - 1) end
  if hi < 0 then return out end
  lo = 0
  if limit > 0 then lo = math.max(0, hi - limit + 1) end
end
local items = redis.call("lrange", hist, lo, hi)
local first, last, step = 1, #items, 1
if not reverse then first, last, step = #items, 1, -1 end
for i = first, last, step do
  local item = items[i]
  local sep = string.find(item, ":", 1, true)
  table.insert(out, string.sub(item, 1, sep - 1))
  table.insert(out, string.sub(item, sep + 1))
end""",
)
