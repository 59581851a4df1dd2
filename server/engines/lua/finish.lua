-- Record attempts and settle their deliveries; put each timer's next delivery in the outbox.
--
-- KEYS[1] outbox zset
-- ARGV[1] key prefix   ARGV[2] outbox channel
-- then per outcome: delivery id, claim token, attempt JSON, new status, due ms ('' none),
-- gone ('1' or '0')
local prefix = ARGV[1]

local function member(seq, id)
  return string.format('%016d:%s', tonumber(seq), id)
end

-- The queue's head into the outbox at its due time, unless the head is there already.
local function promote(queue)
  local head = redis.call('ZRANGE', queue, 0, 0, 'WITHSCORES')
  if head[1] then
    local due = redis.call('HGET', prefix .. 'delivery:' .. head[1], 'due_ms')
    local m = member(head[2], head[1])
    if not redis.call('ZSCORE', KEYS[1], m) then
      redis.call('ZADD', KEYS[1], due, m)
    end
  end
end

local n = (#ARGV - 2) / 6
for o = 1, n do
  local i = 3 + (o - 1) * 6
  local id, claim, status = ARGV[i], ARGV[i + 1], ARGV[i + 3]
  local key = prefix .. 'delivery:' .. id
  local d = redis.call('HMGET', key, 'claim', 'status', 'timer_id', 'url', 'seq', 'account_id')
  if d[3] then
    local queue = prefix .. 'timer-queue:' .. d[3]
    redis.call('RPUSH', prefix .. 'delivery-attempts:' .. id, ARGV[i + 2])
    redis.call('HINCRBY', key, 'attempts', 1)
    local ours = d[1] == claim and d[2] == 'pending'
    if status == 'succeeded' or ours then
      -- A success is final even if a lease that ran out was taken over meanwhile.
      redis.call('HINCRBY', key, 'run_attempts', 1)
      redis.call('HSET', key, 'status', status)
      if ours then
        redis.call('HDEL', key, 'claim')
      end
      if status == 'pending' then
        redis.call('HSET', key, 'due_ms', ARGV[i + 4])
        redis.call('ZADD', KEYS[1], ARGV[i + 4], member(d[5], id))
      else
        redis.call('ZREM', KEYS[1], member(d[5], id))
        redis.call('ZREM', queue, id)
      end
    end
    if ARGV[i + 5] == '1' then
      for _, other in ipairs(redis.call('ZRANGE', queue, 0, -1)) do
        local okey = prefix .. 'delivery:' .. other
        local od = redis.call('HMGET', okey, 'url', 'seq')
        if od[1] == d[4] then
          redis.call('HSET', okey, 'status', 'cancelled')
          redis.call('ZREM', queue, other)
          redis.call('ZREM', KEYS[1], member(od[2], other))
        end
      end
    end
    promote(queue)
  end
end
if n > 0 then
  redis.call('PUBLISH', ARGV[2], '0')
end
return n
