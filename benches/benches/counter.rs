//! Counter increments: one thread, two threads on one counter, and `f64` increments
//! from two threads; increments with an exemplar (a trace id) beside plain ones.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use metricore_benches::harness::{self, atomic_floor, per_thread, Group};
use metricore_benches::{for_each_float_subject, for_each_subject, FloatSubject, Subject};

/// The fractional increment (a cost in USD, say).
const COST: f64 = 0.5;

fn one_thread<S: Subject>(g: &mut Group<'_>) {
    let c = S::counter();
    g.bench_function(S::NAME, |b| b.iter(|| S::inc(black_box(&c))));
}

fn two_threads<S: Subject>(g: &mut Group<'_>) {
    let c = S::counter();
    g.bench_function(S::NAME, |b| {
        b.iter_custom(|iters| per_thread(iters, 2, || &c, |c| S::inc(c)))
    });
}

fn two_threads_f64<S: FloatSubject>(g: &mut Group<'_>) {
    let c = S::float_counter();
    g.bench_function(S::NAME, |b| {
        b.iter_custom(|iters| per_thread(iters, 2, || &c, |c| S::inc_f64(c, COST)))
    });
}

/// The exemplar labels the exemplar benchmarks record: a W3C trace id.
const TRACE: [(&str, &str); 1] = [("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736")];

/// Increments with an exemplar: metricore's, and the `prometheus-client` crate's
/// counter with an exemplar (which takes its labels by value: one `Vec` per call, and
/// no time unless given). Plain increments are `counter_inc/1_thread`.
fn with_exemplar(g: &mut Group<'_>) {
    let c = metricore::Registry::new()
        .counter("requests", "Requests.")
        .expect("a new counter");
    g.bench_function("metricore", |b| {
        b.iter(|| {
            black_box(&c)
                .inc_with_exemplar(black_box(&TRACE))
                .expect("valid labels")
        })
    });
    #[cfg(feature = "prometheus-client")]
    {
        use prometheus_client::metrics::exemplar::CounterWithExemplar;
        let c = CounterWithExemplar::<Vec<(String, String)>>::default();
        g.bench_function("prometheus-client", |b| {
            b.iter(|| {
                let labels = TRACE.iter().map(|(n, v)| (n.to_string(), v.to_string()));
                black_box(&c).inc_by(1, Some(labels.collect()), None)
            })
        });
    }
}

fn counters(c: &mut Criterion) {
    let mut g = c.benchmark_group("counter_inc/1_thread");
    atomic_floor(&mut g, 1);
    for_each_subject!("counter_inc/1_thread", one_thread(&mut g));
    g.finish();

    let mut g = c.benchmark_group("counter_inc/2_threads");
    atomic_floor(&mut g, 2);
    for_each_subject!("counter_inc/2_threads", two_threads(&mut g));
    g.finish();

    let mut g = c.benchmark_group("counter_inc_f64/2_threads");
    atomic_floor(&mut g, 2);
    for_each_float_subject!(
        "rust",
        "counter_inc_f64/2_threads",
        "ns",
        two_threads_f64(&mut g)
    );
    g.finish();

    let mut g = c.benchmark_group("counter_inc_exemplar/1_thread");
    atomic_floor(&mut g, 1);
    with_exemplar(&mut g);
    g.finish();
}

criterion_group! {
    name = benches;
    config = harness::criterion();
    targets = counters
}
criterion_main!(benches);
