//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong in metricore, each variant naming the offending input.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A metric name is empty or, where legacy names are required, does not match
    /// `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    #[error("invalid metric name {0:?}: must not be empty (where legacy names are required, must match [a-zA-Z_:][a-zA-Z0-9_:]*)")]
    InvalidMetricName(String),
    /// A label name is empty, starts with `__` or, where legacy names are required,
    /// does not match `[a-zA-Z_][a-zA-Z0-9_]*`.
    #[error("invalid label name {0:?}: must not be empty or start with __ (where legacy names are required, must match [a-zA-Z_][a-zA-Z0-9_]*)")]
    InvalidLabelName(String),
    /// A label name appears twice in one family, or is reserved for the metric kind.
    #[error("label name {label:?} of metric {metric:?} is duplicated or reserved")]
    DuplicateLabel {
        /// The metric.
        metric: String,
        /// The label name.
        label: String,
    },
    /// More label names than [`MAX_LABELS`](crate::MAX_LABELS).
    #[error("metric {metric:?} has {count} label names; at most {max} are allowed")]
    TooManyLabels {
        /// The metric.
        metric: String,
        /// How many were given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A family was looked up with the wrong number of label values.
    #[error("metric {metric:?} expects {expected} label values, got {got}")]
    LabelCount {
        /// The metric.
        metric: String,
        /// Label names of the family.
        expected: usize,
        /// Values given.
        got: usize,
    },
    /// A new family would render samples of the same name as another family.
    #[error("duplicated timeseries: metric {name:?} and metric {other:?} both have samples named {sample:?}")]
    DuplicateSeries {
        /// The family being registered.
        name: String,
        /// The family registered before.
        other: String,
        /// The sample name both would render.
        sample: String,
    },
    /// An exemplar whose labels have more characters than OpenMetrics allows.
    #[error("exemplar labels have {0} characters; at most 128 are allowed")]
    ExemplarTooLong(usize),
    /// A line of exposition text that cannot be read.
    #[error("cannot read line {line} of the exposition, {text:?}: {reason}")]
    Parse {
        /// The line number, from 1.
        line: usize,
        /// The line.
        text: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A label name the family does not have.
    #[error("metric {metric:?} has no label {label:?}")]
    UnknownLabel {
        /// The metric.
        metric: String,
        /// The label name given.
        label: String,
    },
    /// The same name was registered before with another kind, labels, unit or buckets.
    #[error(
        "metric {name:?} is already registered as {existing}; cannot register it as {requested}"
    )]
    Conflict {
        /// The metric.
        name: String,
        /// What the registry holds.
        existing: String,
        /// What was asked for.
        requested: String,
    },
    /// A family was used as a kind it is not.
    #[error("metric {metric:?} is a {kind}, not a {wanted}")]
    WrongKind {
        /// The metric.
        metric: String,
        /// Its kind.
        kind: &'static str,
        /// The kind asked for.
        wanted: &'static str,
    },
    /// A custom collector's family names a type that does not exist.
    #[error("metric {metric:?} has unknown type {kind:?}")]
    UnknownType {
        /// The metric.
        metric: String,
        /// The type given.
        kind: String,
    },
    /// A counter was given a negative, NaN or infinite increment.
    #[error("counter increment {0} refused: counters only go up by finite, non-negative amounts")]
    InvalidIncrement(f64),
    /// A histogram or summary was given NaN.
    #[error("observation {0} refused: NaN cannot be observed")]
    InvalidObservation(f64),
    /// Histogram bounds are not finite, sorted and unique, or there are too many.
    #[error("invalid histogram buckets: {0}")]
    InvalidBuckets(String),
    /// An enum (state set) was given no states, a duplicate, or an unknown state.
    #[error("invalid state for {metric:?}: {reason}")]
    InvalidState {
        /// The metric.
        metric: String,
        /// What is wrong.
        reason: String,
    },
    /// An idle time a family's series cannot be given.
    #[error("invalid idle time for {metric:?}: {reason}")]
    InvalidExpiry {
        /// The metric.
        metric: String,
        /// What is wrong.
        reason: String,
    },
    /// Region options that cannot make a region.
    #[error("invalid registry options: {0}")]
    InvalidOptions(String),
    /// The registry has no room left for another family.
    #[error("registry is full: no room for family {0:?}")]
    RegistryFull(String),
    /// The filesystem has no room for the space a new registry file must reserve.
    #[error("{path}: cannot reserve {bytes} bytes for a new registry file: {source}")]
    NoSpace {
        /// The file.
        path: PathBuf,
        /// The bytes it needed reserved.
        bytes: u64,
        /// The cause, with its errno (`ENOSPC` for a full filesystem).
        source: std::io::Error,
    },
    /// A label value is longer than the limit ([`Options::max_label_value_bytes`](crate::Options::max_label_value_bytes)).
    #[error(
        "metric {metric:?}: a label value of {len} bytes is refused, the limit is {max} bytes"
    )]
    LabelValueTooLong {
        /// The metric.
        metric: String,
        /// The value's length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// An I/O error on a shared registry file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The path is a symbolic link, which is refused.
    #[error("{0}: is a symbolic link; refusing to open a registry through it")]
    Symlink(PathBuf),
    /// The file is not a metricore registry (bad magic or too short to hold a header).
    #[error("{path}: not a metricore registry file ({reason})")]
    NotARegistry {
        /// The file.
        path: PathBuf,
        /// What was found.
        reason: String,
    },
    /// The file was written by another layout version.
    #[error("{path}: registry layout version {found}, this build reads version {expected}")]
    Version {
        /// The file.
        path: PathBuf,
        /// Version in the file.
        found: u64,
        /// Version this build writes.
        expected: u64,
    },
    /// The file's header or contents do not add up (truncated, bad checksum, bad offsets).
    #[error("{path}: corrupt registry file: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What does not add up.
        reason: String,
    },
    /// The file is owned by a user, or writable by a group or by everyone, that the
    /// options do not trust: another user could have planted or could change it.
    #[error(
        "{path}: refusing to use a registry file {reason}: owner uid {uid}{}, group gid {gid}{}, \
         mode {mode:04o} (name the trusted owner or group in the options)",
        name_of(.user), name_of(.group_name)
    )]
    Untrusted {
        /// The file.
        path: PathBuf,
        /// What is not trusted.
        reason: &'static str,
        /// The file's owner.
        uid: u32,
        /// The owner's user name, when it could be found.
        user: Option<String>,
        /// The file's group.
        gid: u32,
        /// The group's name, when it could be found.
        group_name: Option<String>,
        /// The file's mode bits.
        mode: u32,
    },
    /// The file's directory is writable by every user and lacks the sticky bit, so any
    /// user could replace the file.
    #[error(
        "{dir}: directory is writable by every user without the sticky bit (mode {mode:04o}); \
         any user could replace a registry file in it"
    )]
    UnsafeDirectory {
        /// The directory.
        dir: PathBuf,
        /// Its mode bits.
        mode: u32,
    },
    /// A registry opened read-only was asked to register a family.
    #[error("{0}: registry is open read-only; it cannot register families")]
    ReadOnly(PathBuf),
    /// The HTTP server could not listen on the address (in use, not local, ...).
    #[cfg(feature = "http")]
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The thread or runtime that runs HTTP could not be started.
    #[cfg(feature = "http")]
    #[error("cannot start the HTTP runtime: {0}")]
    Runtime(std::io::Error),
    /// A request to a Pushgateway failed or was refused.
    #[cfg(feature = "http")]
    #[error("pushgateway request {method} {url} failed: {reason}")]
    Push {
        /// `PUT`, `POST` or `DELETE`.
        method: &'static str,
        /// The URL of the request.
        url: String,
        /// What went wrong: the gateway's status and message, or the transport error.
        reason: String,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// ` (name)` for a name that was found, nothing otherwise.
fn name_of(name: &Option<String>) -> String {
    name.as_ref()
        .map_or_else(String::new, |n| format!(" ({n})"))
}
