//! The `/metrics` endpoint: hyper on a one-thread tokio runtime, on a thread of its own,
//! and a second thread that renders.
//!
//! ```no_run
//! let registry = metricore::Registry::new();
//! registry.counter("jobs", "Jobs done.").unwrap().inc();
//! let server = metricore::http::Server::start(vec![registry], "127.0.0.1:9464".parse().unwrap())
//!     .unwrap();
//! println!("scrape http://{}/metrics", server.local_addr());
//! // ... the server stops when `server` is dropped.
//! ```
//!
//! `GET` and `HEAD` of `/metrics` answer the exposition of every registry served, as one
//! (see [`render_many`](crate::registry::render_many)): OpenMetrics 1.0.0 when the
//! `Accept` header asks for it, Prometheus text 0.0.4 otherwise, gzip-compressed when
//! `Accept-Encoding` allows it.
//! Other paths get `404`, other methods `405`. Connections are kept alive; request heads
//! must arrive within [`HEADER_READ_TIMEOUT`] and fit in [`MAX_HEAD_BYTES`], a read or
//! write that makes no progress for [`IO_TIMEOUT`] closes its connection, and at most
//! [`MAX_CONNECTIONS`] connections are served at once (more wait to be accepted).
//!
//! A scrape renders the registries while they are being written: rendering only loads
//! the cells, so it never waits for recording and recording never waits for it. Every
//! answer is rendered after its request arrived; requests that arrive while a rendering
//! is under way share the next one.

mod renderer;
mod timed;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::error::{Error, Result};
use crate::expose::Format;
use crate::registry::Registry;
use renderer::Job;
use timed::Timed;

/// Connections served at once; further connections wait in the listen backlog.
pub const MAX_CONNECTIONS: usize = 256;
/// Time a client has to send a complete request head, counted from the moment its
/// connection was accepted or its previous response sent: a kept-alive connection that
/// stays idle longer is closed (the scraper opens a new one).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a read or a write may wait without progress before the connection is closed:
/// a client that stops reading its response, or stops sending, is let go.
pub const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest request head accepted; larger ones are answered `431` and the connection
/// closed.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// A running `/metrics` endpoint. Dropping it (or [`Server::shutdown`]) stops it.
pub struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Listens on `addr` (port 0 picks a free port) and serves `registries` from a
    /// background thread. The address is bound before this returns, so an address in
    /// use is reported here, as [`Error::Listen`].
    pub fn start(registries: Vec<Registry>, addr: SocketAddr) -> Result<Server> {
        let listener = std::net::TcpListener::bind(addr)
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|source| Error::Listen { addr, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| Error::Listen { addr, source })?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(Error::Runtime)?;
        let (stop, stopped) = oneshot::channel();
        let (jobs, renderer) = renderer::spawn(registries).map_err(Error::Runtime)?;
        let thread = std::thread::Builder::new()
            .name("metricore-http".into())
            .spawn(move || {
                runtime.block_on(serve(listener, jobs, stopped));
                // Dropping the runtime drops the connections and with them the last
                // senders of the render queue, which ends the render thread.
                drop(runtime);
                let _ = renderer.join();
            })
            .map_err(Error::Runtime)?;
        Ok(Server {
            addr: local,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, closes every connection and waits for the thread to end.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

/// The accept loop; returning drops the runtime and with it every connection.
async fn serve(
    listener: std::net::TcpListener,
    jobs: mpsc::UnboundedSender<Job>,
    mut stopped: oneshot::Receiver<()>,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            _ = &mut stopped => return,
            accepted = async {
                let permit = slots.clone().acquire_owned().await;
                (permit, listener.accept().await)
            } => accepted,
        };
        let (permit, stream) = match accepted {
            (Ok(permit), Ok((stream, _))) => (permit, stream),
            // Out of file descriptors or similar: give the system a moment.
            (_, Err(_)) | (Err(_), _) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let jobs = jobs.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let jobs = jobs.clone();
                async move { Ok::<_, Infallible>(respond(&jobs, &req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .max_buf_size(MAX_HEAD_BYTES)
                .serve_connection(Timed::new(TokioIo::new(stream)), service)
                .await;
            drop(permit);
        });
    }
}

async fn respond(
    jobs: &mpsc::UnboundedSender<Job>,
    req: &Request<Incoming>,
) -> Response<Full<Bytes>> {
    if req.uri().path() != "/metrics" {
        return plain(
            StatusCode::NOT_FOUND,
            "not found: metrics are at /metrics\n",
        );
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed: use GET or HEAD\n",
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let format = Format::from_accept(&joined(req.headers(), header::ACCEPT));
    let gzip = accepts_gzip(&joined(req.headers(), header::ACCEPT_ENCODING));
    let (reply, body) = oneshot::channel();
    let _ = jobs.send(Job {
        format,
        gzip,
        reply,
    });
    let Ok(body) = body.await else {
        return plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "the exposition could not be rendered\n",
        );
    };
    let mut r = Response::new(Full::new(body));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    h.insert(
        header::VARY,
        HeaderValue::from_static("Accept, Accept-Encoding"),
    );
    if gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    r
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// Every value of a header, joined by commas (as a list header may be split).
fn joined(headers: &HeaderMap, name: header::HeaderName) -> String {
    let values: Vec<&str> = headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    values.join(",")
}

/// Whether an `Accept-Encoding` value allows gzip: `gzip` (or `x-gzip`) with a
/// non-zero quality, or, when gzip is not named, `*` with a non-zero quality.
fn accepts_gzip(accept_encoding: &str) -> bool {
    let mut gzip = None;
    let mut any = None;
    for item in accept_encoding.split(',') {
        let mut parts = item.split(';').map(str::trim);
        let coding = parts.next().unwrap_or_default();
        let q = parts
            .find_map(|p| {
                let (k, v) = p.split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case("q")
                    .then(|| v.trim().parse::<f64>().unwrap_or(0.0))
            })
            .unwrap_or(1.0);
        if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
            gzip = Some(q);
        } else if coding == "*" {
            any = Some(q);
        }
    }
    gzip.or(any).is_some_and(|q| q > 0.0)
}

#[cfg(test)]
mod tests {
    use super::accepts_gzip;

    #[test]
    fn gzip_is_taken_only_when_allowed() {
        assert!(accepts_gzip("gzip"));
        assert!(accepts_gzip("deflate, gzip;q=0.5"));
        assert!(accepts_gzip("*"));
        assert!(accepts_gzip("X-GZIP"));
        assert!(!accepts_gzip(""));
        assert!(!accepts_gzip("identity"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("gzip;q=0, *"));
        assert!(!accepts_gzip("*;q=0"));
    }
}
