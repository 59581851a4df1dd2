-- Start a finished delivery again: pending, due now, the whole retry schedule ahead. It joins
-- its timer's queue in the order it was written: into the outbox if the queue was empty, else
-- it waits for the delivery ahead of it (finish.lua moves it up).
--
-- KEYS[1] outbox zset   KEYS[2] the delivery's hash   KEYS[3] the timer's queue
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
redis.call('ZADD', KEYS[3], d[2], d[3])
if redis.call('ZCARD', KEYS[3]) == 1 then
  redis.call('ZADD', KEYS[1], ARGV[1], string.format('%016d:%s', tonumber(d[2]), d[3]))
end
redis.call('PUBLISH', ARGV[2], '1')
return 1
