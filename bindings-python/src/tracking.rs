//! `time()`, `count_exceptions()` and `track_inprogress()`: context managers that are
//! also decorators (of plain and of `async` functions).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use pyo3::exceptions::PyValueError;
use pyo3::types::{PyDict, PyTuple};
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
/// one series: given, or (for a metric with labels) chosen by `labels(...)` on the
/// tracker inside the block.
#[pyclass(frozen, module = "metricore")]
pub struct Tracker {
    action: OnceLock<Action>,
    /// The metric with labels whose child `labels(...)` picks, for a pending tracker.
    parent: Option<Py<PyAny>>,
    start: AtomicU64,
    /// The seconds the block took (`f64` bits), `u64::MAX` until it ended.
    duration: AtomicU64,
}

impl Tracker {
    /// A tracker doing `action`.
    pub fn new(action: Action) -> Tracker {
        let cell = OnceLock::new();
        let _ = cell.set(action);
        Tracker::with(cell, None)
    }

    /// A timer of the metric with labels `parent`, recording into the child that
    /// `labels(...)` on the timer picks.
    pub fn pending(parent: Py<PyAny>) -> Tracker {
        Tracker::with(OnceLock::new(), Some(parent))
    }

    fn with(action: OnceLock<Action>, parent: Option<Py<PyAny>>) -> Tracker {
        Tracker {
            action,
            parent,
            start: AtomicU64::new(0),
            duration: AtomicU64::new(u64::MAX),
        }
    }

    fn elapsed(&self) -> f64 {
        now_ns().saturating_sub(self.start.load(Ordering::Relaxed)) as f64 / 1e9
    }

    /// The seconds since the start, kept as the tracker's duration.
    fn finish(&self) -> f64 {
        let d = self.elapsed();
        self.duration.store(d.to_bits(), Ordering::Relaxed);
        d
    }
}

#[pymethods]
impl Tracker {
    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        let t = slf.get();
        match t.action.get() {
            Some(Action::InProgress(g)) => g.inc(),
            Some(Action::Exceptions(..)) => {}
            _ => t.start.store(now_ns(), Ordering::Relaxed),
        }
        slf
    }

    /// Picks the child of the timed metric to record into (`with h.time() as t:
    /// t.labels("/home")`); returns the timer.
    #[pyo3(signature = (*args, **kwargs))]
    fn labels<'py>(
        slf: Bound<'py, Self>,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, Self>> {
        let t = slf.get();
        let Some(parent) = t.parent.as_ref().filter(|_| t.action.get().is_none()) else {
            return Err(PyValueError::new_err(
                "this timer already records into one series; labels() picks it once",
            ));
        };
        let py = slf.py();
        let child = parent.bind(py).call_method("labels", args, kwargs)?;
        let timer = child.call_method0("time")?;
        let timer = timer.cast::<Tracker>()?.get();
        if let Some(action) = timer.action.get() {
            let _ = t.action.set(action.clone_ref(py));
        }
        Ok(slf)
    }

    /// The seconds the block took, or `None` before it ended.
    #[getter]
    fn duration(&self) -> Option<f64> {
        let bits = self.duration.load(Ordering::Relaxed);
        (bits != u64::MAX).then(|| f64::from_bits(bits))
    }

    #[pyo3(signature = (exc_type = None, _exc = None, _tb = None))]
    fn __exit__(
        &self,
        exc_type: Option<&Bound<'_, PyAny>>,
        _exc: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let Some(action) = self.action.get() else {
            self.finish();
            return Err(PyValueError::new_err(
                "the timed metric is missing label values: call labels(...) on the timer inside the block",
            ));
        };
        match action {
            Action::Histogram(h, _) => {
                let _ = h.observe(self.finish());
            }
            Action::Summary(s, _) => {
                let _ = s.observe(self.finish());
            }
            Action::SetGauge(g) => g.set(self.finish()),
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
        let action = OnceLock::new();
        if let Some(a) = self.action.get() {
            let _ = action.set(a.clone_ref(py));
        }
        Tracker::with(action, self.parent.as_ref().map(|p| p.clone_ref(py)))
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
        let what = match self.action.get() {
            Some(Action::Histogram(_, n) | Action::Summary(_, n)) => format!("timer of {n:?}"),
            Some(Action::SetGauge(_)) => "gauge timer".into(),
            Some(Action::InProgress(_)) => "in-progress tracker".into(),
            Some(Action::Exceptions(..)) => "exception counter".into(),
            None => "timer waiting for labels(...)".into(),
        };
        format!("<metricore {what}>")
    }
}
