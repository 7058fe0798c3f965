-- The Lua module of metricore for LuaJIT and OpenResty: metricore.so, built with cargo
-- from the workspace, and the Lua files metricore.ffi and metricore.prometheus.
-- From the repository root (cargo and a Rust toolchain on PATH):
--   luarocks make --tree TREE bindings-lua/metricore-0.1.0-1.rockspec
-- installs TREE/lib/lua/5.1/metricore.so and TREE/share/lua/5.1/metricore/*.lua.
rockspec_format = "3.0"
package = "metricore"
version = "0.1.0-1"
source = {
    -- The repository root; `luarocks make` builds the checkout it runs in.
    url = "git+file://.",
}
description = {
    summary = "Lock-free, per-CPU sharded metrics that every nginx worker records into one shared file",
    detailed = [[
The calls of nginx-lua-prometheus on a metricore registry that every nginx worker opens
from one memory-mapped file: each worker records into the same cells through LuaJIT's
FFI, so /metrics, answered by any worker, shows the totals of all of them.
]],
    license = "MIT OR Apache-2.0",
}
-- LuaJIT (OpenResty's included): the module is built for LuaJIT's Lua 5.1 API.
dependencies = {
    "lua == 5.1",
}
build = {
    type = "command",
    -- cargo with the C compiler it picks in a plain build (luarocks sets CC), into an
    -- explicit target directory whatever CARGO_TARGET_DIR says; then the library under
    -- the name that `require "metricore"` loads.
    build_command = "env -u CC cargo build --release --locked -p metricore-lua --target-dir target"
        .. " && mkdir -p target/luarocks"
        .. " && cp target/release/libmetricore_lua.so target/luarocks/metricore.so",
    install = {
        lib = {
            metricore = "target/luarocks/metricore.so",
        },
        lua = {
            ["metricore.ffi"] = "bindings-lua/lua/metricore/ffi.lua",
            ["metricore.prometheus"] = "bindings-lua/lua/metricore/prometheus.lua",
        },
    },
}
