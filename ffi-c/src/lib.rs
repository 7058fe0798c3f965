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
//! - a handle is a pointer to a series that its family keeps, so it is valid until
//!   it is given back with the kind's `_family_release` as often as `_family_labels`
//!   wrote it, or until that registry is freed; a series made again after a removal
//!   or an expiry gets a handle of its own (the old one records nothing, counted as
//!   stale);
//! - a string from `metricore_registry_render_alloc` belongs to the caller, who frees
//!   it with `metricore_string_free`.
//!
//! These functions are meant for C: they trust the pointers they get to be what the
//! header says. Rust code uses the `metricore` crate, except a binding that hands
//! this API's objects to another language (the Lua module does, for LuaJIT's FFI):
//! it makes them with [`Registry::from_core`] and the `extern "C"` functions, and
//! reads messages with [`last_error`].
//!
//! # Safety
//!
//! Every function that takes a pointer (a `Str` holds one) is `unsafe`: it cannot
//! check that a pointer other than NULL points where it should. Its `# Safety` section
//! lists what the caller guarantees, in these terms (the header's preamble has them
//! too):
//! - a *valid string* is a `Str` whose `len` is 0 (`ptr` is then not read), or whose
//!   `ptr` points to `len` readable bytes; a *valid array* of `n` items is NULL with
//!   `n` 0, or points to `n` initialized items; neither changes during the call;
//! - a *live registry object* is a pointer from `metricore_registry_new`,
//!   `_open_shared`, `_open_existing`, `_scope` (or [`Registry::from_core`]) not yet
//!   passed to `metricore_registry_free`; a *live family* of a kind is a pointer that
//!   the kind's `_family_new` wrote, through a live registry object; a *live handle*
//!   of a kind is a handle that the kind's `_family_labels` wrote, of a live family,
//!   and that was not given back (`_family_release`) as often as it was written;
//!   each must stay live for the whole call, so no other thread may free it meanwhile;
//! - an out parameter points to writable, aligned memory for what is written.
//!
//! NULL, where the caller's contract allows it, is refused with
//! `Status::NullPointer` (or ignored where the function says so). Apart from freeing,
//! any number of threads may call any functions on the same objects at once.

#![warn(missing_docs)]
// Each unsafe operation sits in an `unsafe` block of its own, whose `SAFETY:` comment
// says why it is sound, also inside `unsafe fn`s.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

mod counter;
mod exemplar;
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
mod version;

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
pub use version::*;
