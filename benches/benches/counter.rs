//! Counter increments: one thread, two threads on one counter, and `f64` increments
//! from two threads.

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
}

criterion_group! {
    name = benches;
    config = harness::criterion();
    targets = counters
}
criterion_main!(benches);
