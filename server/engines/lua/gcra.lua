-- Count one request against an account's budget (the arithmetic is _gcra.lua's, put in front).
--
-- KEYS[1] rate hash {tat, day, count}
-- ARGV[1] requests per minute   ARGV[2] requests per day ('' for no cap)   ARGV[3] now ms
-- Returns {allowed 0|1, limit, remaining, reset_s, window_s, retry_after_s, used_today}.

return gcra(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]))
