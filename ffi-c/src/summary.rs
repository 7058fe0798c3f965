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

/// A resolved summary series. Copy it freely, pass it by value, share it between
/// threads; the functions taking it lock nothing, allocate nothing and look nothing
/// up. It stays valid until the registry object its family was created through is
/// freed. A zeroed handle is "no series" (`METRICORE_STATUS_NULL_POINTER`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct SummaryHandle {
    series: *const SummarySeries,
}

/// Creates, or finds if registered before with the same labels and options, the
/// summary family `name` (rendered as `name_count` and `name_sum`) with
/// `label_names_len` label names. `options` may be NULL.
///
/// On success `*out` points to the family, owned by `registry`.
#[no_mangle]
pub extern "C" fn metricore_summary_family_new(
    registry: *const Registry,
    name: Str,
    help: Str,
    label_names: *const Str,
    label_names_len: usize,
    options: *const FamilyOptions,
    out: *mut *mut SummaryFamily,
) -> Status {
    guard(|| {
        let spec = family::spec(
            name,
            help,
            label_names,
            label_names_len,
            options,
            Kind::Summary,
        )?;
        Family::create(registry, spec, SummaryFamily, out)
    })
}

/// Resolves the series for `label_values` to a handle in `*out`, making it if new;
/// as `metricore_counter_family_labels` (one kept object per series).
#[no_mangle]
pub extern "C" fn metricore_summary_family_labels(
    family: *const SummaryFamily,
    label_values: *const Str,
    label_values_len: usize,
    out: *mut SummaryHandle,
) -> Status {
    guard(|| {
        raw::obj(family, "family")?
            .0
            .labels(label_values, label_values_len, out, |series| {
                SummaryHandle { series }
            })
    })
}

/// Observes `v` in the series for `label_values`, without keeping a handle or
/// allocating. NaN is refused.
#[no_mangle]
pub extern "C" fn metricore_summary_family_observe(
    family: *const SummaryFamily,
    label_values: *const Str,
    label_values_len: usize,
    v: f64,
) -> Status {
    guard(|| {
        raw::obj(family, "family")?
            .0
            .record(label_values, label_values_len, |s| s.0.observe(v))
    })
}

/// Removes the series for `label_values`; as `metricore_counter_family_remove`.
#[no_mangle]
pub extern "C" fn metricore_summary_family_remove(
    family: *const SummaryFamily,
    label_values: *const Str,
    label_values_len: usize,
    removed: *mut bool,
) -> Status {
    guard(|| {
        raw::obj(family, "family")?
            .0
            .remove(label_values, label_values_len, removed)
    })
}

/// Removes every series of the family (that its scope can see).
#[no_mangle]
pub extern "C" fn metricore_summary_family_clear(family: *const SummaryFamily) -> Status {
    guard(|| raw::obj(family, "family")?.0.clear())
}

/// Observes `v`: adds one to the count and `v` to the sum. NaN is refused with
/// `METRICORE_STATUS_INVALID_VALUE`.
#[no_mangle]
pub extern "C" fn metricore_summary_observe(summary: SummaryHandle, v: f64) -> Status {
    guard(|| Ok(raw::series(summary.series)?.0.observe(v)?))
}
