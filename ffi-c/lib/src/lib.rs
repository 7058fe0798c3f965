//! `libmetricore.so` and `libmetricore.a`: the C API of `metricore-ffi` under the
//! library name C programs link with (`-lmetricore`).

pub use metricore_ffi::*;
