-- The nginx side of the series-lifecycle soak test: each worker, in a timer, does what
-- core/examples/soak_writer.rs does, through the nginx-lua-prometheus API, as writer
-- "lua<worker id>", and sleeps 1 ms after every 1,000 series, so that the worker serves
-- its other timers and requests.
--
--   init_worker_by_lua_block { require("soak").start(FILE, STOP, EXPIRE_PER_SECOND, REPORT_DIR) }

local M = {}

local LIVE = 100
local INCREMENTS = 3
local BATCH = 1000

local function exists(path)
    local f = io.open(path, "r")
    if f == nil then
        return false
    end
    f:close()
    return true
end

local function now()
    ngx.update_time()
    return ngx.now()
end

local function run(premature, prometheus, writer, stop, expire_gap, report)
    if premature then
        return
    end
    local labels = { "writer", "id" }
    local removed = prometheus:counter("soak_removed", "Series made and removed.", labels)
    local expiring = prometheus:counter("soak_expiring", "Series made and left to expire.", labels, { expire = 0.2 })
    local live = prometheus:counter("soak_live", "Series recorded into throughout.", labels)
    local totals = {}
    for k = 0, LIVE - 1 do
        totals[k] = 0
    end
    local start = now()
    local times = {}
    local last_expiring
    local made = 0
    while not exists(stop) do
        for _ = 1, BATCH do
            local values = { writer, tostring(made) }
            local t = now()
            if last_expiring == nil or t - last_expiring >= expire_gap then
                last_expiring = t
                for _ = 1, INCREMENTS do
                    expiring:inc(1, values)
                end
            else
                for _ = 1, INCREMENTS do
                    removed:inc(1, values)
                end
                removed:del(values)
            end
            local k = made % LIVE
            live:inc(1, { writer, tostring(k) })
            totals[k] = totals[k] + 1
            made = made + 1
        end
        times[#times + 1] = string.format("%.6f", now() - start)
        ngx.sleep(0.001)
    end
    local live_json = {}
    for k = 0, LIVE - 1 do
        live_json[#live_json + 1] = string.format('"%d": %d', k, totals[k])
    end
    local f = assert(io.open(report .. ".tmp", "w"))
    f:write(string.format('{"writer": "%s", "made": %d, "batch": %d, "times": [%s], "live": {%s}}\n',
        writer, made, BATCH, table.concat(times, ", "), table.concat(live_json, ", ")))
    f:close()
    assert(os.rename(report .. ".tmp", report))
    ngx.log(ngx.NOTICE, "soak: ", writer, " done ", made)
end

function M.start(path, stop, expire_rate, report_dir)
    local prometheus = require("metricore.prometheus").init(path)
    local writer = "lua" .. ngx.worker.id()
    local ok, err = ngx.timer.at(0, run, prometheus, writer, stop, 1 / expire_rate,
        report_dir .. "/" .. writer .. ".json")
    if not ok then
        ngx.log(ngx.ERR, "soak: cannot start the writer: ", err)
    end
end

return M
