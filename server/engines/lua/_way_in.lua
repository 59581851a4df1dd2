-- way_in(): one API request's way in, as admit.lua and admit_commit.lua take it (_gcra.lua is
-- put in front): the key's revocation, its account, its last use, and one hit on the account's
-- budget. A revoked key or a missing account counts nothing and stamps nothing.
--
-- KEYS[1] revoked keys hash   KEYS[2] last use hash   KEYS[3] accounts hash
-- KEYS[4] the account's rate hash
-- ARGV[1] key id   ARGV[2] account id   ARGV[3] now ms   ARGV[4] stamp a use older than (ms)
-- ARGV[5] plan count n (0: count nothing), then n × (plan, per minute, per day or '')
-- Returns revoked at or false, the account JSON or false, gcra's reply or false.

local function way_in()
  local revoked = redis.call('HGET', KEYS[1], ARGV[1])
  if revoked then
    return revoked, false, false
  end
  local account = redis.call('HGET', KEYS[3], ARGV[2])
  if not account then
    return false, false, false
  end
  local now = tonumber(ARGV[3])
  local used = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '')
  if used == nil or now - used >= tonumber(ARGV[4]) then
    redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
  end
  return false, account, hit_plan(KEYS[4], account, 5, now)
end
