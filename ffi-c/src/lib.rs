//! The C API of metricore: `libmetricore.so` and `libmetricore.a`, described by the
//! header `include/metricore.h` that cbindgen generates from this crate.
//!
//! The functions convert C types (pointer-and-length strings, arrays, out parameters)
//! and map errors to status codes; validation, naming, label handling and rendering
//! are the `metricore` crate's. Every function catches panics, so none unwinds into C,
//! and reports failures as a [`Status`] with a thread-local message.
//!
//! Ownership:
//! - a registry (or scope) from `metricore_registry_new`, `_open_shared`,
//!   `_open_existing` or `_scope` belongs to the caller, who frees it with
//!   `metricore_registry_free`;
//! - a family belongs to the registry object it was created through;
//! - a handle points into its family, so it is valid until that registry is freed;
//! - a string from `metricore_registry_render_alloc` belongs to the caller, who frees
//!   it with `metricore_string_free`.
//!
//! These functions are meant for C: they trust the pointers they get to be what the
//! header says. Rust code uses the `metricore` crate, except a binding that hands
//! this API's objects to another language (the Lua module does, for LuaJIT's FFI):
//! it makes them with [`Registry::from_core`] and the `extern "C"` functions, and
//! reads messages with [`last_error`].

#![warn(missing_docs)]

mod counter;
mod family;
mod gauge;
mod histogram;
mod http;
mod info;
mod raw;
mod registry;
mod state_set;
mod status;
mod summary;

pub use counter::*;
pub use family::FamilyOptions;
pub use gauge::*;
pub use histogram::*;
pub use http::*;
pub use info::*;
pub use raw::{Str, Text};
pub use registry::*;
pub use state_set::*;
pub use status::*;
pub use summary::*;
