//! metricore: lock-free, per-CPU sharded counters, gauges and histograms in one
//! registry that several processes (and languages) can share through a memory-mapped
//! file, rendered as Prometheus text or OpenMetrics.
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
//! The tree: [`region`] holds the mapping and its header, `directory` the series
//! table, `family` the family table, `cells` and `shard` the hot path, [`metrics`] the
//! typed handles, [`registry`] the registry and scopes, [`expose`] the exposition,
//! [`process`] the process collector. With the feature `http`, `http` serves
//! `/metrics` and `push` pushes to a Pushgateway.

#![warn(missing_docs)]

pub mod buckets;
mod cells;
mod directory;
mod error;
pub mod expose;
mod family;
#[cfg(feature = "http")]
pub mod http;
mod inspect;
mod key;
pub mod metrics;
pub mod names;
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
pub use expose::{Format, Stats};
pub use metrics::{
    Counter, CounterVec, Gauge, GaugeVec, Histogram, HistogramVec, InfoVec, StateSet, StateSetVec,
    Summary, SummaryVec,
};
pub use region::Options;
pub use registry::{default_registry, Family, Registry};
pub use spec::{GaugeMode, Kind, Spec, DEFAULT_SERIES_LIMIT, MAX_LABELS};

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctest;
