-- R: GET /v1/rates/current with a partner key (keys chosen at random).
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local common = require("common")
local data = common.load_data()
local path = os.getenv("BENCH_PATH") or "/v1/rates/current"

local n = 0
function setup(thread)
  n = n + 1
  thread:set("tid", n)
end

function init(args)
  math.randomseed(os.time() * 100 + tid)
end

function request()
  return wrk.format("GET", path, {["Authorization"] = "Bearer " .. common.pick(data.keys)})
end

done = common.done
