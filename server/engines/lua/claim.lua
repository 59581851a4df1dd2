-- Lease due deliveries to one dispatcher.
--
-- Each timer's pending deliveries form a queue (a sorted set by sequence) and only the queue's
-- head is in the outbox, so a claim takes at most one delivery per timer, in the order written,
-- and a timer with a long queue costs the claim one member. A claimed head stays in the outbox
-- with its score moved to the lease's end: nobody takes it (or anything behind it) until then.
--
-- KEYS[1] outbox zset (score: due ms; member: 16-digit sequence ':' delivery id)
-- KEYS[2] accounts hash
-- ARGV[1] now ms   ARGV[2] most to take   ARGV[3] lease ms   ARGV[4] claim token
-- ARGV[5] key prefix (every key below shares KEYS[1]'s hash tag, so one slot holds them all)
-- Returns per delivery taken: {account JSON, field, value, field, value, …}.
local now, limit, lease = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local prefix = ARGV[5]
local taken = {}
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, limit)) do
  local key = prefix .. 'delivery:' .. string.sub(member, 18)
  if redis.call('HGET', key, 'status') ~= 'pending' then
    redis.call('ZREM', KEYS[1], member)  -- finished meanwhile: not the outbox's any more
  else
    redis.call('ZADD', KEYS[1], now + lease, member)
    redis.call('HSET', key, 'claim', ARGV[4], 'due_ms', now + lease)
    local entry = redis.call('HGETALL', key)
    local account = redis.call('HGET', key, 'account_id')
    table.insert(entry, 1, redis.call('HGET', KEYS[2], account) or '')
    taken[#taken + 1] = entry
  end
end
return taken
