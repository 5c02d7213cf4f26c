-- Which failed jobs of ordered routes hold their key, and what is known of each (store/held.py); reads only.
--
-- KEYS[1]  the job key prefix, rq:job: (a job's key is it .. the job's id)
-- KEYS[2]  the results key prefix, rq:results: (a job's results stream is it .. the job's id)
-- ARGV     a failed registry's key ('' for none), how many of its jobs to read (the newest: the highest
--          scores), the most jobs to count behind one held key, the most dependents sets to read for the counts
--          of the whole call, the number of job id prefixes, then per prefix: the prefix and '1' when a failed
--          job that is its chain's last job holds its key (on_failure: hold) else '0'; then, to the end, job ids
--          to look at besides those of the registry
--
-- A job is looked at when its id starts with one of the prefixes and a `-`. It holds its key when its hash
-- names its chain (karafkad_chain: the chain hash's key, a newline, the chain) and jobs wait for it (its
-- dependents set is not empty), or, on a hold route, when it is its chain's last job (the key's next message
-- would wait for it). The jobs waiting behind it are counted through each one's dependents, up to the limit per
-- key and within the budget of the call (a count cut short says so). One call, however many failed jobs: each
-- costs Redis a few microseconds, where the same commands pipelined cost the daemon's Python ~15 to 30 each.
--
-- Returns {failed jobs in the registry, how many were read, then per job that holds its key: its id, its chain
-- field, its ended_at, how many jobs wait behind it, 1 when that is all of them else 0, its latest result's
-- type and exc_string (RQ 3: b64 of a zlib stream), its hash's exc_info (earlier RQ)}; '' for what is missing.
local job_prefix, results_prefix = KEYS[1], KEYS[2]
local registry = ARGV[1]
local limit = tonumber(ARGV[2])
local per_key = tonumber(ARGV[3])
local budget = tonumber(ARGV[4])
local heads = {}
local i = 6
for _ = 1, tonumber(ARGV[5]) do
  heads[#heads + 1] = {ARGV[i] .. '-', ARGV[i + 1] == '1'}
  i = i + 2
end
local ids = {}
local total = 0
if registry ~= '' then
  total = redis.call('ZCARD', registry)
  ids = redis.call('ZREVRANGE', registry, 0, limit - 1)
end
local read = #ids
for j = i, #ARGV do
  ids[#ids + 1] = ARGV[j]
end

-- The jobs in line behind `id` (its dependents, theirs, ...), and 1 when all were counted.
local function waiting_behind(id)
  local count, front, seen = 0, {id}, {[id] = true}
  while #front > 0 do
    local following = {}
    for _, job in ipairs(front) do
      if budget <= 0 then
        return count, 0
      end
      budget = budget - 1
      for _, next_job in ipairs(redis.call('SMEMBERS', job_prefix .. job .. ':dependents')) do
        if not seen[next_job] then
          if count >= per_key then
            return count, 0
          end
          seen[next_job] = true
          count = count + 1
          following[#following + 1] = next_job
        end
      end
    end
    front = following
  end
  return count, 1
end

local answer = {total, read}
for _, id in ipairs(ids) do
  local hold_last = nil
  for _, head in ipairs(heads) do
    if string.sub(id, 1, #head[1]) == head[1] then
      hold_last = head[2]
      break
    end
  end
  local found = hold_last ~= nil and redis.call('HMGET', job_prefix .. id, 'karafkad_chain', 'ended_at', 'exc_info')
  local chain = found and found[1]
  if chain then
    local held = redis.call('SCARD', job_prefix .. id .. ':dependents') > 0
    if not held and hold_last then
      local newline = string.find(chain, '\n', 1, true)
      held = newline ~= nil and
        redis.call('HGET', string.sub(chain, 1, newline - 1), string.sub(chain, newline + 1)) == id
    end
    if held then
      local count, complete = waiting_behind(id)
      local kind, exc = '', ''
      local latest = redis.call('XREVRANGE', results_prefix .. id, '+', '-', 'COUNT', 1)[1]
      if latest then
        local fields = latest[2]
        for f = 1, #fields, 2 do
          if fields[f] == 'type' then
            kind = fields[f + 1]
          elseif fields[f] == 'exc_string' then
            exc = fields[f + 1]
          end
        end
      end
      local rest = {id, chain, found[2] or '', count, complete, kind, exc, found[3] or ''}
      for _, value in ipairs(rest) do
        answer[#answer + 1] = value
      end
    end
  end
end
return answer
