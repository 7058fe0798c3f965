//! Counters: families, handles and their hot path.

use metricore::{CounterVec, Kind};

use crate::family::{self, labeled, Family, FamilyOptions};
use crate::raw::{self, Str};
use crate::registry::Registry;
use crate::status::{guard, Status};

/// A counter family, owned by the registry object it
/// was created through and freed with it. Safe to use from several threads at once.
pub struct CounterFamily(Family<CounterVec>);

/// One counter series, which a `metricore_counter` handle points to.
pub struct CounterSeries(metricore::Counter);

labeled!(CounterVec => CounterSeries);

/// A resolved counter series. Copy it freely, pass it by value, share it between
/// threads; the functions taking it lock nothing, allocate nothing and look nothing
/// up. It stays valid until the registry object its family was created through is
/// freed (closing the registry does not invalidate it). A zeroed handle is "no
/// series": functions return `METRICORE_STATUS_NULL_POINTER` for it.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct CounterHandle {
    series: *const CounterSeries,
}

impl CounterHandle {
    #[inline(always)]
    fn get<'a>(self) -> Result<&'a metricore::Counter, crate::status::Fail> {
        raw::series(self.series).map(|s| &s.0)
    }
}

/// Creates, or finds if registered before with the same labels and options, the
/// counter family `name` (a trailing `_total` is dropped; output adds it) with
/// `label_names_len` label names. `options` may be NULL.
///
/// On success `*out` points to the family, owned by `registry`.
#[no_mangle]
pub extern "C" fn metricore_counter_family_new(
    registry: *const Registry,
    name: Str,
    help: Str,
    label_names: *const Str,
    label_names_len: usize,
    options: *const FamilyOptions,
    out: *mut *mut CounterFamily,
) -> Status {
    guard(|| {
        let spec = family::spec(
            name,
            help,
            label_names,
            label_names_len,
            options,
            Kind::Counter,
        )?;
        Family::create(registry, spec, CounterFamily, out)
    })
}

/// Resolves the series for `label_values` (one per label name of the family, scope
/// labels excluded) to a handle in `*out`, making the series if new. Past the family's
/// series limit, or when the registry is full, the handle is the overflow series.
///
/// The family keeps one small object per series for its handles until the registry
/// object is freed: resolving the same label values again gives the same handle and
/// keeps nothing more. Resolving takes a lock and a lookup: resolve once and keep the
/// handle, or record with `metricore_counter_family_inc_by`, which keeps nothing.
#[no_mangle]
pub extern "C" fn metricore_counter_family_labels(
    family: *const CounterFamily,
    label_values: *const Str,
    label_values_len: usize,
    out: *mut CounterHandle,
) -> Status {
    guard(|| {
        raw::obj(family, "family")?
            .0
            .labels(label_values, label_values_len, out, |series| {
                CounterHandle { series }
            })
    })
}

/// Adds `n` to the series for `label_values`, without keeping a handle or allocating.
#[no_mangle]
pub extern "C" fn metricore_counter_family_inc_by(
    family: *const CounterFamily,
    label_values: *const Str,
    label_values_len: usize,
    n: u64,
) -> Status {
    guard(|| {
        raw::obj(family, "family")?
            .0
            .record(label_values, label_values_len, |s| {
                s.0.inc_by(n);
                Ok(())
            })
    })
}

/// Adds `v` (finite, not negative) to the series for `label_values`, without keeping
/// a handle or allocating.
#[no_mangle]
pub extern "C" fn metricore_counter_family_inc_by_f64(
    family: *const CounterFamily,
    label_values: *const Str,
    label_values_len: usize,
    v: f64,
) -> Status {
    guard(|| {
        raw::obj(family, "family")?
            .0
            .record(label_values, label_values_len, |s| s.0.inc_by_f64(v))
    })
}

/// Removes the series for `label_values`. `removed` may be NULL; otherwise `*removed`
/// says whether there was such a series. Handles to it stay valid but record into a
/// series that is no longer rendered; resolving the values again makes a new one.
#[no_mangle]
pub extern "C" fn metricore_counter_family_remove(
    family: *const CounterFamily,
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
pub extern "C" fn metricore_counter_family_clear(family: *const CounterFamily) -> Status {
    guard(|| raw::obj(family, "family")?.0.clear())
}

/// Adds one.
#[no_mangle]
pub extern "C" fn metricore_counter_inc(counter: CounterHandle) -> Status {
    guard(|| {
        counter.get()?.inc();
        Ok(())
    })
}

/// Adds `n`.
#[no_mangle]
pub extern "C" fn metricore_counter_inc_by(counter: CounterHandle, n: u64) -> Status {
    guard(|| {
        counter.get()?.inc_by(n);
        Ok(())
    })
}

/// Adds `v`, which must be finite and not negative (`METRICORE_STATUS_INVALID_VALUE`
/// otherwise, and nothing is recorded). Whole numbers take the integer path.
#[no_mangle]
pub extern "C" fn metricore_counter_inc_by_f64(counter: CounterHandle, v: f64) -> Status {
    guard(|| Ok(counter.get()?.inc_by_f64(v)?))
}

/// Writes the counter's current value (summed over shards and processes) to `*out`.
#[no_mangle]
pub extern "C" fn metricore_counter_get(counter: CounterHandle, out: *mut f64) -> Status {
    guard(|| raw::put(out, counter.get()?.get(), "out"))
}
