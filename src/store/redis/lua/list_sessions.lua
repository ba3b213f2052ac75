-- One page of a user's live sessions, in index order (expiry ms, then the
-- sid's text), read-only. The page starts after the cursor (score, sid):
-- its rank comes from ZCOUNT (O(log N)), so a page costs O(log N + size)
-- whatever the user's number of sessions. Entries tied with the cursor's
-- score are skipped up to the cursor's sid without counting against the
-- budget (ties need sessions ending in the same millisecond).
-- KEYS[1] sessions index, KEYS[2] user's generation
-- ARGV[1] base, ARGV[2] now ms, ARGV[3] cursor score ('' = from the
-- start), ARGV[4] cursor sid, ARGV[5] page size, ARGV[6] entries examined
-- at most (hashes gone or of an ended generation are skipped)
-- Answers {next score or '', next sid or '', {{sid, fields}, ...}}.
local gen = tonumber(redis.call('GET', KEYS[2]) or '1')
local start = redis.call('ZCOUNT', KEYS[1], '-inf', ARGV[2])
local after = nil
if ARGV[3] ~= '' then
  after = tonumber(ARGV[3])
  start = math.max(start, redis.call('ZCOUNT', KEYS[1], '-inf', '(' .. ARGV[3]))
end
local size = tonumber(ARGV[5])
local budget = tonumber(ARGV[6])
local total = redis.call('ZCARD', KEYS[1])
local out = {}
local last = nil
local pos = start
while #out < size and budget > 0 and pos < total do
  local chunk = redis.call('ZRANGE', KEYS[1], pos, pos + size - 1, 'WITHSCORES')
  if #chunk == 0 then
    break
  end
  for i = 1, #chunk, 2 do
    local sid, score = chunk[i], chunk[i + 1]
    pos = pos + 1
    if not (after and tonumber(score) == after and sid <= ARGV[4]) then
      budget = budget - 1
      last = { score, sid }
      local fam = ARGV[1] .. 'fam:' .. sid
      local fields = redis.call('HGETALL', fam)
      if #fields > 0 and tonumber(redis.call('HGET', fam, 'g') or '1') >= gen then
        out[#out + 1] = { sid, fields }
      end
      if #out == size or budget == 0 then
        break
      end
    end
  end
end
if pos < total and last then
  return { last[1], last[2], out }
end
return { '', '', out }
