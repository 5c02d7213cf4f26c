-- Move the jobs RQ marked ready (their dependency finished) from a queue's ReadyJobRegistry onto the queue,
-- as RQ's ReadyJobRegistry.enqueue_jobs does, atomically (store/ready.py says why karafkad does it too).
--
-- KEYS[1]  the queue's ReadyJobRegistry (rq:ready:QUEUE), KEYS[2] the queue (rq:queue:QUEUE)
-- ARGV     the job key prefix (rq:job:), enqueued_at (RQ's timestamp), the most jobs to move, then the ids of
--          the jobs to move (none: the oldest in the registry)
--
-- A job this call takes out of the registry (ZREM says it was still there: nobody else moved it) and that is
-- still `ready_to_enqueue` becomes `queued` with that enqueued_at (what RQ's Queue._enqueue_job changes in its
-- hash), keeps its ttl, and is pushed to the queue (to its front when its hash says enqueue_at_front). An
-- entry whose job is gone or no longer ready is dropped, as RQ drops it. Returns how many jobs were moved.
local prefix, enqueued_at = ARGV[1], ARGV[2]
local ids = {}
if #ARGV > 3 then
  for a = 4, #ARGV do
    ids[#ids + 1] = ARGV[a]
  end
else
  ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[3]) - 1)
end
local moved = 0
for _, job_id in ipairs(ids) do
  local key = prefix .. job_id
  local fields = redis.call('HMGET', key, 'status', 'enqueue_at_front', 'ttl')
  if redis.call('ZREM', KEYS[1], job_id) == 1 and fields[1] == 'ready_to_enqueue' then
    redis.call('HSET', key, 'status', 'queued', 'enqueued_at', enqueued_at)
    local ttl = tonumber(fields[3] or '')
    if ttl and ttl > 0 then
      redis.call('EXPIRE', key, ttl)
    end
    if fields[2] == '1' then
      redis.call('LPUSH', KEYS[2], job_id)
    else
      redis.call('RPUSH', KEYS[2], job_id)
    end
    moved = moved + 1
  end
end
return moved
