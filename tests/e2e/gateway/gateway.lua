-- The gateway of the end-to-end scenario: nginx workers that rate-limit, cache and
-- proxy /v1/chat/completions to the token service, recording into the registry file
-- that every process of the scenario shares (through metricore.prometheus, the
-- nginx-lua-prometheus calls).
--
--   init_worker_by_lua_block   { require("gateway").init(REGISTRY_PATH) }
--   access_by_lua_block        { require("gateway").access() }
--   header_filter_by_lua_block { require("gateway").header_filter() }
--   body_filter_by_lua_block   { require("gateway").body_filter() }
--   log_by_lua_block           { require("gateway").log() }
--   content_by_lua_block       { require("gateway").collect() }      -- /metrics
--
-- Requests and their latency are counted in the header filter, before the response
-- leaves the worker: every request a client got an answer for is counted, even when
-- its worker is killed right after. (Counting in the log phase, after the response,
-- would lose the answered requests of a worker killed before it got there.)
--
-- What each request gets is decided by its headers, so a test knows every total:
--   X-Namespace: NS     the tenant; namespaces over their quota get 429
--   X-Cache: allow      may be answered from the cache (same namespace and body);
--                       the answer then says X-Cache: HIT or MISS

local M = {}

-- Namespaces over their quota: every request is refused.
local OVER_QUOTA = { ["free-tier"] = true }
local RESPONSE = { "response" }  -- the cache_type of the response cache

local prometheus, requests, latency, rate_limited, cache_hits, cache_misses, in_flight
local cache = ngx.shared.gateway_cache

function M.init(path)
    prometheus = require("metricore.prometheus").init(path)
    requests = prometheus:counter("gateway_requests_total",
        "Requests answered by the gateway, by namespace and HTTP status.", { "namespace", "status" })
    latency = prometheus:histogram("gateway_request_duration_seconds",
        "Time from the request reaching the gateway to its response.", { "namespace" })
    rate_limited = prometheus:counter("rate_limit_hits_total",
        "Requests refused by a rate limit.", { "namespace", "rule_type" })
    cache_hits = prometheus:counter("cache_hits_total",
        "Cache lookups that found a fresh entry.", { "cache_type" })
    cache_misses = prometheus:counter("cache_misses_total",
        "Cache lookups that found none.", { "cache_type" })
    in_flight = prometheus:gauge("gateway_in_flight_requests",
        "Requests being served, summed over live workers.", { "namespace" }, { mode = "livesum" })
end

function M.access()
    local ctx = ngx.ctx
    local namespace = ngx.var.http_x_namespace or "default"
    ctx.labels = { namespace }
    in_flight:inc(1, ctx.labels)
    ctx.in_flight = true
    if OVER_QUOTA[namespace] then
        rate_limited:inc(1, { namespace, "quota" })
        ngx.header["Retry-After"] = "1"
        return ngx.exit(429)
    end
    if ngx.var.http_x_cache ~= "allow" then
        return
    end
    ngx.req.read_body()
    local body = ngx.req.get_body_data()
    if body == nil then
        return -- larger than the body buffer: not cached
    end
    local key = ngx.md5(namespace .. "\0" .. body)
    local cached = cache:get(key)
    if cached ~= nil then
        cache_hits:inc(1, RESPONSE)
        ctx.cache = "HIT"
        ngx.header["Content-Type"] = "application/json"
        ngx.header["Content-Length"] = #cached
        ngx.print(cached)
        return ngx.exit(ngx.HTTP_OK)
    end
    cache_misses:inc(1, RESPONSE)
    ctx.cache = "MISS"
    ctx.cache_key = key
end

function M.header_filter()
    local ctx = ngx.ctx
    if ctx.labels == nil or ctx.counted then
        return
    end
    ctx.counted = true
    requests:inc(1, { ctx.labels[1], ngx.status })
    ngx.update_time()
    latency:observe(ngx.now() - ngx.req.start_time(), ctx.labels)
    ngx.header["X-Gateway-Worker"] = ngx.worker.pid()
    if ctx.cache ~= nil then
        ngx.header["X-Cache"] = ctx.cache
    end
    if ctx.cache_key ~= nil and ngx.status == 200 then
        ctx.chunks = {}
    end
end

-- Keeps the body of a successful miss, and stores it at its end.
function M.body_filter()
    local ctx = ngx.ctx
    local chunks = ctx.chunks
    if chunks == nil then
        return
    end
    chunks[#chunks + 1] = ngx.arg[1]
    if ngx.arg[2] then
        cache:set(ctx.cache_key, table.concat(chunks), 300)
        ctx.chunks = nil
    end
end

function M.log()
    local ctx = ngx.ctx
    if ctx.in_flight then
        in_flight:inc(-1, ctx.labels)
    end
end

function M.collect()
    prometheus:collect()
end

return M
