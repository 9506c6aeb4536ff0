-- A Redis Lua token bucket, written the way rate-limiter-flexible and @upstash/ratelimit do
-- theirs: HMGET the state, refill by elapsed time, take, HSET, PEXPIRE.
-- KEYS[1] bucket; ARGV capacity, refill per millisecond, cost. Returns {allowed 1|0, tokens left}.
local key = KEYS[1]
local capacity = tonumber(ARGV[1])
local per_ms = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local s = redis.call('HMGET', key, 'tokens', 'ts')
local tokens = tonumber(s[1])
local ts = tonumber(s[2])
if tokens == nil then tokens = capacity; ts = now end
tokens = math.min(capacity, tokens + (now - ts) * per_ms)
local allowed = 0
if tokens >= cost then tokens = tokens - cost; allowed = 1 end
redis.call('HSET', key, 'tokens', tokens, 'ts', now)
redis.call('PEXPIRE', key, math.ceil((capacity - tokens) / per_ms) + 1000)
return {allowed, math.floor(tokens)}
