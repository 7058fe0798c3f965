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

/// A resolved state set series: a pointer to the series, which says which of the
/// family's states is current. Copy it freely, share it between threads. It stays valid
/// until it is given back with `metricore_state_set_family_release` as often as it was
/// written, or until the registry object its family was created through is freed. NULL
/// is "no series" (`METRICORE_STATUS_NULL_POINTER`).
pub type StateSetHandle = *const StateSetSeries;

/// Creates, or finds if registered before with the same labels, states and options,
/// the state set family `name` over the `states_len` states at `states` (at least one,
/// no duplicates); a new series starts in the first state. `options` may be NULL.
///
/// On success `*out` points to the family, owned by `registry`.
///
/// # Safety
///
/// - `registry` is NULL or a live registry object.
/// - `name` and `help` are valid strings; `label_names` is a valid array of
///   `label_names_len` valid strings, `states` one of `states_len`.
/// - `options` is NULL or points to a readable `metricore_family_options` whose `unit`
///   is a valid string.
/// - `out` is NULL or points to writable memory for one pointer.
#[no_mangle]
pub unsafe extern "C" fn metricore_state_set_family_new(
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
        // SAFETY: `states` is a valid array of valid strings (the caller's contract
        // above); they are copied.
        let states = unsafe {
            raw::with_strs(states, states_len, "states", |s| {
                Ok(s.iter().map(|s| s.to_string()).collect())
            })
        }?;
        let kind = Kind::StateSet(states);
        // SAFETY: the strings, the array and `options` are valid for this call (the
        // caller's contract above).
        let spec =
            unsafe { family::spec(name, help, label_names, label_names_len, options, kind) }?;
        // SAFETY: `registry` is NULL or live and `out` NULL or writable (the caller's
        // contract above).
        unsafe { Family::create(registry, spec, StateSetFamily, out) }
    })
}

/// Resolves the series for `label_values` to a handle in `*out`, making it if new;
/// as `metricore_counter_family_labels` (one kept object per series).
///
/// # Safety
///
/// - `family` is NULL or a live state set family.
/// - `label_values` is a valid array of `label_values_len` valid strings.
/// - `out` is NULL or points to writable memory for one handle.
#[no_mangle]
pub unsafe extern "C" fn metricore_state_set_family_labels(
    family: *const StateSetFamily,
    label_values: *const Str,
    label_values_len: usize,
    out: *mut StateSetHandle,
) -> Status {
    guard(|| {
        // SAFETY: `family` is NULL or a live state set family, `label_values` a valid
        // array and `out` NULL or writable (the caller's contract above).
        unsafe {
            raw::obj(family, "family")?
                .0
                .labels(label_values, label_values_len, out)
        }
    })
}

/// Gives back a handle that `metricore_state_set_family_labels` wrote; as
/// `metricore_counter_family_release`.
///
/// # Safety
///
/// `family` is NULL or a live state set family.
#[no_mangle]
pub unsafe extern "C" fn metricore_state_set_family_release(
    family: *const StateSetFamily,
    handle: StateSetHandle,
) -> Status {
    guard(|| {
        // SAFETY: `family` is NULL or a live state set family (the caller's contract above).
        unsafe { raw::obj(family, "family") }?.0.release(handle)
    })
}

/// Makes `state` current in the series for `label_values`, without keeping a handle.
///
/// # Safety
///
/// - `family` is NULL or a live state set family.
/// - `label_values` is a valid array of `label_values_len` valid strings; `state` is a
///   valid string.
#[no_mangle]
pub unsafe extern "C" fn metricore_state_set_family_set(
    family: *const StateSetFamily,
    label_values: *const Str,
    label_values_len: usize,
    state: Str,
) -> Status {
    guard(|| {
        // SAFETY: `state` is a valid string (the caller's contract above).
        let state = unsafe { state.utf8("state") }?;
        // SAFETY: `family` is NULL or a live state set family and `label_values` a
        // valid array (the caller's contract above).
        unsafe {
            raw::obj(family, "family")?
                .0
                .record(label_values, label_values_len, |s| s.0.set(state))
        }
    })
}

/// Removes the series for `label_values`; as `metricore_counter_family_remove`.
///
/// # Safety
///
/// - `family` is NULL or a live state set family.
/// - `label_values` is a valid array of `label_values_len` valid strings.
/// - `removed` is NULL or points to writable memory for one `bool`.
#[no_mangle]
pub unsafe extern "C" fn metricore_state_set_family_remove(
    family: *const StateSetFamily,
    label_values: *const Str,
    label_values_len: usize,
    removed: *mut bool,
) -> Status {
    guard(|| {
        // SAFETY: `family` is NULL or a live state set family, `label_values` a valid
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
/// `family` is NULL or a live state set family.
#[no_mangle]
pub unsafe extern "C" fn metricore_state_set_family_clear(family: *const StateSetFamily) -> Status {
    // SAFETY: `family` is NULL or a live state set family (the caller's contract above).
    guard(|| unsafe { raw::obj(family, "family") }?.0.clear())
}

/// Makes `state` (one of the family's states) current; another string is refused
/// with `METRICORE_STATUS_INVALID_STATE`.
///
/// # Safety
///
/// - `state_set` is NULL or a live state set handle.
/// - `state` is a valid string.
#[no_mangle]
pub unsafe extern "C" fn metricore_state_set_set(state_set: StateSetHandle, state: Str) -> Status {
    guard(|| {
        // SAFETY: `state` is a valid string (the caller's contract above).
        let state = unsafe { state.utf8("state") }?;
        // SAFETY: `state_set` is NULL or a live state set handle, so a pointer into a
        // family its registry object keeps (the caller's contract above).
        Ok(unsafe { raw::series(state_set) }?.0.set(state)?)
    })
}

/// Writes the current state to `*out`: a string owned by the family, valid as long as
/// the handle.
///
/// # Safety
///
/// - `state_set` is NULL or a live state set handle.
/// - `out` is NULL or points to writable memory for one `metricore_str`.
#[no_mangle]
pub unsafe extern "C" fn metricore_state_set_get(
    state_set: StateSetHandle,
    out: *mut Str,
) -> Status {
    guard(|| {
        // SAFETY: `state_set` is NULL or a live state set handle, so a pointer into a
        // family its registry object keeps, and `out` NULL or writable for one
        // `metricore_str` (the caller's contract above).
        unsafe { raw::put(out, Str::of(raw::series(state_set)?.0.get()), "out") }
    })
}
