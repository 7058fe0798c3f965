-- The nginx side of the vanished-file tests: each worker records every request to
-- /hit, and /metrics renders the registry.
--
--   init_worker_by_lua_block { require("app").init(REGISTRY_PATH) }
--   content_by_lua_block     { require("app").hit() }       -- /hit
--   content_by_lua_block     { require("app").collect() }   -- /metrics

local M = {}

local prometheus, looked

function M.init(path)
    prometheus = require("metricore.prometheus").init(path)
    looked = prometheus:counter("faults_looked", "Recorded through a lookup each time.", { "lang" })
end

function M.hit()
    looked:inc(1, { "lua" })
    ngx.say("ok")
end

function M.collect()
    prometheus:collect()
end

return M
