-- One API request's way in, in one round trip (_gcra.lua and _way_in.lua are put in front):
-- way_in(), and the timer asked for with its viewers.
--
-- KEYS[1..4] as way_in() reads them   KEYS[5] the timer's hash and KEYS[6] its presence hash
-- (only when a timer is asked for)
-- ARGV as way_in() reads them
-- Returns {revoked at or false, account JSON or false, gcra's reply or false, timer or false,
-- the presence hash's values (each process's "viewers:expires_ms") or false}.

local revoked, account, rate = way_in()
if not account then
  return {revoked, false, false, false, false}
end
local timer, presence = false, false
if KEYS[5] then
  timer = redis.call('HGET', KEYS[5], 'body')
  presence = redis.call('HVALS', KEYS[6])
end
return {false, account, rate, timer, presence}
