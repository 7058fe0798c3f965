//! Gauges: families, handles and their hot path.

use metricore::{GaugeMode, GaugeVec, Kind};

use crate::family::{self, labeled, Family, FamilyOptions};
use crate::raw::{self, Str};
use crate::registry::Registry;
use crate::status::{guard, Status};

/// A gauge family, owned by the registry object it was
/// created through and freed with it. Safe to use from several threads at once.
pub struct GaugeFamily(Family<GaugeVec>);

/// One gauge series, which a `metricore_gauge` handle points to.
pub struct GaugeSeries(metricore::Gauge);

labeled!(GaugeVec => GaugeSeries);

/// A resolved gauge series: a pointer to the series, which recording takes. Copy it
/// freely, share it between threads; the functions taking it lock nothing, allocate
/// nothing and look nothing up. It stays valid until it is given back with
/// `metricore_gauge_family_release` as often as it was written, or until the registry
/// object its family was created through is freed. NULL is "no series"
/// (`METRICORE_STATUS_NULL_POINTER`).
pub type GaugeHandle = *const GaugeSeries;

/// Runs `f` on the gauge behind `gauge`.
///
/// # Safety
///
/// `gauge` must be NULL or a handle that `metricore_gauge_family_labels` wrote, whose
/// registry object is not freed before this returns.
#[inline(always)]
unsafe fn with(gauge: GaugeHandle, f: impl FnOnce(&metricore::Gauge)) -> Status {
    guard(|| {
        // SAFETY: such a handle is a pointer from `Series::keep` of a family that its
        // registry object keeps until it is freed, after this call (this function's
        // contract).
        f(&unsafe { raw::series(gauge) }?.0);
        Ok(())
    })
}

/// Creates, or finds if registered before with the same labels, mode and options, the
/// gauge family `name` with `label_names_len` label names. `mode` says how the values
/// of several processes combine: empty or `shared` for one value shared by all, or
/// one of `all`, `liveall`, `sum`, `livesum`, `max`, `livemax`, `min`, `livemin`,
/// `mostrecent`, `livemostrecent` for a value per process (the `live` ones leave out
/// processes that exited), as in prometheus_client's multi-process mode. `options`
/// may be NULL.
///
/// On success `*out` points to the family, owned by `registry`.
///
/// # Safety
///
/// - `registry` is NULL or a live registry object.
/// - `name`, `help` and `mode` are valid strings; `label_names` is a valid array of
///   `label_names_len` valid strings.
/// - `options` is NULL or points to a readable `metricore_family_options` whose `unit`
///   is a valid string.
/// - `out` is NULL or points to writable memory for one pointer.
#[no_mangle]
pub unsafe extern "C" fn metricore_gauge_family_new(
    registry: *const Registry,
    name: Str,
    help: Str,
    label_names: *const Str,
    label_names_len: usize,
    mode: Str,
    options: *const FamilyOptions,
    out: *mut *mut GaugeFamily,
) -> Status {
    guard(|| {
        // SAFETY: `mode` is a valid string (the caller's contract above).
        let mode = match unsafe { mode.utf8("mode") }? {
            "" => GaugeMode::default(),
            name => GaugeMode::from_name(name)?,
        };
        let kind = Kind::Gauge(mode);
        // SAFETY: the strings, the array and `options` are valid for this call (the
        // caller's contract above).
        let spec =
            unsafe { family::spec(name, help, label_names, label_names_len, options, kind) }?;
        // SAFETY: `registry` is NULL or live and `out` NULL or writable (the caller's
        // contract above).
        unsafe { Family::create(registry, spec, GaugeFamily, out) }
    })
}

/// Resolves the series for `label_values` to a handle in `*out`, making it if new;
/// as `metricore_counter_family_labels` (one kept object per series).
///
/// # Safety
///
/// - `family` is NULL or a live gauge family.
/// - `label_values` is a valid array of `label_values_len` valid strings.
/// - `out` is NULL or points to writable memory for one handle.
#[no_mangle]
pub unsafe extern "C" fn metricore_gauge_family_labels(
    family: *const GaugeFamily,
    label_values: *const Str,
    label_values_len: usize,
    out: *mut GaugeHandle,
) -> Status {
    guard(|| {
        // SAFETY: `family` is NULL or a live gauge family, `label_values` a valid array
        // and `out` NULL or writable (the caller's contract above).
        unsafe {
            raw::obj(family, "family")?
                .0
                .labels(label_values, label_values_len, out)
        }
    })
}

/// Gives back a handle that `metricore_gauge_family_labels` wrote; as
/// `metricore_counter_family_release`.
///
/// # Safety
///
/// `family` is NULL or a live gauge family.
#[no_mangle]
pub unsafe extern "C" fn metricore_gauge_family_release(
    family: *const GaugeFamily,
    handle: GaugeHandle,
) -> Status {
    guard(|| {
        // SAFETY: `family` is NULL or a live gauge family (the caller's contract above).
        unsafe { raw::obj(family, "family") }?.0.release(handle)
    })
}

/// Sets the series for `label_values` to `v`, without keeping a handle or allocating.
///
/// # Safety
///
/// - `family` is NULL or a live gauge family.
/// - `label_values` is a valid array of `label_values_len` valid strings.
#[no_mangle]
pub unsafe extern "C" fn metricore_gauge_family_set(
    family: *const GaugeFamily,
    label_values: *const Str,
    label_values_len: usize,
    v: f64,
) -> Status {
    guard(|| {
        // SAFETY: `family` is NULL or a live gauge family and `label_values` a valid
        // array (the caller's contract above).
        unsafe {
            raw::obj(family, "family")?
                .0
                .record(label_values, label_values_len, |s| {
                    s.0.set(v);
                    Ok(())
                })
        }
    })
}

/// Adds `v` (negative to subtract) to the series for `label_values`, without keeping
/// a handle or allocating.
///
/// # Safety
///
/// - `family` is NULL or a live gauge family.
/// - `label_values` is a valid array of `label_values_len` valid strings.
#[no_mangle]
pub unsafe extern "C" fn metricore_gauge_family_add(
    family: *const GaugeFamily,
    label_values: *const Str,
    label_values_len: usize,
    v: f64,
) -> Status {
    guard(|| {
        // SAFETY: `family` is NULL or a live gauge family and `label_values` a valid
        // array (the caller's contract above).
        unsafe {
            raw::obj(family, "family")?
                .0
                .record(label_values, label_values_len, |s| {
                    s.0.add(v);
                    Ok(())
                })
        }
    })
}

/// Removes the series for `label_values` (this process's, for a per-process mode); as
/// `metricore_counter_family_remove`.
///
/// # Safety
///
/// - `family` is NULL or a live gauge family.
/// - `label_values` is a valid array of `label_values_len` valid strings.
/// - `removed` is NULL or points to writable memory for one `bool`.
#[no_mangle]
pub unsafe extern "C" fn metricore_gauge_family_remove(
    family: *const GaugeFamily,
    label_values: *const Str,
    label_values_len: usize,
    removed: *mut bool,
) -> Status {
    guard(|| {
        // SAFETY: `family` is NULL or a live gauge family, `label_values` a valid array
        // and `removed` NULL or writable (the caller's contract above).
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
/// `family` is NULL or a live gauge family.
#[no_mangle]
pub unsafe extern "C" fn metricore_gauge_family_clear(family: *const GaugeFamily) -> Status {
    // SAFETY: `family` is NULL or a live gauge family (the caller's contract above).
    guard(|| unsafe { raw::obj(family, "family") }?.0.clear())
}

/// Sets the value.
///
/// # Safety
///
/// `gauge` is NULL or a live gauge handle.
#[no_mangle]
pub unsafe extern "C" fn metricore_gauge_set(gauge: GaugeHandle, v: f64) -> Status {
    // SAFETY: `gauge` is NULL or a live gauge handle (the caller's contract above).
    unsafe { with(gauge, |g| g.set(v)) }
}

/// Adds `v` (negative to subtract).
///
/// # Safety
///
/// `gauge` is NULL or a live gauge handle.
#[no_mangle]
pub unsafe extern "C" fn metricore_gauge_add(gauge: GaugeHandle, v: f64) -> Status {
    // SAFETY: `gauge` is NULL or a live gauge handle (the caller's contract above).
    unsafe { with(gauge, |g| g.add(v)) }
}

/// Subtracts `v`.
///
/// # Safety
///
/// `gauge` is NULL or a live gauge handle.
#[no_mangle]
pub unsafe extern "C" fn metricore_gauge_sub(gauge: GaugeHandle, v: f64) -> Status {
    // SAFETY: `gauge` is NULL or a live gauge handle (the caller's contract above).
    unsafe { with(gauge, |g| g.sub(v)) }
}

/// Adds one.
///
/// # Safety
///
/// `gauge` is NULL or a live gauge handle.
#[no_mangle]
pub unsafe extern "C" fn metricore_gauge_inc(gauge: GaugeHandle) -> Status {
    // SAFETY: `gauge` is NULL or a live gauge handle (the caller's contract above).
    unsafe { with(gauge, |g| g.inc()) }
}

/// Subtracts one.
///
/// # Safety
///
/// `gauge` is NULL or a live gauge handle.
#[no_mangle]
pub unsafe extern "C" fn metricore_gauge_dec(gauge: GaugeHandle) -> Status {
    // SAFETY: `gauge` is NULL or a live gauge handle (the caller's contract above).
    unsafe { with(gauge, |g| g.dec()) }
}

/// Sets the value to the current Unix time in seconds.
///
/// # Safety
///
/// `gauge` is NULL or a live gauge handle.
#[no_mangle]
pub unsafe extern "C" fn metricore_gauge_set_to_current_time(gauge: GaugeHandle) -> Status {
    // SAFETY: `gauge` is NULL or a live gauge handle (the caller's contract above).
    unsafe { with(gauge, |g| g.set_to_current_time()) }
}

/// Writes the current value (this process's, for a per-process mode) to `*out`.
///
/// # Safety
///
/// - `gauge` is NULL or a live gauge handle.
/// - `out` is NULL or points to writable memory for one `double`.
#[no_mangle]
pub unsafe extern "C" fn metricore_gauge_get(gauge: GaugeHandle, out: *mut f64) -> Status {
    guard(|| {
        // SAFETY: `gauge` is NULL or a live gauge handle, so a pointer into a family its
        // registry object keeps, and `out` NULL or writable for one double (the
        // caller's contract above).
        unsafe { raw::put(out, raw::series(gauge)?.0.get(), "out") }
    })
}
