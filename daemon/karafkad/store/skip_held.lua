-- Let the jobs waiting behind a job that failed for good run; the failed job stays failed (store/held.py's skip).
--
-- KEYS[1]  the job key prefix, rq:job: (a job's key is it .. the job's id)
-- ARGV     the failed job's id, enqueued_at (RQ's timestamp of the jobs queued now), and the key prefixes of
--          RQ's failed registries (rq:failed:), deferred registries (rq:deferred:) and queues (rq:queue:)
--
-- Nothing is changed unless the job is in its queue's failed registry and carries `karafkad_chain` (it is a job
-- of an ordered route, see enqueue.lua). Then each job waiting for it that is still deferred is queued as a
-- worker queues a job whose dependency finished (RQ's ReadyJobRegistry.enqueue_jobs, Queue._enqueue_job): out of
-- its queue's deferred registry, status queued, enqueued_at set, its `ttl` (when its hash has one) set again on
-- its hash and its dependents and dependencies sets (Job.cleanup), pushed on its queue, at the front when its
-- hash says enqueue_at_front=1 (Job.should_enqueue_at_front: it never ran). The failed job's dependents set is
-- deleted. If the failed job is its chain's last job, the chain forgets it: the key's next message is then
-- queued at once instead of waiting for it.
--
-- Returns {'skipped', 1 when the chain forgot the job else 0, the ids queued...}, or, with nothing changed,
-- {'gone'} (no such job), {'not-failed', its status} or {'unordered'} (no karafkad_chain).
local job_prefix = KEYS[1]
local id = ARGV[1]
local enqueued_at = ARGV[2]
local failed_prefix, deferred_prefix, queue_prefix = ARGV[3], ARGV[4], ARGV[5]
local job_key = job_prefix .. id

local found = redis.call('HMGET', job_key, 'origin', 'status', 'karafkad_chain')
local origin, status, chain = found[1], found[2], found[3]
if not origin then
  return {'gone'}
end
if not redis.call('ZSCORE', failed_prefix .. origin, id) then
  return {'not-failed', status or ''}
end
if not chain then
  return {'unordered'}
end

local answer = {'skipped', 0}
local dependents = job_prefix .. id .. ':dependents'
for _, waiting in ipairs(redis.call('SMEMBERS', dependents)) do
  local key = job_prefix .. waiting
  local fields = redis.call('HMGET', key, 'status', 'origin', 'enqueue_at_front', 'ttl')
  if fields[1] == 'deferred' and fields[2] then
    local queue = fields[2]
    redis.call('ZREM', deferred_prefix .. queue, waiting)
    redis.call('HSET', key, 'status', 'queued', 'enqueued_at', enqueued_at)
    local ttl = tonumber(fields[4] or '')
    if ttl and ttl > 0 then
      redis.call('EXPIRE', key, ttl)
      redis.call('EXPIRE', key .. ':dependents', ttl)
      redis.call('EXPIRE', job_prefix .. ':' .. waiting .. ':dependencies', ttl)
    end
    if fields[3] == '1' then
      redis.call('LPUSH', queue_prefix .. queue, waiting)
    else
      redis.call('RPUSH', queue_prefix .. queue, waiting)
    end
    answer[#answer + 1] = waiting
  end
end
redis.call('DEL', dependents)

local newline = string.find(chain, '\n', 1, true)
if newline then
  local chain_key = string.sub(chain, 1, newline - 1)
  local field = string.sub(chain, newline + 1)
  if redis.call('HGET', chain_key, field) == id then
    redis.call('HDEL', chain_key, field)
    answer[2] = 1
  end
end
return answer
