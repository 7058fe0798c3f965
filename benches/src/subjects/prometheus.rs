//! The `prometheus` crate.

use prometheus::{Encoder, HistogramOpts, IntCounterVec, Opts, Registry, TextEncoder};

use crate::series::{DEFAULT_BUCKETS, LABELS};
use crate::{FloatSubject, Subject};

/// The `prometheus` crate.
pub struct Prometheus;

/// A `prometheus` counter vec and its registry.
pub struct Family {
    registry: Registry,
    requests: IntCounterVec,
    out: Vec<u8>,
}

impl Subject for Prometheus {
    const NAME: &'static str = "prometheus";
    type Counter = prometheus::IntCounter;
    type Histogram = prometheus::Histogram;
    type Family = Family;

    fn counter() -> prometheus::IntCounter {
        prometheus::IntCounter::new("requests_total", "Requests served.").expect("a new counter")
    }

    #[inline]
    fn inc(c: &prometheus::IntCounter) {
        c.inc();
    }

    fn histogram() -> prometheus::Histogram {
        let opts = HistogramOpts::new("latency_seconds", "Request latency.")
            .buckets(DEFAULT_BUCKETS.to_vec());
        prometheus::Histogram::with_opts(opts).expect("a new histogram")
    }

    #[inline]
    fn observe(h: &prometheus::Histogram, v: f64) {
        h.observe(v);
    }

    fn family(_series: usize) -> Family {
        let registry = Registry::new();
        let requests = IntCounterVec::new(Opts::new("requests_total", "Requests served."), &LABELS)
            .expect("a new counter vec");
        registry
            .register(Box::new(requests.clone()))
            .expect("registering the counter vec");
        Family {
            registry,
            requests,
            out: Vec::new(),
        }
    }

    #[inline]
    fn inc_labels(f: &Family, values: [&str; 3]) {
        f.requests.with_label_values(&values).inc();
    }

    fn render(f: &mut Family) -> usize {
        f.out.clear();
        TextEncoder::new()
            .encode(&f.registry.gather(), &mut f.out)
            .expect("encoding to memory");
        f.out.len()
    }
}

impl FloatSubject for Prometheus {
    type FloatCounter = prometheus::Counter;

    fn float_counter() -> prometheus::Counter {
        prometheus::Counter::new("cost_total", "Cost in USD.").expect("a new counter")
    }

    #[inline]
    fn inc_f64(c: &prometheus::Counter, v: f64) {
        c.inc_by(v);
    }
}
