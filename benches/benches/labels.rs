//! Labelled series: looking up an existing 3-label series and incrementing it (the
//! hit path: one series again and again, among 1,000; the same with 64-byte values;
//! 100,000 series in shuffled order; two threads on one series), and creating new
//! series.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use metricore_benches::harness::{self, per_thread, Group};
use metricore_benches::series::{all_values, borrow, long_values, shuffled, HIT};
use metricore_benches::{for_each_subject, Subject};

/// Series in the family besides the one hit, so that lookups search a real table.
const PRESENT: usize = 1000;

/// Series visited in shuffled order.
const MANY: usize = 100_000;

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

fn lookup_long<S: Subject>(g: &mut Group<'_>) {
    let values: Vec<_> = (0..=PRESENT).map(long_values).collect();
    let family = S::family(values.len());
    for v in &values {
        S::inc_labels(&family, borrow(v));
    }
    let hit = borrow(&values[PRESENT / 2]);
    g.bench_function(S::NAME, |b| {
        b.iter(|| S::inc_labels(black_box(&family), black_box(hit)))
    });
}

fn lookup_shuffled<S: Subject>(g: &mut Group<'_>, values: &[[String; 3]], order: &[usize]) {
    let family = S::family(values.len());
    for v in values {
        S::inc_labels(&family, borrow(v));
    }
    g.bench_function(S::NAME, |b| {
        let mut next = order.iter().cycle();
        b.iter(|| {
            let i = *next.next().unwrap_or(&0);
            S::inc_labels(black_box(&family), borrow(&values[i]))
        })
    });
}

fn lookup_2_threads<S: Subject>(g: &mut Group<'_>)
where
    S::Family: Sync,
{
    let family = S::family(PRESENT + 1);
    for v in all_values(PRESENT) {
        S::inc_labels(&family, borrow(&v));
    }
    S::inc_labels(&family, HIT);
    g.bench_function(S::NAME, |b| {
        b.iter_custom(|iters| {
            per_thread(iters, 2, || &family, |f| S::inc_labels(f, black_box(HIT)))
        })
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

    let mut g = c.benchmark_group("lookup_inc/3_labels_64_bytes");
    for_each_subject!("lookup_inc/3_labels_64_bytes", lookup_long(&mut g));
    g.finish();

    let (values, order) = (all_values(MANY), shuffled(MANY));
    let mut g = c.benchmark_group("lookup_inc/3_labels_100k_shuffled");
    for_each_subject!(
        "lookup_inc/3_labels_100k_shuffled",
        lookup_shuffled(&mut g, &values, &order)
    );
    g.finish();

    let mut g = c.benchmark_group("lookup_inc/3_labels_2_threads");
    for_each_subject!("lookup_inc/3_labels_2_threads", lookup_2_threads(&mut g));
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
