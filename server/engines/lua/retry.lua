-- Start a finished delivery again: pending, due now, the whole retry schedule ahead.
--
-- KEYS[1] outbox zset   KEYS[2] the delivery's hash
-- ARGV[1] now ms   ARGV[2] outbox channel
-- Returns 1 if started again, 0 if it was pending already, -1 if there is no such delivery.
local d = redis.call('HMGET', KEYS[2], 'status', 'seq', 'id')
if not d[1] then
  return -1
end
if d[1] == 'pending' then
  return 0
end
redis.call('HSET', KEYS[2], 'status', 'pending', 'due_ms', ARGV[1], 'run_attempts', 0)
redis.call('HDEL', KEYS[2], 'claim')
redis.call('ZADD', KEYS[1], ARGV[1], string.format('%016d:%s', tonumber(d[2]), d[3]))
redis.call('PUBLISH', ARGV[2], '1')
return 1
