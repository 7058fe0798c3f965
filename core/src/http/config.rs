//! The web configuration file of Prometheus exporters (the exporter-toolkit format):
//! TLS, basic auth and response headers.
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: server.crt            # paths are relative to the file's directory
//!   key_file: server.key
//!   client_auth_type: RequireAndVerifyClientCert
//!   client_ca_file: ca.crt
//!   min_version: TLS12               # TLS12 (default) or TLS13
//! basic_auth_users:
//!   prometheus: $2y$10$...           # bcrypt hash (htpasswd -nBC 10 "" | tr -d ':\n')
//! http_server_config:
//!   headers:
//!     Strict-Transport-Security: max-age=31536000
//! ```
//!
//! Every key is checked when the file is loaded: an unknown key, a missing or unreadable
//! certificate, a key that does not match its certificate or a value that is not a
//! bcrypt hash is a [`ConfigError`] naming the key, so a server never starts with a
//! configuration it would not apply.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hyper::header::{HeaderName, HeaderValue};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{DistinguishedName, RootCertStore, ServerConfig, SignatureScheme};
use serde::Deserialize;

/// A web configuration that cannot be used: the file, the key and what is wrong.
#[derive(Debug, Clone)]
pub struct ConfigError {
    file: Option<PathBuf>,
    key: String,
    problem: String,
}

impl ConfigError {
    fn new(key: impl Into<String>, problem: impl Into<String>) -> ConfigError {
        ConfigError {
            file: None,
            key: key.into(),
            problem: problem.into(),
        }
    }

    fn in_file(mut self, file: &Path) -> ConfigError {
        self.file = Some(file.to_owned());
        self
    }

    /// The key at fault (`tls_server_config.cert_file`, say); empty for the whole file.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// What is wrong with it.
    pub fn problem(&self) -> &str {
        &self.problem
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "web config {}: ", file.display())?;
        } else {
            f.write_str("web config: ")?;
        }
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.problem)
    }
}

impl std::error::Error for ConfigError {}

/// Which client certificates the server asks for and how it checks them (Go's
/// `tls.ClientAuthType`, spelled as in the configuration file).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub enum ClientAuth {
    /// No certificate is asked for.
    #[default]
    NoClientCert,
    /// A certificate is asked for, not required, and not verified.
    RequestClientCert,
    /// A certificate is required but not verified.
    RequireAnyClientCert,
    /// A certificate is asked for and, when one is sent, verified against the client CAs.
    VerifyClientCertIfGiven,
    /// A certificate verified against the client CAs is required (mutual TLS).
    RequireAndVerifyClientCert,
}

impl ClientAuth {
    fn verifies(self) -> bool {
        matches!(
            self,
            ClientAuth::VerifyClientCertIfGiven | ClientAuth::RequireAndVerifyClientCert
        )
    }
}

/// A TLS protocol version, as the configuration file spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
pub enum TlsVersion {
    /// TLS 1.0 (refused: not offered by this server).
    TLS10,
    /// TLS 1.1 (refused: not offered by this server).
    TLS11,
    /// TLS 1.2.
    TLS12,
    /// TLS 1.3.
    TLS13,
}

/// The TLS settings of a server: its certificate and key, and the client certificates
/// it asks for.
#[derive(Clone, Debug)]
pub struct TlsSettings {
    /// PEM file with the server's certificate chain, the server's own first.
    pub cert_file: PathBuf,
    /// PEM file with the server's private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// The client certificates asked for.
    pub client_auth: ClientAuth,
    /// PEM files of the CAs that client certificates are verified against.
    pub client_ca_files: Vec<PathBuf>,
    /// Lowest version offered (default TLS 1.2).
    pub min_version: TlsVersion,
    /// Highest version offered (default TLS 1.3).
    pub max_version: TlsVersion,
}

impl TlsSettings {
    /// A certificate and key, no client certificates, TLS 1.2 and 1.3.
    pub fn new(cert_file: impl Into<PathBuf>, key_file: impl Into<PathBuf>) -> TlsSettings {
        TlsSettings {
            cert_file: cert_file.into(),
            key_file: key_file.into(),
            client_auth: ClientAuth::NoClientCert,
            client_ca_files: Vec::new(),
            min_version: TlsVersion::TLS12,
            max_version: TlsVersion::TLS13,
        }
    }
}

/// What a server applies to its connections: TLS, basic auth users and extra response
/// headers. The default is plain HTTP with neither.
#[derive(Clone, Default)]
pub struct WebConfig {
    pub(super) tls: Option<Arc<ServerConfig>>,
    /// User name -> bcrypt hash.
    pub(super) users: BTreeMap<String, String>,
    pub(super) headers: Vec<(HeaderName, HeaderValue)>,
}

impl fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebConfig")
            .field("tls", &self.tls.is_some())
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .field("headers", &self.headers)
            .finish()
    }
}

/// The file as written; every level refuses keys it does not know.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    tls_server_config: Option<RawTls>,
    basic_auth_users: Option<BTreeMap<String, String>>,
    http_server_config: Option<RawHttp>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert_file: Option<String>,
    key_file: Option<String>,
    client_auth_type: Option<ClientAuth>,
    client_ca_file: Option<String>,
    min_version: Option<TlsVersion>,
    max_version: Option<TlsVersion>,
    cipher_suites: Option<Vec<String>>,
    curve_preferences: Option<Vec<String>>,
    prefer_server_cipher_suites: Option<bool>,
    client_allowed_sans: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    headers: Option<BTreeMap<String, String>>,
    http2: Option<bool>,
}

/// The headers the file may set, as exporter-toolkit allows them.
const ALLOWED_HEADERS: [&str; 5] = [
    "Strict-Transport-Security",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "X-XSS-Protection",
    "Content-Security-Policy",
];

impl WebConfig {
    /// Reads and checks a web configuration file; relative paths in it are taken from
    /// the file's directory. Certificates and keys are loaded now.
    pub fn from_file(path: impl AsRef<Path>) -> Result<WebConfig, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::new("", e.to_string()).in_file(path))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        WebConfig::from_yaml(&text, dir).map_err(|e| e.in_file(path))
    }

    /// Parses and checks a configuration given as YAML text; relative paths in it are
    /// taken from `dir`.
    pub fn from_yaml(text: &str, dir: &Path) -> Result<WebConfig, ConfigError> {
        let raw: RawConfig = if text.trim().is_empty() {
            RawConfig::default()
        } else {
            serde_norway::from_str(text).map_err(|e| yaml_error(&e))?
        };
        let mut config = WebConfig::default();
        if let Some(tls) = raw.tls_server_config {
            config.tls = Some(tls_from_raw(tls, dir)?);
        }
        for (user, hash) in raw.basic_auth_users.unwrap_or_default() {
            config = config.user(&user, &hash)?;
        }
        if let Some(http) = raw.http_server_config {
            // Accepted as exporter-toolkit does; only HTTP/1.1 is served, which every
            // scraper speaks.
            let _ = http.http2;
            for (name, value) in http.headers.unwrap_or_default() {
                config = config.header(&name, &value)?;
            }
        }
        Ok(config)
    }

    /// Serves over TLS with these settings (certificate and key loaded now).
    pub fn with_tls(mut self, tls: &TlsSettings) -> Result<WebConfig, ConfigError> {
        self.tls = Some(Arc::new(server_config(tls)?));
        Ok(self)
    }

    /// The TLS of `prometheus_client`'s `start_http_server`: TLS when both `certfile`
    /// and `keyfile` are given (one alone is an error); with `client_auth_required`, a
    /// client certificate verified against the CAs of `client_cafile` and of the PEM
    /// files in `client_capath` is required; without it, none is asked for.
    /// `min_version` and `max_version` bound the versions offered (TLS 1.2 and 1.3
    /// when not given).
    pub fn from_cert_files(
        certfile: Option<&Path>,
        keyfile: Option<&Path>,
        client_cafile: Option<&Path>,
        client_capath: Option<&Path>,
        client_auth_required: bool,
        min_version: Option<TlsVersion>,
        max_version: Option<TlsVersion>,
    ) -> Result<WebConfig, ConfigError> {
        let (cert, key) = match (certfile, keyfile) {
            (None, None) => {
                if min_version.is_some() || max_version.is_some() {
                    return Err(ConfigError::new(
                        "certfile",
                        "TLS versions need TLS: give certfile and keyfile",
                    ));
                }
                if client_auth_required || client_cafile.is_some() || client_capath.is_some() {
                    return Err(ConfigError::new(
                        "certfile",
                        "client certificates need TLS: give certfile and keyfile",
                    ));
                }
                return Ok(WebConfig::default());
            }
            (Some(c), Some(k)) => (c, k),
            (None, Some(_)) => {
                return Err(ConfigError::new("certfile", "keyfile without certfile"))
            }
            (Some(_), None) => return Err(ConfigError::new("keyfile", "certfile without keyfile")),
        };
        let mut tls = TlsSettings::new(cert, key);
        tls.min_version = min_version.unwrap_or(tls.min_version);
        tls.max_version = max_version.unwrap_or(tls.max_version);
        if client_auth_required {
            tls.client_auth = ClientAuth::RequireAndVerifyClientCert;
            tls.client_ca_files
                .extend(client_cafile.map(Path::to_owned));
            if let Some(dir) = client_capath {
                let entries = std::fs::read_dir(dir).map_err(|e| {
                    ConfigError::new("client_capath", format!("{}: {e}", dir.display()))
                })?;
                let mut files: Vec<PathBuf> = entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.is_file())
                    .collect();
                files.sort();
                tls.client_ca_files.extend(files);
            }
            if tls.client_ca_files.is_empty() {
                return Err(ConfigError::new(
                    "client_auth_required",
                    "needs client_cafile or client_capath to verify client certificates",
                ));
            }
        }
        WebConfig::default().with_tls(&tls)
    }

    /// Adds a basic auth user with the bcrypt hash of its password.
    pub fn user(mut self, name: &str, bcrypt_hash: &str) -> Result<WebConfig, ConfigError> {
        let key = format!("basic_auth_users.{name}");
        if name.contains(':') {
            return Err(ConfigError::new(key, "a user name cannot contain ':'"));
        }
        bcrypt_hash
            .parse::<bcrypt::HashParts>()
            .map_err(|e| ConfigError::new(key, format!("not a bcrypt hash ({e})")))?;
        self.users.insert(name.to_owned(), bcrypt_hash.to_owned());
        Ok(self)
    }

    /// Adds a header to every response; only the security headers exporter-toolkit
    /// allows can be set.
    pub fn header(mut self, name: &str, value: &str) -> Result<WebConfig, ConfigError> {
        let key = format!("http_server_config.headers.{name}");
        let Some(canonical) = ALLOWED_HEADERS
            .iter()
            .find(|h| h.eq_ignore_ascii_case(name))
        else {
            return Err(ConfigError::new(
                key,
                format!(
                    "this header cannot be set; allowed: {}",
                    ALLOWED_HEADERS.join(", ")
                ),
            ));
        };
        let ok = match *canonical {
            "X-Content-Type-Options" => value.eq_ignore_ascii_case("nosniff"),
            "X-Frame-Options" => {
                value.eq_ignore_ascii_case("deny") || value.eq_ignore_ascii_case("sameorigin")
            }
            _ => true,
        };
        let parsed = HeaderValue::from_str(value).ok().filter(|_| ok);
        let Some(value) = parsed else {
            return Err(ConfigError::new(key, format!("invalid value {value:?}")));
        };
        self.headers
            .push((HeaderName::from_static(lower(canonical)), value));
        Ok(self)
    }

    /// Whether connections are served over TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Whether requests need basic auth.
    pub fn has_basic_auth(&self) -> bool {
        !self.users.is_empty()
    }
}

fn lower(header: &str) -> &'static str {
    match header {
        "Strict-Transport-Security" => "strict-transport-security",
        "X-Content-Type-Options" => "x-content-type-options",
        "X-Frame-Options" => "x-frame-options",
        "X-XSS-Protection" => "x-xss-protection",
        _ => "content-security-policy",
    }
}

/// A YAML or schema error, with the key path serde found it at.
fn yaml_error(e: &serde_norway::Error) -> ConfigError {
    let text = e.to_string();
    // serde_norway prefixes the path ("tls_server_config.min_version: unknown variant").
    match text.split_once(": ") {
        Some((path, rest))
            if !path.contains(' ') && path.chars().next().is_some_and(char::is_alphabetic) =>
        {
            ConfigError::new(path, rest)
        }
        _ => ConfigError::new("", text),
    }
}

fn tls_from_raw(raw: RawTls, dir: &Path) -> Result<Arc<ServerConfig>, ConfigError> {
    let key = |k: &str| format!("tls_server_config.{k}");
    let unsupported = |k: &str, what: &str| {
        ConfigError::new(key(k), format!("not supported by this server ({what})"))
    };
    if raw.cipher_suites.is_some() {
        return Err(unsupported(
            "cipher_suites",
            "rustls offers only modern AEAD suites; remove the key",
        ));
    }
    if raw.curve_preferences.is_some() {
        return Err(unsupported(
            "curve_preferences",
            "rustls chooses among X25519, P-256 and P-384; remove the key",
        ));
    }
    if raw.client_allowed_sans.is_some() {
        return Err(unsupported("client_allowed_sans", "remove the key"));
    }
    // The server's own order is always preferred.
    let _ = raw.prefer_server_cipher_suites;
    let path = |v: Option<String>, k: &str| -> Result<PathBuf, ConfigError> {
        match v {
            Some(p) if !p.is_empty() => Ok(dir.join(p)),
            _ => Err(ConfigError::new(
                key(k),
                "missing: TLS needs a certificate and its key",
            )),
        }
    };
    let cert_file = path(raw.cert_file, "cert_file")?;
    let key_file = path(raw.key_file, "key_file")?;
    let client_auth = raw.client_auth_type.unwrap_or_default();
    let client_ca_files: Vec<PathBuf> = raw
        .client_ca_file
        .filter(|p| !p.is_empty())
        .map(|p| dir.join(p))
        .into_iter()
        .collect();
    if client_auth == ClientAuth::NoClientCert && !client_ca_files.is_empty() {
        return Err(ConfigError::new(
            key("client_ca_file"),
            "client CAs are given but client_auth_type is NoClientCert; set client_auth_type",
        ));
    }
    let settings = TlsSettings {
        cert_file,
        key_file,
        client_auth,
        client_ca_files,
        min_version: raw.min_version.unwrap_or(TlsVersion::TLS12),
        max_version: raw.max_version.unwrap_or(TlsVersion::TLS13),
    };
    server_config(&settings).map(Arc::new)
}

/// Checks the settings and builds the rustls configuration.
fn server_config(s: &TlsSettings) -> Result<ServerConfig, ConfigError> {
    let key = |k: &str| format!("tls_server_config.{k}");
    for (k, v) in [
        ("min_version", s.min_version),
        ("max_version", s.max_version),
    ] {
        if v < TlsVersion::TLS12 {
            return Err(ConfigError::new(
                key(k),
                format!("{v:?} is not offered by this server: use TLS12 or TLS13"),
            ));
        }
    }
    if s.min_version > s.max_version {
        return Err(ConfigError::new(
            key("max_version"),
            format!(
                "{:?} is below min_version {:?}",
                s.max_version, s.min_version
            ),
        ));
    }
    let versions: Vec<&'static rustls::SupportedProtocolVersion> = [
        (TlsVersion::TLS12, &rustls::version::TLS12),
        (TlsVersion::TLS13, &rustls::version::TLS13),
    ]
    .into_iter()
    .filter(|(v, _)| (s.min_version..=s.max_version).contains(v))
    .map(|(_, p)| p)
    .collect();
    let certs = load_certs(&s.cert_file).map_err(|p| ConfigError::new(key("cert_file"), p))?;
    let private_key = PrivateKeyDer::from_pem_file(&s.key_file).map_err(|e| {
        ConfigError::new(
            key("key_file"),
            format!(
                "{}: {}",
                s.key_file.display(),
                pem_problem(&e, "private key")
            ),
        )
    })?;
    let provider = provider();
    let verifier: Arc<dyn ClientCertVerifier> = if s.client_auth.verifies() {
        if s.client_ca_files.is_empty() {
            return Err(ConfigError::new(
                key("client_ca_file"),
                format!("missing: {:?} needs the CAs to verify with", s.client_auth),
            ));
        }
        let mut roots = RootCertStore::empty();
        for file in &s.client_ca_files {
            for cert in load_certs(file).map_err(|p| ConfigError::new(key("client_ca_file"), p))? {
                roots.add(cert).map_err(|e| {
                    ConfigError::new(
                        key("client_ca_file"),
                        format!("{}: not a usable CA certificate: {e}", file.display()),
                    )
                })?;
            }
        }
        let mut builder =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
        if s.client_auth == ClientAuth::VerifyClientCertIfGiven {
            builder = builder.allow_unauthenticated();
        }
        builder
            .build()
            .map_err(|e| ConfigError::new(key("client_ca_file"), e.to_string()))?
    } else if s.client_auth == ClientAuth::NoClientCert {
        WebPkiClientVerifier::no_client_auth()
    } else {
        Arc::new(AnyClientCert {
            mandatory: s.client_auth == ClientAuth::RequireAnyClientCert,
            algorithms: provider.signature_verification_algorithms,
        })
    };
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|e| ConfigError::new(key("min_version"), e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, private_key)
        .map_err(|e| {
            ConfigError::new(
                key("key_file"),
                format!(
                    "{} cannot be used with {}: {e}",
                    s.key_file.display(),
                    s.cert_file.display()
                ),
            )
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The rustls crypto provider of the server and the Pushgateway client: *ring*, which
/// builds with a C compiler alone. rustls 0.23.48 marks it deprecated because it has
/// no post-quantum key exchange; X25519 and the NIST curves are what Prometheus and the
/// Pushgateway (Go's crypto/tls) offer by default anyway.
pub(crate) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    #[allow(deprecated)]
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Every certificate of a PEM file, at least one.
pub(crate) fn load_certs(file: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(file)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{}: {}", file.display(), pem_problem(&e, "certificate")))?;
    if certs.is_empty() {
        return Err(format!("{}: no PEM certificate in it", file.display()));
    }
    Ok(certs)
}

pub(crate) fn pem_problem(e: &rustls::pki_types::pem::Error, what: &str) -> String {
    match e {
        rustls::pki_types::pem::Error::NoItemsFound => format!("no PEM {what} in it"),
        rustls::pki_types::pem::Error::Io(io) => io.to_string(),
        other => format!("not a PEM file: {other}"),
    }
}

/// Asks for a client certificate and takes any (`RequestClientCert`,
/// `RequireAnyClientCert`): the handshake still proves the client holds its key.
#[derive(Debug)]
struct AnyClientCert {
    mandatory: bool,
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyClientCert {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(yaml: &str) -> String {
        WebConfig::from_yaml(yaml, Path::new("/nonexistent"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_key() {
        let e = err("tls_server_config:\n  cert_file: a\n  certfile: b\n");
        assert!(
            e.contains("tls_server_config") && e.contains("certfile"),
            "{e}"
        );
        let e = err("basic_auth_user:\n  a: b\n");
        assert!(e.contains("basic_auth_user"), "{e}");
        let e = err("tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS14\n");
        assert!(e.contains("min_version") && e.contains("TLS14"), "{e}");
        let e =
            err("tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: Always\n");
        assert!(
            e.contains("client_auth_type") && e.contains("Always"),
            "{e}"
        );
        let e = err("tls_server_config:\n  key_file: b\n");
        assert!(e.contains("tls_server_config.cert_file: missing"), "{e}");
        let e = err("tls_server_config:\n  cert_file: a\n  key_file: b\n");
        assert!(
            e.contains("tls_server_config.cert_file: /nonexistent/a:"),
            "{e}"
        );
        let e = err("basic_auth_users:\n  alice: secret\n");
        assert!(
            e.contains("basic_auth_users.alice: not a bcrypt hash"),
            "{e}"
        );
        let e = err("http_server_config:\n  headers:\n    Server: x\n");
        assert!(e.contains("http_server_config.headers.Server"), "{e}");
        let e = err("http_server_config:\n  headers:\n    X-Frame-Options: allow\n");
        assert!(e.contains("invalid value"), "{e}");
        let e = err("tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: [x]\n");
        assert!(
            e.contains("tls_server_config.cipher_suites: not supported"),
            "{e}"
        );
    }

    #[test]
    fn users_and_headers_are_taken() {
        let hash = bcrypt::hash("pw", 4).unwrap();
        let c = WebConfig::from_yaml(
            &format!(
                "basic_auth_users:\n  alice: '{hash}'\nhttp_server_config:\n  headers:\n    x-content-type-options: nosniff\n"
            ),
            Path::new("."),
        )
        .unwrap();
        assert!(c.has_basic_auth() && !c.is_tls());
        assert_eq!(c.headers[0].0.as_str(), "x-content-type-options");
        assert!(!WebConfig::from_yaml("", Path::new(".")).unwrap().is_tls());
    }

    #[test]
    fn prometheus_client_arguments_map_onto_the_config() {
        let p = Path::new("x");
        let files = |cert, key, required, min| {
            WebConfig::from_cert_files(cert, key, None, None, required, min, None)
        };
        assert!(!files(None, None, false, None).unwrap().is_tls());
        assert_eq!(
            files(Some(p), None, false, None).unwrap_err().key(),
            "keyfile"
        );
        assert_eq!(files(None, None, true, None).unwrap_err().key(), "certfile");
        let e = files(None, None, false, Some(TlsVersion::TLS13)).unwrap_err();
        assert_eq!(e.key(), "certfile");
        let e = files(Some(p), Some(p), true, None).unwrap_err();
        assert_eq!(e.key(), "client_auth_required");
    }
}
