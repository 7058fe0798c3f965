//! State sets (enums): families and handles.

use metricore::{Kind, StateSetVec};

use crate::family::{self, labeled, Family, FamilyOptions};
use crate::raw::{self, Str};
use crate::registry::Registry;
use crate::status::{guard, Status};

/// A state set family, owned by the registry object
/// it was created through and freed with it. Safe to use from several threads at once.
pub struct StateSetFamily(Family<StateSetVec>);

/// One state set series, which a `metricore_state_set` handle points to.
pub struct StateSetSeries(metricore::StateSet);

labeled!(StateSetVec => StateSetSeries);

/// A resolved state set series: which of the family's states is current. Copy it
/// freely, pass it by value, share it between threads. It stays valid until the
/// registry object its family was created through is freed. A zeroed handle is "no
/// series" (`METRICORE_STATUS_NULL_POINTER`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct StateSetHandle {
    series: *const StateSetSeries,
}

/// Creates, or finds if registered before with the same labels, states and options,
/// the state set family `name` over the `states_len` states at `states` (at least one,
/// no duplicates); a new series starts in the first state. `options` may be NULL.
///
/// On success `*out` points to the family, owned by `registry`.
#[no_mangle]
pub extern "C" fn metricore_state_set_family_new(
    registry: *const Registry,
    name: Str,
    help: Str,
    label_names: *const Str,
    label_names_len: usize,
    states: *const Str,
    states_len: usize,
    options: *const FamilyOptions,
    out: *mut *mut StateSetFamily,
) -> Status {
    guard(|| {
        let states = raw::with_strs(states, states_len, "states", |s| {
            Ok(s.iter().map(|s| s.to_string()).collect())
        })?;
        let kind = Kind::StateSet(states);
        let spec = family::spec(name, help, label_names, label_names_len, options, kind)?;
        Family::create(registry, spec, StateSetFamily, out)
    })
}

/// Resolves the series for `label_values` to a handle in `*out`, making it if new;
/// as `metricore_counter_family_labels` (one kept object per series).
#[no_mangle]
pub extern "C" fn metricore_state_set_family_labels(
    family: *const StateSetFamily,
    label_values: *const Str,
    label_values_len: usize,
    out: *mut StateSetHandle,
) -> Status {
    guard(|| {
        raw::obj(family, "family")?
            .0
            .labels(label_values, label_values_len, out, |series| {
                StateSetHandle { series }
            })
    })
}

/// Makes `state` current in the series for `label_values`, without keeping a handle.
#[no_mangle]
pub extern "C" fn metricore_state_set_family_set(
    family: *const StateSetFamily,
    label_values: *const Str,
    label_values_len: usize,
    state: Str,
) -> Status {
    guard(|| {
        let state = state.utf8("state")?;
        raw::obj(family, "family")?
            .0
            .record(label_values, label_values_len, |s| s.0.set(state))
    })
}

/// Removes the series for `label_values`; as `metricore_counter_family_remove`.
#[no_mangle]
pub extern "C" fn metricore_state_set_family_remove(
    family: *const StateSetFamily,
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
pub extern "C" fn metricore_state_set_family_clear(family: *const StateSetFamily) -> Status {
    guard(|| raw::obj(family, "family")?.0.clear())
}

/// Makes `state` (one of the family's states) current; another string is refused
/// with `METRICORE_STATUS_INVALID_STATE`.
#[no_mangle]
pub extern "C" fn metricore_state_set_set(state_set: StateSetHandle, state: Str) -> Status {
    guard(|| {
        let state = state.utf8("state")?;
        Ok(raw::series(state_set.series)?.0.set(state)?)
    })
}

/// Writes the current state to `*out`: a string owned by the family, valid as long as
/// the handle.
#[no_mangle]
pub extern "C" fn metricore_state_set_get(state_set: StateSetHandle, out: *mut Str) -> Status {
    guard(|| raw::put(out, Str::of(raw::series(state_set.series)?.0.get()), "out"))
}
