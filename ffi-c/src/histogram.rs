//! Histograms: bucket bounds, families, handles and their hot path.

use metricore::{buckets, HistogramVec, Kind};

use crate::family::{self, labeled, Family, FamilyOptions};
use crate::raw::{self, Str};
use crate::registry::Registry;
use crate::status::{guard, Status};

/// A histogram family, owned by the registry object
/// it was created through and freed with it. Safe to use from several threads at once.
pub struct HistogramFamily(Family<HistogramVec>);

/// One histogram series, which a `metricore_histogram` handle points to.
pub struct HistogramSeries(metricore::Histogram);

labeled!(HistogramVec => HistogramSeries);

/// A resolved histogram series. Copy it freely, pass it by value, share it between
/// threads; the functions taking it lock nothing, allocate nothing and look nothing
/// up. It stays valid until the registry object its family was created through is
/// freed. A zeroed handle is "no series" (`METRICORE_STATUS_NULL_POINTER`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct HistogramHandle {
    series: *const HistogramSeries,
}

/// Writes to `*bounds` and `*len` the default bucket bounds of the Prometheus client
/// libraries (0.005 to 10 seconds, 14 bounds), an array owned by the library that
/// stays valid for the life of the process.
#[no_mangle]
pub extern "C" fn metricore_buckets_default(bounds: *mut *const f64, len: *mut usize) -> Status {
    guard(|| {
        if len.is_null() {
            return Err(crate::status::Fail::null("len"));
        }
        raw::put(bounds, buckets::DEFAULT_BUCKETS.as_ptr(), "bounds")?;
        raw::put(len, buckets::DEFAULT_BUCKETS.len(), "len")
    })
}

/// Writes the `count` bounds `start, start + width, ...` to `out`, which has room for
/// `count` doubles. `count` must be at least 1 and `width` positive.
#[no_mangle]
pub extern "C" fn metricore_buckets_linear(
    start: f64,
    width: f64,
    count: usize,
    out: *mut f64,
) -> Status {
    guard(|| raw::copy_f64s(&buckets::linear(start, width, count)?, out))
}

/// Writes the `count` bounds `start, start * factor, ...` to `out`, which has room for
/// `count` doubles. `count` must be at least 1, `start` positive and `factor` above 1.
#[no_mangle]
pub extern "C" fn metricore_buckets_exponential(
    start: f64,
    factor: f64,
    count: usize,
    out: *mut f64,
) -> Status {
    guard(|| raw::copy_f64s(&buckets::exponential(start, factor, count)?, out))
}

/// Creates, or finds if registered before with the same labels, bounds and options,
/// the histogram family `name` with `label_names_len` label names and the
/// `bounds_len` bucket upper bounds at `bounds` (finite, strictly increasing, at most
/// 128; `+Inf` is implied; see `metricore_buckets_default`). `options` may be NULL.
///
/// On success `*out` points to the family, owned by `registry`.
#[no_mangle]
pub extern "C" fn metricore_histogram_family_new(
    registry: *const Registry,
    name: Str,
    help: Str,
    label_names: *const Str,
    label_names_len: usize,
    bounds: *const f64,
    bounds_len: usize,
    options: *const FamilyOptions,
    out: *mut *mut HistogramFamily,
) -> Status {
    guard(|| {
        let kind = Kind::Histogram(raw::slice(bounds, bounds_len, "bounds")?.to_vec());
        let spec = family::spec(name, help, label_names, label_names_len, options, kind)?;
        Family::create(registry, spec, HistogramFamily, out)
    })
}

/// Resolves the series for `label_values` to a handle in `*out`, making it if new;
/// as `metricore_counter_family_labels` (one kept object per series).
#[no_mangle]
pub extern "C" fn metricore_histogram_family_labels(
    family: *const HistogramFamily,
    label_values: *const Str,
    label_values_len: usize,
    out: *mut HistogramHandle,
) -> Status {
    guard(|| {
        raw::obj(family, "family")?
            .0
            .labels(label_values, label_values_len, out, |series| {
                HistogramHandle { series }
            })
    })
}

/// Observes `v` in the series for `label_values`, without keeping a handle or
/// allocating. NaN is refused.
#[no_mangle]
pub extern "C" fn metricore_histogram_family_observe(
    family: *const HistogramFamily,
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
pub extern "C" fn metricore_histogram_family_remove(
    family: *const HistogramFamily,
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
pub extern "C" fn metricore_histogram_family_clear(family: *const HistogramFamily) -> Status {
    guard(|| raw::obj(family, "family")?.0.clear())
}

/// Observes `v`: adds one to its bucket and `v` to the sum. NaN is refused with
/// `METRICORE_STATUS_INVALID_VALUE`.
#[no_mangle]
pub extern "C" fn metricore_histogram_observe(histogram: HistogramHandle, v: f64) -> Status {
    guard(|| Ok(raw::series(histogram.series)?.0.observe(v)?))
}
