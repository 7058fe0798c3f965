//! Native histograms: one observation into a classic histogram (the default buckets,
//! `native_observe/classic`), into a native one (schema 3, `native_observe/native`,
//! beside the `prometheus-client` crate's native histogram) and into one with both
//! (`native_observe/native_and_classic`); then the rendering of 1,000 native-histogram
//! series with 20 populated buckets each, in the protobuf format and as Prometheus
//! text (`native_render/1k_series_{protobuf,text}`).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use metricore::buckets::{Native, DEFAULT_BUCKETS};
use metricore::registry::render_bytes;
use metricore::{Filter, Format, HistogramVec, Kind, Options, Registry, Spec};
use metricore_benches::harness::{self, Group};
use metricore_benches::subject::report_unsupported;

/// Says, for the tables, why the peers have no figure in group `work`: only
/// `prometheus-client` has a native histogram, and the other groups compare
/// metricore's own histogram kinds.
fn peers_not_run(work: &str) {
    for peer in ["prometheus", "prometheus-client", "metrics", "measured"] {
        let why = match (work, peer) {
            ("native_observe/native", "prometheus-client") => continue,
            ("native_observe/native", _) => "no native histogram",
            _ => "this group compares metricore's histogram kinds",
        };
        report_unsupported("rust", work, "ns", peer, why);
    }
}

/// Values spread over many buckets, cycled by the observe benchmarks.
fn values() -> Vec<f64> {
    (0..64).map(|i| 0.002 * 1.13f64.powi(i)).collect()
}

fn registry(cells: u32) -> Registry {
    Registry::with_options(&Options {
        cells_per_shard: cells,
        series_capacity: 1 << 12,
        arena_bytes: 1 << 22,
        ..Options::default()
    })
    .expect("registry")
}

fn histogram(r: &Registry, name: &str, kind: Kind) -> metricore::Histogram {
    let vec: HistogramVec = r
        .register(Spec::new(name, "Latency.", kind).labels(&["series"]))
        .and_then(TryInto::try_into)
        .expect("family");
    vec.with_labels(&["0"]).expect("series")
}

/// Times `observe` cycling through [`values`].
fn bench_observe(g: &mut Group<'_>, subject: &str, observe: impl Fn(f64)) {
    let vals = values();
    g.bench_function(subject, |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) & 63;
            observe(black_box(vals[i]))
        })
    });
}

fn observe(c: &mut Criterion) {
    let r = registry(1 << 16);
    let works = [
        ("classic", Kind::Histogram(DEFAULT_BUCKETS.to_vec())),
        ("native", Kind::NativeHistogram(Native::with_schema(3))),
        (
            "native_and_classic",
            Kind::NativeHistogram(
                Native::with_schema(3)
                    .max_buckets(100)
                    .classic(&DEFAULT_BUCKETS),
            ),
        ),
    ];
    for (work, kind) in works {
        let name = format!("native_observe/{work}");
        peers_not_run(&name);
        let mut g = c.benchmark_group(&name);
        let h = histogram(&r, work, kind);
        bench_observe(&mut g, "metricore", |v| {
            let _ = black_box(&h).observe(v);
        });
        #[cfg(feature = "prometheus-client")]
        if work == "native" {
            use prometheus_client::metrics::histogram::{Histogram, NativeHistogramConfig};
            let config = NativeHistogramConfig::with_schema(3).zero_threshold(0.001);
            let h = Histogram::new_native(config);
            bench_observe(&mut g, "prometheus-client", |v| black_box(&h).observe(v));
        }
        g.finish();
    }
}

fn render(c: &mut Criterion) {
    const SERIES: usize = 1_000;
    let r = registry(1 << 19);
    let vec: HistogramVec = r
        .register(
            Spec::new(
                "latency_seconds",
                "Latency.",
                Kind::NativeHistogram(Native::with_schema(3)),
            )
            .labels(&["series"]),
        )
        .and_then(TryInto::try_into)
        .expect("family");
    let vals = values();
    for s in 0..SERIES {
        let h = vec.with_labels(&[&s.to_string()]).expect("series");
        // 20 populated buckets per series.
        for v in vals.iter().skip(s % 8).step_by(3).take(20) {
            h.observe(*v).expect("observe");
        }
    }
    r.set_self_metrics(false);
    let mut body = Vec::new();
    for (name, format) in [("protobuf", Format::Protobuf), ("text", Format::Prometheus)] {
        let work = format!("native_render/1k_series_{name}");
        peers_not_run(&work);
        let mut g = c.benchmark_group(&work);
        g.throughput(Throughput::Elements(SERIES as u64));
        g.bench_function("metricore", |b| {
            b.iter(|| {
                render_bytes(std::slice::from_ref(&r), format, &Filter::all(), &mut body);
                body.len()
            })
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = harness::criterion();
    targets = observe, render
}
criterion_main!(benches);
