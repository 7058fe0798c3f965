//! Info families: series that are sets of labels with the value 1.

use std::sync::Arc;

use metricore::{InfoVec, Kind};

use crate::family::{self, FamilyOptions};
use crate::raw::{self, Arg, Str};
use crate::registry::{Node, Registry};
use crate::status::{guard, Fail, Status};

/// An info family, rendered as `name_info`; owned by the
/// registry object it was created through and freed with it. Safe to use from several
/// threads at once.
pub struct InfoFamily {
    node: Arc<Node>,
    vec: InfoVec,
}

impl InfoFamily {
    /// The core family behind `ptr`, if its registry is open.
    ///
    /// # Safety
    ///
    /// `ptr` must be NULL or a live info family, whose registry object is not freed
    /// before `'a` ends.
    unsafe fn open<'a>(ptr: *const InfoFamily) -> Result<&'a InfoVec, Fail> {
        // SAFETY: `ptr` is NULL or a family its registry object keeps for `'a`, only
        // shared (this function's contract).
        let f = unsafe { raw::obj(ptr, "family") }?;
        f.node.check()?;
        Ok(&f.vec)
    }
}

/// Creates, or finds if registered before with the same labels and options, the info
/// family `name` (a trailing `_info` is dropped; output adds it) with
/// `label_names_len` label names that identify a series; `options` may be NULL.
///
/// On success `*out` points to the family, owned by `registry`.
///
/// # Safety
///
/// - `registry` is NULL or a live registry object.
/// - `name` and `help` are valid strings; `label_names` is a valid array of
///   `label_names_len` valid strings.
/// - `options` is NULL or points to a readable `metricore_family_options` whose `unit`
///   is a valid string.
/// - `out` is NULL or points to writable memory for one pointer.
#[no_mangle]
pub unsafe extern "C" fn metricore_info_family_new(
    registry: *const Registry,
    name: Str,
    help: Str,
    label_names: *const Str,
    label_names_len: usize,
    options: *const FamilyOptions,
    out: *mut *mut InfoFamily,
) -> Status {
    guard(|| {
        // SAFETY: the strings, the array and `options` are valid for this call (the
        // caller's contract above).
        let spec = unsafe {
            family::spec(
                name,
                help,
                label_names,
                label_names_len,
                options,
                Kind::Info,
            )
        }?;
        // SAFETY: `registry` is NULL or a live registry object (the caller's contract
        // above).
        let r = unsafe { Registry::open(registry) }?;
        if out.is_null() {
            return Err(Fail::null("out"));
        }
        let family = r.register(spec, |node, family| {
            Ok(InfoFamily {
                node,
                vec: InfoVec::try_from(family)?,
            })
        })?;
        // SAFETY: `out` is writable for one pointer (the caller's contract above).
        unsafe { raw::put(out, family, "out") }
    })
}

/// Sets the info of the series for `label_values` to the `pairs_len` labels named
/// `pair_names` with the values `pair_values`, replacing what it held. The names must
/// be valid label names that differ from each other and from the family's labels.
///
/// # Safety
///
/// - `family` is NULL or a live info family.
/// - `label_values` is a valid array of `label_values_len` valid strings;
///   `pair_names` and `pair_values` are valid arrays of `pairs_len` valid strings each.
#[no_mangle]
pub unsafe extern "C" fn metricore_info_family_set(
    family: *const InfoFamily,
    label_values: *const Str,
    label_values_len: usize,
    pair_names: *const Str,
    pair_values: *const Str,
    pairs_len: usize,
) -> Status {
    guard(|| {
        // SAFETY: `family` is NULL or a live info family (the caller's contract above).
        let vec = unsafe { InfoFamily::open(family) }?;
        // SAFETY: `pair_names` and `pair_values` are valid arrays of `pairs_len`
        // strings (the caller's contract above), used during this call only.
        let (names, values) = unsafe {
            (
                raw::slice(pair_names, pairs_len, "pair_names")?,
                raw::slice(pair_values, pairs_len, "pair_values")?,
            )
        };
        let pairs = names
            .iter()
            .zip(values)
            .enumerate()
            .map(|(i, (n, v))| {
                // SAFETY: each item of the two arrays is a valid string (the caller's
                // contract above), used during this call only.
                unsafe {
                    Ok((
                        n.utf8(Arg::item("pair_names", i))?,
                        v.utf8(Arg::item("pair_values", i))?,
                    ))
                }
            })
            .collect::<Result<Vec<_>, Fail>>()?;
        // SAFETY: `label_values` is a valid array of valid strings (the caller's
        // contract above).
        unsafe {
            raw::with_strs(label_values, label_values_len, "label_values", |v| {
                Ok(vec.set(v, &pairs)?)
            })
        }
    })
}

/// Removes every series of the family (that its scope can see).
///
/// # Safety
///
/// `family` is NULL or a live info family.
#[no_mangle]
pub unsafe extern "C" fn metricore_info_family_clear(family: *const InfoFamily) -> Status {
    guard(|| {
        // SAFETY: `family` is NULL or a live info family (the caller's contract above).
        unsafe { InfoFamily::open(family) }?.clear();
        Ok(())
    })
}
