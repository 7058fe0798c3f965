//! The `/metrics` endpoint: a background HTTP server for one or more registries.

use std::net::SocketAddr;

use metricore::http::WebConfig;

use crate::raw::{self, Str};
use crate::registry::Registry;
use crate::status::{guard, Fail, Status};

/// A running HTTP server, owned by the caller until `metricore_http_stop`.
pub struct HttpServer(metricore::http::Server);

/// Starts serving `GET /metrics` on `addr` (such as `127.0.0.1:9464`; port 0 picks a
/// free port, see `metricore_http_port`) from a background thread, for the
/// `registries_len` registries at `registries`, rendered as one exposition: OpenMetrics
/// when the scraper's `Accept` header asks for it, Prometheus text otherwise, gzip when
/// it accepts that. The address is bound before this returns, so an address in use is
/// reported here (`METRICORE_STATUS_LISTEN`).
///
/// The server keeps what it serves alive: it goes on serving after the registries are
/// closed or freed, until `metricore_http_stop`. On success `*out` is the server, owned
/// by the caller.
///
/// # Safety
///
/// - `registries` is a valid array of `registries_len` pointers, each NULL or a live
///   registry object.
/// - `addr` is a valid string.
/// - `out` is NULL or points to writable memory for one pointer.
#[no_mangle]
pub unsafe extern "C" fn metricore_http_start(
    registries: *const *const Registry,
    registries_len: usize,
    addr: Str,
    out: *mut *mut HttpServer,
) -> Status {
    // SAFETY: the caller's contract above is the one `start` needs.
    unsafe { start(registries, registries_len, addr, None, out) }
}

/// As `metricore_http_start`, with the TLS, basic auth and headers of the web
/// configuration file at `web_config_file` (the format of the Prometheus exporters'
/// `--web.config.file`: `tls_server_config`, `basic_auth_users`,
/// `http_server_config`). The file is read and checked, and its certificates and keys
/// loaded, before anything starts: an unknown key or a bad value is
/// `METRICORE_STATUS_INVALID_ARGUMENT`, with a message naming the file, the key and the
/// problem. An empty `web_config_file` serves plain HTTP, as `metricore_http_start`.
///
/// # Safety
///
/// - `registries` is a valid array of `registries_len` pointers, each NULL or a live
///   registry object.
/// - `addr` and `web_config_file` are valid strings.
/// - `out` is NULL or points to writable memory for one pointer.
#[no_mangle]
pub unsafe extern "C" fn metricore_http_start_with_config(
    registries: *const *const Registry,
    registries_len: usize,
    addr: Str,
    web_config_file: Str,
    out: *mut *mut HttpServer,
) -> Status {
    // SAFETY: the caller's contract above is the one `start` needs.
    unsafe { start(registries, registries_len, addr, Some(web_config_file), out) }
}

/// Starts a server for `metricore_http_start` and `metricore_http_start_with_config`:
/// with the web configuration file `web_config_file` names, when it is given and not
/// empty.
///
/// # Safety
///
/// As `metricore_http_start_with_config`.
unsafe fn start(
    registries: *const *const Registry,
    registries_len: usize,
    addr: Str,
    web_config_file: Option<Str>,
    out: *mut *mut HttpServer,
) -> Status {
    guard(|| {
        if out.is_null() {
            return Err(Fail::null("out"));
        }
        // SAFETY: `registries` is a valid array of `registries_len` pointers (the
        // caller's contract), read during this call only.
        let served = unsafe { raw::slice(registries, registries_len, "registries") }?
            .iter()
            // SAFETY: each pointer is NULL or a live registry object (the caller's
            // contract); the server keeps a clone of the core registry, not it.
            .map(|&r| unsafe { Registry::open(r) }.map(Registry::core))
            .collect::<Result<Vec<_>, _>>()?;
        // SAFETY: `addr` is a valid string (the caller's contract).
        let text = unsafe { addr.utf8("addr") }?;
        let addr: SocketAddr = text.parse().map_err(|e| {
            Fail::new(
                Status::InvalidArgument,
                format!("addr {text:?} is not an IP address and port: {e}"),
            )
        })?;
        let config = match web_config_file {
            // SAFETY: `web_config_file` is a valid string (the caller's contract).
            Some(file) => match unsafe { file.utf8("web_config_file") }? {
                "" => WebConfig::default(),
                path => WebConfig::from_file(path)
                    .map_err(|e| Fail::new(Status::InvalidArgument, e.to_string()))?,
            },
            None => WebConfig::default(),
        };
        let server = metricore::http::Server::start_with(served, addr, config)?;
        // SAFETY: `out` is writable for one pointer (the caller's contract).
        unsafe { raw::put(out, raw::give(HttpServer(server)), "out") }
    })
}

/// Writes the port the server listens on to `*out`.
///
/// # Safety
///
/// - `server` is NULL or a live server: one that `metricore_http_start` wrote and
///   that was not passed to `metricore_http_stop`, for the whole call.
/// - `out` is NULL or points to writable memory for one `uint16_t`.
#[no_mangle]
pub unsafe extern "C" fn metricore_http_port(server: *const HttpServer, out: *mut u16) -> Status {
    guard(|| {
        // SAFETY: `server` is NULL or a live server, and `out` NULL or writable for one
        // `uint16_t` (the caller's contract above).
        unsafe {
            let port = raw::obj(server, "server")?.0.local_addr().port();
            raw::put(out, port, "out")
        }
    })
}

/// Stops the server: stops accepting, closes its connections, waits for its thread to
/// end, and frees it. NULL is ignored; the pointer must not be used again.
///
/// # Safety
///
/// `server` is NULL or a live server (from `metricore_http_start`, not stopped before),
/// that no other thread uses during or after this call, and that is not used again.
#[no_mangle]
pub unsafe extern "C" fn metricore_http_stop(server: *mut HttpServer) -> Status {
    guard(|| {
        // SAFETY: `server` is NULL or came from `give` in `metricore_http_start`, was not
        // stopped before, and is used by nothing else now or later (the caller's
        // contract above).
        if let Some(s) = unsafe { raw::take(server) } {
            s.0.shutdown();
        }
        Ok(())
    })
}
