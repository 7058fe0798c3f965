//! `start_http_server`: core's `/metrics` endpoint, serving a registry from a thread
//! of its own, off the interpreter (it attaches only to run custom collectors).

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use metricore::http::{Server, TlsVersion, WebConfig};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;

use crate::errors::to_py;
use crate::registry::Registry;

/// Servers running, by id. They run until `shutdown()`, whether or not Python keeps
/// the object `start_http_server` returned.
static RUNNING: Mutex<Vec<(u64, Server)>> = Mutex::new(Vec::new());

fn running() -> std::sync::MutexGuard<'static, Vec<(u64, Server)>> {
    RUNNING.lock().unwrap_or_else(|e| e.into_inner())
}

/// The core's TLS version for the value of an `ssl.TLSVersion` (`MINIMUM_SUPPORTED`
/// and `MAXIMUM_SUPPORTED` are TLS 1.2 and 1.3, the versions the server offers).
fn tls_version(v: i64) -> PyResult<TlsVersion> {
    Ok(match v {
        0x0301 => TlsVersion::TLS10,
        0x0302 => TlsVersion::TLS11,
        0x0303 | -2 => TlsVersion::TLS12,
        0x0304 | -1 => TlsVersion::TLS13,
        _ => {
            return Err(PyValueError::new_err(format!(
                "{v} is no ssl.TLSVersion of TLS 1.0 to 1.3"
            )))
        }
    })
}

/// A running `/metrics` endpoint.
#[pyclass(frozen, module = "metricore")]
pub struct HttpServer {
    id: u64,
    addr: SocketAddr,
}

#[pymethods]
impl HttpServer {
    /// Serves `registry` on `addr:port` (port 0 picks a free one); over TLS when
    /// `certfile` and `keyfile` are given, with the client certificates of
    /// `prometheus_client`'s arguments (core's `WebConfig::from_cert_files` has the
    /// rule).
    #[staticmethod]
    /// `tls_min_version` and `tls_max_version` are `ssl.TLSVersion` values.
    #[pyo3(signature = (registry, addr, port, certfile=None, keyfile=None, client_cafile=None,
        client_capath=None, client_auth_required=false, tls_min_version=None, tls_max_version=None))]
    #[allow(clippy::too_many_arguments)]
    fn start(
        py: Python<'_>,
        registry: &Bound<'_, Registry>,
        addr: &str,
        port: u16,
        certfile: Option<std::path::PathBuf>,
        keyfile: Option<std::path::PathBuf>,
        client_cafile: Option<std::path::PathBuf>,
        client_capath: Option<std::path::PathBuf>,
        client_auth_required: bool,
        tls_min_version: Option<i64>,
        tls_max_version: Option<i64>,
    ) -> PyResult<HttpServer> {
        let min_version = tls_min_version.map(tls_version).transpose()?;
        let max_version = tls_max_version.map(tls_version).transpose()?;
        let config = py
            .detach(|| {
                WebConfig::from_cert_files(
                    certfile.as_deref(),
                    keyfile.as_deref(),
                    client_cafile.as_deref(),
                    client_capath.as_deref(),
                    client_auth_required,
                    min_version,
                    max_version,
                )
            })
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let host = addr.trim_start_matches('[').trim_end_matches(']');
        let target = (host, port)
            .to_socket_addrs()
            .map_err(|e| PyOSError::new_err(format!("cannot resolve {addr}:{port}: {e}")))?
            .next()
            .ok_or_else(|| PyOSError::new_err(format!("no address for {addr}:{port}")))?;
        registry.get().core_for("<http server>");
        let server = Server::start_with(registry.get().cores(py), target, config).map_err(to_py)?;
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        let addr = server.local_addr();
        running().push((id, server));
        Ok(HttpServer { id, addr })
    }

    /// `(host, port)` the server listens on.
    #[getter]
    fn server_address(&self) -> (String, u16) {
        (self.addr.ip().to_string(), self.addr.port())
    }

    /// The port the server listens on.
    #[getter]
    fn server_port(&self) -> u16 {
        self.addr.port()
    }

    /// Stops the server: no more connections, its thread joined.
    fn shutdown(&self, py: Python<'_>) {
        let server = {
            let mut all = running();
            all.iter()
                .position(|(id, _)| *id == self.id)
                .map(|i| all.remove(i).1)
        };
        // Joining waits for a scrape that may need the interpreter for collectors.
        py.detach(|| drop(server));
    }

    /// The same as `shutdown()` (for code written for `http.server`).
    fn server_close(&self, py: Python<'_>) {
        self.shutdown(py)
    }

    /// Whether the server is still running.
    fn is_alive(&self) -> bool {
        running().iter().any(|(id, _)| *id == self.id)
    }

    /// Waits until the server is shut down, or `timeout` seconds.
    #[pyo3(signature = (timeout = None))]
    fn join(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        let deadline = timeout.map(|t| Instant::now() + Duration::from_secs_f64(t.max(0.0)));
        while self.is_alive() {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                break;
            }
            py.detach(|| std::thread::sleep(Duration::from_millis(20)));
            py.check_signals()?;
        }
        Ok(())
    }

    fn __repr__(&self) -> String {
        format!("<metricore HTTP server on {}>", self.addr)
    }
}
