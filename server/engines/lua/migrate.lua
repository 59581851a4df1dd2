-- Bring an outbox written before deliveries had sequence numbers and per-timer queues (bare
-- delivery ids as members) up to date, all at once. Run when an engine opens; a no-op after.
--
-- KEYS[1] outbox zset   KEYS[2] delivery sequence
-- ARGV[1] key prefix
-- Returns how many deliveries were moved into queues.
local prefix = ARGV[1]
local old = {}
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if not string.find(m, ':', 1, true) then
    old[#old + 1] = m
  end
end
local queues = {}
for _, id in ipairs(old) do
  redis.call('ZREM', KEYS[1], id)
  local key = prefix .. 'delivery:' .. id
  local d = redis.call('HMGET', key, 'status', 'timer_id', 'account_id', 'due_ms',
                       'created_at_ms')
  if d[1] == 'pending' then
    local seq = redis.call('INCR', KEYS[2])
    redis.call('HSET', key, 'seq', seq, 'created_at_ms', d[5] or d[4])
    redis.call('HSETNX', key, 'run_attempts', 0)
    redis.call('ZADD', prefix .. 'timer-deliveries:' .. d[3] .. ':' .. d[2], seq, id)
    local queue = prefix .. 'timer-queue:' .. d[2]
    redis.call('ZADD', queue, seq, id)
    queues[queue] = true
  end
end
for queue in pairs(queues) do
  local head = redis.call('ZRANGE', queue, 0, 0, 'WITHSCORES')
  local due = redis.call('HGET', prefix .. 'delivery:' .. head[1], 'due_ms')
  redis.call('ZADD', KEYS[1], due, string.format('%016d:%s', tonumber(head[2]), head[1]))
end
return #old
