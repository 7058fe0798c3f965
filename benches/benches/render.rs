//! Rendering a registry of 1k, 10k and 100k counter series as Prometheus text.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use metricore_benches::harness::{self, Group};
use metricore_benches::series::{all_values, borrow};
use metricore_benches::{for_each_subject, Subject};

const SIZES: [(usize, &str); 3] = [(1_000, "1k"), (10_000, "10k"), (100_000, "100k")];

fn render<S: Subject>(g: &mut Group<'_>, values: &[[String; 3]]) {
    let mut family = S::family(values.len());
    for v in values {
        S::inc_labels(&family, borrow(v));
    }
    g.bench_function(S::NAME, |b| b.iter(|| S::render(&mut family)));
}

fn renders(c: &mut Criterion) {
    for (n, label) in SIZES {
        let values = all_values(n);
        let name = format!("render/{label}_series");
        let mut g = c.benchmark_group(&name);
        g.throughput(Throughput::Elements(n as u64));
        if n >= 100_000 {
            g.sample_size(10);
        }
        for_each_subject!(&name, render(&mut g, &values));
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = harness::criterion();
    targets = renders
}
criterion_main!(benches);
