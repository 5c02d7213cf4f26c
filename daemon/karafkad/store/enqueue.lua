-- Write one batch's jobs and move its partitions' dedupe marks, atomically (store/enqueuer.py says why).
--
-- KEYS[1]  rq:queues (each template's queue key is added to it)
-- KEYS[2]  the job key prefix, rq:job: (a job's key is it .. the job's id)
--
-- ARGV, in this order:
--   dedupe window (seconds a mark or done set is kept), created_at (RQ's timestamp of every job),
--   now (whole seconds since the epoch: the score of a job in the deferred registry, as RQ gives it),
--   prune from (a chain hash with more fields than this is pruned, see "Chains" below), template count
--   per template (numbered from 1 in this order):
--     queue key, at_front ('1' or '0'), ttl (0: none), registry key ('' for the queue itself), kind ('q' a job
--     queued now, 's' one due later in the scheduled registry, 'd' one waiting for another job in the
--     deferred registry), field count, then that many (field name, value) pairs: the job hash's fields that
--     never vary
--   then, to the end, per partition part:
--     mark key (the mark, or the done set),
--     'm' (a mark: the highest offset handled; jobs in offset order) or 'e' (a done set: each offset done),
--     last offset (becomes the mark), highwater (the log end offset, -1: unknown; a mark at or above it is stale),
--     after (-1, or the offset the mark must already reach for this part to be written; if it does not, the
--       part is held: left out whole, no job and no mark, and its position returned),
--     run count,
--     per run (the jobs of one route, see pipeline/outcomes.py's JobNaming):
--       template number for a job due now, template number for a job due later (0: none),
--       template number for a job that waits for another (0: none),
--       id head, id tail, description head,
--       what each job carries besides its offset and data, in this order ('' or any of 'l' its link, 'i' its
--         id, 'd' its description, 't' its due time, 'm' its meta field: '' for none, else the serialized meta
--         holding its message's trace context),
--       ordering ('' none, 'k' by key: each job's link names its chain, 'p' by partition: one chain 'p'),
--       chain hash key ('' without ordering), '1' when a failed predecessor lets a job run (on_failure: skip)
--         else '0', seconds the chain hash is kept after its last write, job count,
--       per job: offset, data, then what the run says it carries.
--   A job's id is id head .. offset .. id tail and its description description head .. offset, unless it
--   carries its own; a job with a due time above 0 uses the run's later template (its scheduled registry).
--
-- Chains (routes with `ordering`): the chain hash maps a chain ('k:' .. key, or 'p') to the id of its last job.
-- A job whose chain's last job is still open (exists, and is not finished; on a skip route, not failed,
-- stopped or canceled either) is written as RQ writes a job with an unfinished dependency: the deferred
-- template, dependency_id(s), in the last job's dependents set, with its own dependencies set, in the queue's
-- deferred registry. A stock worker that finishes the last job enqueues it (RQ's enqueue_dependents, atomic
-- with that job's status). Otherwise it is queued as usual. Either way it becomes its chain's last job, and
-- its hash says which chain it is in (field karafkad_chain: chain hash key, newline, chain). A chain hash
-- that grew past `prune from` fields is pruned as it grows: twice as many fields as a run added are scanned
-- (HSCAN from the cursor kept in its field 'c') and those whose last job is no longer open are removed.
--
-- Returns {written, duplicates, held, deferred}: the jobs written, the positions (from 0, over every job in
-- argument order) of the jobs found already handled, the positions (from 0) of the parts held, and how many
-- of the written jobs wait for another.
local window = tonumber(ARGV[1])
local created = ARGV[2]
local now = tonumber(ARGV[3])
local prune_from = tonumber(ARGV[4])
local template_count = tonumber(ARGV[5])
local i = 6
local templates = {}
for t = 1, template_count do
  local registry = ARGV[i + 3]
  local kind = ARGV[i + 4]
  local field_count = tonumber(ARGV[i + 5])
  -- The HSET arguments of this template's jobs: key, its fields, then data, created_at,
  -- (for a queued job) enqueued_at, and description; key, data and description are filled in per job.
  local fields = {''}
  for f = 1, 2 * field_count do
    fields[f + 1] = ARGV[i + 5 + f]
  end
  local size = #fields
  fields[size + 1] = 'data'
  fields[size + 2] = ''
  fields[size + 3] = 'created_at'
  fields[size + 4] = created
  if kind == 'q' then
    fields[size + 5] = 'enqueued_at'
    fields[size + 6] = created
  end
  fields[#fields + 1] = 'description'
  fields[#fields + 1] = ''
  -- queue key, at_front, ttl, HSET arguments, ids to push or to add to the registry, registry, data's place, kind
  templates[t] = {ARGV[i], ARGV[i + 1] == '1', tonumber(ARGV[i + 2]), fields, {}, registry, size + 2, kind}
  redis.call('SADD', KEYS[1], ARGV[i])
  i = i + 6 + 2 * field_count
end
local job_prefix = KEYS[2]
local written = 0
local deferred = 0
local duplicates = {}
local held = {}
local n = #ARGV
local index = 0
local part = 0

-- Whether a job a chain names is still open: a later job of its chain must wait for it.
local function open(job_id, allow_failure)
  local status = redis.call('HGET', job_prefix .. job_id, 'status')
  if not status or status == 'finished' then
    return false
  end
  if allow_failure and (status == 'failed' or status == 'stopped' or status == 'canceled') then
    return false
  end
  return true
end

-- After a run: its chains' last jobs written, and the chain hash pruned if it grew past `prune_from`.
local function save_chains(chain_key, lasts, changed, allow_failure, keep)
  local args = {}
  for _, chain in ipairs(changed) do
    args[#args + 1] = chain
    args[#args + 1] = lasts[chain]
  end
  local added = redis.call('HSET', chain_key, unpack(args))
  redis.call('EXPIRE', chain_key, keep)
  if added == 0 or redis.call('HLEN', chain_key) <= prune_from then
    return
  end
  local cursor = redis.call('HGET', chain_key, 'c') or '0'
  local scan = redis.call('HSCAN', chain_key, cursor, 'COUNT', 2 * added)
  local gone = {}
  local found = scan[2]
  for f = 1, #found, 2 do
    local chain = found[f]
    if chain ~= 'c' and lasts[chain] == nil and not open(found[f + 1], allow_failure) then
      gone[#gone + 1] = chain
    end
  end
  if #gone > 0 then
    redis.call('HDEL', chain_key, unpack(gone))
  end
  redis.call('HSET', chain_key, 'c', scan[1])
end

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
    local waiting_template = templates[tonumber(ARGV[i + 2])]
    local id_head, id_tail, description_head = ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
    local carries = ARGV[i + 6]
    local ordering = ARGV[i + 7]
    local chain_key = ARGV[i + 8]
    local allow_failure = ARGV[i + 9] == '1'
    local keep = tonumber(ARGV[i + 10])
    local jobs = tonumber(ARGV[i + 11])
    i = i + 12
    local linked = string.find(carries, 'l', 1, true) ~= nil
    local own_id = string.find(carries, 'i', 1, true) ~= nil
    local own_description = string.find(carries, 'd', 1, true) ~= nil
    local timed = string.find(carries, 't', 1, true) ~= nil
    local with_meta = string.find(carries, 'm', 1, true) ~= nil
    local lasts = {}    -- chain -> its last job id (false: none open), as read, then as written by this run
    local changed = {}  -- the chains this run wrote a job to, in order
    for _ = 1, jobs do
      local offset = ARGV[i]
      local data = ARGV[i + 1]
      i = i + 2
      local chain = 'p'
      if linked then
        chain = ARGV[i]
        i = i + 1
      end
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
      local meta = ''
      if with_meta then
        meta = ARGV[i]
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
        local waits_for = false
        if ordering ~= '' then
          local previous = lasts[chain]
          if previous == nil then
            previous = redis.call('HGET', chain_key, chain)
            if previous and not open(previous, allow_failure) then
              previous = false
            end
          end
          -- (a last job written by this run a moment ago is open: no worker has seen it yet)
          waits_for = previous
          if waits_for then
            template = waiting_template
          end
          if lasts[chain] == nil then
            changed[#changed + 1] = chain
          end
          lasts[chain] = job_id
        end
        local key = job_prefix .. job_id
        -- One HSET per job: the template's fields, then this job's
        local args = template[4]
        local size = #args
        args[1] = key
        args[template[7]] = data
        args[size] = description
        if ordering ~= '' then
          args[size + 1] = 'karafkad_chain'
          args[size + 2] = chain_key .. '\n' .. chain
          if waits_for then
            args[size + 3] = 'dependency_id'
            args[size + 4] = waits_for
            args[size + 5] = 'dependency_ids'
            args[size + 6] = '["' .. waits_for .. '"]'
            -- released (by RQ or release_ready.lua) to the front of its queue: it is older than what waits
            -- there, and at the tail a key's chain would move one link per pass through the whole backlog
            args[size + 7] = 'enqueue_at_front'
            args[size + 8] = '1'
          end
        end
        if meta ~= '' then
          args[#args + 1] = 'meta'
          args[#args + 1] = meta
        end
        redis.call('HSET', unpack(args))
        for extra = #args, size + 1, -1 do
          args[extra] = nil
        end
        if template[3] > 0 then
          redis.call('EXPIRE', key, template[3])
        end
        if waits_for then
          -- RQ's dependency: the job it waits for lists it among its dependents, and it lists that job
          redis.call('SADD', job_prefix .. waits_for .. ':dependents', job_id)
          local dependencies = job_prefix .. ':' .. job_id .. ':dependencies'
          redis.call('SADD', dependencies, waits_for)
          if template[3] > 0 then
            redis.call('EXPIRE', dependencies, template[3])
          end
          deferred = deferred + 1
        end
        if template[8] == 's' then
          -- RQ's ScheduledJobRegistry: its scheduler moves the job to the queue when due
          redis.call('ZADD', template[6], due, job_id)
        else
          -- the queue, or (kind 'd') RQ's DeferredJobRegistry
          local listed = template[5]
          listed[#listed + 1] = job_id
        end
        written = written + 1
      else
        duplicates[#duplicates + 1] = index
      end
      index = index + 1
    end
    if #changed > 0 then
      save_chains(chain_key, lasts, changed, allow_failure, keep)
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
-- Queue the ids per template, a few hundred per push (unpack has a stack limit); a waiting job goes into its
-- queue's deferred registry instead, scored by now as RQ's DeferredJobRegistry.add does.
for _, template in ipairs(templates) do
  local listed = template[5]
  if template[8] == 'd' then
    for first = 1, #listed, 250 do
      local scored = {}
      for j = first, math.min(first + 249, #listed) do
        scored[#scored + 1] = now
        scored[#scored + 1] = listed[j]
      end
      redis.call('ZADD', template[6], unpack(scored))
    end
  else
    local push = template[2] and 'LPUSH' or 'RPUSH'
    for first = 1, #listed, 500 do
      redis.call(push, template[1], unpack(listed, first, math.min(first + 499, #listed)))
    end
  end
end
return {written, duplicates, held, deferred}
