//! Histograms: bucket bounds, families, handles and their hot path.

use metricore::{buckets, HistogramVec, Kind};

use crate::exemplar;
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

/// A resolved histogram series: a pointer to the series, which recording takes. Copy it
/// freely, share it between threads; the functions taking it lock nothing, allocate
/// nothing and look nothing up. It stays valid until it is given back with
/// `metricore_histogram_family_release` as often as it was written, or until the
/// registry object its family was created through is freed. NULL is "no series"
/// (`METRICORE_STATUS_NULL_POINTER`).
pub type HistogramHandle = *const HistogramSeries;

/// Writes to `*bounds` and `*len` the default bucket bounds of the Prometheus client
/// libraries (0.005 to 10 seconds, 14 bounds), an array owned by the library that
/// stays valid for the life of the process.
///
/// # Safety
///
/// - `bounds` is NULL or points to writable memory for one pointer.
/// - `len` is NULL or points to writable memory for one `size_t`.
#[no_mangle]
pub unsafe extern "C" fn metricore_buckets_default(
    bounds: *mut *const f64,
    len: *mut usize,
) -> Status {
    guard(|| {
        if len.is_null() {
            return Err(crate::status::Fail::null("len"));
        }
        // SAFETY: `bounds` is NULL or writable for one pointer, and `len` (not NULL)
        // writable for one `size_t` (the caller's contract above).
        unsafe {
            raw::put(bounds, buckets::DEFAULT_BUCKETS.as_ptr(), "bounds")?;
            raw::put(len, buckets::DEFAULT_BUCKETS.len(), "len")
        }
    })
}

/// Writes the `count` bounds `start, start + width, ...` to `out`, which has room for
/// `count` doubles. `count` must be at least 1 and `width` positive.
///
/// # Safety
///
/// `out` is NULL or points to writable memory for `count` doubles.
#[no_mangle]
pub unsafe extern "C" fn metricore_buckets_linear(
    start: f64,
    width: f64,
    count: usize,
    out: *mut f64,
) -> Status {
    guard(|| {
        let bounds = buckets::linear(start, width, count)?;
        // SAFETY: `out` is NULL or has room for `count` doubles (the caller's contract
        // above), which is `bounds.len()`; `bounds` is Rust memory, apart from it.
        unsafe { raw::copy_f64s(&bounds, out) }
    })
}

/// Writes the `count` bounds `start, start * factor, ...` to `out`, which has room for
/// `count` doubles. `count` must be at least 1, `start` positive and `factor` above 1.
///
/// # Safety
///
/// `out` is NULL or points to writable memory for `count` doubles.
#[no_mangle]
pub unsafe extern "C" fn metricore_buckets_exponential(
    start: f64,
    factor: f64,
    count: usize,
    out: *mut f64,
) -> Status {
    guard(|| {
        let bounds = buckets::exponential(start, factor, count)?;
        // SAFETY: `out` is NULL or has room for `count` doubles (the caller's contract
        // above), which is `bounds.len()`; `bounds` is Rust memory, apart from it.
        unsafe { raw::copy_f64s(&bounds, out) }
    })
}

/// Creates, or finds if registered before with the same labels, bounds and options,
/// the histogram family `name` with `label_names_len` label names and the
/// `bounds_len` bucket upper bounds at `bounds` (finite, strictly increasing, 1 to
/// 128; `+Inf` is implied; see `metricore_buckets_default`). `options` may be NULL.
///
/// On success `*out` points to the family, owned by `registry`.
///
/// # Safety
///
/// - `registry` is NULL or a live registry object.
/// - `name` and `help` are valid strings; `label_names` is a valid array of
///   `label_names_len` valid strings; `bounds` is a valid array of `bounds_len`
///   doubles.
/// - `options` is NULL or points to a readable `metricore_family_options` whose `unit`
///   is a valid string.
/// - `out` is NULL or points to writable memory for one pointer.
#[no_mangle]
pub unsafe extern "C" fn metricore_histogram_family_new(
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
        // SAFETY: `bounds` is a valid array of `bounds_len` doubles (the caller's
        // contract above); they are copied.
        let kind = Kind::Histogram(unsafe { raw::slice(bounds, bounds_len, "bounds") }?.to_vec());
        // SAFETY: the strings, the array and `options` are valid for this call (the
        // caller's contract above).
        let spec =
            unsafe { family::spec(name, help, label_names, label_names_len, options, kind) }?;
        // SAFETY: `registry` is NULL or live and `out` NULL or writable (the caller's
        // contract above).
        unsafe { Family::create(registry, spec, HistogramFamily, out) }
    })
}

/// Creates, or finds if registered before with the same settings, the native
/// histogram family `name`: exponential buckets by `schema` (-4 to 8; bucket `i` ends
/// at `2^(i * 2^-schema)`), a zero bucket for magnitudes up to `zero_threshold`, and
/// `max_buckets` buckets per sign from the one holding the zero threshold up (larger
/// magnitudes count into the outermost), with the `bounds_len` classic bounds at
/// `bounds` alongside (none when `bounds_len` is 0); a series takes
/// `2 * max_buckets + 2` cells plus its classic buckets, at most 256. Otherwise as
/// `metricore_histogram_family_new`; its handles are histogram handles.
///
/// # Safety
///
/// As `metricore_histogram_family_new` (`bounds` may be NULL when `bounds_len` is 0).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn metricore_histogram_family_new_native(
    registry: *const Registry,
    name: Str,
    help: Str,
    label_names: *const Str,
    label_names_len: usize,
    schema: i8,
    zero_threshold: f64,
    max_buckets: u16,
    bounds: *const f64,
    bounds_len: usize,
    options: *const FamilyOptions,
    out: *mut *mut HistogramFamily,
) -> Status {
    guard(|| {
        let classic = match bounds_len {
            0 => Vec::new(),
            // SAFETY: `bounds` is a valid array of `bounds_len` doubles (the caller's
            // contract above); they are copied.
            n => unsafe { raw::slice(bounds, n, "bounds") }?.to_vec(),
        };
        let kind = Kind::NativeHistogram(
            buckets::Native::with_schema(schema)
                .zero_threshold(zero_threshold)
                .max_buckets(max_buckets)
                .classic(&classic),
        );
        // SAFETY: the strings, the array and `options` are valid for this call (the
        // caller's contract above).
        let spec =
            unsafe { family::spec(name, help, label_names, label_names_len, options, kind) }?;
        // SAFETY: `registry` is NULL or live and `out` NULL or writable (the caller's
        // contract above).
        unsafe { Family::create(registry, spec, HistogramFamily, out) }
    })
}

/// Resolves the series for `label_values` to a handle in `*out`, making it if new;
/// as `metricore_counter_family_labels` (one kept object per series).
///
/// # Safety
///
/// - `family` is NULL or a live histogram family.
/// - `label_values` is a valid array of `label_values_len` valid strings.
/// - `out` is NULL or points to writable memory for one handle.
#[no_mangle]
pub unsafe extern "C" fn metricore_histogram_family_labels(
    family: *const HistogramFamily,
    label_values: *const Str,
    label_values_len: usize,
    out: *mut HistogramHandle,
) -> Status {
    guard(|| {
        // SAFETY: `family` is NULL or a live histogram family, `label_values` a valid
        // array and `out` NULL or writable (the caller's contract above).
        unsafe {
            raw::obj(family, "family")?
                .0
                .labels(label_values, label_values_len, out)
        }
    })
}

/// Gives back a handle that `metricore_histogram_family_labels` wrote; as
/// `metricore_counter_family_release`.
///
/// # Safety
///
/// `family` is NULL or a live histogram family.
#[no_mangle]
pub unsafe extern "C" fn metricore_histogram_family_release(
    family: *const HistogramFamily,
    handle: HistogramHandle,
) -> Status {
    guard(|| {
        // SAFETY: `family` is NULL or a live histogram family (the caller's contract above).
        unsafe { raw::obj(family, "family") }?.0.release(handle)
    })
}

/// Observes `v` in the series for `label_values`, without keeping a handle or
/// allocating. NaN is refused.
///
/// # Safety
///
/// - `family` is NULL or a live histogram family.
/// - `label_values` is a valid array of `label_values_len` valid strings.
#[no_mangle]
pub unsafe extern "C" fn metricore_histogram_family_observe(
    family: *const HistogramFamily,
    label_values: *const Str,
    label_values_len: usize,
    v: f64,
) -> Status {
    guard(|| {
        // SAFETY: `family` is NULL or a live histogram family and `label_values` a
        // valid array (the caller's contract above).
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
/// - `family` is NULL or a live histogram family.
/// - `label_values` is a valid array of `label_values_len` valid strings.
/// - `removed` is NULL or points to writable memory for one `bool`.
#[no_mangle]
pub unsafe extern "C" fn metricore_histogram_family_remove(
    family: *const HistogramFamily,
    label_values: *const Str,
    label_values_len: usize,
    removed: *mut bool,
) -> Status {
    guard(|| {
        // SAFETY: `family` is NULL or a live histogram family, `label_values` a valid
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
/// `family` is NULL or a live histogram family.
#[no_mangle]
pub unsafe extern "C" fn metricore_histogram_family_clear(
    family: *const HistogramFamily,
) -> Status {
    // SAFETY: `family` is NULL or a live histogram family (the caller's contract above).
    guard(|| unsafe { raw::obj(family, "family") }?.0.clear())
}

/// Observes `v`: adds one to its bucket and `v` to the sum. NaN is refused with
/// `METRICORE_STATUS_INVALID_VALUE`.
///
/// # Safety
///
/// `histogram` is NULL or a live histogram handle.
#[no_mangle]
pub unsafe extern "C" fn metricore_histogram_observe(histogram: HistogramHandle, v: f64) -> Status {
    // SAFETY: `histogram` is NULL or a live histogram handle, so a pointer into a
    // family its registry object keeps (the caller's contract above).
    guard(|| Ok(unsafe { raw::series(histogram) }?.0.observe(v)?))
}

/// Observes `v` as `metricore_histogram_observe` does and keeps the `exemplar_len`
/// labels `exemplar_names` = `exemplar_values` (a trace id, say) as the exemplar of
/// `v`'s bucket, with `v` and the time now, shown in OpenMetrics output. Labels that
/// break the OpenMetrics rules (legacy names, at most 128 characters of names and
/// values) give `METRICORE_STATUS_INVALID_NAME` or `METRICORE_STATUS_INVALID_ARGUMENT`,
/// after `v` is observed. Allocates nothing.
///
/// # Safety
///
/// - `histogram` is NULL or a live histogram handle.
/// - `exemplar_names` and `exemplar_values` are valid arrays of `exemplar_len` valid
///   strings each.
#[no_mangle]
pub unsafe extern "C" fn metricore_histogram_observe_exemplar(
    histogram: HistogramHandle,
    v: f64,
    exemplar_names: *const Str,
    exemplar_values: *const Str,
    exemplar_len: usize,
) -> Status {
    guard(|| {
        // SAFETY: `histogram` is NULL or a live histogram handle, so a pointer into a
        // family its registry object keeps (the caller's contract above).
        let h = &unsafe { raw::series(histogram) }?.0;
        // SAFETY: the two arrays are valid for this call (the caller's contract).
        unsafe {
            exemplar::with_labels(exemplar_names, exemplar_values, exemplar_len, |l| {
                Ok(h.observe_with_exemplar(v, l)?)
            })
        }
    })
}
