//! The metric classes: `Counter`, `Gauge`, `Histogram`, `Summary`, `Info`, `Enum`.
//!
//! One class per kind serves as the parent (the object the constructor returns) and
//! as the children `labels(...)` returns. Recording methods go straight to core
//! handles: no Python code and no lock on the way.

use std::cell::RefCell;
use std::sync::Arc;

use metricore::{
    CounterVec, GaugeMode, GaugeVec, HistogramVec, InfoVec, Kind, StateSetVec, SummaryVec,
};
use pyo3::exceptions::{PyException, PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::pyclass::boolean_struct::True;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyFloat, PyModule, PyTuple, PyType};
use pyo3::PyClass;

use crate::base::{clocked, Base, Define, Following};
use crate::errors::{for_metric, to_py};
use crate::registry::RegistryArg;
use crate::tracking::{Action, Tracker};

/// `v` as a float (a float, an int or anything with `__float__`); a `TypeError` naming
/// the metric otherwise.
#[inline(always)]
fn number(base: &Base, v: &Bound<'_, PyAny>) -> PyResult<f64> {
    if let Ok(f) = v.cast::<PyFloat>() {
        return Ok(f.value());
    }
    other_number(base, v)
}

/// [`number`] for what is not a `float`.
#[cold]
#[inline(never)]
fn other_number(base: &Base, v: &Bound<'_, PyAny>) -> PyResult<f64> {
    v.extract::<f64>().map_err(|_| {
        let t = v.get_type().name().map_or("?".into(), |t| t.to_string());
        PyTypeError::new_err(format!(
            "{} {:?}: expected a number, got {t}",
            base.kind, base.name
        ))
    })
}

/// An exemplar's labels (a dict, or `None`), checked by core's rules with the label
/// names `metricore.validation` chose. `None` when there is none, or when its names
/// pass that check but are outside the legacy set the exposition writes: such an
/// exemplar is checked and not stored.
#[cold]
fn exemplar_labels(exemplar: &Bound<'_, PyAny>) -> PyResult<Option<Vec<(String, String)>>> {
    if exemplar.is_none() {
        return Ok(None);
    }
    let py = exemplar.py();
    static VALIDATION: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    let validation =
        VALIDATION.get_or_try_init(py, || py.import("metricore.validation").map(Bound::unbind))?;
    let legacy: bool = validation
        .bind(py)
        .getattr(intern!(py, "_legacy"))?
        .extract()?;
    let dict = exemplar.cast::<PyDict>()?;
    let mut owned = Vec::with_capacity(dict.len());
    for (k, v) in dict.iter() {
        owned.push((k.str()?.to_str()?.to_owned(), v.str()?.to_str()?.to_owned()));
    }
    let pairs = as_pairs(&owned);
    metricore::names::check_exemplar(&pairs, legacy).map_err(to_py)?;
    let stored = legacy || metricore::names::check_exemplar(&pairs, true).is_ok();
    Ok(stored.then_some(owned))
}

/// An exemplar argument as [`exemplar_labels`] read it, if one was given.
type Labels = Option<PyResult<Option<Vec<(String, String)>>>>;

/// Adds `amount` to `c` with the exemplar `labels`: a refused exemplar is reported
/// after the add.
fn inc_with(base: &Base, c: &metricore::Counter, amount: f64, labels: Labels) -> PyResult<()> {
    let fail = |e| for_metric(&base.name, e);
    match labels.transpose() {
        Ok(Some(Some(l))) => c
            .inc_by_f64_with_exemplar(amount, &as_pairs(&l))
            .map_err(fail),
        Ok(_) => c.inc_by_f64(amount).map_err(fail),
        Err(e) => {
            c.inc_by_f64(amount).map_err(fail)?;
            Err(e)
        }
    }
}

fn as_pairs(owned: &[(String, String)]) -> Vec<(&str, &str)> {
    owned
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// What the common methods need from each metric class.
trait Metric: Sized {
    fn base(&self) -> &Arc<Base>;
    fn values(&self) -> Option<&[String]>;
    fn child(&self, values: &[&str]) -> metricore::Result<Self>;
    /// The family's kind, where its options matter to a subclass's children.
    fn kind(&self) -> Option<&Kind>;
    fn remove_series(&self, values: &[&str]) -> PyResult<bool>;
    fn remove_matching(&self, labels: &[(&str, &str)]) -> PyResult<u64>;
    fn clear_series(&self);
}

thread_local! {
    /// The metric whose subclass `labels(...)` is calling to make a child.
    static PARENT: RefCell<Option<Py<PyAny>>> = const { RefCell::new(None) };
}

/// The child of `parent` (an instance of a subclass `class` of a metric class) for
/// `values`, made as `prometheus_client` makes it: by calling the subclass with the
/// parent's definition (of kind `kind`) and `_labelvalues`, so that its `__init__`
/// runs for the child.
#[cold]
#[inline(never)]
fn subclass_child<'py>(
    parent: &Bound<'py, PyAny>,
    class: &Bound<'py, PyType>,
    base: &Base,
    kind: Option<&Kind>,
    values: &[&str],
) -> PyResult<Bound<'py, PyAny>> {
    let py = parent.py();
    let kwargs = PyDict::new(py);
    match kind {
        Some(Kind::Histogram(bounds)) => kwargs.set_item("buckets", bounds.clone())?,
        Some(Kind::StateSet(states)) => kwargs.set_item("states", states.clone())?,
        Some(Kind::Gauge(mode)) => kwargs.set_item("multiprocess_mode", mode.name())?,
        _ => {}
    }
    kwargs.set_item("documentation", &base.documentation)?;
    kwargs.set_item("labelnames", PyTuple::new(py, &base.labelnames)?)?;
    kwargs.set_item("namespace", &base.given[1])?;
    kwargs.set_item("subsystem", &base.given[2])?;
    kwargs.set_item("unit", &base.unit)?;
    kwargs.set_item("_labelvalues", PyTuple::new(py, values)?)?;
    let outer = PARENT.replace(Some(parent.clone().unbind()));
    let child = class.call((&base.given[0],), Some(&kwargs));
    PARENT.set(outer);
    child
}

/// For a constructor given `_labelvalues`: the child of the metric whose subclass
/// `labels(...)` is calling (see `subclass_child`).
fn adopt<T>(py: Python<'_>, labelvalues: &Bound<'_, PyAny>) -> PyResult<T>
where
    T: Metric + PyClass<Frozen = True> + Sync,
{
    let parent = PARENT
        .with_borrow(|p| p.as_ref().map(|p| p.clone_ref(py)))
        .ok_or_else(|| PyValueError::new_err("_labelvalues is given by labels(...) only"))?;
    let parent = parent.bind(py).cast::<T>()?;
    let values: Vec<String> = labelvalues.extract()?;
    let refs: Vec<&str> = values.iter().map(String::as_str).collect();
    parent.get().child(&refs).map_err(to_py)
}

/// The methods every metric class has, plus the class's own.
macro_rules! metric_methods {
    ($ty:ident { $($own:tt)* }) => {
        #[pymethods]
        impl $ty {
            /// The child for these label values, by position or by name.
            #[pyo3(signature = (*args, **kwargs))]
            fn labels<'py>(
                slf: &Bound<'py, Self>,
                args: &Bound<'py, PyTuple>,
                kwargs: Option<&Bound<'py, PyDict>>,
            ) -> PyResult<Bound<'py, PyAny>> {
                let m = slf.get();
                if let Some(v) = m.values() {
                    return Err(PyValueError::new_err(format!(
                        "metric {:?} already has label values {:?}; labels() cannot be chained",
                        m.base().name, v
                    )));
                }
                let py = slf.py();
                m.base().labels(py, args, kwargs, |values| {
                    let class = slf.get_type();
                    if !class.is(&py.get_type::<$ty>()) {
                        return subclass_child(slf.as_any(), &class, m.base(), m.kind(), values);
                    }
                    let child = m.child(values).map_err(to_py)?;
                    Ok(Bound::new(py, child)?.into_any())
                })
            }

            /// Removes the series with these label values.
            #[pyo3(signature = (*values))]
            fn remove(&self, py: Python<'_>, values: &Bound<'_, PyTuple>) -> PyResult<()> {
                let owned = self.base().remove_values(values)?;
                let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
                self.remove_series(&refs)?;
                self.base().forget_children(py);
                Ok(())
            }

            /// Removes every series whose labels have all of these values (a dict of
            /// label name to value); an empty dict removes nothing.
            fn remove_by_labels(&self, py: Python<'_>, labels: &Bound<'_, PyDict>) -> PyResult<()> {
                let mut owned = Vec::with_capacity(labels.len());
                for (k, v) in labels.iter() {
                    owned.push((k.str()?.to_str()?.to_owned(), v.str()?.to_str()?.to_owned()));
                }
                let pairs: Vec<(&str, &str)> =
                    owned.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                self.remove_matching(&pairs)?;
                self.base().forget_children(py);
                Ok(())
            }

            /// Removes every series of a family with label names (a metric without
            /// labels keeps its one series, as in `prometheus_client`).
            fn clear(&self, py: Python<'_>) {
                if !self.base().labelnames.is_empty() {
                    self.clear_series();
                    self.base().forget_children(py);
                }
            }

            /// Removes every series, the one of a metric without labels too (what
            /// `unregister` does; recording on this object is then not shown).
            fn _discard(&self, py: Python<'_>) {
                self.clear_series();
                self.base().forget_children(py);
            }

            /// The family name (for counters without `_total`).
            #[getter]
            fn _name(&self) -> &str {
                &self.base().name
            }

            /// The help text.
            #[getter]
            fn _documentation(&self) -> &str {
                &self.base().documentation
            }

            /// The label names.
            #[getter]
            fn _labelnames(&self) -> Vec<String> {
                self.base().labelnames.clone()
            }

            /// This child's label values (`None` for a parent).
            #[getter]
            fn _labelvalues(&self) -> Option<Vec<String>> {
                self.values().map(<[String]>::to_vec)
            }

            /// The metric type, as `prometheus_client` names it.
            #[getter]
            fn _type(&self) -> &'static str {
                self.base().kind
            }

            /// The unit, or an empty string.
            #[getter]
            fn _unit(&self) -> &str {
                &self.base().unit
            }

            /// The registry object the metric is in.
            #[getter]
            fn _registry(&self, py: Python<'_>) -> Py<PyAny> {
                self.base().registry.clone_ref(py).into_any()
            }

            /// The family as metric families with samples, like `prometheus_client`.
            fn collect(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
                let f = py.import("metricore.registry")?.getattr("_collect_family")?;
                Ok(f.call1((self.base().registry.clone_ref(py), &self.base().name))?.unbind())
            }

            /// The family without samples.
            fn describe(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
                let f = py.import("metricore.registry")?.getattr("_describe_family")?;
                Ok(f.call1((self.base().registry.clone_ref(py), &self.base().name))?.unbind())
            }

            /// Does nothing: the metric is made by the constructor (`__new__`). It takes
            /// the constructor's arguments, so that a subclass's `__init__` can call
            /// `super().__init__(...)` with them.
            #[pyo3(signature = (*_args, **_kwargs))]
            fn __init__(&self, _args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyDict>>) {}

            /// `MODULE.CLASS(NAME)`, with the module and name of the object's class (the
            /// form `prometheus_client` gives, so logs and snapshots read the same).
            fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
                let class = slf.get_type();
                Ok(format!(
                    "{}.{}({})",
                    class.module()?,
                    class.name()?,
                    slf.get().base().name
                ))
            }

            $($own)*
        }
    };
}

/// The parts a metric class holds: the family, its series handle (for a metric without
/// labels, or a child) and a child's label values.
macro_rules! metric_struct {
    ($(#[$doc:meta])* $ty:ident, $pyname:literal, $vec:ty, $handle:ty) => {
        $(#[$doc])*
        #[pyclass(frozen, subclass, module = "metricore", name = $pyname)]
        pub struct $ty {
            base: Arc<Base>,
            vec: $vec,
            one: Option<Following<$handle>>,
            values: Option<Box<[String]>>,
        }

        impl Metric for $ty {
            fn base(&self) -> &Arc<Base> {
                &self.base
            }
            fn values(&self) -> Option<&[String]> {
                self.values.as_deref()
            }
            fn kind(&self) -> Option<&Kind> {
                Some(&self.vec.family().spec().kind)
            }

            fn child(&self, values: &[&str]) -> metricore::Result<Self> {
                Ok($ty {
                    base: self.base.clone(),
                    vec: self.vec.clone(),
                    one: Some(Following::new(
                        self.vec.with_labels(values)?,
                        self.base.generation(),
                    )),
                    values: Some(values.iter().map(|v| v.to_string()).collect()),
                })
            }
            fn remove_series(&self, values: &[&str]) -> PyResult<bool> {
                self.vec.remove(values).map_err(to_py)
            }
            fn remove_matching(&self, labels: &[(&str, &str)]) -> PyResult<u64> {
                self.vec.remove_matching(labels).map_err(to_py)
            }
            fn clear_series(&self) {
                self.vec.clear()
            }
        }

        impl $ty {
            fn from_family(base: Arc<Base>, family: metricore::Family) -> PyResult<$ty> {
                let vec: $vec = family.try_into().map_err(to_py)?;
                let one = if base.labelnames.is_empty() {
                    let generation = base.generation();
                    Some(Following::new(vec.with_labels(&[]).map_err(to_py)?, generation))
                } else {
                    None
                };
                Ok($ty { base, vec, one, values: None })
            }

            /// The series handle (resolved again after the registry moved to another
            /// file), or the error for a parent with label names.
            #[inline(always)]
            fn series(&self) -> PyResult<&$handle> {
                let one = self.one.as_ref().ok_or_else(|| self.base.missing_values())?;
                Ok(one.get(self.base.generation(), || {
                    let values = self.values.as_deref().unwrap_or(&[]);
                    let values: Vec<&str> = values.iter().map(String::as_str).collect();
                    clocked(|| self.vec.with_labels(&values).ok())
                }))
            }
        }
    };
}

metric_struct!(
    /// A counter: goes only up.
    Counter, "Counter", CounterVec, metricore::Counter
);
metric_struct!(
    /// A gauge: goes up and down, or is set.
    Gauge, "Gauge", GaugeVec, metricore::Gauge
);
metric_struct!(
    /// A histogram: counts observations into fixed buckets.
    Histogram, "Histogram", HistogramVec, metricore::Histogram
);
metric_struct!(
    /// A summary: counts and sums observations.
    Summary, "Summary", SummaryVec, metricore::Summary
);
metric_struct!(
    /// An enum: which one of a fixed list of states is current.
    StateEnum, "Enum", StateSetVec, metricore::StateSet
);

/// The constructor arguments every kind shares, as a `Define`.
macro_rules! define {
    ($name:expr, $doc:expr, $labels:expr, $ns:expr, $sub:expr, $unit:expr, $reg:expr, $expire:expr) => {
        Define {
            expire_after: $expire,
            name: $name,
            documentation: $doc,
            labelnames: $labels,
            namespace: $ns,
            subsystem: $sub,
            unit: $unit,
            registry: $reg,
        }
    };
}

metric_methods!(Counter {
    #[new]
    #[pyo3(signature = (name, documentation, labelnames = None, namespace = "", subsystem = "",
                        unit = "", registry = RegistryArg::Default, _labelvalues = None, *, expire_after = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        name: &str,
        documentation: &str,
        labelnames: Option<&Bound<'_, PyAny>>,
        namespace: &str,
        subsystem: &str,
        unit: &str,
        registry: RegistryArg,
        _labelvalues: Option<&Bound<'_, PyAny>>,
        expire_after: Option<f64>,
    ) -> PyResult<Self> {
        if let Some(values) = _labelvalues {
            return adopt(py, values);
        }
        let def = define!(name, documentation, labelnames, namespace, subsystem, unit, registry, expire_after);
        let (base, family) = Base::register(py, def, "counter", |_| Ok(Kind::Counter))?;
        Counter::from_family(base, family)
    }

    /// Adds `amount` (default 1), which must not be negative. `exemplar` (labels, at
    /// most 128 characters) becomes the series' exemplar, with `amount` and the time
    /// now; a refused exemplar raises `ValueError` after the amount is added.
    #[pyo3(signature = (amount = None, exemplar = None))]
    fn inc(
        &self,
        amount: Option<&Bound<'_, PyAny>>,
        exemplar: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let c = self.series()?;
        let labels = exemplar.map(exemplar_labels);
        let Some(amount) = amount else {
            if labels.is_none() {
                c.inc();
                return Ok(());
            }
            return inc_with(&self.base, c, 1.0, labels);
        };
        // Negative and non-finite amounts are refused (and counted) by the core.
        let amount = number(&self.base, amount)?;
        inc_with(&self.base, c, amount, labels)
    }

    /// Sets the count back to 0 and `_created` to now (a logical process that starts
    /// again without restarting the Python process).
    fn reset(&self) -> PyResult<()> {
        let c = self.series()?;
        clocked(|| c.reset());
        Ok(())
    }

    /// Counts exceptions of type `exception` (default `Exception`; a tuple of types
    /// works too) leaving the decorated function or `with` block.
    #[pyo3(signature = (exception = None))]
    fn count_exceptions(
        &self,
        py: Python<'_>,
        exception: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Tracker> {
        let types = match exception {
            Some(e) => e.unbind(),
            None => py.get_type::<PyException>().into_any().unbind(),
        };
        Ok(Tracker::new(Action::Exceptions(self.series()?.clone(), types)))
    }

    /// The current value.
    #[getter]
    fn _value(&self) -> PyResult<ValueView> {
        Ok(ValueView(Read::Counter(self.series()?.clone())))
    }
});

metric_methods!(Gauge {
    #[new]
    #[pyo3(signature = (name, documentation, labelnames = None, namespace = "", subsystem = "",
                        unit = "", registry = RegistryArg::Default, multiprocess_mode = "all", _labelvalues = None, *, expire_after = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        name: &str,
        documentation: &str,
        labelnames: Option<&Bound<'_, PyAny>>,
        namespace: &str,
        subsystem: &str,
        unit: &str,
        registry: RegistryArg,
        multiprocess_mode: &str,
        _labelvalues: Option<&Bound<'_, PyAny>>,
        expire_after: Option<f64>,
    ) -> PyResult<Self> {
        if let Some(values) = _labelvalues {
            return adopt(py, values);
        }
        let def = define!(name, documentation, labelnames, namespace, subsystem, unit, registry, expire_after);
        let (base, family) = Base::register(py, def, "gauge", |shared| {
            let mode = GaugeMode::from_name(multiprocess_mode).map_err(to_py)?;
            // In one process every mode is one value, as with prometheus_client.
            Ok(Kind::Gauge(if shared { mode } else { GaugeMode::Shared }))
        })?;
        Gauge::from_family(base, family)
    }

    /// Adds `amount` (default 1).
    #[pyo3(signature = (amount = None))]
    fn inc(&self, amount: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let g = self.series()?;
        match amount {
            None => g.inc(),
            Some(a) => g.add(number(&self.base, a)?),
        }
        Ok(())
    }

    /// Subtracts `amount` (default 1).
    #[pyo3(signature = (amount = None))]
    fn dec(&self, amount: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let g = self.series()?;
        match amount {
            None => g.dec(),
            Some(a) => g.sub(number(&self.base, a)?),
        }
        Ok(())
    }

    /// Sets the value.
    fn set(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let v = number(&self.base, value)?;
        self.series()?.set(v);
        Ok(())
    }

    /// Sets the value to the current Unix time.
    fn set_to_current_time(&self) -> PyResult<()> {
        self.series()?.set_to_current_time();
        Ok(())
    }

    /// Raises the gauge while the decorated function or `with` block runs.
    fn track_inprogress(&self) -> PyResult<Tracker> {
        Ok(Tracker::new(Action::InProgress(self.series()?.clone())))
    }

    /// Sets the gauge to the seconds the decorated function or `with` block took; on
    /// a gauge with labels, the child that `labels(...)` on the timer picks.
    fn time(slf: &Bound<'_, Self>) -> PyResult<Tracker> {
        let m = slf.get();
        if m.one.is_none() {
            return Ok(Tracker::pending(slf.clone().into_any().unbind()));
        }
        Ok(Tracker::new(Action::SetGauge(m.series()?.clone())))
    }

    /// Has `f()` give the value at each collection.
    fn set_function(slf: &Bound<'_, Self>, f: Bound<'_, PyAny>) -> PyResult<()> {
        let m = slf.get();
        let gauge = m.series()?.clone();
        m.base
            .registry
            .get()
            .set_function(slf.clone().into_any().unbind(), f.unbind(), gauge);
        Ok(())
    }

    /// The current value.
    #[getter]
    fn _value(&self) -> PyResult<ValueView> {
        Ok(ValueView(Read::Gauge(self.series()?.clone())))
    }
});

/// The default buckets of `prometheus_client`, `+Inf` included.
fn default_buckets() -> Vec<f64> {
    let mut b = metricore::buckets::DEFAULT_BUCKETS.to_vec();
    b.push(f64::INFINITY);
    b
}

metric_methods!(Histogram {
    #[new]
    /// With `native_schema` (-4 to 8), a native histogram (core's `buckets::Native`:
    /// `native_zero_threshold`, `native_max_buckets` per sign), with `buckets` as
    /// classic buckets alongside when given.
    #[pyo3(signature = (name, documentation, labelnames = None, namespace = "", subsystem = "",
                        unit = "", registry = RegistryArg::Default, buckets = None,
                        native_schema = None, native_zero_threshold = None,
                        native_max_buckets = None, _labelvalues = None, *, expire_after = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        name: &str,
        documentation: &str,
        labelnames: Option<&Bound<'_, PyAny>>,
        namespace: &str,
        subsystem: &str,
        unit: &str,
        registry: RegistryArg,
        buckets: Option<Vec<f64>>,
        native_schema: Option<i8>,
        native_zero_threshold: Option<f64>,
        native_max_buckets: Option<u16>,
        _labelvalues: Option<&Bound<'_, PyAny>>,
        expire_after: Option<f64>,
    ) -> PyResult<Self> {
        if let Some(values) = _labelvalues {
            return adopt(py, values);
        }
        let def = define!(name, documentation, labelnames, namespace, subsystem, unit, registry, expire_after);
        let kind = match native_schema {
            None => Kind::Histogram(buckets.unwrap_or_else(default_buckets)),
            Some(schema) => {
                let mut n = metricore::buckets::Native::with_schema(schema);
                if let Some(t) = native_zero_threshold {
                    n = n.zero_threshold(t);
                }
                if let Some(m) = native_max_buckets {
                    n = n.max_buckets(m);
                }
                let mut classic = buckets.unwrap_or_default();
                if classic.last() == Some(&f64::INFINITY) {
                    classic.pop();
                }
                Kind::NativeHistogram(n.classic(&classic))
            }
        };
        let (base, family) = Base::register(py, def, "histogram", |_| Ok(kind))?;
        Histogram::from_family(base, family)
    }

    /// The bucket bounds, `+Inf` last (a native histogram's classic ones; only `+Inf`
    /// without them).
    #[getter]
    fn _upper_bounds(&self) -> Vec<f64> {
        match &self.vec.family().spec().kind {
            Kind::Histogram(bounds) => bounds.iter().copied().chain([f64::INFINITY]).collect(),
            Kind::NativeHistogram(n) => n.classic.iter().copied().chain([f64::INFINITY]).collect(),
            _ => Vec::new(),
        }
    }

    /// The default bucket bounds, `+Inf` last.
    #[classattr]
    #[allow(non_snake_case)]
    fn DEFAULT_BUCKETS() -> Vec<f64> {
        default_buckets()
    }

    /// Records `amount`. `exemplar` (labels, at most 128 characters) becomes the
    /// exemplar of the bucket `amount` falls in, with `amount` and the time now; a
    /// refused exemplar raises `ValueError` after `amount` is recorded.
    #[pyo3(signature = (amount, exemplar = None))]
    fn observe(
        &self,
        amount: &Bound<'_, PyAny>,
        exemplar: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let v = number(&self.base, amount)?;
        let h = self.series()?;
        let fail = |e| for_metric(&self.base.name, e);
        match exemplar.map(exemplar_labels).transpose() {
            Ok(Some(Some(l))) => h.observe_with_exemplar(v, &as_pairs(&l)).map_err(fail),
            Ok(_) => h.observe(v).map_err(fail),
            Err(e) => {
                h.observe(v).map_err(fail)?;
                Err(e)
            }
        }
    }

    /// Observes the seconds the decorated function or `with` block took; on a metric
    /// with labels, into the child that `labels(...)` on the timer picks.
    fn time(slf: &Bound<'_, Self>) -> PyResult<Tracker> {
        let m = slf.get();
        if m.one.is_none() {
            return Ok(Tracker::pending(slf.clone().into_any().unbind()));
        }
        let name: Arc<str> = m.base.name.as_str().into();
        Ok(Tracker::new(Action::Histogram(m.series()?.clone(), name)))
    }
});

metric_methods!(Summary {
    #[new]
    #[pyo3(signature = (name, documentation, labelnames = None, namespace = "", subsystem = "",
                        unit = "", registry = RegistryArg::Default, _labelvalues = None, *, expire_after = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        name: &str,
        documentation: &str,
        labelnames: Option<&Bound<'_, PyAny>>,
        namespace: &str,
        subsystem: &str,
        unit: &str,
        registry: RegistryArg,
        _labelvalues: Option<&Bound<'_, PyAny>>,
        expire_after: Option<f64>,
    ) -> PyResult<Self> {
        if let Some(values) = _labelvalues {
            return adopt(py, values);
        }
        let def = define!(name, documentation, labelnames, namespace, subsystem, unit, registry, expire_after);
        let (base, family) = Base::register(py, def, "summary", |_| Ok(Kind::Summary))?;
        Summary::from_family(base, family)
    }

    /// Records `amount`.
    fn observe(&self, amount: &Bound<'_, PyAny>) -> PyResult<()> {
        let v = number(&self.base, amount)?;
        self.series()?
            .observe(v)
            .map_err(|e| for_metric(&self.base.name, e))
    }

    /// Observes the seconds the decorated function or `with` block took; on a metric
    /// with labels, into the child that `labels(...)` on the timer picks.
    fn time(slf: &Bound<'_, Self>) -> PyResult<Tracker> {
        let m = slf.get();
        if m.one.is_none() {
            return Ok(Tracker::pending(slf.clone().into_any().unbind()));
        }
        let name: Arc<str> = m.base.name.as_str().into();
        Ok(Tracker::new(Action::Summary(m.series()?.clone(), name)))
    }
});

metric_methods!(StateEnum {
    #[new]
    #[pyo3(signature = (name, documentation, labelnames = None, namespace = "", subsystem = "",
                        unit = "", registry = RegistryArg::Default, states = None, _labelvalues = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        name: &str,
        documentation: &str,
        labelnames: Option<&Bound<'_, PyAny>>,
        namespace: &str,
        subsystem: &str,
        unit: &str,
        registry: RegistryArg,
        states: Option<Vec<String>>,
        _labelvalues: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        if let Some(values) = _labelvalues {
            return adopt(py, values);
        }
        let def = define!(name, documentation, labelnames, namespace, subsystem, unit, registry, None);
        let states = states.unwrap_or_default();
        let (base, family) =
            Base::register(py, def, "stateset", |_| Ok(Kind::StateSet(states)))?;
        StateEnum::from_family(base, family)
    }

    /// Makes `state` the current state.
    fn state(&self, state: &str) -> PyResult<()> {
        self.series()?.set(state).map_err(to_py)
    }
});

/// An info metric: a set of labels with the value 1.
#[pyclass(frozen, subclass, module = "metricore", name = "Info")]
pub struct Info {
    base: Arc<Base>,
    vec: InfoVec,
    values: Option<Box<[String]>>,
}

impl Metric for Info {
    fn base(&self) -> &Arc<Base> {
        &self.base
    }
    fn values(&self) -> Option<&[String]> {
        self.values.as_deref()
    }
    fn kind(&self) -> Option<&Kind> {
        None
    }

    fn child(&self, values: &[&str]) -> metricore::Result<Self> {
        Ok(Info {
            base: self.base.clone(),
            vec: self.vec.clone(),
            values: Some(values.iter().map(|v| v.to_string()).collect()),
        })
    }
    fn remove_series(&self, values: &[&str]) -> PyResult<bool> {
        self.vec.remove(values).map_err(to_py)
    }
    fn remove_matching(&self, labels: &[(&str, &str)]) -> PyResult<u64> {
        self.vec.remove_matching(labels).map_err(to_py)
    }
    fn clear_series(&self) {
        self.vec.clear()
    }
}

metric_methods!(Info {
    #[new]
    #[pyo3(signature = (name, documentation, labelnames = None, namespace = "", subsystem = "",
                        unit = "", registry = RegistryArg::Default, _labelvalues = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        name: &str,
        documentation: &str,
        labelnames: Option<&Bound<'_, PyAny>>,
        namespace: &str,
        subsystem: &str,
        unit: &str,
        registry: RegistryArg,
        _labelvalues: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        if let Some(values) = _labelvalues {
            return adopt(py, values);
        }
        let def = define!(name, documentation, labelnames, namespace, subsystem, unit, registry, None);
        let (base, family) = Base::register(py, def, "info", |_| Ok(Kind::Info))?;
        let vec: InfoVec = family.try_into().map_err(to_py)?;
        if base.labelnames.is_empty() {
            vec.set(&[], &[]).map_err(to_py)?;
        }
        Ok(Info {
            base,
            vec,
            values: None,
        })
    }

    /// Replaces the info with the labels of the dict `val`.
    fn info(&self, val: &Bound<'_, PyDict>) -> PyResult<()> {
        if self.values.is_none() && !self.base.labelnames.is_empty() {
            return Err(self.base.missing_values());
        }
        let pairs = val
            .iter()
            .map(|(k, v)| {
                let k = k.extract::<String>()?;
                if v.is_none() {
                    return Err(PyValueError::new_err(format!(
                        "info {:?}: label {k:?} has the value None, not a string",
                        self.base.name
                    )));
                }
                Ok((k, v.extract::<String>()?))
            })
            .collect::<PyResult<Vec<_>>>()?;
        let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let values: Vec<&str> = self.values().unwrap_or(&[]).iter().map(String::as_str).collect();
        self.vec.set(&values, &refs).map_err(to_py)
    }
});

/// A series to read, for `_value.get()`.
enum Read {
    Counter(metricore::Counter),
    Gauge(metricore::Gauge),
}

/// The value of one series, as `prometheus_client`'s `_value` offers it to tests.
#[pyclass(frozen, module = "metricore")]
pub struct ValueView(Read);

#[pymethods]
impl ValueView {
    /// The current value.
    fn get(&self) -> f64 {
        match &self.0 {
            Read::Counter(c) => c.get(),
            Read::Gauge(g) => g.get(),
        }
    }
}
