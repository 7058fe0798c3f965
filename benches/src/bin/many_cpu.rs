//! A many-CPU host emulated on this one: what a scrape costs and how much memory the
//! series take when the registry has room for many lanes (`Options::shards`, one per
//! CPU by default) and a chosen number of threads or processes write.
//!
//! Two measurements, printed as records (see [`metricore_benches::record`]) and as a
//! table on standard error:
//!
//! - render: the 10,000-series mix (5,000 counters with 3 labels, 5,000 histograms
//!   with 2 labels and 10 buckets, each recorded once) in a shared file on
//!   `/dev/shm`, with a lane capacity of 1, 8, 32 and 128, written by 8 threads and by
//!   as many threads as there are lanes (every lane of a 128-CPU host written); the
//!   median of repeated renders, beside the `prometheus` crate rendering the same
//!   series in the same run;
//! - memory: 10,000 histogram series (2 labels, 10 buckets) written by 8
//!   single-threaded worker processes (each records every series once) with a lane
//!   capacity of 128: the file's allocated blocks after writing and after a scrape by
//!   a read-only registry, and the memory of the file the scraper has resident.
//!
//! Worker processes are this binary run again with `MANY_CPU_WORKER` set.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use metricore::{CounterVec, Format, HistogramVec, Kind, Options, Registry, Spec};
use metricore_benches::record;
use metricore_benches::series::{all_values, borrow, LABELS};

const SUITE: &str = "many_cpu";
const SERIES: usize = 10_000;
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];
const HISTOGRAM_LABELS: [&str; 2] = ["model", "namespace"];
/// Lane capacities: an emulated host with this many CPUs.
const CAPACITIES: [u32; 4] = [1, 8, 32, 128];
/// Writers of a gateway: one worker per core it is given.
const WORKERS: usize = 8;
const RENDERS: usize = 15;

/// The histogram series `i`'s label values.
fn histogram_values(i: usize) -> [String; 2] {
    [
        format!("model-{}", i / 100),
        format!("namespace-{}", i % 100),
    ]
}

fn options(lanes: u32) -> Options {
    Options {
        shards: Some(lanes),
        ..Options::default()
    }
}

fn families(r: &Registry, counters: bool) -> (Option<CounterVec>, HistogramVec) {
    let limit = SERIES as u32;
    let c = counters.then(|| {
        r.register(
            Spec::new("requests", "Requests served.", Kind::Counter)
                .labels(&LABELS)
                .limit(limit),
        )
        .and_then(CounterVec::try_from)
        .expect("a counter family")
    });
    let h = r
        .register(
            Spec::new(
                "latency_seconds",
                "Request latency.",
                Kind::Histogram(BUCKETS.to_vec()),
            )
            .labels(&HISTOGRAM_LABELS)
            .limit(limit),
        )
        .and_then(HistogramVec::try_from)
        .expect("a histogram family");
    (c, h)
}

/// Median of `n` runs of `f`, in nanoseconds, after two unmeasured ones.
fn median_ns(n: usize, mut f: impl FnMut()) -> f64 {
    f();
    f();
    let mut t: Vec<f64> = (0..n)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_nanos() as f64
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[n / 2]
}

fn blocks(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.blocks() * 512)
}

/// The calling process's resident memory of shared files (`RssShmem`), in bytes.
fn rss_shmem() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("RssShmem:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn dir() -> PathBuf {
    let base = Path::new("/dev/shm");
    let base = if base.is_dir() {
        base.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    let d = base.join(format!("metricore-many-cpu-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("a directory for the registry files");
    d
}

/// Renders of the mix in metricore at `capacity` lanes written by `writers` threads.
fn render_metricore(dir: &Path, capacity: u32, writers: usize) -> (f64, u64) {
    let path = dir.join(format!("mix-{capacity}-{writers}.reg"));
    let r = Registry::open_shared(&path, &options(capacity)).expect("a registry file");
    let (c, h) = families(&r, true);
    let c = c.expect("the counter family");
    let counters = all_values(SERIES / 2);
    let histograms: Vec<[String; 2]> = (0..SERIES / 2).map(histogram_values).collect();
    // Writers stay until all have written, as a host's would: each holds its lane.
    let all_written = std::sync::Barrier::new(writers);
    std::thread::scope(|s| {
        for w in 0..writers {
            let (c, h, counters, histograms) = (&c, &h, &counters, &histograms);
            let all_written = &all_written;
            s.spawn(move || {
                for (i, v) in counters.iter().enumerate().skip(w).step_by(writers) {
                    c.with_labels(&borrow(v)).expect("3 values").inc();
                    let hv = &histograms[i];
                    let v = 0.001 * (i % 7000) as f64;
                    let hist = h.with_labels(&[&hv[0], &hv[1]]).expect("2 values");
                    hist.observe(v).expect("a finite observation");
                }
                all_written.wait();
            });
        }
    });
    let mut out = String::new();
    let ns = median_ns(RENDERS, || r.render_into(Format::Prometheus, &mut out));
    let used = blocks(&path);
    drop(r);
    let _ = std::fs::remove_file(&path);
    (ns, used)
}

/// Renders of the same mix in the `prometheus` crate.
#[cfg(feature = "prometheus")]
fn render_prometheus() -> f64 {
    use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, TextEncoder};
    let registry = prometheus::Registry::new();
    let c = IntCounterVec::new(Opts::new("requests_total", "Requests served."), &LABELS)
        .expect("a counter vec");
    let opts = HistogramOpts::new("latency_seconds", "Request latency.").buckets(BUCKETS.to_vec());
    let h = HistogramVec::new(opts, &HISTOGRAM_LABELS).expect("a histogram vec");
    registry.register(Box::new(c.clone())).expect("registering");
    registry.register(Box::new(h.clone())).expect("registering");
    for (i, v) in all_values(SERIES / 2).iter().enumerate() {
        c.with_label_values(&borrow(v)).inc();
        let hv = histogram_values(i);
        h.with_label_values(&[&hv[0], &hv[1]])
            .observe(0.001 * (i % 7000) as f64);
    }
    let mut out = Vec::new();
    median_ns(RENDERS, || {
        out.clear();
        TextEncoder::new()
            .encode(&registry.gather(), &mut out)
            .expect("encoding to memory");
    })
}

fn renders(dir: &Path) {
    eprintln!("render of the 10,000-series mix (ms):");
    eprintln!(
        "  {:>5} {:>8} {:>10} {:>12}",
        "lanes", "writers", "metricore", "file MiB"
    );
    #[cfg(feature = "prometheus")]
    let prometheus = Some(render_prometheus());
    #[cfg(not(feature = "prometheus"))]
    let prometheus: Option<f64> = None;
    let work = "render 10k mix";
    match prometheus {
        Some(ns) => {
            eprintln!("  prometheus crate: {:.2} ms", ns / 1e6);
            record::measured(
                SUITE,
                work,
                "prometheus",
                ns,
                "ns",
                &[("series", SERIES as f64)],
            );
        }
        None => record::not_measured(SUITE, work, "prometheus", "ns", "missing (feature off)"),
    }
    for capacity in CAPACITIES {
        let mut writers = vec![WORKERS.min(capacity as usize), capacity as usize];
        writers.dedup();
        for w in writers {
            let (ns, file) = render_metricore(dir, capacity, w);
            eprintln!(
                "  {capacity:>5} {w:>8} {:>10.2} {:>12.1}",
                ns / 1e6,
                file as f64 / (1 << 20) as f64
            );
            let params = [
                ("series", SERIES as f64),
                ("shards", capacity as f64),
                ("writers", w as f64),
            ];
            record::measured(SUITE, work, "metricore", ns, "ns", &params);
        }
    }
}

/// A worker process: records every histogram series once, says so with a file, and
/// stays until the stop file exists.
fn worker(path: &Path) {
    let r = Registry::open_shared(path, &options(128)).expect("the registry file");
    let (_, h) = families(&r, false);
    for i in 0..SERIES {
        let v = histogram_values(i);
        let hist = h.with_labels(&[&v[0], &v[1]]).expect("2 values");
        hist.observe(0.001 * (i % 7000) as f64)
            .expect("a finite observation");
    }
    let done = path.with_extension(format!("done-{}", std::process::id()));
    std::fs::write(done, b"").expect("the done file");
    while !path.with_extension("stop").exists() {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

fn memory(dir: &Path) {
    let path = dir.join("memory.reg");
    // Made first, so the workers race only to record.
    drop(families(
        &Registry::open_shared(&path, &options(128)).expect("a registry file"),
        false,
    ));
    let me = std::env::current_exe().expect("this binary");
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            std::process::Command::new(&me)
                .env("MANY_CPU_WORKER", &path)
                .spawn()
                .expect("a worker process")
        })
        .collect();
    let done = || {
        std::fs::read_dir(dir).map_or(0, |d| {
            d.filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("memory.done-"))
            })
            .count()
        })
    };
    while done() < WORKERS {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let written = blocks(&path);
    let before = rss_shmem();
    let r = Registry::open_read_only(&path, &Options::default()).expect("the registry file");
    let text = r.render(Format::Prometheus);
    assert!(
        text.contains("latency_seconds_count"),
        "the series rendered"
    );
    let scraped = blocks(&path);
    let resident = rss_shmem().saturating_sub(before);
    let per_series = |b: u64| b as f64 / SERIES as f64;
    eprintln!(
        "10,000 histogram series, {WORKERS} worker processes, 128 lanes: file {:.1} MiB after \
         writing ({:.0} bytes/series), {:.1} MiB after a scrape; the scraper has {:.1} MiB of it resident",
        written as f64 / (1 << 20) as f64,
        per_series(written),
        scraped as f64 / (1 << 20) as f64,
        resident as f64 / (1 << 20) as f64,
    );
    let params = [
        ("series", SERIES as f64),
        ("shards", 128.0),
        ("workers", WORKERS as f64),
    ];
    let m =
        |work: &str, v: u64| record::measured(SUITE, work, "metricore", v as f64, "bytes", &params);
    m("file blocks after writing", written);
    m("file blocks after a scrape", scraped);
    m("scraper's resident file memory", resident);
    std::fs::write(path.with_extension("stop"), b"").expect("the stop file");
    for mut w in workers {
        assert!(
            w.wait().expect("a worker's exit").success(),
            "a worker failed"
        );
    }
    drop(r);
    let _ = std::fs::remove_file(&path);
}

fn main() {
    if let Some(path) = std::env::var_os("MANY_CPU_WORKER") {
        worker(Path::new(&path));
        return;
    }
    let dir = dir();
    renders(&dir);
    memory(&dir);
    let _ = std::fs::remove_dir_all(&dir);
}
