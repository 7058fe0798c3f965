//! Labelled series: looking up an existing 3-label series and incrementing it (the
//! hit path), and creating new series.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use metricore_benches::harness::{self, Group};
use metricore_benches::series::{all_values, borrow, HIT};
use metricore_benches::{for_each_subject, Subject};

/// Series in the family besides the one hit, so that lookups search a real table.
const PRESENT: usize = 1000;

/// New series made in one family before a fresh family is taken.
const FRESH: usize = 10_000;

fn lookup<S: Subject>(g: &mut Group<'_>) {
    let family = S::family(PRESENT + 1);
    for v in all_values(PRESENT) {
        S::inc_labels(&family, borrow(&v));
    }
    S::inc_labels(&family, HIT);
    g.bench_function(S::NAME, |b| {
        b.iter(|| S::inc_labels(black_box(&family), black_box(HIT)))
    });
}

fn create<S: Subject>(g: &mut Group<'_>, values: &[[String; 3]]) {
    g.bench_function(S::NAME, |b| {
        b.iter_custom(|iters| {
            let mut took = Duration::ZERO;
            let mut left = iters as usize;
            while left > 0 {
                let n = left.min(values.len());
                let family = S::family(values.len());
                let start = Instant::now();
                for v in &values[..n] {
                    S::inc_labels(&family, borrow(black_box(v)));
                }
                took += start.elapsed();
                left -= n;
            }
            took
        })
    });
}

fn labels(c: &mut Criterion) {
    let mut g = c.benchmark_group("lookup_inc/3_labels");
    for_each_subject!("lookup_inc/3_labels", lookup(&mut g));
    g.finish();

    let values = all_values(FRESH);
    let mut g = c.benchmark_group("create_series/3_labels");
    for_each_subject!("create_series/3_labels", create(&mut g, &values));
    g.finish();
}

criterion_group! {
    name = benches;
    config = harness::criterion();
    targets = labels
}
criterion_main!(benches);
