//! Maps core errors onto the exceptions `prometheus_client` raises.

use metricore::Error;
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::PyErr;

/// The Python exception for a core error: `OSError` (with errno and filename) for
/// anything about a shared file, `RuntimeError` for a full registry,
/// `DuplicateTimeseries` (a `ValueError`) for a family whose name or sample names
/// another one has, `ValueError` for other bad input.
pub fn to_py(e: Error) -> PyErr {
    match e {
        Error::DuplicateSeries { .. } | Error::Conflict { .. } => duplicate(e.to_string()),
        Error::Io { path, source } => {
            let errno = source.raw_os_error().unwrap_or(EINVAL);
            let text = source.to_string();
            let text = match text.find(" (os error") {
                Some(i) => text[..i].to_owned(),
                None => text,
            };
            PyOSError::new_err((errno, text, path.display().to_string()))
        }
        Error::NoSpace {
            ref path,
            ref source,
            ..
        } => os_error(source.raw_os_error().unwrap_or(0), &e, path),
        Error::Symlink(ref path) => os_error(ELOOP, &e, path),
        Error::Untrusted { ref path, .. } | Error::UnsafeDirectory { dir: ref path, .. } => {
            os_error(EACCES, &e, path)
        }
        Error::NotARegistry { ref path, .. }
        | Error::Version { ref path, .. }
        | Error::Corrupt { ref path, .. } => os_error(EINVAL, &e, path),
        Error::Listen { addr, ref source } => PyOSError::new_err((
            source.raw_os_error().unwrap_or(EINVAL),
            e.to_string(),
            addr.to_string(),
        )),
        Error::Runtime(_) | Error::Push { .. } => PyOSError::new_err(e.to_string()),
        Error::RegistryFull(_) => PyRuntimeError::new_err(e.to_string()),
        other => PyValueError::new_err(other.to_string()),
    }
}

/// Like [`to_py`], with the metric's name before messages that do not carry it.
pub fn for_metric(name: &str, e: Error) -> PyErr {
    match e {
        Error::InvalidIncrement(_) | Error::InvalidObservation(_) => {
            PyValueError::new_err(format!("metric {name:?}: {e}"))
        }
        other => to_py(other),
    }
}

/// `metricore.registry.DuplicateTimeseries(message)`.
pub fn duplicate(message: String) -> PyErr {
    Python::attach(|py| {
        match py
            .import("metricore.registry")
            .and_then(|m| m.getattr("DuplicateTimeseries"))
            .and_then(|class| class.call1((message,)))
        {
            Ok(err) => PyErr::from_value(err),
            Err(e) => e,
        }
    })
}

fn os_error(errno: i32, e: &Error, path: &std::path::Path) -> PyErr {
    PyOSError::new_err((errno, e.to_string(), path.display().to_string()))
}

/// Linux `EINVAL`: a file that exists but is not usable as a registry.
const EINVAL: i32 = 22;
/// Linux `EACCES`: a file or directory the options do not trust (`PermissionError`).
const EACCES: i32 = 13;
/// Linux `ELOOP`: the path is a symbolic link.
const ELOOP: i32 = 40;
