-- One write request in one round trip (_gcra.lua, _way_in.lua and _commit.lua are put in
-- front): its way in, then, only if that lets it in within its budget, its commit. Nothing
-- runs between the two, so a key revoked before this script is refused and writes nothing.
--
-- KEYS[1..4] as way_in() reads them   KEYS[5] the timer's hash   KEYS[6] its presence hash
-- then the commit's keys as _commit.lua reads them
-- ARGV as way_in() reads them (5 + 3n of them), then the commit's as _commit.lua reads them
-- Returns {revoked at or false, account JSON or false, gcra's reply or false, the timer's body
-- after this step or false, its presence hash's values, commit_all's reply or false}.

local revoked, account, rate = way_in()
if not account then
  return {revoked, false, false, false, false, false}
end
local committed = false
if rate and rate[1] == 1 then
  committed = commit_all(6, 5 + 3 * tonumber(ARGV[5]))
end
return {false, account, rate, redis.call('HGET', KEYS[5], 'body'), redis.call('HVALS', KEYS[6]),
        committed}
