-- The nginx-lua-prometheus calling convention on a metricore registry, which every
-- nginx worker (and any other process) records into at once.
--
--   -- init_worker_by_lua_block (or init_by_lua_block):
--   prometheus = require("metricore.prometheus").init("/dev/shm/nginx.metricore")
--   requests = prometheus:counter("nginx_http_requests_total", "Requests.", {"host", "status"})
--   -- log_by_lua_block:
--   requests:inc(1, {ngx.var.server_name, ngx.var.status})
--   -- content_by_lua_block of /metrics:
--   prometheus:collect()
--
-- Recording resolves the label values through a per-worker cache of nested tables
-- (one level per label) to a handle, then calls the C API through LuaJIT's FFI. The
-- mlua module (require "metricore") opens the registry, makes families, removes
-- series and renders. Bad input is never recorded: it is counted in
-- nginx_metric_errors_total and logged to the nginx error log; outside nginx (no
-- `ngx`), it is counted and raised with error().

local ffi = require "ffi"
local core = require "metricore"
local cffi = require "metricore.ffi"

local C = cffi.C
local last_error = cffi.last_error
local ffi_new, ffi_cast = ffi.new, ffi.cast
local type, tostring, rawget, setmetatable, error, pairs, ipairs =
    type, tostring, rawget, setmetatable, error, pairs, ipairs
local format = string.format
local floor = math.floor

-- Whole numbers below this are exact in a double, and go to the integer path.
local EXACT = 2 ^ 53

local M = {}

-- Options of init() that are this file's; the others go to the registry.
local OWN_OPTIONS = {
    path = true, prefix = true, error_metric_name = true, cache_limit = true, sync_interval = true,
}

-- Label sets a metric caches per worker before it starts its cache anew.
local DEFAULT_CACHE_LIMIT = 10000

local Prometheus = {}
Prometheus.__index = Prometheus

local Metric = {}
Metric.__index = Metric

local Counter = setmetatable({}, Metric)
Counter.__index = Counter
local Gauge = setmetatable({}, Metric)
Gauge.__index = Gauge
local Histogram = setmetatable({}, Metric)
Histogram.__index = Histogram

-- What differs between kinds for resolving: the C family type, the handle (a pointer
-- to the series) the C API writes, the function that writes it, and the one that
-- gives it back.
local KINDS = {
    counter = { family = "const metricore_counter_family *", out = "metricore_counter[1]",
                labels = C.metricore_counter_family_labels,
                release = C.metricore_counter_family_release, class = Counter },
    gauge = { family = "const metricore_gauge_family *", out = "metricore_gauge[1]",
              labels = C.metricore_gauge_family_labels,
              release = C.metricore_gauge_family_release, class = Gauge },
    histogram = { family = "const metricore_histogram_family *", out = "metricore_histogram[1]",
                  labels = C.metricore_histogram_family_labels,
                  release = C.metricore_histogram_family_release, class = Histogram },
}

-- Counts a refused call in the error counter (if there is one yet) and reports
-- `message`: to the nginx error log, or, outside nginx, with error(). Returns nil.
local function report(prometheus, message)
    local errors = prometheus._errors
    if errors ~= nil then
        C.metricore_counter_inc_by_f64(errors, 1)
    end
    local ngx = rawget(_G, "ngx")
    if ngx ~= nil and ngx.log ~= nil then
        ngx.log(ngx.ERR, message)
        return nil
    end
    error(message, 0)
end

-- Reports a refused call on metric `self`.
local function refuse(self, message)
    return report(self._prometheus, format("metricore: %s: %s", self.name, message))
end

-- The label values `values` as strings, each converted with tostring, or nil after
-- reporting why they cannot be. A table with holes, or anything but a table, cannot.
local function label_strings(self, values)
    if values == nil then
        return {}
    end
    if type(values) ~= "table" then
        return refuse(self, "label values must be a table, not a " .. type(values))
    end
    local out = {}
    for i = 1, #values do
        local v = values[i]
        if v == nil then
            return refuse(self, format("label value %d is nil", i))
        end
        out[i] = type(v) == "string" and v or tostring(v)
    end
    return out
end

-- Resolves `values` through the C API and caches the handle under the values as
-- given (so that numbers hit without tostring). The slow path of `lookup`; the core
-- checks the number of values. Returns the handle, or nil after reporting.
local function resolve(self, values)
    local strings = label_strings(self, values)
    if strings == nil then
        return nil
    end
    local m = #strings
    local c_strings = m <= self._n and self._c_strings or ffi_new("metricore_str[?]", m)
    for i = 1, m do
        local s = strings[i]
        c_strings[i - 1].ptr = s
        c_strings[i - 1].len = #s
    end
    local out = self._out
    if self._kind.labels(self._family_ptr, c_strings, m, out) ~= 0 then
        return refuse(self, last_error())
    end
    local handle = out[0]
    local release = self._kind.release
    if m == 0 then
        if self._handle ~= nil then
            release(self._family_ptr, self._handle)
        end
        self._handle = handle
        return handle
    end
    if self._cached >= self._prometheus._cache_limit then
        self:_flush()
    end
    local node = self._cache
    for i = 1, m do
        local key = values[i]
        if key ~= key then
            -- NaN cannot be a table key: its text is, which lookups never hit, so NaN
            -- resolves each time and gives back the handle it replaces.
            key = strings[i]
        end
        if i == m then
            local old = node[key]
            if old ~= nil then
                release(self._family_ptr, old)
            else
                self._cached = self._cached + 1
            end
            node[key] = handle
        else
            local child = node[key]
            if child == nil then
                child = {}
                node[key] = child
            end
            node = child
        end
    end
    return handle
end

-- The handle for label values `values`, from the cache when it has them: one table
-- index per label, and a check that there is no value past the last label; the
-- slow path, `resolve`, otherwise. Written out for up to four labels, because the
-- JIT compiler turns a loop inside the caller's loop into traces of their own.
local function lookup0(self, values)
    local handle = self._handle
    if handle ~= nil and (values == nil or (type(values) == "table" and values[1] == nil)) then
        return handle
    end
    return resolve(self, values)
end

local function lookup1(self, values)
    if type(values) == "table" then
        local handle = self._cache[values[1]]
        if handle ~= nil and values[2] == nil then
            return handle
        end
    end
    return resolve(self, values)
end

local function lookup2(self, values)
    if type(values) == "table" then
        local node = self._cache[values[1]]
        if node ~= nil then
            local handle = node[values[2]]
            if handle ~= nil and values[3] == nil then
                return handle
            end
        end
    end
    return resolve(self, values)
end

local function lookup3(self, values)
    if type(values) == "table" then
        local node = self._cache[values[1]]
        if node ~= nil then
            node = node[values[2]]
            if node ~= nil then
                local handle = node[values[3]]
                if handle ~= nil and values[4] == nil then
                    return handle
                end
            end
        end
    end
    return resolve(self, values)
end

local function lookup4(self, values)
    if type(values) == "table" then
        local node = self._cache[values[1]]
        if node ~= nil then
            node = node[values[2]]
            if node ~= nil then
                node = node[values[3]]
                if node ~= nil then
                    local handle = node[values[4]]
                    if handle ~= nil and values[5] == nil then
                        return handle
                    end
                end
            end
        end
    end
    return resolve(self, values)
end

local function lookup_any(self, values)
    if type(values) == "table" then
        local n = self._n
        local node = self._cache
        for i = 1, n do
            node = node[values[i]]
            if node == nil then
                return resolve(self, values)
            end
        end
        if values[n + 1] == nil then
            return node
        end
    end
    return resolve(self, values)
end

local LOOKUPS = { [0] = lookup0, lookup1, lookup2, lookup3, lookup4 }

-- Gives back every handle under `node`, a table `depth` levels of tables above them.
local function release_all(release, family, node, depth)
    for _, child in pairs(node) do
        if depth == 1 then
            release(family, child)
        else
            release_all(release, family, child, depth - 1)
        end
    end
end

-- Drops every cached handle, giving each back to the C family (which frees a series'
-- handle object once no cache holds it); the next call of each label set resolves it
-- again.
function Metric:_flush()
    local release, family = self._kind.release, self._family_ptr
    if self._handle ~= nil then
        release(family, self._handle)
    end
    if self._n > 0 then
        release_all(release, family, self._cache, self._n)
    end
    self._cache, self._cached, self._handle = {}, 0, nil
end

--- Removes the series of `label_values` (from every worker's output at once).
function Metric:del(label_values)
    local strings = label_strings(self, label_values)
    if strings == nil then
        return
    end
    local removed, message = self._family:remove(strings)
    if removed == nil then
        return refuse(self, message)
    end
    self._prometheus:_removed()
end

--- Removes every series of the metric.
function Metric:reset()
    local ok, message = self._family:clear()
    if ok == nil then
        return refuse(self, message)
    end
    self._prometheus:_removed()
end

-- The most labels an exemplar can have (each name has a character at least).
local MAX_EXEMPLAR_LABELS = 128
-- The exemplar's names and values for the C call, made once per worker and reused.
local exemplar_names = ffi_new("metricore_str[?]", MAX_EXEMPLAR_LABELS)
local exemplar_values = ffi_new("metricore_str[?]", MAX_EXEMPLAR_LABELS)

-- Puts the labels of the table `exemplar` into the two arrays; returns their number,
-- or nil and a message. The strings stay referenced by `exemplar` during the call.
local function exemplar_labels(exemplar)
    if type(exemplar) ~= "table" then
        return nil, "exemplar must be a table of labels, not a " .. type(exemplar)
    end
    local n = 0
    for k, v in pairs(exemplar) do
        if type(k) ~= "string" or type(v) ~= "string" then
            return nil, "exemplar labels must be strings"
        end
        if n == MAX_EXEMPLAR_LABELS then
            return nil, "exemplar labels have more than 128 characters"
        end
        exemplar_names[n].ptr, exemplar_names[n].len = k, #k
        exemplar_values[n].ptr, exemplar_values[n].len = v, #v
        n = n + 1
    end
    return n
end

-- Records `value` with `exemplar` through `record` (a C function taking the handle, the
-- value and the labels), or through `plain` (taking the handle and the value) when the
-- exemplar is no table of strings; a refused exemplar is reported after the value is
-- recorded.
local function with_exemplar(self, record, plain, handle, value, exemplar)
    local n, message = exemplar_labels(exemplar)
    if n == nil then
        if plain(handle, value) ~= 0 then
            return refuse(self, last_error())
        end
        return refuse(self, message)
    end
    if record(handle, value, exemplar_names, exemplar_values, n) ~= 0 then
        return refuse(self, last_error())
    end
end

--- Adds `value` (default 1; finite, not negative) to the series of `label_values`.
--- With `exemplar` (a table of labels, such as `{trace_id = id}`, at most 128
--- characters), keeps it as the series' exemplar, shown in OpenMetrics output.
function Counter:inc(value, label_values, exemplar)
    if value == nil then
        value = 1
    elseif type(value) ~= "number" then
        return refuse(self, "increment must be a number, not a " .. type(value))
    end
    local handle = self._lookup(self, label_values)
    if handle == nil then
        return
    end
    if exemplar ~= nil then
        return with_exemplar(self, C.metricore_counter_inc_exemplar, C.metricore_counter_inc_by_f64,
            handle, value, exemplar)
    end
    -- The core takes whole numbers on its integer path; going there directly saves
    -- the checks of the float path, which refuses the rest when it must.
    if value == 1 then
        C.metricore_counter_inc(handle)
    elseif value >= 0 and value < EXACT and floor(value) == value then
        C.metricore_counter_inc_by(handle, value)
    elseif C.metricore_counter_inc_by_f64(handle, value) ~= 0 then
        return refuse(self, last_error())
    end
end

--- Sets the series of `label_values` to `value`.
function Gauge:set(value, label_values)
    if type(value) ~= "number" then
        return refuse(self, "value must be a number, not a " .. type(value))
    end
    local handle = self._lookup(self, label_values)
    if handle ~= nil then
        C.metricore_gauge_set(handle, value)
    end
end

--- Adds `value` (default 1; negative to subtract) to the series of `label_values`.
function Gauge:inc(value, label_values)
    if value == nil then
        value = 1
    elseif type(value) ~= "number" then
        return refuse(self, "increment must be a number, not a " .. type(value))
    end
    local handle = self._lookup(self, label_values)
    if handle ~= nil then
        C.metricore_gauge_add(handle, value)
    end
end

--- Observes `value` (a number, not NaN) in the series of `label_values`. With
--- `exemplar` (a table of labels, such as `{trace_id = id}`, at most 128 characters),
--- keeps it as the exemplar of the bucket `value` falls in, shown in OpenMetrics output.
function Histogram:observe(value, label_values, exemplar)
    if type(value) ~= "number" then
        return refuse(self, "observation must be a number, not a " .. type(value))
    end
    local handle = self._lookup(self, label_values)
    if handle ~= nil and exemplar ~= nil then
        return with_exemplar(self, C.metricore_histogram_observe_exemplar, C.metricore_histogram_observe,
            handle, value, exemplar)
    end
    if handle ~= nil and C.metricore_histogram_observe(handle, value) ~= 0 then
        return refuse(self, last_error())
    end
end

-- Follows the registry file: when it was removed, replaced or truncated, the registry
-- moves to the file now at its path, and this worker drops every cached handle, which
-- records into the old file. Then reads the shared count of removals; when another
-- worker (or this one) removed series since the last look, or series expired (see
-- `expire` below), drops every cached handle of this worker, so that recording
-- resolves again instead of going to a removed series.
function Prometheus:_refresh()
    local generation = self._registry:follow_file()
    if generation ~= self._generation then
        self._generation = generation
        self:_flush()
    end
    local value = self._removal_value
    if C.metricore_counter_get(self._removals, value) ~= 0 then
        return
    end
    local expired = self._registry:series_expired()
    if value[0] ~= self._removals_seen or expired ~= self._expired_seen then
        self._removals_seen, self._expired_seen = value[0], expired
        self:_flush()
    end
end

-- Drops every metric's cached handles, then resolves the module's own counters again
-- (their handles were given back with the others).
function Prometheus:_flush()
    for _, metric in ipairs(self._metrics) do
        metric:_flush()
    end
    self._errors = lookup0(self._errors_metric, nil)
    self._removals = lookup0(self._removals_metric, nil)
end

-- Counts a removal in the shared count and drops this worker's cached handles.
function Prometheus:_removed()
    C.metricore_counter_inc_by_f64(self._removals, 1)
    self:_refresh()
end

-- Makes the family of a new metric through the mlua side and wraps it.
local function register(self, kind_name, name, help, label_names, buckets, options)
    local kind = KINDS[kind_name]
    local full = self._prefix .. tostring(name)
    local stub = { name = full, _prometheus = self }
    if type(name) ~= "string" then
        return refuse(stub, "the name must be a string, not a " .. type(name))
    end
    if label_names ~= nil and type(label_names) ~= "table" then
        return refuse(stub, "label names must be a table, not a " .. type(label_names))
    end
    for i, label in ipairs(label_names or {}) do
        if type(label) ~= "string" then
            return refuse(stub, format("label name %d must be a string, not a %s", i, type(label)))
        end
    end
    if options ~= nil and type(options) ~= "table" then
        return refuse(stub, "options must be a table, not a " .. type(options))
    end
    if help ~= nil then
        help = tostring(help)
    end
    local registry = self._registry
    local ok, family, message
    if kind_name == "histogram" then
        if buckets ~= nil and type(buckets) ~= "table" then
            return refuse(stub, "buckets must be a table, not a " .. type(buckets))
        end
        for i, bound in ipairs(buckets or {}) do
            if type(bound) ~= "number" then
                return refuse(stub, format("bucket %d must be a number, not a %s", i, type(bound)))
            end
        end
        ok, family, message = pcall(registry.histogram, registry, full, help, label_names,
            buckets, options)
    else
        ok, family, message = pcall(registry[kind_name], registry, full, help, label_names,
            options)
    end
    if not ok then
        return refuse(stub, tostring(family))
    end
    if family == nil then
        return refuse(stub, message)
    end
    local n = label_names and #label_names or 0
    local metric = setmetatable({
        name = full,
        help = help,
        label_names = label_names or {},
        _prometheus = self,
        _kind = kind,
        _family = family,
        _family_ptr = ffi_cast(kind.family, family:pointer()),
        _n = n,
        _lookup = LOOKUPS[n] or lookup_any,
        _c_strings = n > 0 and ffi_new("metricore_str[?]", n) or nil,
        _out = ffi_new(kind.out),
        _cache = {},
        _cached = 0,
        _handle = nil,
    }, kind.class)
    self._metrics[#self._metrics + 1] = metric
    return metric
end

--- A counter: `name` (a trailing `_total` is dropped; the output adds it), `help`,
-- and the label names (a table of strings, or nil for none). `options`, which
-- nginx-lua-prometheus does not have, may hold `unit`, `limit` (series before new
-- label sets go to the overflow series; default 2000) and `expire` (seconds, as APISIX
-- names it: a series whose value did not change for that long leaves the output and
-- gives its space back; the next call with its labels makes it anew from zero. Workers
-- drop their cached handles at their next look, within `sync_interval`; a call through
-- a cached handle before that is dropped and counted in
-- metricore_stale_recordings_total. Only for metrics with labels; 0 or nil: never).
function Prometheus:counter(name, help, label_names, options)
    return register(self, "counter", name, help, label_names, nil, options)
end

--- A gauge, as a counter. `options.mode` also says how the values of several
-- processes combine: one shared value by default, or a prometheus_client
-- multi-process mode such as "livesum" or "max" (a value per process).
function Prometheus:gauge(name, help, label_names, options)
    return register(self, "gauge", name, help, label_names, nil, options)
end

--- A histogram with bucket upper bounds `buckets` (the Prometheus defaults, 0.005 to
-- 10, when nil), and `options` as a counter. With `options.native = { schema = 3,
-- zero_threshold = 0.001, max_buckets = 120 }` (schema required, the others default
-- as shown), a native histogram, with `buckets` as classic buckets alongside when
-- given; Prometheus reads its buckets from the protobuf format.
function Prometheus:histogram(name, help, label_names, buckets, options)
    return register(self, "histogram", name, help, label_names, buckets, options)
end

--- The registry in the format the `Accept` header value `accept` asks for
-- (Prometheus text when nil; protobuf, binary, when Prometheus asks for it with
-- native histograms on), and its Content-Type; with the query string
-- `query`, only the families its `name[]` parameters select.
function Prometheus:metric_data(accept, query)
    return self._registry:render(accept, query)
end

--- Writes the registry with ngx.print, in the format the request's Accept header
-- asks for, with its Content-Type; only the families the request's `name[]`
-- parameters select, when it has any. Only inside nginx.
function Prometheus:collect()
    local ngx = rawget(_G, "ngx")
    if ngx == nil or ngx.print == nil then
        error("metricore: collect() writes the nginx response; use metric_data() outside nginx", 2)
    end
    self:_refresh()
    local text, content_type = self._registry:render(ngx.var.http_accept, ngx.var.args)
    ngx.header["Content-Type"] = content_type
    ngx.print(text)
end

--- Starts this worker's timer that follows the registry file (see _refresh) and looks
-- for series removed by other workers every
-- `interval` seconds (default: init's `sync_interval`, 1). init() calls it when it
-- runs in init_worker_by_lua; call it there when init() ran in init_by_lua.
-- Recording never waits for it: it only bounds how long a worker keeps recording
-- into a series that another worker removed.
function Prometheus:init_worker(interval)
    local ngx = rawget(_G, "ngx")
    if ngx == nil or ngx.timer == nil then
        return
    end
    local ok, message = ngx.timer.every(interval or self._sync_interval, function(premature)
        if not premature then
            self:_refresh()
        end
    end)
    if not ok then
        ngx.log(ngx.ERR, "metricore: cannot start the removal timer: ", message)
    end
end

--- Opens the registry and returns the object metrics are made with.
-- `path_or_options` is the path of the registry file that all workers share, or a
-- table: `path` (nil for a registry in this process's memory), `prefix` (put before
-- every metric name), `error_metric_name` (default "nginx_metric_errors_total"),
-- `cache_limit` (label sets cached per metric and worker, default 10000),
-- `sync_interval` (seconds between a worker's looks for series that other workers
-- removed, default 1; nothing else waits for it), and the
-- registry's capacities for a new file (`shards`, `cells_per_shard`,
-- `series_capacity`, `family_capacity`, `process_capacity`, `arena_bytes`,
-- `file_mode`), `max_label_value_bytes`, and whom else to trust with the file: `owner`
-- and `group` (names or numbers; workers sharing a file with other users through a
-- group name it, and `file_mode = tonumber("660", 8)`). Raises an error naming the path
-- when the file cannot be opened.
function M.init(path_or_options)
    local options = path_or_options
    if type(options) == "string" then
        options = { path = options }
    elseif options == nil then
        options = {}
    elseif type(options) ~= "table" then
        error("metricore: init takes a registry path or a table of options", 2)
    end
    local registry_options = {}
    for key, value in pairs(options) do
        if not OWN_OPTIONS[key] then
            registry_options[key] = value
        end
    end
    local registry, message
    if options.path ~= nil then
        registry, message = core.open(tostring(options.path), registry_options)
    else
        registry, message = core.new(registry_options)
    end
    if registry == nil then
        error("metricore: " .. message, 2)
    end
    local self = setmetatable({
        _registry = registry,
        _prefix = options.prefix or "",
        _cache_limit = options.cache_limit or DEFAULT_CACHE_LIMIT,
        _sync_interval = options.sync_interval or 1,
        _metrics = {},
        _removal_value = ffi_new("double[1]"),
        _removals_seen = 0,
        _expired_seen = 0,
    }, Prometheus)
    -- The two counters of the module itself, without the prefix.
    local prefix = self._prefix
    self._prefix = ""
    local errors = self:counter(options.error_metric_name or "nginx_metric_errors_total",
        "Metrics calls refused as invalid, each logged to the error log")
    local removals = self:counter("nginx_metric_series_removed_total",
        "Series removed with del() or reset(); workers then resolve their cached series again")
    self._prefix = prefix
    if errors == nil or removals == nil then
        error("metricore: cannot make the module's own counters (see the error log)", 2)
    end
    self._errors_metric, self._removals_metric = errors, removals
    self._errors = lookup0(errors, nil)
    self._removals = lookup0(removals, nil)
    self._generation = registry:follow_file()
    self:_refresh()
    local ngx = rawget(_G, "ngx")
    if ngx ~= nil and ngx.get_phase ~= nil and ngx.get_phase() == "init_worker" then
        self:init_worker()
    end
    return self
end

return M
