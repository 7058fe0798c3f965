//! Counters: families, handles and their hot path.

use metricore::{CounterVec, Kind};

use crate::exemplar;
use crate::family::{self, labeled, Family, FamilyOptions};
use crate::raw::{self, Str};
use crate::registry::Registry;
use crate::status::{guard, Fail, Status};

/// A counter family, owned by the registry object it
/// was created through and freed with it. Safe to use from several threads at once.
pub struct CounterFamily(Family<CounterVec>);

/// One counter series, which a `metricore_counter` handle points to.
pub struct CounterSeries(metricore::Counter);

labeled!(CounterVec => CounterSeries);

/// A resolved counter series: a pointer to the series, which recording takes. Copy it
/// freely, share it between threads; the functions taking it lock nothing, allocate
/// nothing and look nothing up. It stays valid until it is given back with
/// `metricore_counter_family_release` as often as it was written, or until the registry
/// object its family was created through is freed (closing the registry does not
/// invalidate it). NULL is "no series": functions return
/// `METRICORE_STATUS_NULL_POINTER` for it.
pub type CounterHandle = *const CounterSeries;

/// The counter behind `counter`.
///
/// # Safety
///
/// `counter` must be NULL or a handle that `metricore_counter_family_labels` wrote,
/// whose registry object is not freed before `'a` ends.
#[inline(always)]
unsafe fn get<'a>(counter: CounterHandle) -> Result<&'a metricore::Counter, Fail> {
    // SAFETY: such a handle is a pointer from `Series::keep` of a family that its
    // registry object keeps until it is freed, after `'a` (this function's contract).
    unsafe { raw::series(counter) }.map(|s| &s.0)
}

/// Creates, or finds if registered before with the same labels and options, the
/// counter family `name` (a trailing `_total` is dropped; output adds it) with
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
pub unsafe extern "C" fn metricore_counter_family_new(
    registry: *const Registry,
    name: Str,
    help: Str,
    label_names: *const Str,
    label_names_len: usize,
    options: *const FamilyOptions,
    out: *mut *mut CounterFamily,
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
                Kind::Counter,
            )
        }?;
        // SAFETY: `registry` is NULL or live and `out` NULL or writable (the caller's
        // contract above).
        unsafe { Family::create(registry, spec, CounterFamily, out) }
    })
}

/// Resolves the series for `label_values` (one per label name of the family, scope
/// labels excluded) to a handle in `*out`, making the series if new. Past the family's
/// series limit, or when the registry is full, the handle is the overflow series.
///
/// The family keeps one small object per series for its handles, until they are
/// given back (`metricore_counter_family_release`) or the registry object is freed:
/// resolving the same label values again gives the same handle and keeps nothing more.
/// Resolving takes a lock and a lookup: resolve once and keep the handle, or record
/// with `metricore_counter_family_inc_by`, which keeps nothing.
///
/// # Safety
///
/// - `family` is NULL or a live counter family.
/// - `label_values` is a valid array of `label_values_len` valid strings.
/// - `out` is NULL or points to writable memory for one handle.
#[no_mangle]
pub unsafe extern "C" fn metricore_counter_family_labels(
    family: *const CounterFamily,
    label_values: *const Str,
    label_values_len: usize,
    out: *mut CounterHandle,
) -> Status {
    guard(|| {
        // SAFETY: `family` is NULL or a live counter family, `label_values` a valid
        // array and `out` NULL or writable (the caller's contract above).
        unsafe {
            raw::obj(family, "family")?
                .0
                .labels(label_values, label_values_len, out)
        }
    })
}

/// Gives back a handle that `metricore_counter_family_labels` wrote. The family keeps
/// one object per series for its handles; once every handle it wrote for a series is
/// given back, it frees that object, and those handles must not be used again. A
/// process that drops series as it goes (removed, expired, or evicted from a cache of
/// its own) gives their handles back to keep its memory bounded; handles never given
/// back are freed with the registry object. `METRICORE_STATUS_INVALID_ARGUMENT` when
/// this family did not write `handle`, or it was given back as often as it was
/// written (nothing is read through it then).
///
/// # Safety
///
/// `family` is NULL or a live counter family.
#[no_mangle]
pub unsafe extern "C" fn metricore_counter_family_release(
    family: *const CounterFamily,
    handle: CounterHandle,
) -> Status {
    guard(|| {
        // SAFETY: `family` is NULL or a live counter family (the caller's contract above).
        unsafe { raw::obj(family, "family") }?.0.release(handle)
    })
}

/// Adds `n` to the series for `label_values`, without keeping a handle or allocating.
///
/// # Safety
///
/// - `family` is NULL or a live counter family.
/// - `label_values` is a valid array of `label_values_len` valid strings.
#[no_mangle]
pub unsafe extern "C" fn metricore_counter_family_inc_by(
    family: *const CounterFamily,
    label_values: *const Str,
    label_values_len: usize,
    n: u64,
) -> Status {
    guard(|| {
        // SAFETY: `family` is NULL or a live counter family and `label_values` a valid
        // array (the caller's contract above).
        unsafe {
            raw::obj(family, "family")?
                .0
                .record(label_values, label_values_len, |s| {
                    s.0.inc_by(n);
                    Ok(())
                })
        }
    })
}

/// Adds `v` (finite, not negative) to the series for `label_values`, without keeping
/// a handle or allocating.
///
/// # Safety
///
/// - `family` is NULL or a live counter family.
/// - `label_values` is a valid array of `label_values_len` valid strings.
#[no_mangle]
pub unsafe extern "C" fn metricore_counter_family_inc_by_f64(
    family: *const CounterFamily,
    label_values: *const Str,
    label_values_len: usize,
    v: f64,
) -> Status {
    guard(|| {
        // SAFETY: `family` is NULL or a live counter family and `label_values` a valid
        // array (the caller's contract above).
        unsafe {
            raw::obj(family, "family")?
                .0
                .record(label_values, label_values_len, |s| s.0.inc_by_f64(v))
        }
    })
}

/// Removes the series for `label_values`. `removed` may be NULL; otherwise `*removed`
/// says whether there was such a series. Handles to it stay valid but record nothing
/// (counted in `metricore_stale_recordings_total`); resolving the values again makes a
/// new series, with a handle of its own.
///
/// # Safety
///
/// - `family` is NULL or a live counter family.
/// - `label_values` is a valid array of `label_values_len` valid strings.
/// - `removed` is NULL or points to writable memory for one `bool`.
#[no_mangle]
pub unsafe extern "C" fn metricore_counter_family_remove(
    family: *const CounterFamily,
    label_values: *const Str,
    label_values_len: usize,
    removed: *mut bool,
) -> Status {
    guard(|| {
        // SAFETY: `family` is NULL or a live counter family, `label_values` a valid
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
/// `family` is NULL or a live counter family.
#[no_mangle]
pub unsafe extern "C" fn metricore_counter_family_clear(family: *const CounterFamily) -> Status {
    // SAFETY: `family` is NULL or a live counter family (the caller's contract above).
    guard(|| unsafe { raw::obj(family, "family") }?.0.clear())
}

/// Adds one.
///
/// # Safety
///
/// `counter` is NULL or a live counter handle.
#[no_mangle]
pub unsafe extern "C" fn metricore_counter_inc(counter: CounterHandle) -> Status {
    guard(|| {
        // SAFETY: `counter` is NULL or a live counter handle (the caller's contract).
        unsafe { get(counter) }?.inc();
        Ok(())
    })
}

/// Adds `n`.
///
/// # Safety
///
/// `counter` is NULL or a live counter handle.
#[no_mangle]
pub unsafe extern "C" fn metricore_counter_inc_by(counter: CounterHandle, n: u64) -> Status {
    guard(|| {
        // SAFETY: `counter` is NULL or a live counter handle (the caller's contract).
        unsafe { get(counter) }?.inc_by(n);
        Ok(())
    })
}

/// Adds `v`, which must be finite and not negative (`METRICORE_STATUS_INVALID_VALUE`
/// otherwise, and nothing is recorded). Whole numbers take the integer path.
///
/// # Safety
///
/// `counter` is NULL or a live counter handle.
#[no_mangle]
pub unsafe extern "C" fn metricore_counter_inc_by_f64(counter: CounterHandle, v: f64) -> Status {
    // SAFETY: `counter` is NULL or a live counter handle (the caller's contract).
    guard(|| Ok(unsafe { get(counter) }?.inc_by_f64(v)?))
}

/// Adds `v` (finite, not negative) as `metricore_counter_inc_by_f64` does and keeps
/// the `exemplar_len` labels `exemplar_names` = `exemplar_values` (a trace id, say)
/// as the series' exemplar, with `v` and the time now, shown in OpenMetrics output.
/// Labels that break the OpenMetrics rules (legacy names, at most 128 characters of
/// names and values) give `METRICORE_STATUS_INVALID_NAME` or
/// `METRICORE_STATUS_INVALID_ARGUMENT`, after `v` is added. Allocates nothing.
///
/// # Safety
///
/// - `counter` is NULL or a live counter handle.
/// - `exemplar_names` and `exemplar_values` are valid arrays of `exemplar_len` valid
///   strings each.
#[no_mangle]
pub unsafe extern "C" fn metricore_counter_inc_exemplar(
    counter: CounterHandle,
    v: f64,
    exemplar_names: *const Str,
    exemplar_values: *const Str,
    exemplar_len: usize,
) -> Status {
    guard(|| {
        // SAFETY: `counter` is NULL or a live counter handle (the caller's contract).
        let c = unsafe { get(counter) }?;
        // SAFETY: the two arrays are valid for this call (the caller's contract).
        unsafe {
            exemplar::with_labels(exemplar_names, exemplar_values, exemplar_len, |l| {
                Ok(c.inc_by_f64_with_exemplar(v, l)?)
            })
        }
    })
}

/// Writes the counter's current value (summed over shards and processes) to `*out`.
///
/// # Safety
///
/// - `counter` is NULL or a live counter handle.
/// - `out` is NULL or points to writable memory for one `double`.
#[no_mangle]
pub unsafe extern "C" fn metricore_counter_get(counter: CounterHandle, out: *mut f64) -> Status {
    guard(|| {
        // SAFETY: `counter` is NULL or a live counter handle, and `out` NULL or
        // writable for one double (the caller's contract above).
        unsafe { raw::put(out, get(counter)?.get(), "out") }
    })
}
