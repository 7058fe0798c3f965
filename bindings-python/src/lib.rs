//! The native module `metricore._metricore`: metric classes whose recording methods go
//! straight to the Rust core, and the registry they live in. The Python package
//! `metricore` builds the `prometheus_client`-compatible API on it.

mod base;
mod collectors;
mod errors;
mod http;
mod metrics;
mod registry;
mod tracking;

use std::path::PathBuf;

use pyo3::prelude::*;

/// The format for a scraper's `Accept` header, by core's rules: its code for
/// `RegistryCore._render` (0 Prometheus text, 1 OpenMetrics, 2 protobuf), its content
/// type and the escaping scheme of its names.
#[pyfunction]
fn _negotiate(accept: &str) -> (u8, &'static str, &'static str) {
    let n = metricore::expose::negotiate(accept);
    (
        registry::format_code(n.format),
        n.content_type,
        n.escaping.name(),
    )
}

/// The names of the `name[]` parameters of a request's query string (percent-decoded),
/// or `None` when it has none and every family is to be rendered.
#[pyfunction]
fn _query_names(query: &str) -> Option<Vec<String>> {
    metricore::Filter::from_query(query)
        .given()
        .map(|names| names.map(str::to_owned).collect())
}

/// Whether an `Accept-Encoding` header allows gzip, by core's rules (`gzip;q=0` does
/// not).
#[pyfunction]
fn _accepts_gzip(accept_encoding: &str) -> bool {
    metricore::http::accepts_gzip(accept_encoding)
}

/// The Pushgateway URL of the group of `job` and `grouping`, by core's rules
/// (`host:port` is plain HTTP; values that need it base64url-encoded).
#[pyfunction]
fn _push_url(gateway: &str, job: &str, grouping: Vec<(String, String)>) -> PyResult<String> {
    let pairs: Vec<(&str, &str)> = grouping
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    metricore::push::url(gateway, job, &pairs).map_err(errors::to_py)
}

/// `name` (a label name with `label`) as the escaping scheme `escaping` writes it, by
/// core's rules; `None` for an unknown scheme.
#[pyfunction]
fn _escape_name(name: &str, label: bool, escaping: &str) -> Option<String> {
    use metricore::names::{escape_name, Escaping};
    Escaping::from_name(escaping).map(|e| escape_name(name, label, e))
}

/// The sample names a family `name` of type `type_name` claims in a registry, by
/// core's rule.
#[pyfunction]
fn _sample_names(name: &str, type_name: &str) -> Vec<String> {
    metricore::sample_names(name, type_name)
}

/// The `process_*` metrics of process `pid` (a number, or `self`) under the `/proc`
/// directory `proc`, by core's process collector: `(name, help, unit, type, value)`
/// each, the names with `process_` first.
#[pyfunction]
fn _process_readings(
    proc: PathBuf,
    pid: &str,
    ticks: f64,
    page_size: f64,
) -> Vec<(&'static str, &'static str, &'static str, &'static str, f64)> {
    metricore::process::read(&proc, pid, ticks, page_size)
        .into_iter()
        .map(|r| (r.name, r.help, r.unit, r.kind, r.value))
        .collect()
}

/// This system's clock ticks a second and page size in bytes (`None` if unknown).
#[pyfunction]
fn _process_units() -> (Option<f64>, Option<f64>) {
    (
        metricore::process::clock_ticks(),
        metricore::process::page_size(),
    )
}

#[pymodule]
fn _metricore(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<registry::Registry>()?;
    m.add_class::<metrics::Counter>()?;
    m.add_class::<metrics::Gauge>()?;
    m.add_class::<metrics::Histogram>()?;
    m.add_class::<metrics::Summary>()?;
    m.add_class::<metrics::Info>()?;
    m.add_class::<metrics::StateEnum>()?;
    m.add_class::<metrics::ValueView>()?;
    m.add_class::<tracking::Tracker>()?;
    m.add_class::<http::HttpServer>()?;
    m.add_function(wrap_pyfunction!(registry::_set_default_registry, m)?)?;
    m.add_function(wrap_pyfunction!(registry::_close_shared_files, m)?)?;
    m.add_function(wrap_pyfunction!(_negotiate, m)?)?;
    m.add_function(wrap_pyfunction!(base::_set_legacy_validation, m)?)?;
    m.add_function(wrap_pyfunction!(_query_names, m)?)?;
    m.add_function(wrap_pyfunction!(collectors::_parse, m)?)?;
    m.add_function(wrap_pyfunction!(collectors::_merge_files, m)?)?;
    m.add_function(wrap_pyfunction!(_accepts_gzip, m)?)?;
    m.add_function(wrap_pyfunction!(_push_url, m)?)?;
    m.add_function(wrap_pyfunction!(_escape_name, m)?)?;
    m.add_function(wrap_pyfunction!(_sample_names, m)?)?;
    m.add_function(wrap_pyfunction!(_process_readings, m)?)?;
    m.add_function(wrap_pyfunction!(_process_units, m)?)?;
    Ok(())
}
