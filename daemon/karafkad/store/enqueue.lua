-- Write one batch's jobs and move its partitions' dedupe marks, atomically (store/enqueuer.py says why).
--
-- KEYS[1]  rq:queues (each template's queue key is added to it)
-- KEYS[2]  the job key prefix, rq:job: (a job's key is it .. the job's id)
--
-- ARGV, in this order:
--   dedupe window (seconds a mark or done set is kept), created_at (RQ's timestamp of every job), template count
--   per template (numbered from 1 in this order):
--     queue key, at_front ('1' or '0'), ttl (0: none), scheduled registry key ('' for the queue itself),
--     field count, then that many (field name, value) pairs: the job hash's fields that never vary
--   then, to the end, per partition part:
--     mark key (the mark, or the done set),
--     'm' (a mark: the highest offset handled; jobs in offset order) or 'e' (a done set: each offset done),
--     last offset (becomes the mark), highwater (the log end offset, -1: unknown; a mark at or above it is stale),
--     after (-1, or the offset the mark must already reach for this part to be written; if it does not, the
--       part is held: left out whole, no job and no mark, and its position returned),
--     run count,
--     per run (the jobs of one route, see pipeline/outcomes.py's JobNaming):
--       template number for a job due now, template number for a job due later (0: none),
--       id head, id tail, description head,
--       what each job carries besides its offset and data, in this order ('' or any of 'i' its id,
--         'd' its description, 't' its due time), job count,
--       per job: offset, data, then what the run says it carries.
--   A job's id is id head .. offset .. id tail and its description description head .. offset, unless it
--   carries its own; a job with a due time above 0 uses the run's later template (its scheduled registry).
--
-- Returns {written, duplicates, held}: the jobs written, the positions (from 0, over every job in argument
-- order) of the jobs found already handled, and the positions (from 0) of the parts held.
local window = tonumber(ARGV[1])
local created = ARGV[2]
local template_count = tonumber(ARGV[3])
local i = 4
local templates = {}
for t = 1, template_count do
  local registry = ARGV[i + 3]
  local field_count = tonumber(ARGV[i + 4])
  -- The HSET arguments of this template's jobs: key, its fields, then data, created_at,
  -- (for a queued job) enqueued_at, and description; key, data and description are filled in per job.
  local fields = {''}
  for f = 1, 2 * field_count do
    fields[f + 1] = ARGV[i + 4 + f]
  end
  local size = #fields
  fields[size + 1] = 'data'
  fields[size + 2] = ''
  fields[size + 3] = 'created_at'
  fields[size + 4] = created
  if registry == '' then
    fields[size + 5] = 'enqueued_at'
    fields[size + 6] = created
  end
  fields[#fields + 1] = 'description'
  fields[#fields + 1] = ''
  templates[t] = {ARGV[i], ARGV[i + 1] == '1', tonumber(ARGV[i + 2]), fields, {}, registry, size + 2}
  redis.call('SADD', KEYS[1], ARGV[i])
  i = i + 5 + 2 * field_count
end
local job_prefix = KEYS[2]
local written = 0
local duplicates = {}
local held = {}
local n = #ARGV
local index = 0
local part = 0
while i <= n do
  local mark_key = ARGV[i]
  local each = ARGV[i + 1] == 'e'
  local last = tonumber(ARGV[i + 2])
  local highwater = tonumber(ARGV[i + 3])
  local after = tonumber(ARGV[i + 4])
  local runs = tonumber(ARGV[i + 5])
  i = i + 6
  local mark = -1
  local hold = false
  if not each then
    mark = tonumber(redis.call('GET', mark_key) or '-1')
    if highwater >= 0 and mark >= highwater then
      mark = -1
    end
    -- An earlier batch of this partition is not written yet: this part must not land first.
    hold = after >= 0 and mark < after
  end
  if hold then
    held[#held + 1] = part
  end
  for _ = 1, runs do
    local now_template = templates[tonumber(ARGV[i])]
    local later_template = templates[tonumber(ARGV[i + 1])]
    local id_head, id_tail, description_head = ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
    local carries = ARGV[i + 5]
    local own_id = string.find(carries, 'i', 1, true) ~= nil
    local own_description = string.find(carries, 'd', 1, true) ~= nil
    local timed = string.find(carries, 't', 1, true) ~= nil
    local jobs = tonumber(ARGV[i + 6])
    i = i + 7
    for _ = 1, jobs do
      local offset = ARGV[i]
      local data = ARGV[i + 1]
      i = i + 2
      local job_id
      if own_id then
        job_id = ARGV[i]
        i = i + 1
      else
        job_id = id_head .. offset .. id_tail
      end
      local description
      if own_description then
        description = ARGV[i]
        i = i + 1
      else
        description = description_head .. offset
      end
      local due = 0
      if timed then
        due = tonumber(ARGV[i])
        i = i + 1
      end
      local fresh
      if hold then
        fresh = false
      elseif each then
        -- A set of offsets done, for jobs made out of order (re-driven dead letters)
        fresh = redis.call('HSETNX', mark_key, offset, '1') == 1
      else
        fresh = tonumber(offset) > mark
      end
      if hold then
        -- left out: neither written nor a duplicate
      elseif fresh then
        local template = now_template
        if due > 0 then
          template = later_template
        end
        local key = job_prefix .. job_id
        -- One HSET per job: the template's fields, then this job's
        local args = template[4]
        args[1] = key
        args[template[7]] = data
        args[#args] = description
        redis.call('HSET', unpack(args))
        if template[3] > 0 then
          redis.call('EXPIRE', key, template[3])
        end
        if template[6] == '' then
          local queued = template[5]
          queued[#queued + 1] = job_id
        else
          -- RQ's ScheduledJobRegistry: its scheduler moves the job to the queue when due
          redis.call('ZADD', template[6], due, job_id)
        end
        written = written + 1
      else
        duplicates[#duplicates + 1] = index
      end
      index = index + 1
    end
  end
  if hold then
    -- the mark stays where the earlier batch will move it
  elseif each or last <= mark then
    redis.call('EXPIRE', mark_key, window)
  else
    redis.call('SET', mark_key, last, 'EX', window)
  end
  part = part + 1
end
-- Queue the ids per template, a few hundred per push (unpack has a stack limit).
for _, template in ipairs(templates) do
  local queued = template[5]
  local push = template[2] and 'LPUSH' or 'RPUSH'
  for first = 1, #queued, 500 do
    redis.call(push, template[1], unpack(queued, first, math.min(first + 499, #queued)))
  end
end
return {written, duplicates, held}
