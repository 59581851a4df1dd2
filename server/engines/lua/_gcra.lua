-- The rate-limit arithmetic, the same as engines/_gcra.py, shared by gcra.lua, admit.lua and
-- admit_control.lua (the engine puts this file in front of each). GCRA for the minute window, a counter for the
-- UTC day. A refused request consumes nothing.
--
-- gcra(key, per_minute, per_day or nil, now): key is the rate hash {tat, day, count}.
-- Returns {allowed 0|1, limit, remaining, reset_s, window_s, retry_after_s, used_today}.
--
-- hit_plan(key, account JSON, first, now): one gcra hit at the account's plan's rate, the plans
-- given from ARGV[first] on: their count n (0: count nothing), then n × (plan, per minute, per
-- day or ''). Returns gcra's reply, or false when nothing was counted.

local function gcra(key, per_minute, per_day, now)
  local WINDOW, DAY = 60000, 86400000
  local state = redis.call('HMGET', key, 'tat', 'day', 'count')
  local tat = tonumber(state[1]) or 0
  local day, count = tonumber(state[2]) or 0, tonumber(state[3]) or 0

  local interval = WINDOW / per_minute
  local today = math.floor(now / DAY)
  if day ~= today then
    day, count = today, 0
  end
  local new_tat = math.max(tat, now) + interval
  local minute_ok = new_tat - WINDOW <= now
  local day_ok = per_day == nil or count < per_day
  if minute_ok and day_ok then
    tat, count = new_tat, count + 1
    redis.call('HSET', key, 'tat', string.format('%.17g', tat), 'day', day, 'count', count)
    redis.call('PEXPIRE', key, 2 * DAY)
  end

  local minute_left = math.max(0, math.floor((now + WINDOW - math.max(tat, now)) / interval + 1e-9))
  local minute_reset = math.ceil((math.max(tat, now) - now) / 1000)
  local day_reset = math.ceil(((today + 1) * DAY - now) / 1000)
  local limit, remaining, reset, window = per_minute, minute_left, minute_reset, 60
  if per_day ~= nil and per_day - count < minute_left then
    limit, remaining, reset, window = per_day, per_day - count, day_reset, 86400
  end
  if minute_ok and day_ok then
    return {1, limit, remaining, reset, window, 0, count}
  end
  local retry = 0
  if not minute_ok then
    retry = math.ceil((new_tat - WINDOW - now) / 1000)
  end
  if not day_ok then
    retry = math.max(retry, day_reset)
  end
  return {0, limit, 0, reset, window, math.max(1, retry), count}
end

local function hit_plan(key, account, first, now)
  local n = tonumber(ARGV[first])
  if n == 0 then
    return false
  end
  local plan = cjson.decode(account)['plan']
  for i = first + 1, first + 3 * n, 3 do
    if ARGV[i] == plan then
      return gcra(key, tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2]), now)
    end
  end
  return false
end
