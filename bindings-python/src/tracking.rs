//! `time()`, `count_exceptions()` and `track_inprogress()`: context managers that are
//! also decorators (of plain and of `async` functions).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

/// What a tracker does around the code it wraps.
pub enum Action {
    /// Observes the elapsed seconds into a histogram.
    Histogram(metricore::Histogram, Arc<str>),
    /// Observes the elapsed seconds into a summary.
    Summary(metricore::Summary, Arc<str>),
    /// Sets a gauge to the elapsed seconds.
    SetGauge(metricore::Gauge),
    /// Raises a gauge on entry and lowers it on exit.
    InProgress(metricore::Gauge),
    /// Counts exceptions of the given types that leave the block.
    Exceptions(metricore::Counter, Py<PyAny>),
}

impl Action {
    fn clone_ref(&self, py: Python<'_>) -> Action {
        match self {
            Action::Histogram(h, n) => Action::Histogram(h.clone(), n.clone()),
            Action::Summary(s, n) => Action::Summary(s.clone(), n.clone()),
            Action::SetGauge(g) => Action::SetGauge(g.clone()),
            Action::InProgress(g) => Action::InProgress(g.clone()),
            Action::Exceptions(c, e) => Action::Exceptions(c.clone(), e.clone_ref(py)),
        }
    }
}

/// Nanoseconds since the first tracker of the process started.
fn now_ns() -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    BASE.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// A context manager (`with h.time():`) and decorator (`@h.time()`) recording into
/// one series.
#[pyclass(frozen, module = "metricore")]
pub struct Tracker {
    action: Action,
    start: AtomicU64,
}

impl Tracker {
    /// A tracker doing `action`.
    pub fn new(action: Action) -> Tracker {
        Tracker {
            action,
            start: AtomicU64::new(0),
        }
    }

    fn elapsed(&self) -> f64 {
        now_ns().saturating_sub(self.start.load(Ordering::Relaxed)) as f64 / 1e9
    }
}

#[pymethods]
impl Tracker {
    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        let t = slf.get();
        match &t.action {
            Action::InProgress(g) => g.inc(),
            Action::Exceptions(..) => {}
            _ => t.start.store(now_ns(), Ordering::Relaxed),
        }
        slf
    }

    #[pyo3(signature = (exc_type = None, _exc = None, _tb = None))]
    fn __exit__(
        &self,
        exc_type: Option<&Bound<'_, PyAny>>,
        _exc: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        match &self.action {
            Action::Histogram(h, _) => {
                let _ = h.observe(self.elapsed());
            }
            Action::Summary(s, _) => {
                let _ = s.observe(self.elapsed());
            }
            Action::SetGauge(g) => g.set(self.elapsed()),
            Action::InProgress(g) => g.dec(),
            Action::Exceptions(c, types) => {
                if let Some(t) = exc_type.filter(|t| !t.is_none()) {
                    if t.cast::<PyType>()?.is_subclass(types.bind(t.py()))? {
                        c.inc();
                    }
                }
            }
        }
        Ok(false)
    }

    /// A fresh tracker doing the same, for one call of a decorated function.
    fn _fresh(&self, py: Python<'_>) -> Tracker {
        Tracker::new(self.action.clone_ref(py))
    }

    /// Decorates `func` (plain or `async`) so that each call is tracked.
    fn __call__(slf: &Bound<'_, Self>, func: Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        static WRAP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        let py = slf.py();
        let wrap = WRAP.get_or_try_init(py, || {
            Ok::<_, PyErr>(py.import("metricore._decorate")?.getattr("wrap")?.unbind())
        })?;
        wrap.call1(py, (func, slf.getattr("_fresh")?))
    }

    fn __repr__(&self) -> String {
        let what = match &self.action {
            Action::Histogram(_, n) | Action::Summary(_, n) => format!("timer of {n:?}"),
            Action::SetGauge(_) => "gauge timer".into(),
            Action::InProgress(_) => "in-progress tracker".into(),
            Action::Exceptions(..) => "exception counter".into(),
        };
        format!("<metricore {what}>")
    }
}
