-- A request's way in with a control token (ctl_…) instead of an API key, in one round trip
-- (_gcra.lua is put in front): the thing the path names (a timer), whether the token is its
-- current control token, its owner account and one hit on that account's budget.
--
-- The token is compared as SHA-1 digests, in constant time: the engine sends only the digest
-- of the given token, so neither MONITOR nor SLOWLOG ever shows a token, and a digest leaks
-- nothing of the token it was made from (the tokens are 192 random bits).
-- A token that does not match counts nothing: a timer's id is public (the widget's capability),
-- and knowing it must not let anyone spend its owner's budget.
-- The owner is known only from the thing itself, so the caller cannot declare its rate hash:
-- the script names it from ARGV[3], a prefix carrying the declared keys' hash tag (an account's
-- keys and its timers share one), so it lives in their slot.
--
-- KEYS[1] accounts hash   KEYS[2] the thing's hash: its JSON in field 'body', with
-- 'account_id' and 'control_token'   KEYS[3] its presence hash (a timer's; optional)
-- ARGV[1] SHA-1 hex of the token   ARGV[2] now ms   ARGV[3] rate hash name before the account id
-- ARGV[4] plan count n, then n × (plan, per minute, per day or '')
-- Returns {account JSON or false, gcra's reply or false, the body or false, the presence
-- hash's values or false}: all false unless the token is the thing's.

local function same(a, b)
  if #a ~= #b then
    return false
  end
  local diff = 0
  for i = 1, #a do
    diff = bit.bor(diff, bit.bxor(string.byte(a, i), string.byte(b, i)))
  end
  return diff == 0
end

local body = redis.call('HGET', KEYS[2], 'body')
if not body then
  return {false, false, false, false}
end
local thing = cjson.decode(body)
local token = thing['control_token']
if type(token) ~= 'string' or token == '' or not same(redis.sha1hex(token), ARGV[1]) then
  return {false, false, false, false}
end
local account = redis.call('HGET', KEYS[1], thing['account_id'])
if not account then
  return {false, false, false, false}
end
local rate = hit_plan(ARGV[3] .. thing['account_id'], account, 4, tonumber(ARGV[2]))
local presence = false
if KEYS[3] then
  presence = redis.call('HVALS', KEYS[3])
end
return {account, rate, body, presence}
