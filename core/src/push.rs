//! Pushing a registry to a Prometheus Pushgateway, as `prometheus_client`'s
//! `push_to_gateway`, `pushadd_to_gateway` and `delete_from_gateway` do.
//!
//! A group is named by its job and grouping key, in the URL path
//! `/metrics/job/<job>{/<label>/<value>}`. Values that are empty or hold characters other
//! than `A-Z a-z 0-9 - _ . ~` (a `/`, above all) are sent base64url-encoded, with `@base64`
//! after the label name, as the Pushgateway API defines.
//!
//! ```no_run
//! let registry = metricore::Registry::new();
//! registry.counter("batch_rows", "Rows processed.").unwrap().inc_by(1200);
//! metricore::push::push("http://127.0.0.1:9091", "nightly", &[("shard", "eu/1")], &registry)
//!     .unwrap();
//! ```
//!
//! The gateway is given as `prometheus_client` takes it: `host:port` (plain HTTP),
//! `http://host:port` or `https://host:port`, with a path prefix if the gateway is
//! behind one. [`Gateway`] adds basic auth, the CAs to verify an https gateway with
//! (the system's by default) and a client certificate:
//!
//! ```no_run
//! let registry = metricore::Registry::new();
//! metricore::push::Gateway::new("https://pushgateway.example:9091")
//!     .basic_auth("pusher", "s3cret")
//!     .ca_file("/etc/ssl/private-ca.pem")
//!     .push("nightly", &[], &registry)
//!     .unwrap();
//! ```
//!
//! Each call runs its request on a runtime of its own and gives up after
//! [`PUSH_TIMEOUT`] (or [`Gateway::timeout`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{header, Method, Request};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{PrivateKeyDer, ServerName};

use crate::error::{Error, Result};
use crate::expose::Format;
use crate::http::config::{load_certs, pem_problem, provider};
use crate::names::check_legacy_label_name;
use crate::registry::Registry;

/// How long one request to the gateway may take, connection included.
pub const PUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// Replaces every metric of the group with the registry's (HTTP `PUT`).
pub fn push(
    gateway: &str,
    job: &str,
    grouping: &[(&str, &str)],
    registry: &Registry,
) -> Result<()> {
    Gateway::new(gateway).push(job, grouping, registry)
}

/// Replaces the group's metrics that have the names of the registry's, keeping the
/// others (HTTP `POST`).
pub fn push_add(
    gateway: &str,
    job: &str,
    grouping: &[(&str, &str)],
    registry: &Registry,
) -> Result<()> {
    Gateway::new(gateway).push_add(job, grouping, registry)
}

/// Deletes the group and its metrics (HTTP `DELETE`).
pub fn delete(gateway: &str, job: &str, grouping: &[(&str, &str)]) -> Result<()> {
    Gateway::new(gateway).delete(job, grouping)
}

/// A Pushgateway with the credentials and TLS settings to reach it.
#[derive(Clone, Debug)]
pub struct Gateway {
    url: String,
    basic_auth: Option<(String, String)>,
    ca_files: Vec<PathBuf>,
    client_cert: Option<(PathBuf, PathBuf)>,
    timeout: Duration,
}

impl Gateway {
    /// The gateway at `url`: `host:port`, `http://host:port` or `https://host:port`.
    pub fn new(url: &str) -> Gateway {
        Gateway {
            url: url.to_owned(),
            basic_auth: None,
            ca_files: Vec::new(),
            client_cert: None,
            timeout: PUSH_TIMEOUT,
        }
    }

    /// Sends `Authorization: Basic` with this user and password.
    pub fn basic_auth(mut self, user: &str, password: &str) -> Gateway {
        self.basic_auth = Some((user.to_owned(), password.to_owned()));
        self
    }

    /// Verifies an https gateway against the CA certificates of this PEM file (instead
    /// of the system's); may be given several times.
    pub fn ca_file(mut self, path: impl AsRef<Path>) -> Gateway {
        self.ca_files.push(path.as_ref().to_owned());
        self
    }

    /// Presents this certificate (PEM chain) and key to an https gateway.
    pub fn client_cert(
        mut self,
        cert_file: impl AsRef<Path>,
        key_file: impl AsRef<Path>,
    ) -> Gateway {
        self.client_cert = Some((cert_file.as_ref().to_owned(), key_file.as_ref().to_owned()));
        self
    }

    /// Gives up on a request after `timeout` (default [`PUSH_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Gateway {
        self.timeout = timeout;
        self
    }

    /// Replaces every metric of the group with the registry's (HTTP `PUT`).
    pub fn push(&self, job: &str, grouping: &[(&str, &str)], registry: &Registry) -> Result<()> {
        send(self, Method::PUT, job, grouping, Some(registry))
    }

    /// Replaces the group's metrics that have the names of the registry's, keeping the
    /// others (HTTP `POST`).
    pub fn push_add(
        &self,
        job: &str,
        grouping: &[(&str, &str)],
        registry: &Registry,
    ) -> Result<()> {
        send(self, Method::POST, job, grouping, Some(registry))
    }

    /// Deletes the group and its metrics (HTTP `DELETE`).
    pub fn delete(&self, job: &str, grouping: &[(&str, &str)]) -> Result<()> {
        send(self, Method::DELETE, job, grouping, None)
    }

    /// The rustls client configuration for an https gateway.
    fn tls_config(&self) -> std::result::Result<rustls::ClientConfig, String> {
        let mut roots = rustls::RootCertStore::empty();
        if self.ca_files.is_empty() {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                // A system certificate rustls cannot use is skipped, as browsers do.
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                return Err("no system CA certificates found; give a CA file".into());
            }
        }
        for file in &self.ca_files {
            for cert in load_certs(file)? {
                roots
                    .add(cert)
                    .map_err(|e| format!("{}: not a usable CA certificate: {e}", file.display()))?;
            }
        }
        let provider = provider();
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots);
        let mut config = match &self.client_cert {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                let certs = load_certs(cert)?;
                let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
                    format!("{}: {}", key.display(), pem_problem(&e, "private key"))
                })?;
                builder
                    .with_client_auth_cert(certs, key)
                    .map_err(|e| format!("client certificate {}: {e}", cert.display()))?
            }
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }
}

/// The URL of the group of `job` and `grouping` on `gateway`, as the pushes here use
/// it, for a client that sends its requests itself: `gateway` (`host:port`,
/// `http://host:port` or `https://host:port`) with the path of `job` and `grouping`.
///
/// ```
/// let url = metricore::push::url("localhost:9091", "nightly", &[("shard", "eu 1")]).unwrap();
/// assert_eq!(url, "http://localhost:9091/metrics/job/nightly/shard@base64/ZXUgMQ==");
/// ```
pub fn url(gateway: &str, job: &str, grouping: &[(&str, &str)]) -> Result<String> {
    group_url("PUT", gateway, job, grouping)
}

/// The URL of a group: `gateway` (`http://host:port` or `https://host:port`, the scheme
/// optional) with the path of `job` and `grouping`.
fn group_url(
    method: &'static str,
    gateway: &str,
    job: &str,
    grouping: &[(&str, &str)],
) -> Result<String> {
    let refuse = |reason: String| Error::Push {
        method,
        url: gateway.to_owned(),
        reason,
    };
    let base = match gateway.split_once("://") {
        Some((scheme, _)) if scheme.eq_ignore_ascii_case("http") => gateway.to_owned(),
        Some((scheme, _)) if scheme.eq_ignore_ascii_case("https") => gateway.to_owned(),
        Some((scheme, _)) => {
            return Err(refuse(format!(
                "scheme {scheme:?} is not supported, only http and https"
            )))
        }
        None => format!("http://{gateway}"),
    };
    if job.is_empty() {
        return Err(refuse("the job name is empty".into()));
    }
    let mut url = base.trim_end_matches('/').to_owned();
    url.push_str("/metrics");
    segment(&mut url, "job", job);
    for (i, (name, value)) in grouping.iter().enumerate() {
        check_legacy_label_name(name)?;
        if *name == "job" || grouping[..i].iter().any(|(n, _)| n == name) {
            return Err(refuse(format!(
                "label {name:?} appears twice in the grouping key"
            )));
        }
        segment(&mut url, name, value);
    }
    Ok(url)
}

/// Appends `/<name>/<value>`, or `/<name>@base64/<encoded>` when the value needs it.
fn segment(url: &mut String, name: &str, value: &str) {
    let plain = !value.is_empty()
        && value != "."
        && value != ".."
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b));
    url.push('/');
    url.push_str(name);
    if plain {
        url.push('/');
        url.push_str(value);
    } else {
        url.push_str("@base64/");
        if value.is_empty() {
            // The API's spelling of an empty value.
            url.push('=');
        } else {
            url.push_str(&base64::engine::general_purpose::URL_SAFE.encode(value));
        }
    }
}

fn send(
    gateway: &Gateway,
    method: Method,
    job: &str,
    grouping: &[(&str, &str)],
    registry: Option<&Registry>,
) -> Result<()> {
    let name = method_name(&method);
    let url = group_url(name, &gateway.url, job, grouping)?;
    let failed = |reason: String| Error::Push {
        method: name,
        url: url.clone(),
        reason,
    };
    let uri: hyper::Uri = url
        .parse()
        .map_err(|e| failed(format!("invalid URL: {e}")))?;
    let https = uri.scheme_str() == Some("https");
    let Some(authority) = uri.authority().cloned() else {
        return Err(failed("the URL names no host".into()));
    };
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
    let path = uri
        .path_and_query()
        .map_or("/", hyper::http::uri::PathAndQuery::as_str)
        .to_owned();
    let mut request = Request::builder()
        .method(method.clone())
        .uri(path)
        .header(header::HOST, authority.as_str());
    if let Some((user, password)) = &gateway.basic_auth {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        request = request.header(header::AUTHORIZATION, format!("Basic {token}"));
    }
    let body = match registry {
        Some(r) => {
            request = request.header(header::CONTENT_TYPE, Format::Prometheus.content_type());
            Bytes::from(r.render(Format::Prometheus))
        }
        None => Bytes::new(),
    };
    let request = request
        .body(Full::new(body))
        .map_err(|e| failed(format!("invalid request: {e}")))?;
    let tls = if https {
        Some(gateway.tls_config().map_err(&failed)?)
    } else {
        None
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(Error::Runtime)?;
    let timeout = gateway.timeout;
    runtime.block_on(async {
        let exchange = async {
            let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
                .await
                .map_err(|e| failed(format!("cannot connect: {e}")))?;
            let _ = tcp.set_nodelay(true);
            let (status, text) = match tls {
                None => exchange(TokioIo::new(tcp), request).await,
                Some(config) => {
                    let server = ServerName::try_from(host.clone())
                        .map_err(|e| failed(format!("invalid server name {host:?}: {e}")))?;
                    let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
                        .connect(server, tcp)
                        .await
                        .map_err(|e| failed(format!("TLS handshake: {}", transport_error(&e))))?;
                    exchange(TokioIo::new(stream), request).await
                }
            }
            .map_err(&failed)?;
            if status.is_success() {
                Ok(())
            } else if text.is_empty() {
                Err(failed(status.to_string()))
            } else {
                Err(failed(format!("{status}: {text}")))
            }
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .unwrap_or_else(|_| Err(failed(format!("no answer within {timeout:?}"))))
    })
}

/// One request on a new connection: the status and the body's text.
async fn exchange<I>(
    io: I,
    request: Request<Full<Bytes>>,
) -> std::result::Result<(hyper::StatusCode, String), String>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| transport_error(&e))?;
    let connection = tokio::spawn(connection);
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| transport_error(&e))?;
    let status = response.status();
    let text = response
        .into_body()
        .collect()
        .await
        .map(|b| String::from_utf8_lossy(&b.to_bytes()).trim().to_owned())
        .unwrap_or_default();
    drop(sender);
    connection.abort();
    Ok((status, text))
}

fn method_name(method: &Method) -> &'static str {
    match *method {
        Method::PUT => "PUT",
        Method::POST => "POST",
        _ => "DELETE",
    }
}

/// The client error with its causes, which say what actually went wrong.
fn transport_error(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::group_url;

    #[test]
    fn grouping_keys_are_encoded_as_the_api_defines() {
        let url = |job, g: &[(&str, &str)]| group_url("PUT", "127.0.0.1:9091/", job, g).unwrap();
        assert_eq!(
            url("batch", &[("instance", "a-1.b_c~")]),
            "http://127.0.0.1:9091/metrics/job/batch/instance/a-1.b_c~"
        );
        assert_eq!(
            url("a/b", &[("path", "/var/tmp"), ("empty", "")]),
            "http://127.0.0.1:9091/metrics/job@base64/YS9i/path@base64/L3Zhci90bXA=/empty@base64/="
        );
        assert_eq!(
            url("j", &[("dots", ".."), ("u", "ü")]),
            "http://127.0.0.1:9091/metrics/job/j/dots@base64/Li4=/u@base64/w7w="
        );
        let err =
            |gw, job, g: &[(&str, &str)]| group_url("PUT", gw, job, g).unwrap_err().to_string();
        assert!(err("ftp://gw", "j", &[]).contains("only http and https"));
        assert_eq!(
            group_url("PUT", "https://gw:9091/prefix", "j", &[]).unwrap(),
            "https://gw:9091/prefix/metrics/job/j"
        );
        assert!(err("gw", "", &[]).contains("job name is empty"));
        assert!(err("gw", "j", &[("job", "x")]).contains("twice"));
        assert!(err("gw", "j", &[("a", "1"), ("a", "2")]).contains("twice"));
        assert!(err("gw", "j", &[("__a", "1")]).contains("invalid label name"));
    }
}
