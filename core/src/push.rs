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
//! Each call runs its request on a runtime of its own and gives up after
//! [`PUSH_TIMEOUT`].

use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{header, Method, Request};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::error::{Error, Result};
use crate::expose::Format;
use crate::names::check_label_name;
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
    send(Method::PUT, gateway, job, grouping, Some(registry))
}

/// Replaces the group's metrics that have the names of the registry's, keeping the
/// others (HTTP `POST`).
pub fn push_add(
    gateway: &str,
    job: &str,
    grouping: &[(&str, &str)],
    registry: &Registry,
) -> Result<()> {
    send(Method::POST, gateway, job, grouping, Some(registry))
}

/// Deletes the group and its metrics (HTTP `DELETE`).
pub fn delete(gateway: &str, job: &str, grouping: &[(&str, &str)]) -> Result<()> {
    send(Method::DELETE, gateway, job, grouping, None)
}

/// The URL of a group: `gateway` (`http://host:port`, the scheme optional) with the
/// path of `job` and `grouping`.
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
        Some(("http", _)) => gateway.to_owned(),
        Some((scheme, _)) => {
            return Err(refuse(format!(
                "scheme {scheme:?} is not supported, only http"
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
        check_label_name(name)?;
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
    method: Method,
    gateway: &str,
    job: &str,
    grouping: &[(&str, &str)],
    registry: Option<&Registry>,
) -> Result<()> {
    let name = method_name(&method);
    let url = group_url(name, gateway, job, grouping)?;
    let failed = |reason: String| Error::Push {
        method: name,
        url: url.clone(),
        reason,
    };
    let mut request = Request::builder().method(method.clone()).uri(&url);
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
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(Error::Runtime)?;
    runtime.block_on(async {
        let client = Client::builder(TokioExecutor::new()).build_http();
        let exchange = async {
            let response = client
                .request(request)
                .await
                .map_err(|e| failed(transport_error(&e)))?;
            let status = response.status();
            let text = response
                .into_body()
                .collect()
                .await
                .map(|b| String::from_utf8_lossy(&b.to_bytes()).trim().to_owned())
                .unwrap_or_default();
            if status.is_success() {
                Ok(())
            } else if text.is_empty() {
                Err(failed(status.to_string()))
            } else {
                Err(failed(format!("{status}: {text}")))
            }
        };
        tokio::time::timeout(PUSH_TIMEOUT, exchange)
            .await
            .unwrap_or_else(|_| Err(failed(format!("no answer within {PUSH_TIMEOUT:?}"))))
    })
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
        assert!(err("https://gw", "j", &[]).contains("only http"));
        assert!(err("gw", "", &[]).contains("job name is empty"));
        assert!(err("gw", "j", &[("job", "x")]).contains("twice"));
        assert!(err("gw", "j", &[("a", "1"), ("a", "2")]).contains("twice"));
        assert!(err("gw", "j", &[("__a", "1")]).contains("invalid label name"));
    }
}
