//! One [`Subject`](crate::Subject) per library, each behind its feature.

mod metricore;
pub use self::metricore::Metricore;

#[cfg(feature = "prometheus")]
mod prometheus;
#[cfg(feature = "prometheus")]
pub use self::prometheus::Prometheus;

#[cfg(feature = "prometheus-client")]
mod prometheus_client;
#[cfg(feature = "prometheus-client")]
pub use self::prometheus_client::PrometheusClient;

#[cfg(feature = "metrics")]
mod metrics;
#[cfg(feature = "metrics")]
pub use self::metrics::Metrics;

#[cfg(feature = "measured")]
mod measured;
#[cfg(feature = "measured")]
pub use self::measured::Measured;
