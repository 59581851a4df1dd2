-- commit_all(k0, a0): commits of timers and rundowns, all or nothing: every version check
-- first, then for each the object, deadline, event log, outbox, a rundown's timer index, and
-- the publishes.
--
-- ARGV[1] event stream cap   ARGV[2] deadlines channel   ARGV[3] outbox channel
-- ARGV[4] key prefix of a timer's rundowns set   ARGV[5] number of commits n
-- then n blocks of arguments, and n blocks of keys, one of each per commit:
--
-- KEYS  +1 object hash (version, body)  +2 deadlines zset  +3 account index zset
--       +4 account event stream  +5 object event stream  +6 outbox zset
--       +7 last commit id of the object  +8 delivery sequence  +9 object's deliveries
--       +10 object's delivery queue  +11 a rundown's timers set  +12.. one hash per delivery
-- ARGV  +1 expected version (0: must not exist)  +2 new version  +3 body ('' deletes)
--       +4 account index member  +5 object id  +6 deadline ms ('' clears it)
--       +7 message for the object's channel  +8 object channel  +9 commit id
--       +10 member count m (-1: not a rundown), then m timer ids
--       then the event count e, e × (event id, body),
--       then the delivery count d, d × (id, account id, event id, url, body, due ms)
-- Returns {1, new version of the first} or {0, stored version, the object id that failed}.
--
-- The keys and arguments below are counted from KEYS[k0 + 1] and ARGV[a0 + 1]: commit.lua
-- calls it with (0, 0), admit_commit.lua after its own keys and arguments.

local function commit_all(k0, a0)
  local blocks = {}
  local a, k = a0 + 5, k0
  for _ = 1, tonumber(ARGV[a0 + 5]) do
    local block = {a = a, k = k}
    local i = a + 10
    local members = tonumber(ARGV[i])
    block.members = members
    i = i + 1 + math.max(members, 0)
    block.events = i
    i = i + 1 + 2 * tonumber(ARGV[i])
    block.deliveries = i
    local deliveries = tonumber(ARGV[i])
    blocks[#blocks + 1] = block
    a = i + 6 * deliveries
    k = k + 11 + deliveries
  end

  -- Every check before any write: one stale object fails the whole group.
  local resent = false
  for _, b in ipairs(blocks) do
    local stored = tonumber(redis.call('HGET', KEYS[b.k + 1], 'version') or '0')
    if stored ~= tonumber(ARGV[b.a + 1]) then
      if redis.call('GET', KEYS[b.k + 7]) ~= ARGV[b.a + 9] then
        return {0, stored, ARGV[b.a + 5]}
      end
      resent = true  -- this very commit, re-sent after a lost reply
    end
  end
  if resent then
    return {1, tonumber(ARGV[blocks[1].a + 2])}
  end

  local published = 0
  for _, b in ipairs(blocks) do
    local A, K = b.a, b.k
    local object_id = ARGV[A + 5]
    redis.call('SET', KEYS[K + 7], ARGV[A + 9], 'PX', 86400000)

    if ARGV[A + 3] == '' then
      redis.call('DEL', KEYS[K + 1])
      redis.call('ZREM', KEYS[K + 3], ARGV[A + 4])
    else
      redis.call('HSET', KEYS[K + 1], 'version', ARGV[A + 2], 'body', ARGV[A + 3])
      redis.call('ZADD', KEYS[K + 3], 0, ARGV[A + 4])
    end

    if ARGV[A + 6] == '' then
      redis.call('ZREM', KEYS[K + 2], object_id)
    else
      redis.call('ZADD', KEYS[K + 2], ARGV[A + 6], object_id)
    end

    if b.members >= 0 then
      -- A rundown: its timers' entries in the timer → rundowns index follow its new list. The
      -- per-timer sets share the hash tag of the declared keys, so they live in their slot.
      for _, old in ipairs(redis.call('SMEMBERS', KEYS[K + 11])) do
        redis.call('SREM', ARGV[a0 + 4] .. old, object_id)
      end
      redis.call('DEL', KEYS[K + 11])
      if ARGV[A + 3] ~= '' then
        for m = 1, b.members do
          local timer_id = ARGV[A + 10 + m]
          redis.call('SADD', KEYS[K + 11], timer_id)
          redis.call('SADD', ARGV[a0 + 4] .. timer_id, object_id)
        end
      end
    end

    local i = b.events
    local events = tonumber(ARGV[i])
    i = i + 1
    for _ = 1, events do
      -- The object's stream reuses the account stream's entry id: one cursor space for both.
      local entry = redis.call('XADD', KEYS[K + 4], 'MAXLEN', '~', ARGV[a0 + 1], '*',
                               'id', ARGV[i], 'timer', object_id, 'body', ARGV[i + 1])
      redis.call('XADD', KEYS[K + 5], 'MAXLEN', '~', ARGV[a0 + 1], entry,
                 'id', ARGV[i], 'timer', object_id, 'body', ARGV[i + 1])
      i = i + 2
    end

    i = b.deliveries
    local deliveries = tonumber(ARGV[i])
    i = i + 1
    for d = 1, deliveries do
      -- The sequence orders equally due deliveries as written (outbox members sort by it) and
      -- the object's delivery list newest first.
      local seq = redis.call('INCR', KEYS[K + 8])
      redis.call('HSET', KEYS[K + 11 + d], 'id', ARGV[i], 'account_id', ARGV[i + 1],
                 'timer_id', object_id, 'event_id', ARGV[i + 2], 'url', ARGV[i + 3],
                 'body', ARGV[i + 4], 'due_ms', ARGV[i + 5], 'created_at_ms', ARGV[i + 5],
                 'status', 'pending', 'attempts', 0, 'run_attempts', 0, 'seq', seq)
      redis.call('ZADD', KEYS[K + 9], seq, ARGV[i])
      -- The object's queue; only its head is in the outbox (see claim.lua).
      redis.call('ZADD', KEYS[K + 10], seq, ARGV[i])
      if redis.call('ZCARD', KEYS[K + 10]) == 1 then
        redis.call('ZADD', KEYS[K + 6], ARGV[i + 5], string.format('%016d:%s', seq, ARGV[i]))
      end
      i = i + 6
    end
    published = published + deliveries

    redis.call('PUBLISH', ARGV[A + 8], ARGV[A + 7])
    if ARGV[A + 6] ~= '' then
      redis.call('PUBLISH', ARGV[a0 + 2], ARGV[A + 6])
    end
  end
  if published > 0 then
    redis.call('PUBLISH', ARGV[a0 + 3], tostring(published))
  end
  return {1, tonumber(ARGV[blocks[1].a + 2])}
end
