//! The Lua module `metricore` (LuaJIT, OpenResty): registries, families and
//! rendering for the Lua files in `lua/metricore/`, which record through LuaJIT's FFI
//! into the C API that this same `.so` exports (`ffi-c/include/metricore.h`).
//!
//! Everything here is the slow path: opening a registry, creating families (their
//! pointers go to the FFI side), removing series, rendering. A failure is returned to
//! Lua as `nil, message`, never raised, so that the Lua side decides how to report it.
//! Naming rules, validation, label handling and exposition are the core's.

// Each call into the C API sits in an `unsafe` block of its own, whose `SAFETY:`
// comment says why it is sound.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod family;
mod registry;

use metricore::Format;
use mlua::{Lua, LuaString, Result, Table};

/// The module table: `open(path, options)`, `new(options)`, `negotiate(accept)`.
#[mlua::lua_module(name = "metricore")]
fn open_module(lua: &Lua) -> Result<Table> {
    let m = lua.create_table()?;
    m.set("open", lua.create_function(registry::open)?)?;
    m.set("new", lua.create_function(registry::new)?)?;
    m.set(
        "negotiate",
        lua.create_function(|_, accept: Option<LuaString>| Ok(negotiate(accept)))?,
    )?;
    m.set("version", env!("CARGO_PKG_VERSION"))?;
    Ok(m)
}

/// The format a scraper's `Accept` header asks for, as the core decides: its name
/// (`"protobuf"`, `"openmetrics"` or `"prometheus"`) and its `Content-Type`.
fn negotiate(accept: Option<LuaString>) -> (&'static str, &'static str) {
    let format = format_of(accept.as_ref());
    let name = match format {
        Format::OpenMetrics => "openmetrics",
        Format::Prometheus => "prometheus",
        Format::Protobuf => "protobuf",
    };
    (name, format.content_type())
}

/// The format for an `Accept` header (or a format name: `openmetrics`, `protobuf`);
/// Prometheus text for none.
pub(crate) fn format_of(accept: Option<&LuaString>) -> Format {
    let Some(accept) = accept else {
        return Format::Prometheus;
    };
    let accept = accept.to_string_lossy();
    if accept == "openmetrics" {
        Format::OpenMetrics
    } else if accept == "protobuf" {
        Format::Protobuf
    } else {
        Format::from_accept(&accept)
    }
}
