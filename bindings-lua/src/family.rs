//! Families: created through the C API, so that the FFI side can resolve and record
//! with the pointer `family:pointer()` gives; removal and clearing.

use std::ffi::c_void;
use std::rc::Rc;

use metricore_ffi as c;
use mlua::{LightUserData, LuaString, Result, Table, UserData, UserDataMethods};

use crate::registry::{fail, ok, Outcome, Owned};

/// A C string view of Lua bytes, borrowed for one call.
fn view(bytes: &[u8]) -> c::Str {
    c::Str {
        ptr: bytes.as_ptr().cast(),
        len: bytes.len(),
    }
}

/// `Ok` for `Status::Ok`; otherwise the C API's message.
fn checked(status: c::Status) -> std::result::Result<(), String> {
    if status == c::Status::Ok {
        Ok(())
    } else {
        Err(c::last_error())
    }
}

/// What every kind of family is made from: name, help, label names and options.
pub(crate) struct Spec {
    name: LuaString,
    help: Option<LuaString>,
    labels: Vec<LuaString>,
    unit: Option<LuaString>,
    limit: u32,
    expire_ms: u32,
    mode: Option<LuaString>,
}

impl Spec {
    /// A spec from Lua arguments: no label names for `nil`; `options` may hold
    /// `unit`, `limit`, `expire` (seconds) and (gauges) `mode`.
    pub(crate) fn new(
        name: LuaString,
        help: Option<LuaString>,
        labels: Option<Vec<LuaString>>,
        options: Option<Table>,
    ) -> Result<Spec> {
        let (mut unit, mut limit, mut expire_ms, mut mode) = (None, 0, 0, None);
        if let Some(o) = options {
            unit = o.get("unit")?;
            limit = o.get::<Option<u32>>("limit")?.unwrap_or(0);
            mode = o.get("mode")?;
            if let Some(secs) = o.get::<Option<f64>>("expire")? {
                let ms = (secs * 1000.0).ceil();
                if !(0.0..=u32::MAX as f64).contains(&ms) {
                    return Err(mlua::Error::runtime(format!(
                        "expire must be a number of seconds from 0 to {}, not {secs}",
                        u32::MAX / 1000
                    )));
                }
                expire_ms = ms as u32;
            }
        }
        Ok(Spec {
            name,
            help,
            labels: labels.unwrap_or_default(),
            unit,
            limit,
            expire_ms,
            mode,
        })
    }

    /// Calls `f` with the C arguments: name, help, label names, options. The strings
    /// view Lua strings (and `labels` a vector) that stay alive and unchanged until `f`
    /// returns: valid strings and a valid array for a C call `f` makes.
    fn with_c<R>(&self, f: impl FnOnce(c::Str, c::Str, &[c::Str], &c::FamilyOptions) -> R) -> R {
        let name = self.name.as_bytes();
        let help = self.help.as_ref().map(|h| h.as_bytes());
        let unit = self.unit.as_ref().map(|u| u.as_bytes());
        let labels: Vec<_> = self.labels.iter().map(|l| l.as_bytes()).collect();
        let label_strs: Vec<c::Str> = labels.iter().map(|l| view(l)).collect();
        let options = c::FamilyOptions {
            unit: view(unit.as_deref().unwrap_or(&[])),
            limit: self.limit,
            expire_ms: self.expire_ms,
        };
        f(
            view(&name),
            view(help.as_deref().unwrap_or(&[])),
            &label_strs,
            &options,
        )
    }
}

/// The C family behind a Lua family.
#[derive(Clone, Copy)]
enum Ptr {
    Counter(*mut c::CounterFamily),
    Gauge(*mut c::GaugeFamily),
    Histogram(*mut c::HistogramFamily),
}

/// A family in Lua: `family:pointer()` for the FFI side, `:remove(values)`, `:clear()`.
/// It keeps its registry, which owns the C family, alive.
pub struct Family {
    /// Kept so that the registry, which owns the C family, outlives this object.
    _registry: Rc<Owned>,
    ptr: Ptr,
}

impl Family {
    fn made(registry: &Rc<Owned>, ptr: Ptr, status: c::Status) -> Result<Outcome<Family>> {
        match checked(status) {
            Ok(()) => ok(Family {
                _registry: registry.clone(),
                ptr,
            }),
            Err(message) => fail(message),
        }
    }

    /// A counter family in `registry`.
    pub(crate) fn counter(registry: &Rc<Owned>, spec: Spec) -> Result<Outcome<Family>> {
        let mut out = std::ptr::null_mut();
        let status = spec.with_c(|name, help, labels, options| {
            // SAFETY: `registry.c()` is live as long as `registry`; the strings, the
            // label array and the options are valid during the call (`with_c`); `out`
            // is a local pointer to write to.
            unsafe {
                c::metricore_counter_family_new(
                    registry.c(),
                    name,
                    help,
                    labels.as_ptr(),
                    labels.len(),
                    options,
                    &mut out,
                )
            }
        });
        Family::made(registry, Ptr::Counter(out), status)
    }

    /// A gauge family in `registry`.
    pub(crate) fn gauge(registry: &Rc<Owned>, spec: Spec) -> Result<Outcome<Family>> {
        let mut out = std::ptr::null_mut();
        let mode = spec.mode.as_ref().map(|m| m.as_bytes());
        let status = spec.with_c(|name, help, labels, options| {
            // SAFETY: `registry.c()` is live as long as `registry`; the strings, the
            // label array and the options are valid during the call (`with_c`), and so
            // is `mode`, which views bytes that `mode` keeps alive; `out` is a local
            // pointer to write to.
            unsafe {
                c::metricore_gauge_family_new(
                    registry.c(),
                    name,
                    help,
                    labels.as_ptr(),
                    labels.len(),
                    view(mode.as_deref().unwrap_or(&[])),
                    options,
                    &mut out,
                )
            }
        });
        Family::made(registry, Ptr::Gauge(out), status)
    }

    /// A histogram family in `registry` with bucket upper bounds `bounds`.
    pub(crate) fn histogram(
        registry: &Rc<Owned>,
        spec: Spec,
        bounds: &[f64],
    ) -> Result<Outcome<Family>> {
        let mut out = std::ptr::null_mut();
        let status = spec.with_c(|name, help, labels, options| {
            // SAFETY: `registry.c()` is live as long as `registry`; the strings, the
            // label array and the options are valid during the call (`with_c`);
            // `bounds` is a slice, so a valid array of `bounds.len()` doubles; `out` is
            // a local pointer to write to.
            unsafe {
                c::metricore_histogram_family_new(
                    registry.c(),
                    name,
                    help,
                    labels.as_ptr(),
                    labels.len(),
                    bounds.as_ptr(),
                    bounds.len(),
                    options,
                    &mut out,
                )
            }
        });
        Family::made(registry, Ptr::Histogram(out), status)
    }

    /// A native histogram family in `registry` with the settings `native`.
    pub(crate) fn native_histogram(
        registry: &Rc<Owned>,
        spec: Spec,
        native: &metricore::buckets::Native,
    ) -> Result<Outcome<Family>> {
        let mut out = std::ptr::null_mut();
        let bounds = &native.classic;
        let status = spec.with_c(|name, help, labels, options| {
            // SAFETY: as in `histogram`.
            unsafe {
                c::metricore_histogram_family_new_native(
                    registry.c(),
                    name,
                    help,
                    labels.as_ptr(),
                    labels.len(),
                    native.schema,
                    native.zero_threshold,
                    native.max_buckets,
                    bounds.as_ptr(),
                    bounds.len(),
                    options,
                    &mut out,
                )
            }
        });
        Family::made(registry, Ptr::Histogram(out), status)
    }

    fn pointer(&self) -> *mut c_void {
        match self.ptr {
            Ptr::Counter(p) => p.cast(),
            Ptr::Gauge(p) => p.cast(),
            Ptr::Histogram(p) => p.cast(),
        }
    }

    fn remove(&self, values: &[LuaString]) -> std::result::Result<bool, String> {
        let bytes: Vec<_> = values.iter().map(|v| v.as_bytes()).collect();
        let strs: Vec<c::Str> = bytes.iter().map(|b| view(b)).collect();
        let (p, n) = (strs.as_ptr(), strs.len());
        let mut removed = false;
        // SAFETY: the family is live, as `self` keeps its registry alive; `strs` is a
        // valid array of `n` strings that view `values`, alive until the call returns;
        // `removed` is a local to write to.
        checked(unsafe {
            match self.ptr {
                Ptr::Counter(f) => c::metricore_counter_family_remove(f, p, n, &mut removed),
                Ptr::Gauge(f) => c::metricore_gauge_family_remove(f, p, n, &mut removed),
                Ptr::Histogram(f) => c::metricore_histogram_family_remove(f, p, n, &mut removed),
            }
        })?;
        Ok(removed)
    }

    fn clear(&self) -> std::result::Result<(), String> {
        // SAFETY: the family is live, as `self` keeps its registry alive.
        checked(unsafe {
            match self.ptr {
                Ptr::Counter(f) => c::metricore_counter_family_clear(f),
                Ptr::Gauge(f) => c::metricore_gauge_family_clear(f),
                Ptr::Histogram(f) => c::metricore_histogram_family_clear(f),
            }
        })
    }
}

impl UserData for Family {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        // pointer(): the C family (`metricore_counter_family *`, ...) as a light
        // userdata, for `ffi.cast`. Valid while this family object is alive.
        methods.add_method("pointer", |_, this, ()| Ok(LightUserData(this.pointer())));
        // remove(values): removes the series of these label values (strings); true if
        // there was one.
        methods.add_method("remove", |_, this, values: Vec<LuaString>| {
            match this.remove(&values) {
                Ok(removed) => ok(removed),
                Err(message) => fail(message),
            }
        });
        // clear(): removes every series of the family.
        methods.add_method("clear", |_, this, ()| match this.clear() {
            Ok(()) => ok(true),
            Err(message) => fail(message),
        });
    }
}
