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
//! (see [`render_many`](crate::registry::render_many)) in the format the `Accept`
//! header asks for (protobuf, OpenMetrics 1.0.0, else Prometheus text 0.0.4; see
//! [`Format::from_accept`]), gzip-compressed when
//! `Accept-Encoding` allows it. `name[]` parameters of the query
//! (`/metrics?name[]=a&name[]=b`) restrict it to the families they select (see
//! [`Filter`]).
//! Other paths get `404`, other methods `405`.
//!
//! A [`WebConfig`] (the exporter-toolkit web configuration file, or built in code) adds
//! TLS, with client certificates if asked for, basic auth against bcrypt hashes (`401`
//! with `WWW-Authenticate: Basic` otherwise) and security headers; see
//! [`Server::start_with`].
//!
//! Slow or idle clients cannot keep a scrape waiting. Connections are accepted as soon
//! as they arrive, up to [`MAX_CONNECTIONS`] at once, each costing a task and its
//! buffers (a few kilobytes while it waits for a request); at the limit, or when the
//! process runs out of file descriptors, the oldest connection that is not serving a
//! request is closed to make room. A TLS handshake and a request head must arrive
//! within [`HEADER_READ_TIMEOUT`] of the connection (or of the previous response) and
//! fit in [`MAX_HEAD_BYTES`]; a read or write that makes no progress for [`IO_TIMEOUT`]
//! closes its connection.
//!
//! A scrape renders the registries while they are being written: rendering only loads
//! the cells, so it never waits for recording and recording never waits for it. Every
//! answer is rendered after its request arrived; requests that arrive while a rendering
//! is under way share the next one.

mod auth;
pub(crate) mod config;
mod conns;
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
use tokio::sync::{mpsc, oneshot};
use tokio_rustls::TlsAcceptor;

pub use config::{ClientAuth, ConfigError, TlsSettings, TlsVersion, WebConfig};

use crate::error::{Error, Result};
use crate::expose::{negotiate, Filter};
use crate::registry::Registry;
use auth::Auth;
use conns::Conns;
use renderer::Job;
use timed::Timed;

/// Connections served at once. At the limit, the oldest connection not serving a
/// request is closed for each new one.
pub const MAX_CONNECTIONS: usize = 4096;
/// Time a client has to complete its TLS handshake and send a request head, counted
/// from the moment its connection was accepted or its previous response sent: a
/// kept-alive connection that stays idle longer is closed (the scraper opens a new one).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Time a read or a write may wait without progress before the connection is closed:
/// a client that stops reading its response, or stops sending, is let go.
pub const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest request head accepted; larger ones are answered `431` and the connection
/// closed.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// A running `/metrics` endpoint. Dropping it (or [`Server::shutdown`]) stops it.
pub struct Server {
    addr: SocketAddr,
    tls: bool,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// What every connection task shares.
struct Shared {
    jobs: mpsc::UnboundedSender<Job>,
    auth: Option<Auth>,
    headers: Vec<(header::HeaderName, HeaderValue)>,
    conns: Arc<Conns>,
}

impl Server {
    /// Listens on `addr` (port 0 picks a free port) and serves `registries` over plain
    /// HTTP from a background thread. The address is bound before this returns, so an
    /// address in use is reported here, as [`Error::Listen`].
    pub fn start(registries: Vec<Registry>, addr: SocketAddr) -> Result<Server> {
        Server::start_with(registries, addr, WebConfig::default())
    }

    /// As [`Server::start`], with the TLS, basic auth and headers of `config`:
    ///
    /// ```no_run
    /// use metricore::http::{Server, WebConfig};
    /// let config = WebConfig::from_file("/etc/metricore/web.yml").unwrap();
    /// let server = Server::start_with(vec![metricore::Registry::new()],
    ///     "0.0.0.0:9464".parse().unwrap(), config).unwrap();
    /// ```
    pub fn start_with(
        registries: Vec<Registry>,
        addr: SocketAddr,
        config: WebConfig,
    ) -> Result<Server> {
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
        let tls = config.tls.clone().map(TlsAcceptor::from);
        let is_tls = tls.is_some();
        let shared = Arc::new(Shared {
            jobs,
            auth: (!config.users.is_empty()).then(|| Auth::new(config.users)),
            headers: config.headers,
            conns: Arc::new(Conns::default()),
        });
        let thread = std::thread::Builder::new()
            .name("metricore-http".into())
            .spawn(move || {
                runtime.block_on(serve(listener, shared, tls, stopped));
                // Dropping the runtime drops the connections and with them the last
                // senders of the render queue, which ends the render thread.
                drop(runtime);
                let _ = renderer.join();
            })
            .map_err(Error::Runtime)?;
        Ok(Server {
            addr: local,
            tls: is_tls,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https` when the server speaks TLS, `http` otherwise.
    pub fn scheme(&self) -> &'static str {
        if self.tls {
            "https"
        } else {
            "http"
        }
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
    shared: Arc<Shared>,
    tls: Option<TlsAcceptor>,
    mut stopped: oneshot::Receiver<()>,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    loop {
        let accepted = tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            // Out of file descriptors (or similar): make room by closing an idle
            // connection, and let its task run before accepting again.
            Err(_) => {
                if shared.conns.evict_idle() {
                    tokio::task::yield_now().await;
                } else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                continue;
            }
        };
        if shared.conns.len() >= MAX_CONNECTIONS && !shared.conns.evict_idle() {
            // Every connection is serving a request: this one waits no longer than
            // it takes to close it.
            continue;
        }
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(stream, shared.clone(), tls.clone()));
    }
}

/// One connection, from accept (and TLS handshake) to close; it ends early when the
/// accept loop evicts it.
async fn connection(stream: tokio::net::TcpStream, shared: Arc<Shared>, tls: Option<TlsAcceptor>) {
    let (id, evicted) = shared.conns.open();
    let work = async {
        match tls {
            None => http1(TokioIo::new(stream), &shared, id).await,
            Some(acceptor) => {
                let handshake =
                    tokio::time::timeout(HEADER_READ_TIMEOUT, acceptor.accept(stream)).await;
                // A failed handshake (no client certificate when one is required,
                // plain HTTP to the TLS port) has already been answered with an alert.
                if let Ok(Ok(stream)) = handshake {
                    http1(TokioIo::new(stream), &shared, id).await;
                }
            }
        }
    };
    tokio::select! {
        _ = evicted => {}
        () = work => {}
    }
    shared.conns.close(id);
}

async fn http1<I>(io: I, shared: &Arc<Shared>, id: u64)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service_shared = shared.clone();
    let service = hyper::service::service_fn(move |req| {
        let shared = service_shared.clone();
        async move {
            let _busy = shared.conns.busy(id);
            let mut response = respond(&shared, &req).await;
            for (name, value) in &shared.headers {
                response.headers_mut().insert(name.clone(), value.clone());
            }
            Ok::<_, Infallible>(response)
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_HEAD_BYTES)
        .serve_connection(Timed::new(io), service)
        .await;
}

async fn respond(shared: &Shared, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    if let Some(auth) = &shared.auth {
        let given = req.headers().get(header::AUTHORIZATION);
        if !auth.check(given.map(HeaderValue::as_bytes)).await {
            let mut r = plain(StatusCode::UNAUTHORIZED, "Unauthorized\n");
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic"));
            return r;
        }
    }
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
    let asked = negotiate(&joined(req.headers(), header::ACCEPT));
    let gzip = accepts_gzip(&joined(req.headers(), header::ACCEPT_ENCODING));
    let filter = Filter::from_query(req.uri().query().unwrap_or_default());
    let (reply, body) = oneshot::channel();
    let _ = shared.jobs.send(Job {
        format: asked.format,
        escaping: asked.escaping,
        filter,
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
        HeaderValue::from_static(asked.content_type),
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
pub fn accepts_gzip(accept_encoding: &str) -> bool {
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
