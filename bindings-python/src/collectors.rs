//! Custom collectors: the metric families a Python `collect()` yields, rendered by
//! core's rules for external families; and families (exposition text read by core's
//! parser, or a registry's families collected as data) made into Python objects.

use metricore::expose::{parse, render_external, ExternalFamily, ExternalSample, ParsedFamily};
use metricore::names::Escaping;
use metricore::{Format, Numbers};
use pyo3::exceptions::PyAttributeError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFloat, PyString, PyTuple};

use crate::errors::to_py;

/// A sample as read from Python: name, labels, value, time.
type Owned = (String, Vec<(String, String)>, f64, Option<f64>);

/// Calls `collector.collect()` and renders every family it yields into `out`, values
/// written as `prometheus_client` writes them and names as `escaping` says. An error
/// about a family carries the family as its last argument, as `prometheus_client`
/// raises it.
pub fn render(
    collector: &Bound<'_, PyAny>,
    format: Format,
    escaping: Escaping,
    out: &mut String,
) -> PyResult<()> {
    for family in collector.call_method0("collect")?.try_iter()? {
        let family = family?;
        if let Err(e) = render_family(&family, format, escaping, out) {
            let py = family.py();
            let err = e.value(py);
            let args = err.getattr("args")?.cast_into::<PyTuple>()?;
            let mut with: Vec<Bound<'_, PyAny>> = args.iter().collect();
            if with.is_empty() {
                with.push(PyString::new(py, "").into_any());
            }
            with.push(family);
            err.setattr("args", PyTuple::new(py, with)?)?;
            return Err(e);
        }
    }
    Ok(())
}

/// Renders one family: an object with `name`, `documentation`, `type`, `unit` and
/// `samples` (each a `(name, labels, value, ...)` sequence), as `prometheus_client`'s
/// `Metric` has them.
fn render_family(
    family: &Bound<'_, PyAny>,
    format: Format,
    escaping: Escaping,
    out: &mut String,
) -> PyResult<()> {
    let name: String = family.getattr("name")?.extract()?;
    let help: String = family.getattr("documentation")?.extract()?;
    let kind: String = family.getattr("type")?.extract()?;
    let unit: String = match family.getattr_opt("unit")? {
        Some(u) if !u.is_none() => u.extract()?,
        _ => String::new(),
    };
    let py_float = family.py().get_type::<PyFloat>();
    let mut owned: Vec<Owned> = Vec::new();
    for sample in family.getattr("samples")?.try_iter()? {
        let sample = sample?;
        let sname: String = sample.get_item(0)?.extract()?;
        // The text format has no `_created` samples; OpenMetrics does.
        if format == Format::Prometheus && sname.ends_with("_created") {
            continue;
        }
        let labels = sample.get_item(1)?;
        let labels = labels.cast::<PyDict>()?;
        let mut pairs = Vec::with_capacity(labels.len());
        for (k, v) in labels.iter() {
            let k = k.extract::<String>()?;
            // As `prometheus_client` fails on it (a bucket bound of None).
            if v.is_none() {
                return Err(PyAttributeError::new_err(format!(
                    "sample {sname:?}: label {k:?} has the value None, not a string"
                )));
            }
            pairs.push((k, v.str()?.to_str()?.to_owned()));
        }
        // As `float(value)`: `ValueError` for a string that is no number, `TypeError`
        // for what is none.
        let value = sample.get_item(2)?;
        let value: f64 = match value.cast::<PyFloat>() {
            Ok(f) => f.value(),
            Err(_) => py_float.call1((value,))?.extract()?,
        };
        // A time: seconds as a number, or a `Timestamp` (which converts with `float()`).
        let timestamp = match sample.get_item(3) {
            Ok(t) if !t.is_none() => Some(py_float.call1((t,))?.extract::<f64>()?),
            _ => None,
        };
        owned.push((sname, pairs, value, timestamp));
    }
    let label_refs: Vec<Vec<(&str, &str)>> = owned
        .iter()
        .map(|(_, l, _, _)| l.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect())
        .collect();
    let samples: Vec<ExternalSample<'_>> = owned
        .iter()
        .zip(&label_refs)
        .map(|((n, _, v, t), labels)| ExternalSample {
            name: n,
            labels,
            value: *v,
            timestamp: *t,
        })
        .collect();
    let family = ExternalFamily {
        name: &name,
        help: &help,
        unit: &unit,
        kind: &kind,
        samples: &samples,
    };
    render_external(format, Numbers::Python, escaping, &family, out).map_err(to_py)
}

/// Reads exposition text (OpenMetrics with `openmetrics`, else Prometheus text) by
/// core's parser into `metricore.metrics_core.Metric` objects with their samples (and
/// their exemplars, as `metricore.samples.Exemplar`).
#[pyfunction]
pub fn _parse(py: Python<'_>, text: &str, openmetrics: bool) -> PyResult<Vec<Py<PyAny>>> {
    let format = if openmetrics {
        Format::OpenMetrics
    } else {
        Format::Prometheus
    };
    let families = py.detach(|| parse(text, format)).map_err(to_py)?;
    to_metrics(py, families)
}

/// Reads `prometheus_client`'s per-process files and merges them as its
/// `MultiProcessCollector.merge` does (`metricore::pcfiles::merge`), into
/// `metricore.metrics_core.Metric` objects.
#[pyfunction]
pub fn _merge_files(
    py: Python<'_>,
    files: Vec<std::path::PathBuf>,
    accumulate: bool,
) -> PyResult<Vec<Py<PyAny>>> {
    let families = py
        .detach(|| metricore::pcfiles::merge(&files, accumulate))
        .map_err(to_py)?;
    to_metrics(py, families)
}

/// Builds `metricore.metrics_core.Metric` objects with their samples (and exemplars,
/// as `metricore.samples.Exemplar`) from `families`. The samples and exemplars are
/// made by `tuple.__new__` with every field given, as the named tuples' own
/// constructors would make them, without running their Python code.
pub fn to_metrics(py: Python<'_>, families: Vec<ParsedFamily>) -> PyResult<Vec<Py<PyAny>>> {
    let metric = py.import("metricore.metrics_core")?.getattr("Metric")?;
    let samples_mod = py.import("metricore.samples")?;
    let (sample, exemplar) = (
        samples_mod.getattr("Sample")?,
        samples_mod.getattr("Exemplar")?,
    );
    let new = py.get_type::<PyTuple>().getattr(intern!(py, "__new__"))?;
    let mut out = Vec::with_capacity(families.len());
    for f in families {
        let m = metric.call1((f.name, f.help, f.kind, f.unit))?;
        let mut samples = Vec::with_capacity(f.samples.len());
        for s in f.samples {
            let labels = PyDict::new(py);
            for (k, v) in s.labels {
                labels.set_item(k, v)?;
            }
            let ex = match s.exemplar {
                Some(e) => {
                    let labels = PyDict::new(py);
                    for (k, v) in e.labels {
                        labels.set_item(k, v)?;
                    }
                    new.call1((&exemplar, (labels, e.value, e.timestamp)))?
                }
                None => py.None().into_bound(py),
            };
            // name, labels, value, timestamp, exemplar, native_histogram
            let fields = (s.name, labels, s.value, s.timestamp, ex, py.None());
            samples.push(new.call1((&sample, fields))?);
        }
        m.setattr("samples", samples)?;
        out.push(m.unbind());
    }
    Ok(out)
}
