-- The recording calls in a loop, in a LuaJIT of their own, with the JIT's trace
-- events watched: prints each abort whose reason is NYI (a call the JIT compiler
-- does not compile), whether the loop became a compiled loop trace, and a total.
local jit = require "jit"
local util = require "jit.util"
local vmdef = require "jit.vmdef"
local prometheus = require "metricore.prometheus"

local p = prometheus.init({ series_capacity = 1024, cells_per_shard = 65536, arena_bytes = 1048576 })
local c = p:counter("hot", "Hot.", { "a", "b", "c" })
local h = p:histogram("hot_seconds", "Hot.", { "a", "b" })
local g = p:gauge("hot_gauge", "Hot.")
local plain = p:counter("hot_plain", "Hot.")

local here = debug.getinfo(1, "S").source
local loop_line -- set below, to the line of the `for`
local starts, loops = {}, 0
local function on_trace(what, tr, func, pc, reason, info)
    if what == "start" then
        starts[tr] = util.funcinfo(func, pc)
    elseif what == "abort" and type(reason) == "number" then
        local message = vmdef.traceerr[reason]:format(info)
        if message:find("NYI", 1, true) then
            local where = util.funcinfo(func, pc)
            print(string.format("NYI abort at %s:%s: %s", tostring(where.source), tostring(where.currentline), message))
        end
    elseif what == "stop" then
        local start = starts[tr]
        if start and start.source == here and start.currentline == loop_line
            and util.traceinfo(tr).linktype == "loop" then
            loops = loops + 1
        end
    end
end
jit.attach(on_trace, "trace")
local same = { "GET", "/v1", "ns" }
loop_line = debug.getinfo(1, "l").currentline + 1
for i = 1, 20000 do
    plain:inc(1)
    c:inc(1, same)
    c:inc(1, { "GET", "/v1", "ns" })
    h:observe(i / 20000, { "x", "y" })
    g:inc(1)
end
jit.attach(on_trace)
print("loop traces: " .. loops)
print(p:metric_data():match('hot_total{[^\n]*'))
