//! The `prometheus-client` crate.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::series::DEFAULT_BUCKETS;
use crate::{FloatSubject, Subject};

/// The `prometheus-client` crate.
pub struct PrometheusClient;

/// The label set of the family, as the crate's users declare one.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Request {
    model: String,
    namespace: String,
    status: String,
}

/// A `prometheus-client` counter family and its registry.
pub struct Family {
    registry: Registry,
    requests: prometheus_client::metrics::family::Family<Request, Counter>,
    out: String,
}

impl Subject for PrometheusClient {
    const NAME: &'static str = "prometheus-client";
    type Counter = Counter;
    type Histogram = Histogram;
    type Family = Family;

    fn counter() -> Counter {
        Counter::default()
    }

    #[inline]
    fn inc(c: &Counter) {
        c.inc();
    }

    fn histogram() -> Histogram {
        Histogram::new(DEFAULT_BUCKETS)
    }

    #[inline]
    fn observe(h: &Histogram, v: f64) {
        h.observe(v);
    }

    fn family(_series: usize) -> Family {
        let mut registry = Registry::default();
        let requests = prometheus_client::metrics::family::Family::default();
        registry.register("requests", "Requests served.", requests.clone());
        Family {
            registry,
            requests,
            out: String::new(),
        }
    }

    #[inline]
    fn inc_labels(f: &Family, [model, namespace, status]: [&str; 3]) {
        let labels = Request {
            model: model.to_owned(),
            namespace: namespace.to_owned(),
            status: status.to_owned(),
        };
        f.requests.get_or_create(&labels).inc();
    }

    fn render(f: &mut Family) -> usize {
        f.out.clear();
        prometheus_client::encoding::text::encode(&mut f.out, &f.registry)
            .expect("encoding to memory");
        f.out.len()
    }
}

impl FloatSubject for PrometheusClient {
    type FloatCounter = Counter<f64, AtomicU64>;

    fn float_counter() -> Counter<f64, AtomicU64> {
        Counter::default()
    }

    #[inline]
    fn inc_f64(c: &Counter<f64, AtomicU64>, v: f64) {
        c.inc_by(v);
    }
}
