//! Gauges: families, handles and their hot path.

use metricore::{GaugeMode, GaugeVec, Kind};

use crate::family::{self, labeled, Family, FamilyOptions};
use crate::raw::{self, Str};
use crate::registry::Registry;
use crate::status::{guard, Fail, Status};

/// A gauge family, owned by the registry object it was
/// created through and freed with it. Safe to use from several threads at once.
pub struct GaugeFamily(Family<GaugeVec>);

/// One gauge series, which a `metricore_gauge` handle points to.
pub struct GaugeSeries(metricore::Gauge);

labeled!(GaugeVec => GaugeSeries);

/// A resolved gauge series. Copy it freely, pass it by value, share it between
/// threads; the functions taking it lock nothing, allocate nothing and look nothing
/// up. It stays valid until the registry object its family was created through is
/// freed. A zeroed handle is "no series" (`METRICORE_STATUS_NULL_POINTER`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct GaugeHandle {
    series: *const GaugeSeries,
}

impl GaugeHandle {
    #[inline(always)]
    fn get<'a>(self) -> Result<&'a metricore::Gauge, Fail> {
        raw::series(self.series).map(|s| &s.0)
    }

    /// Runs `f` on the gauge.
    #[inline(always)]
    fn with(self, f: impl FnOnce(&metricore::Gauge)) -> Status {
        guard(|| {
            f(self.get()?);
            Ok(())
        })
    }
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
#[no_mangle]
pub extern "C" fn metricore_gauge_family_new(
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
        let mode = match mode.utf8("mode")? {
            "" => GaugeMode::default(),
            name => GaugeMode::from_name(name)?,
        };
        let kind = Kind::Gauge(mode);
        let spec = family::spec(name, help, label_names, label_names_len, options, kind)?;
        Family::create(registry, spec, GaugeFamily, out)
    })
}

/// Resolves the series for `label_values` to a handle in `*out`, making it if new;
/// as `metricore_counter_family_labels` (one kept object per series).
#[no_mangle]
pub extern "C" fn metricore_gauge_family_labels(
    family: *const GaugeFamily,
    label_values: *const Str,
    label_values_len: usize,
    out: *mut GaugeHandle,
) -> Status {
    guard(|| {
        raw::obj(family, "family")?
            .0
            .labels(label_values, label_values_len, out, |series| GaugeHandle {
                series,
            })
    })
}

/// Sets the series for `label_values` to `v`, without keeping a handle or allocating.
#[no_mangle]
pub extern "C" fn metricore_gauge_family_set(
    family: *const GaugeFamily,
    label_values: *const Str,
    label_values_len: usize,
    v: f64,
) -> Status {
    guard(|| {
        raw::obj(family, "family")?
            .0
            .record(label_values, label_values_len, |s| {
                s.0.set(v);
                Ok(())
            })
    })
}

/// Adds `v` (negative to subtract) to the series for `label_values`, without keeping
/// a handle or allocating.
#[no_mangle]
pub extern "C" fn metricore_gauge_family_add(
    family: *const GaugeFamily,
    label_values: *const Str,
    label_values_len: usize,
    v: f64,
) -> Status {
    guard(|| {
        raw::obj(family, "family")?
            .0
            .record(label_values, label_values_len, |s| {
                s.0.add(v);
                Ok(())
            })
    })
}

/// Removes the series for `label_values` (this process's, for a per-process mode); as
/// `metricore_counter_family_remove`.
#[no_mangle]
pub extern "C" fn metricore_gauge_family_remove(
    family: *const GaugeFamily,
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
pub extern "C" fn metricore_gauge_family_clear(family: *const GaugeFamily) -> Status {
    guard(|| raw::obj(family, "family")?.0.clear())
}

/// Sets the value.
#[no_mangle]
pub extern "C" fn metricore_gauge_set(gauge: GaugeHandle, v: f64) -> Status {
    gauge.with(|g| g.set(v))
}

/// Adds `v` (negative to subtract).
#[no_mangle]
pub extern "C" fn metricore_gauge_add(gauge: GaugeHandle, v: f64) -> Status {
    gauge.with(|g| g.add(v))
}

/// Subtracts `v`.
#[no_mangle]
pub extern "C" fn metricore_gauge_sub(gauge: GaugeHandle, v: f64) -> Status {
    gauge.with(|g| g.sub(v))
}

/// Adds one.
#[no_mangle]
pub extern "C" fn metricore_gauge_inc(gauge: GaugeHandle) -> Status {
    gauge.with(|g| g.inc())
}

/// Subtracts one.
#[no_mangle]
pub extern "C" fn metricore_gauge_dec(gauge: GaugeHandle) -> Status {
    gauge.with(|g| g.dec())
}

/// Sets the value to the current Unix time in seconds.
#[no_mangle]
pub extern "C" fn metricore_gauge_set_to_current_time(gauge: GaugeHandle) -> Status {
    gauge.with(|g| g.set_to_current_time())
}

/// Writes the current value (this process's, for a per-process mode) to `*out`.
#[no_mangle]
pub extern "C" fn metricore_gauge_get(gauge: GaugeHandle, out: *mut f64) -> Status {
    guard(|| raw::put(out, gauge.get()?.get(), "out"))
}
