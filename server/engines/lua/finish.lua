-- Record attempts and settle their deliveries; release each timer for its next delivery.
--
-- KEYS[1] outbox zset
-- ARGV[1] key prefix   ARGV[2] outbox channel
-- then per outcome: delivery id, claim token, attempt JSON, new status, due ms ('' none),
-- gone ('1' or '0')
local prefix = ARGV[1]
local n = (#ARGV - 2) / 6
for o = 1, n do
  local i = 3 + (o - 1) * 6
  local id, claim, status = ARGV[i], ARGV[i + 1], ARGV[i + 3]
  local key = prefix .. 'delivery:' .. id
  local d = redis.call('HMGET', key, 'claim', 'status', 'timer_id', 'url', 'seq', 'account_id')
  if d[3] then
    local member = string.format('%016d:%s', tonumber(d[5]), id)
    local inflight = prefix .. 'delivery-inflight:' .. d[3]
    redis.call('RPUSH', prefix .. 'delivery-attempts:' .. id, ARGV[i + 2])
    redis.call('HINCRBY', key, 'attempts', 1)
    local ours = d[1] == claim and d[2] == 'pending'
    if status == 'succeeded' or ours then
      -- A success is final even if a lease that ran out was taken over meanwhile.
      redis.call('HINCRBY', key, 'run_attempts', 1)
      redis.call('HSET', key, 'status', status)
      redis.call('HDEL', key, 'claim')
      if status == 'pending' then
        redis.call('HSET', key, 'due_ms', ARGV[i + 4])
        redis.call('ZADD', KEYS[1], ARGV[i + 4], member)
      else
        redis.call('ZREM', KEYS[1], member)
      end
    end
    local mark = redis.call('GET', inflight)
    if mark and string.sub(mark, 1, #claim + 1) == claim .. '|' then
      redis.call('DEL', inflight)
    end
    if ARGV[i + 5] == '1' then
      local list = prefix .. 'timer-deliveries:' .. d[6] .. ':' .. d[3]
      for _, other in ipairs(redis.call('ZRANGE', list, 0, -1)) do
        local okey = prefix .. 'delivery:' .. other
        local od = redis.call('HMGET', okey, 'status', 'url', 'seq')
        if od[1] == 'pending' and od[2] == d[4] then
          redis.call('HSET', okey, 'status', 'cancelled')
          redis.call('ZREM', KEYS[1], string.format('%016d:%s', tonumber(od[3]), other))
        end
      end
    end
  end
end
if n > 0 then
  redis.call('PUBLISH', ARGV[2], '0')
end
return n
