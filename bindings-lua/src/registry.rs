//! Registries: opening a shared file or making one in memory, creating families,
//! rendering.

use std::rc::Rc;

use metricore::{buckets, Options};
use metricore_ffi as c;
use mlua::{Lua, LuaString, Result, Table, UserData, UserDataMethods, Value};

use crate::family::{self, Family};

/// A registry as the C API holds it (so that families made through it are C families
/// that LuaJIT's FFI can record into), and the core registry it wraps, for rendering.
pub(crate) struct Owned {
    c: *mut c::Registry,
    core: metricore::Registry,
}

impl Owned {
    /// The C registry object, valid as long as `self`.
    pub(crate) fn c(&self) -> *const c::Registry {
        self.c
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        // SAFETY: `self.c` came from `Registry::from_core` and is freed only here, once.
        // Families keep an `Rc` of this, so none is left to use the registry; the C
        // handles the FFI side resolved are only kept by Lua objects that keep a
        // family, so none is left either. A Lua state runs on one thread at a time, so
        // no other thread is in a call on it.
        unsafe { c::metricore_registry_free(self.c) };
    }
}

/// A registry in Lua: `registry:counter(...)`, `:gauge(...)`, `:histogram(...)`,
/// `:render(accept)`.
pub struct Registry(Rc<Owned>);

impl Registry {
    fn wrap(core: metricore::Registry) -> Registry {
        Registry(Rc::new(Owned {
            c: c::Registry::from_core(core.clone()),
            core,
        }))
    }
}

/// A result for Lua: the value, or `nil` and a message.
pub(crate) type Outcome<T> = (Option<T>, Option<String>);

/// `Ok` as an [`Outcome`].
pub(crate) fn ok<T>(value: T) -> Result<Outcome<T>> {
    Ok((Some(value), None))
}

/// A failure as an [`Outcome`].
pub(crate) fn fail<T>(message: String) -> Result<Outcome<T>> {
    Ok((None, Some(message)))
}

/// `metricore.open(path, options)`: opens (or creates) the shared registry file at
/// `path`. Every process that opens it records into the same cells.
pub(crate) fn open(_: &Lua, (path, options): (String, Option<Table>)) -> Result<Outcome<Registry>> {
    let options = match registry_options(options)? {
        Ok(o) => o,
        Err(message) => return fail(format!("cannot open the registry {path}: {message}")),
    };
    match metricore::Registry::open_shared(&path, &options) {
        Ok(core) => ok(Registry::wrap(core)),
        Err(e) => {
            let message = e.to_string();
            if message.contains(&path) {
                fail(format!("cannot open the registry: {message}"))
            } else {
                fail(format!("cannot open the registry {path}: {message}"))
            }
        }
    }
}

/// `metricore.new(options)`: a registry in this process's memory.
pub(crate) fn new(_: &Lua, options: Option<Table>) -> Result<Outcome<Registry>> {
    let options = match registry_options(options)? {
        Ok(o) => o,
        Err(message) => return fail(message),
    };
    match metricore::Registry::with_options(&options) {
        Ok(core) => ok(Registry::wrap(core)),
        Err(e) => fail(e.to_string()),
    }
}

/// The core's options from a Lua table of the same names (all optional).
fn registry_options(table: Option<Table>) -> Result<std::result::Result<Options, String>> {
    let mut o = Options::default();
    let Some(table) = table else {
        return Ok(Ok(o));
    };
    for pair in table.pairs::<String, Value>() {
        let (key, value) = pair?;
        if key == "owner" || key == "group" {
            let name = match value {
                Value::String(s) => s.to_str()?.to_owned(),
                Value::Integer(i) => i.to_string(),
                Value::Number(n) if n.fract() == 0.0 && n >= 0.0 => (n as u64).to_string(),
                _ => return Ok(Err(format!("option {key} must be a name or a number"))),
            };
            let id = if key == "owner" {
                metricore::access::user_id(&name).map(|id| o.owner = Some(id))
            } else {
                metricore::access::group_id(&name).map(|id| o.group = Some(id))
            };
            if let Err(e) = id {
                return Ok(Err(e.to_string()));
            }
            continue;
        }
        let number = match value {
            Value::Integer(i) => i as f64,
            Value::Number(n) => n,
            _ => return Ok(Err(format!("option {key} must be a number"))),
        };
        if number.fract() != 0.0 || number < 0.0 || number > u32::MAX as f64 && key != "arena_bytes"
        {
            return Ok(Err(format!("option {key} = {number} is out of range")));
        }
        let small = number as u32;
        match key.as_str() {
            "shards" => o.shards = Some(small),
            "cells_per_shard" => o.cells_per_shard = small,
            "series_capacity" => o.series_capacity = small,
            "family_capacity" => o.family_capacity = small,
            "process_capacity" => o.process_capacity = small,
            "file_mode" => o.file_mode = small,
            "max_label_value_bytes" => o.max_label_value_bytes = small,
            "arena_bytes" => o.arena_bytes = number as u64,
            _ => return Ok(Err(format!("unknown registry option {key:?}"))),
        }
    }
    Ok(Ok(o))
}

/// Lua arguments of `counter` and `gauge`: name, help, label names, options.
type Args = (
    LuaString,
    Option<LuaString>,
    Option<Vec<LuaString>>,
    Option<Table>,
);

/// Lua arguments of `histogram`: name, help, label names, buckets, options.
type HistogramArgs = (
    LuaString,
    Option<LuaString>,
    Option<Vec<LuaString>>,
    Option<Vec<f64>>,
    Option<Table>,
);

impl UserData for Registry {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        // counter(name, help, label_names, options): options.unit, options.limit.
        methods.add_method("counter", |_, this, (name, help, labels, options): Args| {
            Family::counter(&this.0, family::Spec::new(name, help, labels, options)?)
        });
        // gauge(name, help, label_names, options): also options.mode, how the values
        // of several processes combine (default: one shared value).
        methods.add_method("gauge", |_, this, (name, help, labels, options): Args| {
            Family::gauge(&this.0, family::Spec::new(name, help, labels, options)?)
        });
        // histogram(name, help, label_names, buckets, options): the Prometheus default
        // buckets when `buckets` is nil. With `options.native` (a table: `schema`,
        // `zero_threshold`, `max_buckets`; see core's `buckets::Native` for the
        // defaults), a native histogram, with `buckets` as classic buckets alongside
        // when given.
        methods.add_method(
            "histogram",
            |_, this, (name, help, labels, bounds, options): HistogramArgs| {
                let native: Option<Table> = match &options {
                    Some(o) => o.get("native")?,
                    None => None,
                };
                let spec = family::Spec::new(name, help, labels, options)?;
                let Some(native) = native else {
                    let bounds = bounds.unwrap_or_else(|| buckets::DEFAULT_BUCKETS.to_vec());
                    return Family::histogram(&this.0, spec, &bounds);
                };
                let default = buckets::Native::with_schema(0);
                let settings = buckets::Native {
                    schema: native.get("schema")?,
                    zero_threshold: native
                        .get::<Option<f64>>("zero_threshold")?
                        .unwrap_or(default.zero_threshold),
                    max_buckets: native
                        .get::<Option<u16>>("max_buckets")?
                        .unwrap_or(default.max_buckets),
                    classic: bounds.unwrap_or_default(),
                };
                Family::native_histogram(&this.0, spec, &settings)
            },
        );
        // follow_file(): moves the registry to the file now at its path if its file was
        // removed, replaced or truncated; returns the registry's generation, which
        // goes up with each move (handles cached before it record into the old file).
        methods.add_method("follow_file", |_, this, ()| {
            this.0.core.follow_file();
            Ok(this.0.core.generation() as f64)
        });
        // series_expired(): series removed so far because they were not written for
        // their family's idle time; a change means cached handles may be of such series.
        methods.add_method("series_expired", |_, this, ()| {
            Ok(this.0.core.series_expired() as f64)
        });
        // render(accept, query): the registry in the format the `Accept` header asks
        // for (or "openmetrics"/"protobuf"/"prometheus"), and that format's Content-Type
        // (protobuf is binary, a Lua string holds it as bytes); with a
        // query string, only the families its `name[]` parameters select.
        methods.add_method(
            "render",
            |lua, this, (accept, query): (Option<LuaString>, Option<LuaString>)| {
                let format = crate::format_of(accept.as_ref());
                let filter = query.map_or_else(metricore::Filter::all, |q| {
                    metricore::Filter::from_query(&q.to_string_lossy())
                });
                let mut body = Vec::new();
                metricore::registry::render_bytes(
                    std::slice::from_ref(&this.0.core),
                    format,
                    &filter,
                    &mut body,
                );
                Ok((lua.create_string(body)?, format.content_type()))
            },
        );
    }
}
