//! Records as fast as one thread can into a shared registry of 10,000 series (9,000
//! counters and 1,000 histograms), then prints how many recordings it made per second
//! of wall time and per second on a CPU.
//!
//! `cargo run --release -p metricore --example recorder -- FILE SECONDS`
//!
//! With `SECONDS` 0 it only makes the series. Several recorders may share one file;
//! `benches/serve_load.sh` runs two of them while `metricore serve` is under load.

use std::time::{Duration, Instant};

use metricore::{buckets, CounterVec, HistogramVec, Kind, Options, Registry, Spec};

const MODELS: usize = 30;
const ROUTES: usize = 300;
const SHARDS: usize = 100;
const HIST_MODELS: usize = 10;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(path), Some(seconds)) = (args.next(), args.next()) else {
        return Err("usage: recorder FILE SECONDS".into());
    };
    let seconds: u64 = seconds.parse()?;
    let registry = Registry::open_shared(&path, &Options::default())?;
    // Past the default limit of 2000 series a family would overflow: raise it.
    let requests: CounterVec = registry
        .register(
            Spec::new(
                "load_requests",
                "Requests by model and route.",
                Kind::Counter,
            )
            .labels(&["model", "route"])
            .limit(20_000),
        )?
        .try_into()?;
    let latency: HistogramVec = registry
        .register(
            Spec::new(
                "load_latency_seconds",
                "Latency by model and shard.",
                Kind::Histogram(buckets::DEFAULT_BUCKETS.to_vec()),
            )
            .labels(&["model", "shard"])
            .limit(20_000),
        )?
        .try_into()?;
    let mut counters = Vec::with_capacity(MODELS * ROUTES);
    for m in 0..MODELS {
        for r in 0..ROUTES {
            counters
                .push(requests.with_labels(&[&format!("model-{m}"), &format!("/v1/route/{r}")])?);
        }
    }
    let mut histograms = Vec::with_capacity(HIST_MODELS * SHARDS);
    for m in 0..HIST_MODELS {
        for s in 0..SHARDS {
            histograms.push(latency.with_labels(&[&format!("model-{m}"), &s.to_string()])?);
        }
    }
    if seconds == 0 {
        println!("{} series", registry.stats().series);
        return Ok(());
    }
    let cpu_start = cpu_seconds().unwrap_or(f64::NAN);
    let start = Instant::now();
    let until = Duration::from_secs(seconds);
    // Strides coprime to the counts walk every series, spread over the registry.
    let (mut c, mut h, mut n) = (0usize, 0usize, 0usize);
    loop {
        for _ in 0..7 {
            counters[c].inc();
            c = (c + 7919) % counters.len();
        }
        let _ = histograms[h].observe((n % 1000) as f64 / 250.0);
        h = (h + 613) % histograms.len();
        n += 1;
        if n % 4096 == 0 && start.elapsed() >= until {
            break;
        }
    }
    let wall = start.elapsed().as_secs_f64();
    let on_cpu = cpu_seconds().map_or(f64::NAN, |end| end - cpu_start);
    let recordings = (n * 8) as f64;
    println!(
        "{:.0} recordings/s, {:.0} per CPU-second, on a CPU {:.0}% of the time",
        recordings / wall,
        recordings / on_cpu,
        100.0 * on_cpu / wall
    );
    Ok(())
}

/// Time this (one-threaded) process has spent on a CPU, from `/proc/self/schedstat`.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/schedstat").ok()?;
    let ns: f64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}
