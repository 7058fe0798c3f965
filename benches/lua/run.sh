#!/usr/bin/env bash
# Runs benches/lua/bench.lua inside a real nginx worker (4 workers, one shared
# registry file) and prints its records (nanoseconds per call, one JSON object a line)
# on standard output, and the line naming LuaJIT and nginx on standard error.
#   bash benches/lua/run.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

cargo build -p metricore-lua --release
work="$(mktemp -d)"
chmod 0755 "$work"
nginx_pid=""
cleanup() {
    if [ -n "$nginx_pid" ] && kill -0 "$nginx_pid" 2>/dev/null; then
        kill -TERM "$nginx_pid"
        for _ in $(seq 100); do kill -0 "$nginx_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$nginx_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
bindings-lua/install.sh "${CARGO_TARGET_DIR:-$root/target}/release/libmetricore_lua.so" "$work/lib"
mkdir -p "$work/logs" "$work/conf" "$work/temp"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
user=""
[ "$(id -u)" -eq 0 ] && user="user root root;"
cat > "$work/conf/nginx.conf" <<CONF
$user
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;
worker_processes 4;
daemon off;
pid logs/nginx.pid;
error_log logs/error.log warn;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path temp/body;
    lua_package_cpath "$work/lib/?.so;;";
    lua_package_path "$root/bindings-lua/lua/?.lua;$here/?.lua;;";
    init_worker_by_lua_block {
        prometheus = require("metricore.prometheus").init("$work/bench.metricore")
    }
    server {
        listen 127.0.0.1:$port;
        location = /bench {
            content_by_lua_block {
                ngx.print(require("bench").run(prometheus, "$work/render.metricore"))
            }
        }
    }
}
CONF
nginx -p "$work" -e logs/error.log -c "$work/conf/nginx.conf" &
nginx_pid=$!
for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$port/" && break
    kill -0 "$nginx_pid" 2>/dev/null || { echo "nginx did not start:" >&2; cat "$work/logs/error.log" >&2; exit 1; }
    sleep 0.1
done
curl -sS --fail --max-time 300 -o "$work/report" "http://127.0.0.1:$port/bench" || {
    echo "the benchmark failed:" >&2
    cat "$work/logs/error.log" >&2
    exit 1
}
grep -v '^{' "$work/report" >&2 || true
grep '^{' "$work/report"
