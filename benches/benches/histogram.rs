//! Histogram observations with the default buckets, from one and from two threads.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use metricore_benches::harness::{self, atomic_floor, per_thread, Group};
use metricore_benches::series::OBSERVATION;
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

fn histograms(c: &mut Criterion) {
    let mut g = c.benchmark_group("histogram_observe/1_thread");
    atomic_floor(&mut g, 1);
    for_each_subject!("histogram_observe/1_thread", one_thread(&mut g));
    g.finish();

    let mut g = c.benchmark_group("histogram_observe/2_threads");
    atomic_floor(&mut g, 2);
    for_each_subject!("histogram_observe/2_threads", two_threads(&mut g));
    g.finish();
}

criterion_group! {
    name = benches;
    config = harness::criterion();
    targets = histograms
}
criterion_main!(benches);
