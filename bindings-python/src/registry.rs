//! The registry object Python sees: a core registry (in this process or in a shared
//! file), plus the custom collectors and `set_function` callbacks that run at each
//! collection.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use metricore::names::Escaping;
use metricore::{Format, Numbers, Options};
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::collectors;
use crate::errors::{duplicate, to_py};

/// A `set_function` callback: the gauge object it belongs to, the function, and the
/// series it sets.
type Function = (Py<PyAny>, Py<PyAny>, metricore::Gauge);

/// What a registry runs at collection time, shared with the core callbacks.
#[derive(Default)]
pub struct Hooks {
    /// Custom collectors, in registration order.
    collectors: Mutex<Vec<Py<PyAny>>>,
    /// `set_function` callbacks.
    functions: Mutex<Vec<Function>>,
    /// Whether collections in this process include its `process_*` metrics.
    process: AtomicBool,
}

thread_local! {
    /// While a render started from Python runs on this thread, the first error raised
    /// by a collector or callback is kept here to be raised once the render is done.
    static CAPTURE: RefCell<Option<Option<PyErr>>> = const { RefCell::new(None) };
    /// Whether renders on this thread leave out the custom collectors (`collect()`
    /// calls them itself).
    static WITHOUT_COLLECTORS: Cell<bool> = const { Cell::new(false) };
}

/// Keeps `e` for the render in progress on this thread, or reports it as unraisable
/// when the render did not come from Python (a scrape served by another thread).
fn report(py: Python<'_>, e: PyErr) {
    let left = CAPTURE.with_borrow_mut(|c| match c {
        Some(slot) => {
            slot.get_or_insert(e);
            None
        }
        None => Some(e),
    });
    if let Some(e) = left {
        e.write_unraisable(py, None);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Hooks {
    fn run_functions(&self) {
        if lock(&self.functions).is_empty() {
            return;
        }
        Python::attach(|py| {
            let calls: Vec<_> = lock(&self.functions)
                .iter()
                .map(|(_, f, g)| (f.clone_ref(py), g.clone()))
                .collect();
            for (f, gauge) in calls {
                match f.call0(py).and_then(|v| v.extract::<f64>(py)) {
                    Ok(v) => gauge.set(v),
                    Err(e) => report(py, e),
                }
            }
        });
    }

    fn run_collectors(&self, format: Format, escaping: Escaping, out: &mut String) {
        if self.process.load(Ordering::Relaxed) {
            metricore::process::render(format, Numbers::Python, out);
        }
        if WITHOUT_COLLECTORS.get() || lock(&self.collectors).is_empty() {
            return;
        }
        Python::attach(|py| {
            let all: Vec<_> = lock(&self.collectors)
                .iter()
                .map(|c| c.clone_ref(py))
                .collect();
            for c in all {
                if let Err(e) = collectors::render(c.bind(py), format, escaping, out) {
                    report(py, e);
                }
            }
        });
    }

    fn install(self: &Arc<Self>, core: &metricore::Registry) {
        let hooks = self.clone();
        core.on_collect(move || hooks.run_functions());
        let hooks = self.clone();
        core.on_render_escaped(move |format, escaping, out| {
            hooks.run_collectors(format, escaping, out)
        });
    }
}

struct State {
    core: metricore::Registry,
    shared: Option<PathBuf>,
    /// Whether this is the registry of one metric made with `registry=None`.
    private: bool,
    /// Registries of such metrics registered here later, rendered with this one, and
    /// (`true`) any registry a multiprocess collector attached (its shared file).
    attached: Vec<(Py<Registry>, metricore::Registry, bool)>,
    /// The first metric created through this registry, if any.
    first_metric: Option<String>,
    /// Whether its renders carry the self-metrics (`metricore_*`).
    self_metrics: bool,
    /// Whether this is a multiprocess collector's view of its file: its renders carry
    /// no `_created` samples, as `prometheus_client`'s merge of its files has none.
    merged: bool,
    /// The sample names claimed by the metrics made through this registry object, the
    /// attached registries and the described collectors: claiming one twice is an
    /// error, as in `prometheus_client`.
    names: HashSet<String>,
}

/// The native part of a `CollectorRegistry`: where its metrics live and what runs when
/// it is collected.
#[pyclass(
    subclass,
    frozen,
    module = "metricore._metricore",
    name = "RegistryCore"
)]
pub struct Registry {
    state: Mutex<State>,
    hooks: Arc<Hooks>,
    /// The buffer of the last render, kept for the next one: a render writes into
    /// memory it already has instead of growing a new buffer page by page.
    body: Mutex<Vec<u8>>,
}

impl Registry {
    /// Renders of a Python registry write values as `prometheus_client` does, and carry
    /// the self-metrics only when asked.
    fn with_core(core: metricore::Registry) -> Registry {
        let hooks = Arc::new(Hooks::default());
        hooks.install(&core);
        core.set_numbers(Numbers::Python);
        core.set_self_metrics(false);
        Registry {
            state: Mutex::new(State {
                core,
                shared: None,
                private: false,
                attached: Vec::new(),
                first_metric: None,
                self_metrics: false,
                merged: false,
                names: HashSet::new(),
            }),
            hooks,
            body: Mutex::new(Vec::new()),
        }
    }

    /// A small in-process registry of its own, for a metric made with `registry=None`.
    pub fn private() -> PyResult<Registry> {
        let options = Options {
            cells_per_shard: 1 << 16,
            series_capacity: 1 << 13,
            family_capacity: 2,
            process_capacity: 8,
            arena_bytes: 4 << 20,
            ..Options::default()
        };
        let registry =
            Registry::with_core(metricore::Registry::with_options(&options).map_err(to_py)?);
        lock(&registry.state).private = true;
        Ok(registry)
    }

    /// The registry of a metric made with `registry=None` while `metricore.values`
    /// says such metrics record into the shared file at `path` (the multiprocess
    /// setup): the file's core registry, opened once for all of them until
    /// `_close_shared_files`.
    fn private_shared(path: PathBuf) -> PyResult<Registry> {
        let core = {
            let mut open = lock(&SHARED_FILES);
            match open.iter().find(|(p, _)| *p == path) {
                Some((_, core)) => core.clone(),
                None => {
                    let core = metricore::Registry::open_shared(&path, &Options::default())
                        .map_err(to_py)?;
                    open.push((path.clone(), core.clone()));
                    core
                }
            }
        };
        let registry = Registry::with_core(core);
        {
            let mut st = lock(&registry.state);
            st.private = true;
            st.shared = Some(path);
        }
        Ok(registry)
    }

    /// The core registries a collection renders: this one and those attached to it.
    /// The core registries rendered as this one, each set to carry `_created` samples
    /// as `metricore.metrics._use_created` says (the flag `disable_created_metrics()`
    /// and `enable_created_metrics()` set, as in `prometheus_client`), but for none
    /// when a multiprocess collector's file is attached (`prometheus_client`'s merge of
    /// its files has none).
    pub fn cores(&self, py: Python<'_>) -> Vec<metricore::Registry> {
        let created = py
            .import(intern!(py, "metricore.metrics"))
            .and_then(|m| m.getattr(intern!(py, "_use_created"))?.is_truthy())
            .unwrap_or(true);
        let st = lock(&self.state);
        let created = created && !st.merged && !st.attached.iter().any(|(_, _, m)| *m);
        let cores: Vec<metricore::Registry> = std::iter::once(st.core.clone())
            .chain(st.attached.iter().map(|(_, r, _)| r.clone()))
            .collect();
        for c in &cores {
            c.set_created(created);
        }
        cores
    }

    /// The core registry for a new metric named `name`; from now on the registry can no
    /// longer move to a shared file.
    pub fn core_for(&self, name: &str) -> (metricore::Registry, bool) {
        let mut st = lock(&self.state);
        st.first_metric.get_or_insert_with(|| name.to_owned());
        (st.core.clone(), st.shared.is_some())
    }

    /// Claims the sample names `names` (of a metric object made through this registry,
    /// or of a collector): `DuplicateTimeseries` naming those already claimed, and
    /// nothing claimed then.
    pub fn claim(&self, names: &[String]) -> PyResult<()> {
        let mut st = lock(&self.state);
        let taken: Vec<&String> = names.iter().filter(|n| st.names.contains(*n)).collect();
        if !taken.is_empty() {
            return Err(duplicate(format!(
                "Duplicated timeseries in CollectorRegistry: {taken:?}"
            )));
        }
        st.names.extend(names.iter().cloned());
        Ok(())
    }

    /// Has `f` set `gauge` (the series of the Python object `owner`) at each collection,
    /// replacing an earlier function for the same object.
    pub fn set_function(&self, owner: Py<PyAny>, f: Py<PyAny>, gauge: metricore::Gauge) {
        let old = {
            let mut fns = lock(&self.hooks.functions);
            let old = fns
                .iter()
                .position(|(o, _, _)| o.is(&owner))
                .map(|i| fns.remove(i));
            fns.push((owner, f, gauge));
            old
        };
        // Released after the lock, as releasing may run Python code.
        drop(old);
    }
}

#[pymethods]
impl Registry {
    /// A new, empty registry in this process's memory.
    #[new]
    #[pyo3(signature = (*_args, **_kwargs))]
    fn new(
        _args: &Bound<'_, pyo3::types::PyTuple>,
        _kwargs: Option<&Bound<'_, pyo3::types::PyDict>>,
    ) -> Registry {
        Registry::with_core(metricore::Registry::new())
    }

    /// Moves this registry into the shared file at `path` (created if absent). Only
    /// possible before any metric was created in it. `owner` and `group` (names or
    /// numbers) are also trusted with the file; `file_mode` is the mode of a new file.
    #[pyo3(signature = (path, owner=None, group=None, file_mode=None))]
    fn _use_shared(
        &self,
        path: PathBuf,
        owner: Option<&str>,
        group: Option<&str>,
        file_mode: Option<u32>,
    ) -> PyResult<()> {
        let mut st = lock(&self.state);
        if let Some(first) = &st.first_metric {
            return Err(PyRuntimeError::new_err(format!(
                "cannot move the registry to {}: metric {first:?} was already created in \
                 it; call use_shared() (or set METRICORE_REGISTRY) before creating metrics",
                path.display()
            )));
        }
        let mut options = Options::default();
        options.owner = owner
            .map(metricore::access::user_id)
            .transpose()
            .map_err(to_py)?;
        options.group = group
            .map(metricore::access::group_id)
            .transpose()
            .map_err(to_py)?;
        options.file_mode = file_mode.unwrap_or(options.file_mode);
        let core = metricore::Registry::open_shared(&path, &options).map_err(to_py)?;
        self.hooks.install(&core);
        core.set_numbers(Numbers::Python);
        core.set_self_metrics(st.self_metrics);
        // A shared file stands for the whole service: the process that happens to render
        // it is not the service, so its `process_*` are left out unless asked for again
        // (`_add_process_metrics` after the move).
        self.hooks.process.store(false, Ordering::Relaxed);
        st.core = core;
        st.shared = Some(path);
        Ok(())
    }

    /// Adds this process's `process_*` metrics (CPU, memory, file descriptors, start
    /// time) to every collection, as `prometheus_client`'s default registry has them.
    /// Moving the registry to a shared file drops them; called after the move, it adds
    /// them to the shared registry's collections in this process.
    fn _add_process_metrics(&self) {
        self.hooks.process.store(true, Ordering::Relaxed);
    }

    /// Leaves this process's `process_*` metrics out of collections again.
    fn _remove_process_metrics(&self) {
        self.hooks.process.store(false, Ordering::Relaxed);
    }

    /// Claims the sample names of a collector registered here (see `claim`).
    fn _claim(&self, names: Vec<String>) -> PyResult<()> {
        self.claim(&names)
    }

    /// Gives up sample names (of a metric object or collector unregistered from this
    /// registry), so that they can be claimed again.
    fn _release(&self, names: Vec<String>) {
        let mut st = lock(&self.state);
        for n in names {
            st.names.remove(&n);
        }
    }

    /// Whether collections carry the self-metrics (`metricore_*`: series, region use,
    /// refused recordings, overflows); off unless set.
    fn _set_self_metrics(&self, on: bool) {
        let mut st = lock(&self.state);
        st.self_metrics = on;
        st.core.set_self_metrics(on);
    }

    /// Makes this registry a multiprocess collector's view of its file (see
    /// `State::merged`).
    fn _set_merged(&self) {
        lock(&self.state).merged = true;
    }

    /// The shared file behind this registry, or `None` when it is in this process.
    #[getter]
    fn _shared_path(&self) -> Option<PathBuf> {
        lock(&self.state).shared.clone()
    }

    /// Renders every metric and collector of the registry, as Prometheus text 0.0.4,
    /// OpenMetrics 1.0.0 (`format` 1 or `True`) or protobuf (2, binary); with `names`,
    /// only the families they select (core's `Filter`); names outside the legacy set
    /// written by the scheme `escaping` (`ValueError` for an unknown one). Errors raised
    /// by collectors are raised here.
    #[pyo3(signature = (format = 0, names = None, escaping = "underscores"))]
    fn _render<'py>(
        &self,
        py: Python<'py>,
        format: u8,
        names: Option<Vec<String>>,
        escaping: &str,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let escaping = Escaping::from_name(escaping).ok_or_else(|| {
            PyValueError::new_err(format!(
                "escaping {escaping:?}: expected allow-utf-8, underscores, dots or values"
            ))
        })?;
        let format = match format {
            0 => Format::Prometheus,
            1 => Format::OpenMetrics,
            2 => Format::Protobuf,
            n => {
                return Err(PyValueError::new_err(format!(
                    "unknown format {n}: 0 (Prometheus text), 1 (OpenMetrics) or 2 (protobuf)"
                )))
            }
        };
        let cores = self.cores(py);
        let outer = CAPTURE.replace(Some(None));
        let outer_without = WITHOUT_COLLECTORS.replace(false);
        // A render at the same time as this one takes a new buffer.
        let mut out = std::mem::take(&mut *lock(&self.body));
        let body = py.detach(|| {
            let filter = names.map_or_else(metricore::Filter::all, metricore::Filter::names);
            metricore::registry::render_escaped(&cores, format, escaping, &filter, &mut out);
            out
        });
        WITHOUT_COLLECTORS.set(outer_without);

        let failed = CAPTURE.replace(outer).flatten();
        let result = match failed {
            Some(e) => Err(e),
            None => Ok(PyBytes::new(py, &body)),
        };
        *lock(&self.body) = body;
        result
    }

    /// The registry's families with their samples, as `metricore.metrics_core.Metric`
    /// objects, built from the core's families as data (no text in between); with
    /// `names`, only the families they select. The custom collectors are left out
    /// (`collect()` calls them itself). Errors raised by callbacks are raised here.
    #[pyo3(signature = (names = None))]
    fn _collect(&self, py: Python<'_>, names: Option<Vec<String>>) -> PyResult<Vec<Py<PyAny>>> {
        let cores = self.cores(py);
        let outer = CAPTURE.replace(Some(None));
        let outer_without = WITHOUT_COLLECTORS.replace(true);
        let families = py.detach(|| {
            let filter = names.map_or_else(metricore::Filter::all, metricore::Filter::names);
            metricore::registry::collect(&cores, &filter)
        });
        WITHOUT_COLLECTORS.set(outer_without);
        match CAPTURE.replace(outer).flatten() {
            Some(e) => Err(e),
            None => collectors::to_metrics(py, families),
        }
    }

    /// Renders the metric of private registry `other` (one made with `registry=None`)
    /// with this registry's metrics from now on; with `any`, the metrics of any
    /// registry `other` (a multiprocess collector's shared file).
    #[pyo3(signature = (other, any = false))]
    fn _attach(&self, other: &Bound<'_, Registry>, any: bool) -> PyResult<()> {
        let (core, private) = {
            let o = lock(&other.get().state);
            (o.core.clone(), o.private)
        };
        if !private && !any {
            return Err(PyValueError::new_err(
                "only metrics made with registry=None can be registered later; \
                 others are in the registry given when they were made",
            ));
        }
        let theirs = lock(&other.get().state).names.clone();
        let mut st = lock(&self.state);
        if st.attached.iter().any(|(o, _, _)| o.is(other)) {
            return Err(PyValueError::new_err(
                "this metric is already registered here",
            ));
        }
        let taken: Vec<&String> = theirs.iter().filter(|n| st.names.contains(*n)).collect();
        if !taken.is_empty() {
            return Err(duplicate(format!(
                "Duplicated timeseries in CollectorRegistry: {taken:?}"
            )));
        }
        st.names.extend(theirs);
        st.attached.push((other.clone().unbind(), core, !private));
        Ok(())
    }

    /// Stops rendering the metrics of registry `other`; `False` if it was not
    /// attached.
    fn _detach(&self, other: &Bound<'_, Registry>) -> bool {
        let theirs = lock(&other.get().state).names.clone();
        let removed = {
            let mut st = lock(&self.state);
            st.names.retain(|n| !theirs.contains(n));
            st.attached
                .iter()
                .position(|(o, _, _)| o.is(other))
                .map(|i| st.attached.remove(i))
        };
        removed.is_some()
    }

    /// Adds a custom collector: an object whose `collect()` yields metric families.
    fn _add_collector(&self, collector: Bound<'_, PyAny>) -> PyResult<()> {
        if !collector.hasattr("collect")? {
            return Err(PyTypeError::new_err(format!(
                "{} has no collect() method",
                collector.repr()?
            )));
        }
        let mut all = lock(&self.hooks.collectors);
        if all.iter().any(|c| c.is(&collector)) {
            return Err(PyValueError::new_err(format!(
                "collector {} is already registered",
                collector.repr()?
            )));
        }
        all.push(collector.unbind());
        Ok(())
    }

    /// The custom collectors, in registration order.
    fn _collectors(&self, py: Python<'_>) -> Vec<Py<PyAny>> {
        lock(&self.hooks.collectors)
            .iter()
            .map(|c| c.clone_ref(py))
            .collect()
    }

    /// Removes a custom collector; `False` if it was not registered.
    fn _remove_collector(&self, collector: &Bound<'_, PyAny>) -> bool {
        let removed = {
            let mut all = lock(&self.hooks.collectors);
            all.iter()
                .position(|c| c.is(collector))
                .map(|i| all.remove(i))
        };
        removed.is_some()
    }

    /// Stops calling the `set_function` callback of gauge object `owner`.
    fn _remove_function(&self, owner: &Bound<'_, PyAny>) {
        let removed = {
            let mut fns = lock(&self.hooks.functions);
            fns.iter()
                .position(|(o, _, _)| o.is(owner))
                .map(|i| fns.remove(i))
        };
        drop(removed);
    }
}

/// Where a metric constructor puts the metric: the default registry, one given, or a
/// private one (`registry=None`).
pub enum RegistryArg {
    /// `REGISTRY`, the package's default.
    Default,
    /// `registry=None`: registered nowhere that is collected.
    Unregistered,
    /// A registry given by the caller.
    Given(Py<Registry>),
}

impl<'a, 'py> FromPyObject<'a, 'py> for RegistryArg {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if obj.is_none() {
            return Ok(RegistryArg::Unregistered);
        }
        match obj.cast::<Registry>() {
            Ok(r) => Ok(RegistryArg::Given(r.to_owned().unbind())),
            Err(_) => Err(PyTypeError::new_err(format!(
                "registry must be a CollectorRegistry or None, not {}",
                obj.get_type().name()?
            ))),
        }
    }
}

static DEFAULT: OnceLock<Py<Registry>> = OnceLock::new();

/// The shared files metrics made with `registry=None` record into, opened once each.
static SHARED_FILES: Mutex<Vec<(PathBuf, metricore::Registry)>> = Mutex::new(Vec::new());

/// Forgets the shared files opened for metrics made with `registry=None` (metrics made
/// so far keep theirs open); the next such metric opens its file again.
#[pyfunction]
pub fn _close_shared_files() {
    lock(&SHARED_FILES).clear();
}

/// Makes `registry` the one metrics go to when no `registry=` is given. Set once, by
/// the package at import.
#[pyfunction]
pub fn _set_default_registry(registry: Bound<'_, Registry>) -> PyResult<()> {
    DEFAULT
        .set(registry.unbind())
        .map_err(|_| PyRuntimeError::new_err("the default registry is already set"))
}

impl RegistryArg {
    /// The registry object this argument names.
    pub fn resolve(self, py: Python<'_>) -> PyResult<Py<Registry>> {
        match self {
            RegistryArg::Default => DEFAULT.get().map(|r| r.clone_ref(py)).ok_or_else(|| {
                PyRuntimeError::new_err(
                    "no default registry: import metricore, not metricore._metricore",
                )
            }),
            RegistryArg::Given(r) => Ok(r),
            RegistryArg::Unregistered => {
                // Where `prometheus_client.values.ValueClass` would put the values.
                let file = py
                    .import("metricore.values")?
                    .call_method0("_shared_file")?
                    .extract::<Option<PathBuf>>()?;
                match file {
                    Some(path) => Py::new(py, Registry::private_shared(path)?),
                    None => Py::new(py, Registry::private()?),
                }
            }
        }
    }
}

/// The code of `format` for `RegistryCore._render`.
pub(crate) fn format_code(format: Format) -> u8 {
    match format {
        Format::Prometheus => 0,
        Format::OpenMetrics => 1,
        Format::Protobuf => 2,
    }
}
