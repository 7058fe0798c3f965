//! What every metric object shares: its family's name and labels, the registry it is
//! in, and the resolution of `labels(...)` calls to child objects.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use metricore::names::{check_metric_name, is_legacy_name};
use metricore::{Error, Family, Kind, Spec};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyInt, PyString, PyTuple};

use crate::errors::to_py;
use crate::registry::{Registry, RegistryArg};

/// Children kept per family by `labels(...)`; past this, children are made per call.
const CACHE_LIMIT: usize = 4096;

/// The family part of a metric object, shared by the parent and its children.
pub struct Base {
    /// Family name as registered (for counters without `_total`).
    pub name: String,
    /// Help text.
    pub documentation: String,
    /// Unit, or empty.
    pub unit: String,
    /// The name, namespace and subsystem the constructor was given (for the children
    /// of a subclass, made by calling it).
    pub given: [String; 3],
    /// `counter`, `gauge`, ...: the type `prometheus_client` reports.
    pub kind: &'static str,
    /// Label names, in order.
    pub labelnames: Vec<String>,
    /// The same names as Python strings, to look keyword values up.
    names_py: Vec<Py<PyString>>,
    /// The registry the family is in.
    pub registry: Py<Registry>,
    /// The family, whose rules refuse a call with the wrong number of label values.
    family: metricore::Family,
    /// The core registry the family was registered through, for its generation.
    core: metricore::Registry,
    /// Children by label-value tuple (of exact `str`s and `int`s, or of `str()` forms),
    /// filled by `labels(...)`; empty when series expire.
    cache: Py<PyDict>,
    /// Whether the family's series expire when idle: `labels(...)` then resolves the
    /// values on every call (core remembers recent lookups), so that a call after an
    /// expiry makes the series anew instead of handing out a child of the old one.
    expires: bool,
}

/// A series handle that follows its registry to another file: after a move, the next
/// use resolves it again there and keeps that handle (one atomic load otherwise).
pub struct Following<H> {
    handle: H,
    generation: u64,
    next: OnceLock<Box<Following<H>>>,
}

impl<H> Following<H> {
    /// `handle`, resolved at registry generation `generation`.
    pub fn new(handle: H, generation: u64) -> Following<H> {
        Following {
            handle,
            generation,
            next: OnceLock::new(),
        }
    }

    /// The handle for generation `now`; `resolve` makes it if the registry moved
    /// since (the last handle stays in use if that fails).
    #[inline(always)]
    pub fn get(&self, now: u64, resolve: impl FnOnce() -> Option<H>) -> &H {
        if self.generation == now && self.next.get().is_none() {
            return &self.handle;
        }
        self.follow(now, resolve)
    }

    /// [`get`](Self::get) after a move: the latest handle, resolved again if it is not
    /// of generation `now`.
    #[cold]
    #[inline(never)]
    fn follow(&self, now: u64, resolve: impl FnOnce() -> Option<H>) -> &H {
        let mut f = self;
        while let Some(next) = f.next.get() {
            f = next;
        }
        if f.generation == now {
            return &f.handle;
        }
        match resolve() {
            Some(h) => {
                &f.next
                    .get_or_init(|| Box::new(Following::new(h, now)))
                    .handle
            }
            None => &f.handle,
        }
    }
}

/// Python's `time.time()` (which tests may replace), else the system's time.
fn python_time() -> f64 {
    Python::attach(|py| {
        py.import(intern!(py, "time"))
            .and_then(|t| t.getattr(intern!(py, "time"))?.call0()?.extract::<f64>())
            .ok()
    })
    .unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    })
}

/// Runs `f`, series made (or counters reset) in it stamped with Python's time, as
/// `prometheus_client` stamps `_created`.
pub fn clocked<R>(f: impl FnOnce() -> R) -> R {
    metricore::with_clock(python_time, f)
}

/// Whether metrics made from now on must have legacy names (`prometheus_client`'s
/// `enable_legacy_validation`).
static LEGACY: AtomicBool = AtomicBool::new(false);

/// Chooses whether metrics made from now on must have names in the legacy set (core's
/// `is_legacy_name`) rather than any UTF-8 name.
#[pyfunction]
pub fn _set_legacy_validation(on: bool) {
    LEGACY.store(on, Ordering::Relaxed);
}

/// The arguments every metric constructor takes.
pub struct Define<'a, 'py> {
    /// Name before namespace and subsystem are joined.
    pub name: &'a str,
    /// Help text.
    pub documentation: &'a str,
    /// Label names, any iterable of `str`.
    pub labelnames: Option<&'a Bound<'py, PyAny>>,
    /// Prefix joined with `_`.
    pub namespace: &'a str,
    /// Second prefix joined with `_`.
    pub subsystem: &'a str,
    /// Unit suffix.
    pub unit: &'a str,
    /// Where the family goes.
    pub registry: RegistryArg,
    /// Seconds a series may go unwritten before it expires (a metricore extension).
    pub expire_after: Option<f64>,
}

fn label_names(names: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<String>> {
    let Some(names) = names else {
        return Ok(Vec::new());
    };
    if names.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(
            "labelnames must be a sequence of str, not a str",
        ));
    }
    names
        .try_iter()?
        .map(|n| {
            let n = n?;
            n.extract::<String>().map_err(|_| {
                PyTypeError::new_err(format!(
                    "label names must be str, not {}",
                    n.get_type().name().map_or("?".into(), |t| t.to_string())
                ))
            })
        })
        .collect()
}

impl Base {
    /// Registers the family `def` describes, of kind `kind`, made by `kind_for` once
    /// it is known whether the registry is shared (gauge modes depend on it).
    pub fn register(
        py: Python<'_>,
        def: Define<'_, '_>,
        type_name: &'static str,
        kind_for: impl FnOnce(bool) -> PyResult<Kind>,
    ) -> PyResult<(Arc<Base>, Family)> {
        let labelnames = label_names(def.labelnames)?;
        let registry = def.registry.resolve(py)?;
        // The name itself may not be empty, whatever prefixes it gets.
        check_metric_name(def.name).map_err(to_py)?;
        let full = metricore::names::full_name(def.namespace, def.subsystem, def.name, "");
        if LEGACY.load(Ordering::Relaxed) {
            if !is_legacy_name(&full, false) {
                return Err(to_py(Error::InvalidMetricName(full)));
            }
            if let Some(l) = labelnames.iter().find(|l| !is_legacy_name(l, true)) {
                return Err(to_py(Error::InvalidLabelName(l.clone())));
            }
        }
        let (core, shared) = registry.get().core_for(&full);
        let names: Vec<&str> = labelnames.iter().map(String::as_str).collect();
        let mut spec = Spec::new(&full, def.documentation, kind_for(shared)?)
            .labels(&names)
            .unit(def.unit);
        if let Some(secs) = def.expire_after {
            let idle = Duration::try_from_secs_f64(secs).map_err(|_| {
                PyValueError::new_err(format!(
                    "expire_after for {full:?} must be a number of seconds, 0 or more, not {secs}"
                ))
            })?;
            spec = spec.expire_after(idle);
        }
        let family = clocked(|| core.register(spec)).map_err(to_py)?;
        let spec = family.spec();
        registry
            .get()
            .claim(&metricore::sample_names(&spec.name, spec.kind.type_name()))?;
        let base = Base {
            name: family.spec().name.clone(),
            documentation: def.documentation.to_owned(),
            unit: def.unit.to_owned(),
            given: [def.name, def.namespace, def.subsystem].map(str::to_owned),
            kind: type_name,
            names_py: labelnames
                .iter()
                .map(|n| PyString::intern(py, n).unbind())
                .collect(),
            labelnames,
            registry,
            family: family.clone(),
            expires: family.spec().expire_ms != 0,
            core,
            cache: PyDict::new(py).unbind(),
        };
        Ok((Arc::new(base), family))
    }

    /// The generation of the family's registry: it changes when the registry moves to
    /// another file.
    #[inline]
    pub fn generation(&self) -> u64 {
        self.core.generation()
    }

    /// The error for recording on a parent that has label names.
    #[cold]
    pub fn missing_values(&self) -> PyErr {
        PyValueError::new_err(format!(
            "{} metric {:?} is missing label values: call labels({}) first",
            self.kind,
            self.name,
            self.labelnames.join(", ")
        ))
    }

    /// The child for a `labels(*args, **kwargs)` call: from the cache, or made by
    /// `make` from the values converted with `str()`. A call whose values are all
    /// exact `str` or `int` instances is looked up by its values as given (two such
    /// tuples are equal exactly when their `str()` forms are); any other call by the
    /// tuple of its values' `str()` forms, so integer enums and other objects are
    /// cached too.
    pub fn labels<'py>(
        &self,
        py: Python<'py>,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
        make: impl FnOnce(&[&str]) -> PyResult<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if self.labelnames.is_empty() {
            return Err(PyValueError::new_err(format!(
                "{} metric {:?} has no label names; record on it directly",
                self.kind, self.name
            )));
        }
        let mut key = self.key(py, args, kwargs)?;
        let cache = self.cache.bind(py);
        let plain = key
            .iter()
            .all(|v| v.is_exact_instance_of::<PyString>() || v.is_exact_instance_of::<PyInt>());
        if !plain {
            key = PyTuple::new(
                py,
                key.iter().map(|v| v.str()).collect::<PyResult<Vec<_>>>()?,
            )?;
        }
        if let Some(child) = cache.get_item(&key)? {
            return Ok(child);
        }
        let strs = key.iter().map(|v| v.str()).collect::<PyResult<Vec<_>>>()?;
        let values = strs
            .iter()
            .map(|s| s.to_str())
            .collect::<PyResult<Vec<_>>>()?;
        let child = clocked(|| make(&values))?;
        if !self.expires && cache.len() < CACHE_LIMIT {
            cache.set_item(key, &child)?;
        }
        Ok(child)
    }

    /// The label values of a call, in label-name order.
    fn key<'py>(
        &self,
        py: Python<'py>,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let n = self.labelnames.len();
        let Some(kw) = kwargs.filter(|k| !k.is_empty()) else {
            if args.len() != n {
                self.family.check_label_count(args.len()).map_err(to_py)?;
            }
            return Ok(args.clone());
        };
        if !args.is_empty() {
            return Err(PyValueError::new_err(format!(
                "metric {:?}: pass label values either by position or by name, not both",
                self.name
            )));
        }
        let wrong = || -> PyResult<PyErr> {
            let given: Vec<String> = kw.keys().iter().map(|k| k.to_string()).collect();
            Ok(PyValueError::new_err(format!(
                "metric {:?} has label names {:?}, got {:?}",
                self.name, self.labelnames, given
            )))
        };
        if kw.len() != n {
            // Counted as the core counts a wrong number of values.
            let _ = self.family.check_label_count(kw.len());
            return Err(wrong()?);
        }
        // Keywords given in label-name order are the very interned strings of ours.
        let mut values = Vec::with_capacity(n);
        for ((k, v), name) in kw.iter().zip(&self.names_py) {
            if !k.is(name.bind(py)) {
                values.clear();
                break;
            }
            values.push(v);
        }
        if values.len() != n {
            for name in &self.names_py {
                match kw.get_item(name.bind(py))? {
                    Some(v) => values.push(v),
                    None => return Err(wrong()?),
                }
            }
        }
        PyTuple::new(py, values)
    }

    /// Forgets every cached child (after `remove` or `clear`).
    pub fn forget_children(&self, py: Python<'_>) {
        self.cache.bind(py).clear();
    }

    /// The label values of `remove(*values)`, converted with `str()`.
    pub fn remove_values(&self, args: &Bound<'_, PyTuple>) -> PyResult<Vec<String>> {
        if self.labelnames.is_empty() {
            return Err(PyValueError::new_err(format!(
                "{} metric {:?} has no label names; nothing to remove",
                self.kind, self.name
            )));
        }
        args.iter()
            .map(|v| Ok(v.str()?.to_str()?.to_owned()))
            .collect()
    }
}
