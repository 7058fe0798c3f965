//! The `metrics` facade with the `metrics-exporter-prometheus` recorder.

use metrics::with_local_recorder;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

use crate::series::DEFAULT_BUCKETS;
use crate::Subject;

/// The `metrics` crate, recording into `metrics-exporter-prometheus`.
pub struct Metrics;

/// A `metrics` histogram and the exporter handle that drains it.
pub struct Histogram {
    histogram: metrics::Histogram,
    handle: PrometheusHandle,
}

fn recorder() -> PrometheusRecorder {
    PrometheusBuilder::new()
        .set_buckets(&DEFAULT_BUCKETS)
        .expect("valid buckets")
        .build_recorder()
}

impl Subject for Metrics {
    const NAME: &'static str = "metrics";
    type Counter = metrics::Counter;
    type Histogram = Histogram;
    /// The recorder holds the series; the labels name them at each call.
    type Family = PrometheusRecorder;

    fn counter() -> metrics::Counter {
        with_local_recorder(&recorder(), || metrics::counter!("requests"))
    }

    #[inline]
    fn inc(c: &metrics::Counter) {
        c.increment(1);
    }

    fn histogram() -> Histogram {
        let recorder = recorder();
        Histogram {
            histogram: with_local_recorder(&recorder, || metrics::histogram!("latency_seconds")),
            handle: recorder.handle(),
        }
    }

    #[inline]
    fn observe(h: &Histogram, v: f64) {
        h.histogram.record(v);
    }

    /// Observations queue in the histogram until the exporter's upkeep drains them.
    fn settle(h: &Histogram) {
        h.handle.run_upkeep();
    }

    fn family(_series: usize) -> PrometheusRecorder {
        let recorder = recorder();
        with_local_recorder(&recorder, || {
            metrics::describe_counter!("requests", "Requests served.");
        });
        recorder
    }

    #[inline]
    fn inc_labels(f: &PrometheusRecorder, [model, namespace, status]: [&str; 3]) {
        with_local_recorder(f, || {
            metrics::counter!(
                "requests",
                "model" => model.to_owned(),
                "namespace" => namespace.to_owned(),
                "status" => status.to_owned(),
            )
            .increment(1);
        });
    }

    fn render(f: &mut PrometheusRecorder) -> usize {
        f.handle().render().len()
    }
}
