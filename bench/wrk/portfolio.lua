-- P: a user's portfolio, then the first page of their history, alternating,
-- for users chosen at random.
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local common = require("common")
local data = common.load_data()
local limit = os.getenv("BENCH_PAGE_LIMIT") or "20"
local flip = false

local n = 0
function setup(thread)
  n = n + 1
  thread:set("tid", n)
end

function init(args)
  math.randomseed(os.time() * 100 + tid)
end

function request()
  local u = common.pick(data.users)
  flip = not flip
  local path
  if flip then
    path = "/v1/users/" .. u.id .. "/portfolio"
  else
    path = "/v1/users/" .. u.id .. "/transactions?limit=" .. limit
  end
  return wrk.format("GET", path, {["Authorization"] = "Bearer " .. u.key})
end

done = common.done
