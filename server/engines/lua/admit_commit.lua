-- One write request in one round trip (_gcra.lua and _commit.lua are put in front): its way in
-- as admit.lua takes it, then, only if that lets it in within its budget, its commit. Nothing
-- runs between the two, so a key revoked before this script is refused and writes nothing.
--
-- KEYS[1] revoked keys hash   KEYS[2] last use hash   KEYS[3] accounts hash
-- KEYS[4] the account's rate hash   KEYS[5] the timer's hash   KEYS[6] its presence hash
-- then the commit's keys as _commit.lua reads them
-- ARGV[1] key id   ARGV[2] account id   ARGV[3] now ms   ARGV[4] stamp a use older than (ms)
-- ARGV[5] plan count n, then n × (plan, per minute, per day or ''),
-- then the commit's arguments as _commit.lua reads them
-- Returns {revoked at or false, account JSON or false, gcra's reply or false, the timer's body
-- after this step or false, its presence hash's values, commit_all's reply or false}.

local revoked = redis.call('HGET', KEYS[1], ARGV[1])
if revoked then
  return {revoked, false, false, false, false, false}
end
local account = redis.call('HGET', KEYS[3], ARGV[2])
if not account then
  return {false, false, false, false, false, false}
end
local now = tonumber(ARGV[3])
local used = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '')
if used == nil or now - used >= tonumber(ARGV[4]) then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
end
local rate = hit_plan(KEYS[4], account, 5, now)
local committed = false
if rate and rate[1] == 1 then
  committed = commit_all(6, 5 + 3 * tonumber(ARGV[5]))
end
return {false, account, rate, redis.call('HGET', KEYS[5], 'body'), redis.call('HVALS', KEYS[6]),
        committed}
