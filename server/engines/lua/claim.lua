-- Lease due deliveries to one dispatcher: at most one per timer, none of a timer that has one
-- in flight, so each timer's deliveries go out one at a time and in order.
--
-- KEYS[1] outbox zset (score: due ms; member: 16-digit sequence ':' delivery id)
-- KEYS[2] accounts hash
-- ARGV[1] now ms   ARGV[2] most to take   ARGV[3] lease ms   ARGV[4] claim token
-- ARGV[5] key prefix (every key below shares KEYS[1]'s hash tag, so one slot holds them all)
-- Returns per delivery taken: {account JSON, field, value, field, value, …}.
local now, limit, lease = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local prefix = ARGV[5]
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, limit * 4)
local seen, taken = {}, {}
for _, member in ipairs(due) do
  if #taken >= limit then
    break
  end
  local id = string.sub(member, 18)
  local key = prefix .. 'delivery:' .. id
  local found = redis.call('HMGET', key, 'timer_id', 'status', 'account_id')
  if found[2] ~= 'pending' then
    redis.call('ZREM', KEYS[1], member)  -- finished meanwhile: not the outbox's any more
  elseif not seen[found[1]] then
    seen[found[1]] = true
    -- In flight: "claim token|lease end". The lease is judged by the caller's clock; the key's
    -- own expiry, a minute later, only collects marks that a dead dispatcher left.
    local inflight = prefix .. 'delivery-inflight:' .. found[1]
    local mark = redis.call('GET', inflight)
    if not mark or tonumber(string.match(mark, '|(%d+)$')) <= now then
      redis.call('SET', inflight, ARGV[4] .. '|' .. string.format('%d', now + lease),
                 'PX', lease + 60000)
      redis.call('ZADD', KEYS[1], now + lease, member)
      redis.call('HSET', key, 'claim', ARGV[4], 'due_ms', now + lease)
      local entry = redis.call('HGETALL', key)
      table.insert(entry, 1, redis.call('HGET', KEYS[2], found[3]) or '')
      taken[#taken + 1] = entry
    end
  end
end
return taken
