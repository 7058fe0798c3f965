//! Summaries (count and sum of observations): families, handles and their hot path.

use metricore::{Kind, SummaryVec};

use crate::family::{self, labeled, Family, FamilyOptions};
use crate::raw::{self, Str};
use crate::registry::Registry;
use crate::status::{guard, Status};

/// A summary family, owned by the registry object it
/// was created through and freed with it. Safe to use from several threads at once.
pub struct SummaryFamily(Family<SummaryVec>);

/// One summary series, which a `metricore_summary` handle points to.
pub struct SummarySeries(metricore::Summary);

labeled!(SummaryVec => SummarySeries);

/// A resolved summary series: a pointer to the series, which recording takes. Copy it
/// freely, share it between threads; the functions taking it lock nothing, allocate
/// nothing and look nothing up. It stays valid until it is given back with
/// `metricore_summary_family_release` as often as it was written, or until the registry
/// object its family was created through is freed. NULL is "no series"
/// (`METRICORE_STATUS_NULL_POINTER`).
pub type SummaryHandle = *const SummarySeries;

/// Creates, or finds if registered before with the same labels and options, the
/// summary family `name` (rendered as `name_count` and `name_sum`) with
/// `label_names_len` label names. `options` may be NULL.
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
pub unsafe extern "C" fn metricore_summary_family_new(
    registry: *const Registry,
    name: Str,
    help: Str,
    label_names: *const Str,
    label_names_len: usize,
    options: *const FamilyOptions,
    out: *mut *mut SummaryFamily,
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
                Kind::Summary,
            )
        }?;
        // SAFETY: `registry` is NULL or live and `out` NULL or writable (the caller's
        // contract above).
        unsafe { Family::create(registry, spec, SummaryFamily, out) }
    })
}

/// Resolves the series for `label_values` to a handle in `*out`, making it if new;
/// as `metricore_counter_family_labels` (one kept object per series).
///
/// # Safety
///
/// - `family` is NULL or a live summary family.
/// - `label_values` is a valid array of `label_values_len` valid strings.
/// - `out` is NULL or points to writable memory for one handle.
#[no_mangle]
pub unsafe extern "C" fn metricore_summary_family_labels(
    family: *const SummaryFamily,
    label_values: *const Str,
    label_values_len: usize,
    out: *mut SummaryHandle,
) -> Status {
    guard(|| {
        // SAFETY: `family` is NULL or a live summary family, `label_values` a valid
        // array and `out` NULL or writable (the caller's contract above).
        unsafe {
            raw::obj(family, "family")?
                .0
                .labels(label_values, label_values_len, out)
        }
    })
}

/// Gives back a handle that `metricore_summary_family_labels` wrote; as
/// `metricore_counter_family_release`.
///
/// # Safety
///
/// `family` is NULL or a live summary family.
#[no_mangle]
pub unsafe extern "C" fn metricore_summary_family_release(
    family: *const SummaryFamily,
    handle: SummaryHandle,
) -> Status {
    guard(|| {
        // SAFETY: `family` is NULL or a live summary family (the caller's contract above).
        unsafe { raw::obj(family, "family") }?.0.release(handle)
    })
}

/// Observes `v` in the series for `label_values`, without keeping a handle or
/// allocating. NaN is refused.
///
/// # Safety
///
/// - `family` is NULL or a live summary family.
/// - `label_values` is a valid array of `label_values_len` valid strings.
#[no_mangle]
pub unsafe extern "C" fn metricore_summary_family_observe(
    family: *const SummaryFamily,
    label_values: *const Str,
    label_values_len: usize,
    v: f64,
) -> Status {
    guard(|| {
        // SAFETY: `family` is NULL or a live summary family and `label_values` a valid
        // array (the caller's contract above).
        unsafe {
            raw::obj(family, "family")?
                .0
                .record(label_values, label_values_len, |s| s.0.observe(v))
        }
    })
}

/// Removes the series for `label_values`; as `metricore_counter_family_remove`.
///
/// # Safety
///
/// - `family` is NULL or a live summary family.
/// - `label_values` is a valid array of `label_values_len` valid strings.
/// - `removed` is NULL or points to writable memory for one `bool`.
#[no_mangle]
pub unsafe extern "C" fn metricore_summary_family_remove(
    family: *const SummaryFamily,
    label_values: *const Str,
    label_values_len: usize,
    removed: *mut bool,
) -> Status {
    guard(|| {
        // SAFETY: `family` is NULL or a live summary family, `label_values` a valid
        // array and `removed` NULL or writable (the caller's contract above).
        unsafe {
            raw::obj(family, "family")?
                .0
                .remove(label_values, label_values_len, removed)
        }
    })
}

/// Removes every series of the family (that its scope can see).
///
/// # Safety
///
/// `family` is NULL or a live summary family.
#[no_mangle]
pub unsafe extern "C" fn metricore_summary_family_clear(family: *const SummaryFamily) -> Status {
    // SAFETY: `family` is NULL or a live summary family (the caller's contract above).
    guard(|| unsafe { raw::obj(family, "family") }?.0.clear())
}

/// Observes `v`: adds one to the count and `v` to the sum. NaN is refused with
/// `METRICORE_STATUS_INVALID_VALUE`.
///
/// # Safety
///
/// `summary` is NULL or a live summary handle.
#[no_mangle]
pub unsafe extern "C" fn metricore_summary_observe(summary: SummaryHandle, v: f64) -> Status {
    // SAFETY: `summary` is NULL or a live summary handle, so a pointer into a family
    // its registry object keeps (the caller's contract above).
    guard(|| Ok(unsafe { raw::series(summary) }?.0.observe(v)?))
}
