-- One timer commit, all or nothing: version check, timer, deadline, event log, outbox, publish.
--
-- KEYS[1] timer hash            KEYS[2] deadlines zset      KEYS[3] account timers zset
-- KEYS[4] account event stream  KEYS[5] timer event stream  KEYS[6] outbox zset
-- KEYS[7] last commit id of the timer   KEYS[8] delivery sequence   KEYS[9] timer's deliveries
-- KEYS[10] timer's delivery queue        KEYS[11..] one hash per delivery
-- ARGV[1] expected version (0: must not exist)   ARGV[2] new version
-- ARGV[3] timer body ('' deletes the timer)      ARGV[4] account index member
-- ARGV[5] timer id                               ARGV[6] deadline ms ('' clears it)
-- ARGV[7] event stream cap                       ARGV[8] message for the timer channel
-- ARGV[9] timer channel   ARGV[10] deadlines channel   ARGV[11] outbox channel
-- ARGV[12] commit id
-- ARGV[13] event count n, then n × (event id, body),
-- then the delivery count m, then m × (id, account id, event id, url, body, due ms)
-- Returns {1, new version} or {0, stored version}.

local stored = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if stored ~= tonumber(ARGV[1]) then
  if redis.call('GET', KEYS[7]) == ARGV[12] then
    return {1, tonumber(ARGV[2])}  -- this very commit, re-sent after a lost reply
  end
  return {0, stored}
end
local timer_id = ARGV[5]
redis.call('SET', KEYS[7], ARGV[12], 'PX', 86400000)

if ARGV[3] == '' then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[3], ARGV[4])
else
  redis.call('HSET', KEYS[1], 'version', ARGV[2], 'body', ARGV[3])
  redis.call('ZADD', KEYS[3], 0, ARGV[4])
end

if ARGV[6] == '' then
  redis.call('ZREM', KEYS[2], timer_id)
else
  redis.call('ZADD', KEYS[2], ARGV[6], timer_id)
end

local i = 13
local events = tonumber(ARGV[i])
i = i + 1
for _ = 1, events do
  -- The timer's stream reuses the account stream's entry id: one cursor space for both.
  local entry = redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[7], '*',
                           'id', ARGV[i], 'timer', timer_id, 'body', ARGV[i + 1])
  redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[7], entry,
             'id', ARGV[i], 'timer', timer_id, 'body', ARGV[i + 1])
  i = i + 2
end

local deliveries = tonumber(ARGV[i])
i = i + 1
for d = 1, deliveries do
  -- The sequence orders equally due deliveries as written (outbox members sort by it) and
  -- the timer's delivery list newest first.
  local seq = redis.call('INCR', KEYS[8])
  redis.call('HSET', KEYS[10 + d], 'id', ARGV[i], 'account_id', ARGV[i + 1],
             'timer_id', timer_id, 'event_id', ARGV[i + 2], 'url', ARGV[i + 3],
             'body', ARGV[i + 4], 'due_ms', ARGV[i + 5], 'created_at_ms', ARGV[i + 5],
             'status', 'pending', 'attempts', 0, 'run_attempts', 0, 'seq', seq)
  redis.call('ZADD', KEYS[9], seq, ARGV[i])
  -- The timer's queue; only its head is in the outbox (see claim.lua).
  redis.call('ZADD', KEYS[10], seq, ARGV[i])
  if redis.call('ZCARD', KEYS[10]) == 1 then
    redis.call('ZADD', KEYS[6], ARGV[i + 5], string.format('%016d:%s', seq, ARGV[i]))
  end
  i = i + 6
end

redis.call('PUBLISH', ARGV[9], ARGV[8])
if ARGV[6] ~= '' then
  redis.call('PUBLISH', ARGV[10], ARGV[6])
end
if deliveries > 0 then
  redis.call('PUBLISH', ARGV[11], tostring(deliveries))
end
return {1, tonumber(ARGV[2])}
