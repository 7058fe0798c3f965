-- Unit tests of the Lua binding under plain LuaJIT (no nginx). Run by run.sh, which
-- sets package.path/cpath (LUA_PATH, LUA_CPATH) and METRICORE_HEADER, and TMPDIR to a
-- directory of its own. Prints one line per test and ends with "N passed, N failed".

local ffi = require "ffi"
local core = require "metricore"
local cffi = require "metricore.ffi"
local prometheus = require "metricore.prometheus"

local C = cffi.C
local tmp = os.getenv("TMPDIR") or "/tmp"
local serial = 0

-- A registry file path that no other test uses.
local function temp_path(name)
    serial = serial + 1
    return string.format("%s/%s-%d-%d.metricore", tmp, name, serial, os.time())
end

-- A fresh in-memory registry, small enough for many tests.
local function fresh(options)
    options = options or {}
    options.series_capacity = options.series_capacity or 1024
    options.cells_per_shard = options.cells_per_shard or 65536
    options.arena_bytes = options.arena_bytes or 1048576
    return prometheus.init(options)
end

local function fail(message, level)
    error(message, (level or 1) + 1)
end

local function eq(got, want, what)
    if got ~= want then
        fail(string.format("%s: got %s, want %s", what or "value", tostring(got), tostring(want)), 2)
    end
end

local function has(text, needle)
    if not text:find(needle, 1, true) then
        fail(string.format("text lacks %q:\n%s", needle, text), 2)
    end
end

local function lacks(text, needle)
    if text:find(needle, 1, true) then
        fail(string.format("text has %q:\n%s", needle, text), 2)
    end
end

-- Calls f, which must raise an error whose message contains `needle`.
local function raises(needle, f, ...)
    local ok, message = pcall(f, ...)
    if ok then
        fail("no error, expected one with " .. needle, 2)
    end
    if not tostring(message):find(needle, 1, true) then
        fail(string.format("error %q lacks %q", tostring(message), needle), 2)
    end
end

local function errors_total(p)
    return p:metric_data():match("\nnginx_metric_errors_total (%S+)\n")
end

-- Runs f with a stand-in for nginx's `ngx` that collects log lines and output.
local function with_ngx(f, accept, args)
    local fake = {
        ERR = 4,
        logged = {},
        printed = {},
        header = {},
        var = { http_accept = accept, args = args },
    }
    function fake.log(level, ...)
        fake.logged[#fake.logged + 1] = { level, table.concat({ ... }) }
    end
    function fake.print(s)
        fake.printed[#fake.printed + 1] = s
    end
    local saved = rawget(_G, "ngx")
    rawset(_G, "ngx", fake)
    local ok, err = pcall(f, fake)
    rawset(_G, "ngx", saved)
    if not ok then
        error(err, 0)
    end
    return fake
end

local tests = {}
local function test(name, f)
    tests[#tests + 1] = { name, f }
end

-- Whitespace-insensitive form of C declarations.
local function normalize(text)
    text = text:gsub("%s+", " ")
    text = text:gsub(" ?([%(%)%*,;{}]) ?", "%1")
    return text
end

-- The top-level statements of C text, normalized, each ending in ';': a declaration,
-- or a whole `struct ... { ... } name;` or `enum ... { ... };`.
local function statements(text)
    local out, depth, start = {}, 0, 1
    text = normalize(text)
    for i = 1, #text do
        local ch = text:sub(i, i)
        if ch == "{" then
            depth = depth + 1
        elseif ch == "}" then
            depth = depth - 1
        elseif ch == ";" and depth == 0 then
            out[#out + 1] = (text:sub(start, i):gsub("^ ", ""))
            start = i + 1
        end
    end
    return out
end

test("declarations match include/metricore.h", function()
    local header = assert(os.getenv("METRICORE_HEADER"), "METRICORE_HEADER is not set")
    local pipe = assert(io.popen("gcc -E -P -x c " .. header))
    local text = pipe:read("*a")
    assert(pipe:close(), "gcc -E failed on " .. header)
    local in_header = {}
    for _, stmt in ipairs(statements(text)) do
        in_header[stmt] = true
    end
    -- Each declaration is one of the header's, exactly (apart from white space).
    local checked = 0
    for _, decl in ipairs(statements(cffi.declarations)) do
        if not in_header[decl] then
            fail(string.format("not a declaration of %s: %s", header, decl))
        end
        checked = checked + 1
    end
    eq(checked, 27, "declarations checked")
    eq(ffi.sizeof("metricore_counter"), ffi.sizeof("void *"), "handle size")
end)

test("the FFI library is the one require loaded", function()
    -- A failure through the mlua side sets the thread's message that the FFI reads.
    local registry = assert(core.new({ series_capacity = 64 }))
    local family, message = registry:counter("", "help")
    eq(family, nil, "family")
    eq(cffi.last_error(), message, "last error seen through the FFI")
end)

test("UTF-8 names are accepted and rendered with underscores for a scraper that does not ask for them", function()
    local p = fresh()
    p:counter("http.requests", "Requests.", { "http.method" }):inc(1, { "GET" })
    local text = p:metric_data()
    has(text, 'http_requests_total{http_method="GET"} 1\n')
    lacks(text, "http.requests")
end)

test("the handle the C API writes is the series the binding records into", function()
    local p = fresh()
    local c = p:counter("abi", "ABI check.", { "k" })
    c:inc(1, { "a" })
    local handle = c._cache["a"]
    local out = ffi.new("metricore_counter[1]")
    local value = ffi.new("metricore_str[1]")
    value[0].ptr, value[0].len = "a", 1
    eq(C.metricore_counter_family_labels(c._family_ptr, value, 1, out), 0, "status")
    eq(out[0], handle, "handle")
    eq(C.metricore_counter_inc_by_f64(out[0], 2), 0, "status")
    eq(C.metricore_counter_inc_by_f64(handle, 4), 0, "status")
    has(p:metric_data(), 'abi_total{k="a"} 7\n')
end)

test("counter", function()
    local p = fresh()
    local c = p:counter("requests", "Requests.", { "method", "path", "namespace" })
    for _ = 1, 10 do
        c:inc(1, { "GET", "/v1/chat", "wechat" })
    end
    c:inc(nil, { "GET", "/v1/chat", "wechat" })
    c:inc(5, { "GET", "/v1/chat", "wechat" })
    c:inc(0.5, { "POST", "/v1/chat", "wechat" })
    c:inc(2 ^ 60, { "PUT", "/", "x" })
    local text = p:metric_data()
    has(text, "# HELP requests_total Requests.\n# TYPE requests_total counter\n")
    has(text, 'requests_total{method="GET",path="/v1/chat",namespace="wechat"} 16\n')
    has(text, 'requests_total{method="POST",path="/v1/chat",namespace="wechat"} 0.5\n')
    has(text, 'requests_total{method="PUT",path="/",namespace="x"} 1.152921504606847e18\n')
    eq(errors_total(p), "0", "errors")
end)

test("a counter never goes back past 2^64; long label values are refused", function()
    local p = fresh()
    local c = p:counter("tokens", "Tokens.", { "k" })
    local step = 2 ^ 53 - 1
    local last = 0
    for i = 1, 2049 do
        c:inc(step, { "a" })
        local now = tonumber(p:metric_data():match('\ntokens_total{k="a"} (%S+)\n'))
        if now < last then
            fail(string.format("step %d: %s < %s", i, tostring(now), tostring(last)))
        end
        last = now
    end
    if math.abs(last - 2049 * step) > 2049 * step * 1e-15 then
        fail(string.format("total %s, want %s", tostring(last), tostring(2049 * step)))
    end
    eq(errors_total(p), "0", "errors")
    raises("a label value of 5000 bytes is refused", c.inc, c, 1, { string.rep("x", 5000) })
    eq(errors_total(p), "1", "errors after a 5000-byte label value")
end)

test("counter without labels", function()
    local p = fresh()
    local c = p:counter("jobs_total", "Jobs.")
    c:inc()
    c:inc(2)
    c:inc(1, {})
    has(p:metric_data(), "\njobs_total 4\n")
end)

test("label values: fresh tables hit the cache, non-strings go through tostring", function()
    local p = fresh()
    local c = p:counter("hits", "Hits.", { "a", "b" })
    c:inc(1, { "x", "y" })
    eq(c._cached, 1, "cached label sets")
    for _ = 1, 5 do
        c:inc(1, { "x", "y" })
    end
    eq(c._cached, 1, "cached label sets")
    c:inc(1, { 200, true })
    c:inc(1, { "200", "true" })
    c:inc(1, { 1.5, "y" })
    local text = p:metric_data()
    has(text, 'hits_total{a="x",b="y"} 6\n')
    has(text, 'hits_total{a="200",b="true"} 2\n')
    has(text, 'hits_total{a="1.5",b="y"} 1\n')
end)

test("many labels", function()
    local p = fresh()
    local names, values = {}, {}
    for i = 1, 6 do
        names[i] = "l" .. i
        values[i] = "v" .. i
    end
    local c = p:counter("wide", "Six labels.", names)
    c:inc(1, values)
    c:inc(1, { "v1", "v2", "v3", "v4", "v5", "v6" })
    has(p:metric_data(), 'wide_total{l1="v1",l2="v2",l3="v3",l4="v4",l5="v5",l6="v6"} 2\n')
    raises("expects 6 label values, got 7", c.inc, c, 1, { "v1", "v2", "v3", "v4", "v5", "v6", "v7" })
    raises("expects 6 label values, got 5", c.inc, c, 1, { "v1", "v2", "v3", "v4", "v5" })
end)

test("gauge", function()
    local p = fresh()
    local g = p:gauge("inflight", "In flight.", { "upstream" })
    g:inc(1, { "a" })
    g:inc(nil, { "a" })
    g:inc(-0.5, { "a" })
    g:set(42, { "b" })
    local plain = p:gauge("temperature", "Temperature.")
    plain:set(-3.25)
    local text = p:metric_data()
    has(text, 'inflight{upstream="a"} 1.5\n')
    has(text, 'inflight{upstream="b"} 42.0\n')
    has(text, "\ntemperature -3.25\n")
end)

test("histogram", function()
    local p = fresh()
    local h = p:histogram("latency_seconds", "Latency.", { "a", "b" }, { 0.1, 1, 10 })
    h:observe(0.05, { "x", "y" })
    h:observe(0.5, { "x", "y" })
    h:observe(100, { "x", "y" })
    local d = p:histogram("default_seconds", "Default buckets.")
    d:observe(0.3)
    local text = p:metric_data()
    has(text, 'latency_seconds_bucket{a="x",b="y",le="0.1"} 1\n')
    has(text, 'latency_seconds_bucket{a="x",b="y",le="1.0"} 2\n')
    has(text, 'latency_seconds_bucket{a="x",b="y",le="+Inf"} 3\n')
    has(text, 'latency_seconds_count{a="x",b="y"} 3\n')
    has(text, 'latency_seconds_sum{a="x",b="y"} 100.55\n')
    has(text, 'default_seconds_bucket{le="0.005"} 0\n')
    has(text, 'default_seconds_bucket{le="10.0"} 1\n')
end)

test("native histogram, and the protobuf format", function()
    local p = fresh()
    local h = p:histogram("tokens", "Tokens.", { "m" }, nil,
        { native = { schema = 0, zero_threshold = 0.5, max_buckets = 8 } })
    local both = p:histogram("both_seconds", "Both.", nil, { 1 }, { native = { schema = 3 } })
    h:observe(0.25, { "x" })
    h:observe(3, { "x" })
    both:observe(0.5)
    local text, content_type = p:metric_data()
    has(text, 'tokens_bucket{m="x",le="+Inf"} 2\ntokens_count{m="x"} 2\n')
    has(text, 'both_seconds_bucket{le="1.0"} 1\n')
    eq(content_type, "text/plain; version=0.0.4; charset=utf-8", "content type")
    local body, pb_type = p:metric_data(
        "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited")
    has(pb_type, "application/vnd.google.protobuf")
    has(body, "tokens")
    if body:find("# TYPE", 1, true) then
        fail("protobuf is not text")
    end
    raises("schema 9 is not in -4..=8", p.histogram, p, "bad_native", "B.", nil, nil,
        { native = { schema = 9 } })
end)

test("exemplars: kept per counter series and per bucket, shown in OpenMetrics only", function()
    local p = fresh()
    local c = p:counter("calls", "Calls.", { "route" })
    local h = p:histogram("wait_seconds", "Wait.", nil, { 0.1, 1 })
    c:inc(1, { "/a" }, { trace_id = "lua-1" })
    c:inc(2.5, { "/a" }, { trace_id = "lua-2" })
    h:observe(0.5, nil, { trace_id = "lua-h" })
    h:observe(0.05)
    local om = p:metric_data("application/openmetrics-text; version=1.0.0")
    has(om, 'calls_total{route="/a"} 3.5 # {trace_id="lua-2"} 2.5 ')
    has(om, 'wait_seconds_bucket{le="1.0"} 2 # {trace_id="lua-h"} 0.5 ')
    has(om, 'wait_seconds_bucket{le="0.1"} 1\n')
    lacks(p:metric_data(), "trace_id")
    -- Refused exemplars: the value is recorded, the exemplar refused and counted.
    raises("at most 128", c.inc, c, 1, { "/a" }, { trace_id = string.rep("x", 121) })
    raises("invalid label name", h.observe, h, 2, nil, { ["1x"] = "y" })
    raises("exemplar must be a table of labels, not a string", c.inc, c, 1, { "/a" }, "id")
    raises("exemplar labels must be strings", h.observe, h, 2, nil, { trace_id = 5 })
    eq(errors_total(p), "4", "errors")
    om = p:metric_data("application/openmetrics-text; version=1.0.0")
    has(om, 'calls_total{route="/a"} 5.5 # {trace_id="lua-2"} 2.5 ')
    has(om, 'wait_seconds_count 4\n')
end)

test("bad input is refused, counted and raised outside nginx", function()
    local p = fresh()
    local c = p:counter("c", "C.", { "a", "b" })
    local g = p:gauge("g", "G.", { "a" })
    local h = p:histogram("h", "H.", { "a" })
    raises("expects 2 label values, got 1", c.inc, c, 1, { "x" })
    raises("expects 2 label values, got 3", c.inc, c, 1, { "x", "y", "z" })
    raises("expects 2 label values, got 0", c.inc, c, 1, nil)
    raises("label values must be a table, not a string", c.inc, c, 1, "x")
    raises("label value 1 is nil", c.inc, c, 1, { nil, "y" })
    raises("increment must be a number, not a string", c.inc, c, "1", { "x", "y" })
    raises("counter increment -1 refused", c.inc, c, -1, { "x", "y" })
    raises("refused", c.inc, c, 0 / 0, { "x", "y" })
    raises("refused", c.inc, c, math.huge, { "x", "y" })
    raises("value must be a number, not a nil", g.set, g, nil, { "x" })
    raises("increment must be a number, not a table", g.inc, g, {}, { "x" })
    raises("observation must be a number, not a string", h.observe, h, "0.5", { "x" })
    raises("NaN cannot be observed", h.observe, h, 0 / 0, { "x" })
    raises("not valid UTF-8", g.set, g, 1, { "\255" })
    raises("not valid UTF-8", c.del, c, { "x", "\255" })
    eq(errors_total(p), "15", "errors")
    -- Nothing recorded; the values the core refused had their series resolved first.
    local text = p:metric_data()
    has(text, 'c_total{a="x",b="y"} 0\n')
    lacks(text, 'c_total{a="x"}')
    lacks(text, 'g{a="x"}')
    has(text, 'h_count{a="x"} 0\n')
    raises("invalid metric name", p.counter, p, "", "help")
    raises("invalid label name", p.gauge, p, "good", "help", { "__bad" })
    raises("label names must be a table", p.counter, p, "good2", "help", "label")
    raises("label name 1 must be a string", p.counter, p, "good3", "help", { 5 })
    raises("buckets must be a table", p.histogram, p, "good4", "help", nil, 5)
    raises("bucket 2 must be a number", p.histogram, p, "good5", "help", nil, { 1, "x" })
    raises("invalid histogram buckets", p.histogram, p, "good6", "help", nil, { 2, 1 })
    raises("already registered", p.gauge, p, "c", "help", { "a", "b" })
    eq(errors_total(p), "23", "errors")
end)

test("bad input inside nginx goes to the error log and returns", function()
    local p = fresh()
    local c = p:counter("c", "C.", { "a" })
    local fake = with_ngx(function()
        c:inc(1, { "x", "y" })
        c:inc(-5, { "x" })
        c:inc("x", { "x" })
        eq(p:counter("", "help"), nil, "invalid metric")
    end)
    eq(#fake.logged, 4, "logged lines")
    eq(fake.logged[1][1], fake.ERR, "log level")
    has(fake.logged[1][2], 'metricore: c: metric "c" expects 1 label values, got 2')
    has(fake.logged[2][2], "counter increment -5 refused")
    has(fake.logged[4][2], "invalid metric name")
    eq(errors_total(p), "4", "errors")
    has(p:metric_data(), 'c_total{a="x"} 0\n')
end)

test("del and reset", function()
    local p = fresh()
    local c = p:counter("c", "C.", { "a" })
    local g = p:gauge("g", "G.")
    c:inc(1, { "x" })
    c:inc(1, { "y" })
    g:set(5)
    c:del({ "x" })
    local text = p:metric_data()
    lacks(text, 'c_total{a="x"}')
    has(text, 'c_total{a="y"} 1\n')
    c:inc(3, { "x" })
    has(p:metric_data(), 'c_total{a="x"} 3\n')
    g:del()
    lacks(p:metric_data(), "\ng 5")
    g:set(6)
    has(p:metric_data(), "\ng 6.0\n")
    c:reset()
    lacks(p:metric_data(), "c_total{")
    c:inc(1, { "y" })
    has(p:metric_data(), 'c_total{a="y"} 1\n')
    raises("expects 1 label values, got 2", c.del, c, { "x", "y" })
    has(p:metric_data(), "nginx_metric_series_removed_total 3\n")
end)

test("handles dropped from the cache are given back to the C family", function()
    local p = fresh({ cache_limit = 3 })
    local c = p:counter("given", "G.", { "k" })
    c:inc(1, { "a" })
    c:inc(1, { 200 })
    c:inc(1, { "200" }) -- the same series, cached under a second key: two handles out
    local a, n, s = c._cache["a"], c._cache[200], c._cache["200"]
    eq(n, s, "one handle per series")
    c:del({ "a" }) -- drops this worker's cache
    eq(c._kind.release(c._family_ptr, a), 6, "status of giving back a freed handle")
    eq(c._kind.release(c._family_ptr, n), 6, "status of giving back a freed handle")
    -- NaN resolves on every call (it is no table key) and gives back what it replaces.
    local nan = 0 / 0
    for _ = 1, 3 do
        c:inc(1, { nan })
    end
    eq(c._cached, 1, "cached NaN entries")
    local h = c._cache[tostring(nan)]
    eq(c._kind.release(c._family_ptr, h), 0, "status of giving back the NaN handle")
    eq(c._kind.release(c._family_ptr, h), 6, "status of giving it back twice")
    c._cache[tostring(nan)], c._cached = nil, 0
    -- Past the cache limit the cache starts anew and gives its handles back.
    for i = 1, 4 do
        c:inc(1, { "v" .. i })
    end
    eq(c._cached, 1, "cached entries after the limit")
    eq(c._kind.release(c._family_ptr, c._cache["v4"]), 0, "status of giving back the cached handle")
    c._cache["v4"], c._cached = nil, 0
    local text = p:metric_data()
    has(text, 'given_total{k="200"} 2\n')
    has(text, 'given_total{k="' .. tostring(nan) .. '"} 3\n')
    has(text, 'given_total{k="v1"} 1\n')
    -- The module's own counters are resolved again after the flush.
    c:del({ "v1" })
    has(p:metric_data(), "nginx_metric_series_removed_total 2\n")
end)

test("a removal by another worker drops this worker's cached handles", function()
    local path = temp_path("workers")
    local a = prometheus.init(path)
    local b = prometheus.init(path)
    local ca = a:counter("c", "C.", { "k" })
    local cb = b:counter("c", "C.", { "k" })
    ca:inc(1, { "x" })
    cb:del({ "x" })
    a:_refresh() -- what the worker's timer does
    ca:inc(2, { "x" })
    has(b:metric_data(), 'c_total{k="x"} 2\n')
    os.remove(path)
end)

ffi.cdef [[ int poll(void *fds, unsigned long nfds, int timeout); ]]

-- Calls `step` and then `check` every 10 ms until `check` returns true; fails after 10 s.
local function until_true(step, check)
    local deadline = os.time() + 10
    while true do
        step()
        if check() then
            return
        end
        if os.time() > deadline then
            fail("condition never held", 2)
        end
        ffi.C.poll(nil, 0, 10)
    end
end

test("expire: an idle series leaves the output and the next inc makes it anew", function()
    local p = fresh({ error_metric_name = "errs_total" })
    local c = p:counter("jobs", "J.", { "k" }, { expire = 0.1 })
    c:inc(5, { "idle" })
    until_true(function() c:inc(1, { "busy" }) end, function()
        return not p:metric_data():find('k="idle"', 1, true)
    end)
    has(p:metric_data(), 'jobs_total{k="busy"}')
    has(p:metric_data(), "metricore_series_expired_total 1\n")
    p:_refresh() -- what the worker's timer does: drops the cached handles
    c:inc(2, { "idle" })
    has(p:metric_data(), 'jobs_total{k="idle"} 2\n')
    has(p:metric_data(), "metricore_stale_recordings_total 0\n")
    local g = p:gauge("temp", "T.", { "k" }, { expire = 0.05 })
    g:set(1, { "a" })
    until_true(function() end, function() return not p:metric_data():find("temp{", 1, true) end)
    raises("expire must be", p.counter, p, "bad", "B.", { "k" }, { expire = -1 })
    raises("idle time", p.counter, p, "single", "S.", nil, { expire = 1 })
end)

test("a removed file: the worker's timer moves the registry and drops cached handles", function()
    local path = temp_path("moved")
    local p = prometheus.init({ path = path, series_capacity = 1024, cells_per_shard = 65536,
        arena_bytes = 1048576 })
    local c = p:counter("moved", "Moved.", { "k" })
    c:inc(1, { "x" })
    local cached = c._cache["x"]
    assert(cached ~= nil, "the handle is cached")
    os.remove(path)
    p:_refresh() -- what the worker's timer does
    eq(c._cache["x"], nil, "cached handle after the move")
    c:inc(2, { "x" })
    local text = p:metric_data()
    has(text, 'moved_total{k="x"} 2\n')
    local f = assert(io.open(path, "rb"), "the registry made a new file")
    f:close()
    eq(fresh()._registry:follow_file(), 0, "generation of an in-memory registry")
    os.remove(path)
end)

test("processes sharing a file see each other's totals", function()
    local path = temp_path("shared")
    local p = prometheus.init(path)
    local c = p:counter("work", "Work.", { "who" })
    c:inc(5, { "parent" })
    local script = string.format([[
local p = require("metricore.prometheus").init(%q)
local c = p:counter("work", "Work.", {"who"})
for _ = 1, 1000 do c:inc(1, {"child"}) end
c:inc(5, {"parent"})
]], path)
    local file = tmp .. "/child.lua"
    local out = assert(io.open(file, "w"))
    out:write(script)
    out:close()
    for _ = 1, 3 do
        local child = assert(io.popen("luajit " .. file))
        child:read("*a")
        assert(child:close(), "child failed")
    end
    os.remove(file)
    local text = p:metric_data()
    has(text, 'work_total{who="child"} 3000\n')
    has(text, 'work_total{who="parent"} 20\n')
    os.remove(path)
end)

test("init fails naming the path", function()
    local path = tmp .. "/no/such/dir/registry.metricore"
    raises(path, prometheus.init, path)
    raises(path, prometheus.init, { path = path })
    raises("unknown registry option", prometheus.init, { bogus = 1 })
    raises("init takes a registry path", prometheus.init, 5)
end)

test("owner and group options: whom to trust with the file", function()
    local path = temp_path("group")
    local id = assert(io.popen("id -g"))
    local gid = id:read("*l")
    id:close()
    raises("no group named", prometheus.init, { path = path, group = "no-such-group-anywhere" })
    raises("option group must be a name or a number", prometheus.init, { path = path, group = {} })
    raises("no user named", prometheus.init, { path = path, owner = "no-such-user-anywhere" })
    raises("permission bits", prometheus.init, { path = path, file_mode = tonumber("4777", 8) })
    raises("`group` must name", prometheus.init, { path = path, file_mode = tonumber("660", 8) })
    local p = prometheus.init({ path = path, group = tonumber(gid), file_mode = tonumber("660", 8) })
    p:counter("g", "G."):inc(2)
    raises("writable by a group", prometheus.init, path)
    local q = prometheus.init({ path = path, group = gid })
    has(q:metric_data(), "\ng_total 2\n")
    os.remove(path)
end)

test("options: prefix, error metric name, cache limit", function()
    local p = fresh({ prefix = "gw_", error_metric_name = "gw_errors_total", cache_limit = 2 })
    local c = p:counter("calls", "Calls.", { "k" })
    for i = 1, 5 do
        c:inc(1, { "v" .. i })
        c:inc(1, { "v" .. i })
    end
    assert(c._cached <= 2, "cache over its limit")
    raises("expects 1", c.inc, c, 1, {})
    local text = p:metric_data()
    has(text, 'gw_calls_total{k="v5"} 2\n')
    has(text, 'gw_calls_total{k="v1"} 2\n')
    has(text, "\ngw_errors_total 1\n")
    lacks(text, "nginx_metric_errors_total")
end)

test("metric_data and collect negotiate the format", function()
    local p = fresh()
    p:counter("c", "C."):inc()
    local text, content_type = p:metric_data()
    eq(content_type, "text/plain; version=0.0.4; charset=utf-8", "content type")
    lacks(text, "# EOF")
    text, content_type = p:metric_data("application/openmetrics-text; version=1.0.0")
    eq(content_type, "application/openmetrics-text; version=1.0.0; charset=utf-8", "content type")
    has(text, "# EOF\n")
    local fake = with_ngx(function()
        p:collect()
    end, "application/openmetrics-text")
    eq(fake.header["Content-Type"], "application/openmetrics-text; version=1.0.0; charset=utf-8",
        "collect content type")
    local printed = table.concat(fake.printed)
    has(printed, "c_total 1\n")
    eq(printed:sub(-6), "# EOF\n", "end of the collected text")
    fake = with_ngx(function()
        p:collect()
    end, nil)
    eq(fake.header["Content-Type"], "text/plain; version=0.0.4; charset=utf-8", "collect content type")
    fake = with_ngx(function()
        p:collect()
    end, nil, "name%5B%5D=c_total&x=1")
    printed = table.concat(fake.printed)
    has(printed, "# TYPE c_total counter\nc_total 1\n")
    lacks(printed, "metricore_series")
    eq(select(2, printed:gsub("# TYPE ", "")), 1, "families selected by name[]")
    eq((p:metric_data(nil, "name[]=absent")), "", "nothing selected")
    raises("use metric_data() outside nginx", p.collect, p)
    eq(core.negotiate("text/plain"), "prometheus", "negotiate")
end)

test("the recording loop is compiled", function()
    if not require("jit").status() then
        return -- run with the JIT off: nothing to check
    end
    local script = debug.getinfo(1, "S").source:sub(2):gsub("unit%.lua$", "hot_loop.lua")
    local child = assert(io.popen("luajit " .. script))
    local out = child:read("*a")
    assert(child:close(), "hot_loop.lua failed:\n" .. out)
    lacks(out, "NYI")
    has(out, "loop traces: 1\n")
    has(out, 'hot_total{a="GET",b="/v1",c="ns"} 40000\n')
end)

local passed, failed = 0, 0
for _, t in ipairs(tests) do
    local ok, err = pcall(t[2])
    if ok then
        passed = passed + 1
        print("ok   " .. t[1])
    else
        failed = failed + 1
        print("FAIL " .. t[1] .. "\n  " .. tostring(err))
    end
end
print(string.format("%d passed, %d failed", passed, failed))
os.exit(failed == 0 and 0 or 1)
