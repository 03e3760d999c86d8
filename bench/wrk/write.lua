-- W: a buy verify (POST /v1/transactions/buy) then its confirm
-- (POST /v1/transactions/{id}/confirm), for users chosen at random.
-- wrk interleaves the connections of a thread, so ids of verified trades go
-- into a per-thread queue: the next request() of any connection confirms one.
-- Each user belongs to one partner: data.users[i] = {key=..., id=...};
-- data.key_of_user[user_id] gives the key back when the verify answers.
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local common = require("common")
local data = common.load_data()
local amount = os.getenv("BENCH_BUY_AMOUNT") or "100.00"

local pending = {}   -- queue of {id, key}
local head, tail = 1, 0
local seq = 0
local tag
verified, confirmed, failed = 0, 0, 0  -- read by done() through thread:get()

function init(args)
  -- tid is set by setup() in the main state: unique per thread.
  math.randomseed(os.time() * 100 + tid)
  tag = string.format("%x-%d-%x", os.time(), tid, math.random(0, 0xffffff))
end

local function next_key()
  seq = seq + 1
  return tag .. "-" .. seq
end

function request()
  if head <= tail then
    local item = pending[head]
    pending[head] = nil
    head = head + 1
    return wrk.format("POST", "/v1/transactions/" .. item.id .. "/confirm", {
      ["Authorization"] = "Bearer " .. item.key,
      ["Content-Type"] = "application/json",
      ["Idempotency-Key"] = next_key(),
    }, "{}")
  end
  local u = common.pick(data.users)
  return wrk.format("POST", "/v1/transactions/buy", {
    ["Authorization"] = "Bearer " .. u.key,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = next_key(),
  }, '{"user_id":"' .. u.id .. '","rate_id":"' .. data.rate_id .. '","amount":"' .. amount .. '"}')
end

function response(status, headers, body)
  if status == 200 and body:find('"status"%s*:%s*"confirmed"') then
    confirmed = confirmed + 1
    return
  end
  if status >= 300 then
    failed = failed + 1
    if failed <= 3 then io.stderr:write("W error " .. status .. ": " .. body:sub(1, 300) .. "\n") end
    return
  end
  if status == 201 and body:find('"status"%s*:%s*"pending"') then
    local id = body:match('"id"%s*:%s*"([0-9a-f%-]+)"')
    local uid = body:match('"user_id"%s*:%s*"([0-9a-f%-]+)"')
    local key = data.key_of_user[uid]
    if id and key then
      tail = tail + 1
      pending[tail] = {id = id, key = key}
      verified = verified + 1
    end
  end
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function done(summary, latency, requests)
  local v, c, f = 0, 0, 0
  for _, t in ipairs(threads) do
    v = v + t:get("verified")
    c = c + t:get("confirmed")
    f = f + t:get("failed")
  end
  common.done(summary, latency, requests, string.format('"verified":%d,"confirmed":%d,"failed":%d', v, c, f))
end
