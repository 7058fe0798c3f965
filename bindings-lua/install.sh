#!/usr/bin/env bash
# Installs a built module as DIR/metricore.so for lua_package_cpath. Copies to a
# temporary file in DIR, then renames it over the old one: a running nginx keeps the
# file it loaded (overwriting a loaded .so in place crashes its workers).
#   bindings-lua/install.sh target/release/libmetricore_lua.so /usr/local/lib/lua/5.1
set -euo pipefail
src="${1:?usage: install.sh BUILT_SO DIR}"
dir="${2:?usage: install.sh BUILT_SO DIR}"
mkdir -p "$dir"
tmp="$(mktemp "$dir/.metricore.so.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
cp "$src" "$tmp"
chmod 0755 "$tmp"
mv -f "$tmp" "$dir/metricore.so"
trap - EXIT
