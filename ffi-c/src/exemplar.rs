//! Exemplar labels given as two arrays, names and values.

use metricore::names::MAX_EXEMPLAR_CHARS;
use metricore::Error;

use crate::raw::{self, Arg, Str};
use crate::status::Fail;

/// Calls `f` with the `len` label pairs of `names` and `values`, checked to be UTF-8,
/// gathered on the stack (no allocation). More pairs than an exemplar can have
/// (each name has a character at least) are refused as too long.
///
/// # Safety
///
/// `names` and `values` are valid arrays of `len` valid strings each, left unchanged
/// until this returns.
pub(crate) unsafe fn with_labels<R>(
    names: *const Str,
    values: *const Str,
    len: usize,
    f: impl FnOnce(&[(&str, &str)]) -> Result<R, Fail>,
) -> Result<R, Fail> {
    // SAFETY: valid arrays of `len` items (this function's contract), used only until
    // this returns.
    let (names, values) = unsafe {
        (
            raw::slice(names, len, "exemplar_names")?,
            raw::slice(values, len, "exemplar_values")?,
        )
    };
    if len > MAX_EXEMPLAR_CHARS {
        return Err(Error::ExemplarTooLong(len).into());
    }
    let mut pairs = [("", ""); MAX_EXEMPLAR_CHARS];
    for (i, (n, v)) in names.iter().zip(values).enumerate() {
        // SAFETY: each item is a valid string (this function's contract), used only
        // until this returns.
        pairs[i] = unsafe {
            (
                n.utf8(Arg::item("exemplar_names", i))?,
                v.utf8(Arg::item("exemplar_values", i))?,
            )
        };
    }
    f(&pairs[..len])
}
