-- The Lua benchmarks, run inside an nginx worker by benches/lua/run.sh: each
-- recording call in a loop, timed with os.clock (CPU time of the worker, best of 5
-- rounds), and the rendering of a registry of 10,000 series. `run` returns the report.

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
    local inflight = prometheus:gauge("bench_inflight", "In flight.")

    local rows = {}
    local function row(name, ns, peer, target)
        rows[#rows + 1] = string.format("%-48s %8.2f ns   %-26s %s", name, ns, peer, target)
    end

    row("counter:inc(1)", ns_per_call(function(n)
        for _ = 1, n do
            plain:inc(1)
        end
    end, CALLS), "9 ns", "<= 5 ns")

    row("counter:inc(1, {3 labels}), same table", ns_per_call(function(n)
        local labels = { "POST", "/v1/chat/completions", "wechat" }
        for _ = 1, n do
            requests:inc(1, labels)
        end
    end, CALLS), "16 ns", "<= 12 ns")

    -- A table literal that does not outlive the call: the JIT sinks its allocation.
    row("counter:inc(1, {3 labels}), fresh table", ns_per_call(function(n)
        for _ = 1, n do
            requests:inc(1, { "POST", "/v1/chat/completions", "wechat" })
        end
    end, CALLS), "53 ns", "<= 40 ns")

    -- A fresh table that is kept (as a request's table may be): allocated each time.
    row("counter:inc(1, {3 labels}), fresh table, kept", ns_per_call(function(n)
        local kept = {}
        for i = 1, n do
            local labels = { "POST", "/v1/chat/completions", "wechat" }
            kept[i % 64 + 1] = labels
            requests:inc(1, labels)
        end
    end, CALLS), "53 ns", "<= 40 ns")

    row("histogram:observe(v, {2 labels}), same table", ns_per_call(function(n)
        local labels = { "gpt-4", "wechat" }
        for i = 1, n do
            latency:observe((i % 1000) * 0.001, labels)
        end
    end, CALLS), "80 ns", "<= 20 ns")

    row("histogram:observe(v, {2 labels}), fresh table", ns_per_call(function(n)
        for i = 1, n do
            latency:observe((i % 1000) * 0.001, { "gpt-4", "wechat" })
        end
    end, CALLS), "80 ns", "<= 20 ns")

    row("gauge:inc(1)", ns_per_call(function(n)
        for _ = 1, n do
            inflight:inc(1)
        end
    end, CALLS), "-", "-")

    local big = big_registry(render_path)
    local text = big:metric_data()
    local series = select(2, text:gsub("\nrender_requests_total{", ""))
    local render_ms = ns_per_call(function(n)
        for _ = 1, n do
            big:metric_data()
        end
    end, 20) / 1e6
    rows[#rows + 1] = string.format("%-48s %8.2f ms   %-26s %s",
        string.format("render %d series (%d bytes)", series, #text), render_ms, "~20 ms", "<= 2 ms")

    local header = string.format("%s in nginx %s, worker pid %d\n%-48s %11s   %-26s %s",
        jit.version, ngx.var.nginx_version, ngx.worker.pid(),
        "call", "metricore", "nginx-lua-prometheus (*)", "target")
    return header .. "\n" .. table.concat(rows, "\n") .. "\n"
        .. "(*) figures from DESIGN.md section 6; nginx-lua-prometheus is not installed here"
        .. " (not packaged in Debian, npm or PyPI), so it was not run\n"
end

return M
