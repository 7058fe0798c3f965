//! Histogram observations with the default buckets, from one and from two threads;
//! observations with an exemplar (a trace id) beside plain ones.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use metricore_benches::harness::{self, atomic_floor, per_thread, Group};
use metricore_benches::series::{DEFAULT_BUCKETS, OBSERVATION};
use metricore_benches::{for_each_subject, Subject};

fn one_thread<S: Subject>(g: &mut Group<'_>) {
    let h = S::histogram();
    g.bench_function(S::NAME, |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                S::observe(black_box(&h), black_box(OBSERVATION));
            }
            let took = start.elapsed();
            S::settle(&h);
            took
        })
    });
}

fn two_threads<S: Subject>(g: &mut Group<'_>) {
    let h = S::histogram();
    g.bench_function(S::NAME, |b| {
        b.iter_custom(|iters| {
            let took: Duration =
                per_thread(iters, 2, || &h, |h| S::observe(h, black_box(OBSERVATION)));
            S::settle(&h);
            took
        })
    });
}

/// The exemplar labels the exemplar benchmarks record: a W3C trace id.
const TRACE: [(&str, &str); 1] = [("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736")];

/// Observations with an exemplar: metricore's, and the `prometheus-client` crate's
/// histogram with exemplars (which takes its labels by value: one `Vec` per call, and
/// no time unless given). Plain observations are `histogram_observe/1_thread`.
fn with_exemplar(g: &mut Group<'_>) {
    let h = metricore::Registry::new()
        .histogram("latency_seconds", "Latency.", &DEFAULT_BUCKETS)
        .expect("a new histogram");
    g.bench_function("metricore", |b| {
        b.iter(|| {
            black_box(&h)
                .observe_with_exemplar(black_box(OBSERVATION), black_box(&TRACE))
                .expect("a finite observation and valid labels")
        })
    });
    #[cfg(feature = "prometheus-client")]
    {
        use prometheus_client::metrics::exemplar::HistogramWithExemplars;
        let h = HistogramWithExemplars::<Vec<(String, String)>>::new(DEFAULT_BUCKETS.into_iter());
        g.bench_function("prometheus-client", |b| {
            b.iter(|| {
                let labels = TRACE.iter().map(|(n, v)| (n.to_string(), v.to_string()));
                black_box(&h).observe(black_box(OBSERVATION), Some(labels.collect()), None)
            })
        });
    }
}

fn histograms(c: &mut Criterion) {
    let mut g = c.benchmark_group("histogram_observe/1_thread");
    atomic_floor(&mut g, 1);
    for_each_subject!("histogram_observe/1_thread", one_thread(&mut g));
    g.finish();

    let mut g = c.benchmark_group("histogram_observe/2_threads");
    atomic_floor(&mut g, 2);
    for_each_subject!("histogram_observe/2_threads", two_threads(&mut g));
    g.finish();

    let mut g = c.benchmark_group("histogram_observe_exemplar/1_thread");
    atomic_floor(&mut g, 1);
    with_exemplar(&mut g);
    g.finish();
}

criterion_group! {
    name = benches;
    config = harness::criterion();
    targets = histograms
}
criterion_main!(benches);
