//! metricore: lock-free counters, gauges and histograms, sharded per recording thread,
//! in one registry that several processes (and languages) can share through a
//! memory-mapped file, rendered as Prometheus text or OpenMetrics.
//!
//! ```
//! use metricore::{buckets, Format, Registry};
//!
//! let registry = Registry::new();
//! let latency = registry
//!     .histogram_vec("request_duration", "Request latency.", &["model"], &buckets::DEFAULT_BUCKETS)
//!     .unwrap();
//! latency.with_labels(&["gpt-4"]).unwrap().observe(0.042).unwrap();
//! let text = registry.render(Format::OpenMetrics);
//! assert!(text.contains("request_duration_bucket{model=\"gpt-4\",le=\"0.05\"} 1\n"));
//! assert!(text.ends_with("# EOF\n"));
//! ```
//!
//! The modules, along the data path from a call to a cell and back out as text (see
//! `docs/architecture.md` in the repository):
//!
//! - [`registry`]: the registry, scopes, callbacks, rendering several registries as one.
//! - [`metrics`]: the typed handles ([`Counter`], ...) and families ([`CounterVec`], ...).
//! - `series`: from a family and label values to a series' cells (find or make,
//!   limit and overflow series, counters' float cells); [`Family`] lives here.
//! - `spec`: what a family is ([`Spec`], [`Kind`]), its naming rules and stored form;
//!   [`buckets`] checks and builds histogram bounds; [`names`] holds the naming rules.
//! - `family`: the family table in the region.
//! - `directory`: the series table in the region and its records; `key` hashes and
//!   stores label values.
//! - `procs`: the process table in the region; `procstat` reads `/proc/PID/stat`.
//! - `cells`, `lanes` and `shard`: the hot path, a series' cells in the calling
//!   thread's lane (lanes shared by CPU when every lane is held).
//! - [`region`]: the mapping, its header and layout; [`access`] decides whom to trust
//!   with a file (owner, group, mode, directory); `word` names the packed words;
//!   `sync` is where atomics come from (loom's under `cfg(loom)`); `fault` keeps a
//!   file truncated under the process from killing it (`SIGBUS`).
//! - [`expose`]: the exposition (plan, render, text encoder, formats); `inspect`:
//!   [`Stats`] and the integrity check.
//! - [`process`]: the process collector. With the feature `http`, `http` serves
//!   `/metrics` and `push` pushes to a Pushgateway.

#![warn(missing_docs)]

#[cfg(not(loom))]
pub mod access;
pub mod buckets;
mod cells;
mod directory;
mod error;
pub mod exemplar;
mod expiry;
pub mod expose;
mod family;
#[cfg(not(loom))]
mod fault;
mod hits;
#[cfg(feature = "http")]
pub mod http;
mod inspect;
mod key;
mod lanes;
pub mod metrics;
pub mod names;
pub mod pcfiles;
pub mod process;
mod procs;
mod procstat;
#[cfg(feature = "http")]
pub mod push;
pub mod region;
pub mod registry;
mod series;
mod shard;
mod spec;
mod sync;
mod word;

pub use buckets::MAX_BUCKETS;
pub use error::{Error, Result};
pub use exemplar::Exemplar;
pub use expose::{Filter, Format, Numbers, Stats};
pub use metrics::{
    Counter, CounterRef, CounterVec, Gauge, GaugeVec, Histogram, HistogramVec, InfoVec, StateSet,
    StateSetVec, Summary, SummaryVec,
};
pub use region::Options;
pub use registry::{default_registry, Family, Registry};
pub use series::with_clock;
pub use spec::{sample_names, GaugeMode, Kind, Spec, DEFAULT_SERIES_LIMIT, MAX_LABELS};

/// The crate README's example (`core/README.md`), compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctest;
