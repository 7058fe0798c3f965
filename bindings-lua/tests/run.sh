#!/usr/bin/env bash
# Builds metricore.so, installs it into a temporary directory (copy, then rename),
# runs the unit tests under LuaJIT with the JIT on and off, then the tests that start a
# real nginx with 4 workers (pytest, in the project's .venv).
#   bash bindings-lua/tests/run.sh            # all
#   bash bindings-lua/tests/run.sh unit       # the LuaJIT unit tests only
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
lua_dir="$(dirname "$here")"
root="$(dirname "$lua_dir")"
cd "$root"
what="${1:-all}"

for tool in luajit gcc; do
    command -v "$tool" >/dev/null || { echo "$tool is missing: run scripts/install-deps.sh" >&2; exit 1; }
done

cargo build -p metricore-lua --release
built="${CARGO_TARGET_DIR:-$root/target}/release/libmetricore_lua.so"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$lua_dir/install.sh" "$built" "$work/lib"

export LUA_CPATH="$work/lib/?.so;;"
export LUA_PATH="$lua_dir/lua/?.lua;;"
export METRICORE_HEADER="$root/ffi-c/include/metricore.h"
mkdir -p "$work/tmp"
export TMPDIR="$work/tmp"

echo "== unit tests, JIT on"
luajit "$here/unit.lua" | tee "$work/unit-jit.txt"
echo "== unit tests, JIT off"
luajit -joff "$here/unit.lua" | tee "$work/unit-nojit.txt"
for f in "$work"/unit-*.txt; do
    tail -n1 "$f" | grep -Eq '^[0-9]+ passed, 0 failed$'
done
[ "$what" = unit ] && exit 0

echo "== nginx tests"
./scripts/venv.sh
METRICORE_LUA_SO="$work/lib/metricore.so" METRICORE_LUA_DIR="$lua_dir/lua" \
    .venv/bin/python -m pytest -q "$here/nginx"
