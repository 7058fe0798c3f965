//! Several processes, each with several threads, record into one shared registry file;
//! the parent then prints the exposition of the whole file.
//!
//! `cargo run --release -p metricore --example demo [FILE]`

use std::process::Command;

use metricore::{buckets, Format, GaugeMode, GaugeVec, Kind, Options, Registry, Spec};

const PROCESSES: usize = 3;
const THREADS: usize = 2;
const REQUESTS: u64 = 100_000;
const MODELS: [&str; 3] = ["gpt-4", "llama-3-70b", "qwen-2"];
const NAMESPACES: [&str; 2] = ["wechat", "search"];

fn work(registry: &Registry, worker: usize) -> metricore::Result<()> {
    let requests = registry.counter_vec(
        "model_requests",
        "Requests by model and namespace.",
        &["model", "namespace"],
    )?;
    let latency = registry.histogram_vec(
        "model_request_duration_seconds",
        "Request latency.",
        &["model"],
        &buckets::DEFAULT_BUCKETS,
    )?;
    let tokens = registry.counter_vec("model_tokens_output", "Output tokens.", &["model"])?;
    let in_flight: GaugeVec = registry
        .register(Spec::new(
            "model_in_flight_requests",
            "Requests being served, summed over live processes.",
            Kind::Gauge(GaugeMode::LiveSum),
        ))?
        .try_into()?;
    let in_flight = in_flight.with_labels(&[])?;
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (requests, latency, tokens, in_flight) = (&requests, &latency, &tokens, &in_flight);
            s.spawn(move || -> metricore::Result<()> {
                for i in 0..REQUESTS {
                    let model = MODELS[(i as usize + t + worker) % MODELS.len()];
                    let ns = NAMESPACES[i as usize % NAMESPACES.len()];
                    in_flight.inc();
                    requests.with_labels(&[model, ns])?.inc();
                    latency
                        .with_labels(&[model])?
                        .observe((i % 1000) as f64 / 400.0)?;
                    tokens.with_labels(&[model])?.inc_by(i % 200);
                    in_flight.dec();
                }
                Ok(())
            });
        }
    });
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).map_or_else(
        || std::env::temp_dir().join(format!("metricore-demo-{}.metricore", std::process::id())),
        Into::into,
    );
    let options = Options::default();
    if let Ok(worker) = std::env::var("METRICORE_DEMO_WORKER") {
        let registry = Registry::open_shared(&path, &options)?;
        return Ok(work(&registry, worker.parse()?)?);
    }
    let _ = std::fs::remove_file(&path);
    let started = std::time::Instant::now();
    let children = (1..=PROCESSES)
        .map(|w| {
            Command::new(std::env::current_exe()?)
                .arg(&path)
                .env("METRICORE_DEMO_WORKER", w.to_string())
                .spawn()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let registry = Registry::open_shared(&path, &options)?;
    work(&registry, 0)?;
    for mut c in children {
        if !c.wait()?.success() {
            return Err("a worker process failed".into());
        }
    }
    let elapsed = started.elapsed();
    let t0 = std::time::Instant::now();
    let text = registry.render(Format::Prometheus);
    let render = t0.elapsed();
    print!("{text}");
    let total = (PROCESSES as u64 + 1) * THREADS as u64 * REQUESTS;
    let stats = registry.stats();
    eprintln!(
        "\n{} processes x {THREADS} threads recorded {total} requests into {} in {:.0?}; \
         rendering {} series took {:.0?}",
        PROCESSES + 1,
        path.display(),
        elapsed,
        stats.series,
        render
    );
    std::fs::remove_file(&path)?;
    Ok(())
}
