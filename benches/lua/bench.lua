-- The Lua benchmarks, run inside an nginx worker by benches/lua/run.sh: each
-- recording call in a loop, timed with os.clock (CPU time of the worker, best of 5
-- rounds), and the rendering of a registry of 10,000 series. `run` returns the report:
-- a line naming LuaJIT and nginx, then one JSON record a line per measurement, as the
-- other benches print them (benches/src/record.rs), e.g.
--   {"suite":"lua","work":"counter:inc(1)","subject":"metricore","value":2.36,"unit":"ns","params":{"calls":10000000}}

local prometheus_lib = require "metricore.prometheus"

local M = {}

local ROUNDS = 5
local CALLS = 10000000

-- Nanoseconds per call of `loop(n)`, which makes n calls: the best of ROUNDS rounds.
local function ns_per_call(loop, n)
    loop(10000) -- warm up: let the JIT compile the loop
    local best = math.huge
    for _ = 1, ROUNDS do
        local start = os.clock()
        loop(n)
        best = math.min(best, os.clock() - start)
    end
    return best / n * 1e9
end

-- nginx-lua-prometheus is not run: these are published figures for it, reported beside
-- metricore's with this note.
local PEER = "nginx-lua-prometheus"
local QUOTED = "not run here (not packaged in Debian, npm or PyPI): published figures, "
    .. "quoted; the render one is approximate"

local function json_string(s)
    return '"' .. (s:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end)) .. '"'
end

local function json_number(v)
    if v ~= v or v == math.huge or v == -math.huge then
        return "null"
    end
    return string.format("%.6g", v)
end

-- One record: `params` is a list of {name, value} pairs.
local function record(work, subject, value, unit, params, note)
    local fields = {
        '"suite":"lua"', '"work":' .. json_string(work), '"subject":' .. json_string(subject),
        '"value":' .. json_number(value), '"unit":' .. json_string(unit),
    }
    if params then
        local p = {}
        for _, kv in ipairs(params) do
            p[#p + 1] = json_string(kv[1]) .. ":" .. json_number(kv[2])
        end
        fields[#fields + 1] = '"params":{' .. table.concat(p, ",") .. "}"
    end
    if note then
        fields[#fields + 1] = '"note":' .. json_string(note)
    end
    return "{" .. table.concat(fields, ",") .. "}"
end

-- A registry of 10,000 counter series (100 models x 100 namespaces) in `path`.
local function big_registry(path)
    local p = prometheus_lib.init({ path = path, series_capacity = 32768 })
    local c = p:counter("render_requests", "Requests.", { "model", "namespace" }, { limit = 20000 })
    for m = 1, 100 do
        for n = 1, 100 do
            c:inc(m * n, { "model-" .. m, "namespace-" .. n })
        end
    end
    return p
end

--- Runs every benchmark with the metrics of `prometheus` (the worker's shared
-- registry), and the rendering one in a registry file at `render_path`.
function M.run(prometheus, render_path)
    local plain = prometheus:counter("bench_plain", "Plain counter.")
    local requests = prometheus:counter("bench_requests", "Requests.", { "method", "path", "namespace" })
    local latency = prometheus:histogram("bench_latency_seconds", "Latency.", { "model", "namespace" })
    local native = prometheus:histogram("bench_native_seconds", "Latency.", { "model", "namespace" }, nil,
        { native = { schema = 3 } })
    local inflight = prometheus:gauge("bench_inflight", "In flight.")

    local rows = {}
    -- metricore's ns per call, and nginx-lua-prometheus' as quoted, if any.
    local function row(name, ns, peer_ns)
        rows[#rows + 1] = record(name, "metricore", ns, "ns", { { "calls", CALLS } })
        if peer_ns then
            rows[#rows + 1] = record(name, PEER, peer_ns, "ns", nil, QUOTED)
        end
    end

    row("counter:inc(1)", ns_per_call(function(n)
        for _ = 1, n do
            plain:inc(1)
        end
    end, CALLS), 9)

    row("counter:inc(1, {3 labels}), same table", ns_per_call(function(n)
        local labels = { "POST", "/v1/chat/completions", "wechat" }
        for _ = 1, n do
            requests:inc(1, labels)
        end
    end, CALLS), 16)

    -- A table literal that does not outlive the call: the JIT sinks its allocation.
    row("counter:inc(1, {3 labels}), fresh table", ns_per_call(function(n)
        for _ = 1, n do
            requests:inc(1, { "POST", "/v1/chat/completions", "wechat" })
        end
    end, CALLS), 53)

    -- A fresh table that is kept (as a request's table may be): allocated each time.
    row("counter:inc(1, {3 labels}), fresh table, kept", ns_per_call(function(n)
        local kept = {}
        for i = 1, n do
            local labels = { "POST", "/v1/chat/completions", "wechat" }
            kept[i % 64 + 1] = labels
            requests:inc(1, labels)
        end
    end, CALLS), 53)

    row("histogram:observe(v, {2 labels}), same table", ns_per_call(function(n)
        local labels = { "gpt-4", "wechat" }
        for i = 1, n do
            latency:observe((i % 1000) * 0.001, labels)
        end
    end, CALLS), 80)

    row("histogram:observe(v, {2 labels}), fresh table", ns_per_call(function(n)
        for i = 1, n do
            latency:observe((i % 1000) * 0.001, { "gpt-4", "wechat" })
        end
    end, CALLS), 80)

    row("native histogram:observe(v, {2 labels}), same table", ns_per_call(function(n)
        local labels = { "gpt-4", "wechat" }
        for i = 1, n do
            native:observe((i % 1000) * 0.001, labels)
        end
    end, CALLS))

    -- The exemplar table is kept (a request's trace id lives for the request).
    row("histogram:observe(v, {2 labels}, {trace_id}), same tables", ns_per_call(function(n)
        local labels = { "gpt-4", "wechat" }
        local exemplar = { trace_id = "4bf92f3577b34da6a3ce929d0e0e4736" }
        for i = 1, n do
            latency:observe((i % 1000) * 0.001, labels, exemplar)
        end
    end, CALLS))

    row("gauge:inc(1)", ns_per_call(function(n)
        for _ = 1, n do
            inflight:inc(1)
        end
    end, CALLS))

    local big = big_registry(render_path)
    local text = big:metric_data()
    local series = select(2, text:gsub("\nrender_requests_total{", ""))
    local render_ns = ns_per_call(function(n)
        for _ = 1, n do
            big:metric_data()
        end
    end, 20)
    local work = "render 10k series"
    rows[#rows + 1] = record(work, "metricore", render_ns, "ns", { { "series", series }, { "bytes", #text } })
    rows[#rows + 1] = record(work, PEER, 20e6, "ns", nil, QUOTED)

    local header = string.format("%s in nginx %s, worker pid %d", jit.version, ngx.var.nginx_version, ngx.worker.pid())
    return header .. "\n" .. table.concat(rows, "\n") .. "\n"
end

return M
