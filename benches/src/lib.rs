//! Benchmarks of metricore beside the peer metrics libraries, on the same work.
//!
//! Every library implements [`Subject`], so each benchmark is written once and run for
//! metricore and for every peer in the same criterion group. A peer whose feature is
//! off (because it does not build here, or by choice) is named as missing by every
//! group instead of silently disappearing from the tables.

pub mod alloc;
pub mod harness;
pub mod record;
pub mod series;
pub mod subject;
pub mod subjects;

pub use subject::{FloatSubject, Subject};

/// Calls `$run::<S>($args)` for metricore and every peer built into this run, after
/// telling on standard error which peers are missing from `$group`.
#[macro_export]
macro_rules! for_each_subject {
    ($group:expr, $run:ident($($arg:expr),* $(,)?)) => {{
        $crate::subject::report_missing($group);
        $run::<$crate::subjects::Metricore>($($arg),*);
        #[cfg(feature = "prometheus")]
        $run::<$crate::subjects::Prometheus>($($arg),*);
        #[cfg(feature = "prometheus-client")]
        $run::<$crate::subjects::PrometheusClient>($($arg),*);
        #[cfg(feature = "metrics")]
        $run::<$crate::subjects::Metrics>($($arg),*);
        #[cfg(feature = "measured")]
        $run::<$crate::subjects::Measured>($($arg),*);
    }};
}

/// Like [`for_each_subject!`] for the libraries with a fractional counter
/// ([`FloatSubject`]); the others get a record saying they have none, for `$work` in
/// `$suite`, whose figures are in `$unit`.
#[macro_export]
macro_rules! for_each_float_subject {
    ($suite:expr, $work:expr, $unit:expr, $run:ident($($arg:expr),* $(,)?)) => {{
        $crate::subject::report_missing($work);
        $crate::subject::report_unsupported($suite, $work, $unit, "metrics", "no f64 counter");
        $crate::subject::report_unsupported($suite, $work, $unit, "measured", "no f64 counter");
        $run::<$crate::subjects::Metricore>($($arg),*);
        #[cfg(feature = "prometheus")]
        $run::<$crate::subjects::Prometheus>($($arg),*);
        #[cfg(feature = "prometheus-client")]
        $run::<$crate::subjects::PrometheusClient>($($arg),*);
    }};
}
