//! The Lua scripts behind [`RedisKv`](super::RedisKv)'s read-modify-writes. Redis runs a
//! script atomically, so each is one round trip that no other client's write can split.
//!
//! Counters are 8-byte little-endian signed integers, as in every backend. Lua 5.1's
//! numbers are doubles, exact only below 2^53, so `add64` adds the two values byte by
//! byte with a carry and saturates on signed overflow: the sum is exact over the whole
//! i64 range. The value keys of a namespace are `PREFIX .. key` (`ARGV[1]`); every key a
//! script touches carries the namespace's hash tag, so a Redis Cluster keeps them in one
//! slot.

use std::sync::LazyLock;

/// `add64(a, b)`: the saturating sum of two 8-byte little-endian integers, as 8 bytes.
/// Values below 2^52 either way (every realistic count) are added as Lua numbers through
/// Redis's `struct` library, exactly (the sum stays below 2^53); the byte-wise carry runs
/// only for the others.
const ADD64: &str = r"
local function add64_bytes(a, b)
  local out = {}
  local carry = 0
  for i = 1, 8 do
    local s = string.byte(a, i) + string.byte(b, i) + carry
    out[i] = s % 256
    carry = math.floor(s / 256)
  end
  local neg_a = string.byte(a, 8) >= 128
  local neg_b = string.byte(b, 8) >= 128
  local neg_r = out[8] >= 128
  if neg_a == neg_b and neg_r ~= neg_a then
    if neg_a then return '\0\0\0\0\0\0\0\128' end
    return '\255\255\255\255\255\255\255\127'
  end
  return string.char(unpack(out))
end
local SMALL = 4503599627370496
local function add64(a, b)
  local x = struct.unpack('<i8', a)
  local y = struct.unpack('<i8', b)
  if x > -SMALL and x < SMALL and y > -SMALL and y < SMALL then
    return struct.pack('<i8', x + y)
  end
  return add64_bytes(a, b)
end
local ZERO = '\0\0\0\0\0\0\0\0'
";

/// Stores (`ARGV[4] == '1'`: `ARGV[5]`, keeping the key's expiry) or removes the value
/// under `ARGV[2]` if it is `ARGV[3]` == '1' and equal to `ARGV[6]`, or `ARGV[3]` == '0'
/// and absent. `KEYS[1]`: the namespace's key index, `KEYS[2]` its expiry index. Returns
/// 1 if it wrote.
pub(super) static COMPARE_AND_SWAP: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
local key = ARGV[1] .. ARGV[2]
local current = redis.call('GET', key)
if ARGV[3] == '0' then
  if current then return 0 end
elseif (not current) or current ~= ARGV[6] then
  return 0
end
if ARGV[4] == '1' then
  redis.call('SET', key, ARGV[5], 'KEEPTTL')
  redis.call('ZADD', KEYS[1], 0, ARGV[2])
else
  redis.call('DEL', key)
  redis.call('ZREM', KEYS[1], ARGV[2])
  redis.call('ZREM', KEYS[2], ARGV[2])
end
return 1
",
    )
});

/// Adds each delta (`ARGV[2k+1]`, 8 bytes) to the counter under `ARGV[2k]`, all or none.
/// Returns `{1, value after each delta…}`, or `{0, key, length}` for the first key whose
/// value is not 8 bytes (then nothing changed). `KEYS[1]`: the namespace's key index.
pub(super) static INCREMENT_MANY: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(&format!(
        "{ADD64}{}",
        r"
local values, order, results = {}, {}, {1}
for i = 2, #ARGV, 2 do
  local key = ARGV[i]
  local current = values[key]
  if current == nil then
    current = redis.call('GET', ARGV[1] .. key)
    if not current then
      current = ZERO
    elseif #current ~= 8 then
      return {0, key, #current}
    end
    order[#order + 1] = key
  end
  values[key] = add64(current, ARGV[i + 1])
  results[#results + 1] = values[key]
end
for _, key in ipairs(order) do
  redis.call('SET', ARGV[1] .. key, values[key], 'KEEPTTL')
  redis.call('ZADD', KEYS[1], 0, key)
end
return results
"
    ))
});

/// Adds deltas to id counters (`KEYS[2]`, a hash of decimal counts) and to counters under
/// string keys, all or none, and removes id counters back at 0. `ARGV[2]`: the room (net
/// entries it may add), `ARGV[3]`: how many id deltas follow as (id, 8-byte delta) pairs;
/// then (key, 8-byte delta) pairs. Returns `{1, added, removed}`, `{0, net}` when over the
/// room, or `{2, key, length}` for a string key that holds no counter. Id counters are
/// stored in the hash as 8-byte little-endian integers too, added by `add64`: exact and
/// saturating over the whole i64 range, as in fjall (an entry that is not 8 bytes reads 0).
pub(super) static COUNTERS_ADD: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(&format!(
        "{ADD64}{}",
        r"
local ids, id_order, existed = {}, {}, {}
local n = tonumber(ARGV[3])
for i = 4, 3 + 2 * n, 2 do
  local id = ARGV[i]
  if ids[id] == nil then
    local current = redis.call('HGET', KEYS[2], id)
    existed[id] = current ~= false
    if (not current) or #current ~= 8 then current = ZERO end
    ids[id] = current
    id_order[#id_order + 1] = id
  end
  ids[id] = add64(ids[id], ARGV[i + 1])
end
local values, key_order, key_existed = {}, {}, {}
for i = 4 + 2 * n, #ARGV, 2 do
  local key = ARGV[i]
  local current = values[key]
  if current == nil then
    current = redis.call('GET', ARGV[1] .. key)
    key_existed[key] = current ~= false
    if not current then
      current = ZERO
    elseif #current ~= 8 then
      return {2, key, #current}
    end
    key_order[#key_order + 1] = key
  end
  values[key] = add64(current, ARGV[i + 1])
end
local added, removed = 0, 0
for _, id in ipairs(id_order) do
  local now = ids[id] ~= ZERO
  if now and not existed[id] then added = added + 1 end
  if existed[id] and not now then removed = removed + 1 end
end
for _, key in ipairs(key_order) do
  if not key_existed[key] then added = added + 1 end
end
if added - removed > tonumber(ARGV[2]) then return {0, added - removed} end
for _, id in ipairs(id_order) do
  if ids[id] == ZERO then
    redis.call('HDEL', KEYS[2], id)
  else
    redis.call('HSET', KEYS[2], id, ids[id])
  end
end
for _, key in ipairs(key_order) do
  redis.call('SET', ARGV[1] .. key, values[key], 'KEEPTTL')
  redis.call('ZADD', KEYS[1], 0, key)
end
return {1, added, removed}
"
    ))
});

/// Gives the value under `ARGV[1]` (the key `ARGV[2]` of the namespace) the deadline
/// `ARGV[4]` (milliseconds since the Unix epoch), or with `ARGV[3] == '0'` none, if it
/// exists; the expiry index `KEYS[1]` scores each expiring key by its deadline. Returns 1
/// if the key exists.
pub(super) static EXPIRE: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
if redis.call('EXISTS', ARGV[1]) == 0 then return 0 end
if ARGV[3] == '0' then
  redis.call('PERSIST', ARGV[1])
  redis.call('ZREM', KEYS[1], ARGV[2])
else
  redis.call('PEXPIREAT', ARGV[1], ARGV[4])
  redis.call('ZADD', KEYS[1], ARGV[4], ARGV[2])
end
return 1
",
    )
});

/// Tidies after Redis expired keys itself: of the first `ARGV[3]` keys in the expiry
/// index `KEYS[1]` whose deadline is at or before `ARGV[2]`, those gone (value prefix
/// `ARGV[1]`) leave the key index `KEYS[2]` too, and those written again since they
/// expired leave the expiry index only. Returns how many left the key index.
pub(super) static SWEEP: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, ARGV[3])
local removed = 0
for _, key in ipairs(due) do
  local ttl = redis.call('PTTL', ARGV[1] .. key)
  if ttl == -2 then
    removed = removed + redis.call('ZREM', KEYS[2], key)
    redis.call('ZREM', KEYS[1], key)
  elseif ttl == -1 then
    redis.call('ZREM', KEYS[1], key)
  end
end
return removed
",
    )
});
