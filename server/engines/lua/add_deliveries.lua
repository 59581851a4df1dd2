-- Deliveries added to the outbox outside a timer commit (the send-test action), then a wake-up.
--
-- KEYS[1] outbox zset   KEYS[2] delivery sequence
-- KEYS[3..] per delivery: its timer's delivery list, its timer's queue, its hash
-- ARGV[1] outbox channel, then per delivery: id, account id, timer id, event id, url, body,
-- due ms
local n = (#KEYS - 2) / 3
for d = 1, n do
  local i = 2 + (d - 1) * 7
  local k = 3 + (d - 1) * 3
  local seq = redis.call('INCR', KEYS[2])
  redis.call('HSET', KEYS[k + 2], 'id', ARGV[i], 'account_id', ARGV[i + 1],
             'timer_id', ARGV[i + 2], 'event_id', ARGV[i + 3], 'url', ARGV[i + 4],
             'body', ARGV[i + 5], 'due_ms', ARGV[i + 6], 'created_at_ms', ARGV[i + 6],
             'status', 'pending', 'attempts', 0, 'run_attempts', 0, 'seq', seq)
  redis.call('ZADD', KEYS[k], seq, ARGV[i])
  redis.call('ZADD', KEYS[k + 1], seq, ARGV[i])
  if redis.call('ZCARD', KEYS[k + 1]) == 1 then
    redis.call('ZADD', KEYS[1], ARGV[i + 6], string.format('%016d:%s', seq, ARGV[i]))
  end
end
if n > 0 then
  redis.call('PUBLISH', ARGV[1], tostring(n))
end
return n
