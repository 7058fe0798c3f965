//! `metricore demo`: worker processes record LLM-gateway traffic into one shared
//! registry file while this process serves it, until Ctrl-C.

use std::io::Read;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use metricore::{
    buckets, http::Server, Counter, CounterVec, Format, GaugeMode, GaugeVec, HistogramVec, Kind,
    Options, Registry, Spec,
};

use crate::{Failure, StopSignals};

const WORKERS: usize = 2;
const THREADS: usize = 2;
const MODELS: [(&str, f64); 3] = [("gpt-4", 0.9), ("llama-3-70b", 0.35), ("qwen-2", 0.12)];
const NAMESPACES: [&str; 2] = ["wechat", "search"];

/// The gateway's metrics, as the dashboard in deploy/ shows them.
struct Gateway {
    requests: CounterVec,
    model_latency: HistogramVec,
    gateway_latency: HistogramVec,
    input_tokens: CounterVec,
    output_tokens: CounterVec,
    rate_limited: CounterVec,
    cache_hits: Counter,
    cache_misses: Counter,
    in_flight: GaugeVec,
}

impl Gateway {
    fn new(r: &Registry) -> metricore::Result<Gateway> {
        let b = &buckets::DEFAULT_BUCKETS;
        Ok(Gateway {
            requests: r.counter_vec(
                "model_requests",
                "Model requests by outcome.",
                &["model", "namespace", "status"],
            )?,
            model_latency: r.histogram_vec(
                "model_request_duration_seconds",
                "Time the model took to answer.",
                &["model"],
                b,
            )?,
            gateway_latency: r.histogram_vec(
                "gateway_request_duration_seconds",
                "Time from the request reaching the gateway to its response.",
                &["namespace"],
                b,
            )?,
            input_tokens: r.counter_vec(
                "model_tokens_input",
                "Prompt tokens sent to models.",
                &["model", "namespace"],
            )?,
            output_tokens: r.counter_vec(
                "model_tokens_output",
                "Completion tokens received from models.",
                &["model", "namespace"],
            )?,
            rate_limited: r.counter_vec(
                "rate_limit_hits",
                "Requests refused by the rate limiter.",
                &["namespace"],
            )?,
            cache_hits: r.counter("cache_hits", "Responses served from the cache.")?,
            cache_misses: r.counter("cache_misses", "Cache lookups that missed.")?,
            in_flight: r
                .register(
                    Spec::new(
                        "gateway_in_flight_requests",
                        "Requests being served, summed over live processes.",
                        Kind::Gauge(GaugeMode::LiveSum),
                    )
                    .labels(&["namespace"]),
                )?
                .try_into()?,
        })
    }

    /// One simulated request.
    fn request(&self, rng: &mut Rng) -> metricore::Result<()> {
        let (model, base) = MODELS[rng.below(MODELS.len())];
        let namespace = NAMESPACES[rng.below(NAMESPACES.len())];
        let in_flight = self.in_flight.with_labels(&[namespace])?;
        in_flight.inc();
        let roll = rng.unit();
        let (status, gateway_secs) = if roll < 0.01 {
            self.rate_limited.with_labels(&[namespace])?.inc();
            ("rate_limited", 0.001 + 0.002 * rng.unit())
        } else if roll < 0.21 {
            self.cache_hits.inc();
            ("ok", 0.002 + 0.01 * rng.unit())
        } else {
            self.cache_misses.inc();
            // A long tail: one request in fifty is five times slower.
            let tail = if rng.unit() < 0.02 { 5.0 } else { 1.0 };
            let secs = base * (0.5 + rng.unit()) * tail;
            self.model_latency.with_labels(&[model])?.observe(secs)?;
            self.input_tokens
                .with_labels(&[model, namespace])?
                .inc_by(50 + rng.below(1500) as u64);
            self.output_tokens
                .with_labels(&[model, namespace])?
                .inc_by(20 + rng.below(600) as u64);
            let status = if rng.unit() < 0.03 { "error" } else { "ok" };
            (status, secs + 0.004)
        };
        self.requests
            .with_labels(&[model, namespace, status])?
            .inc();
        self.gateway_latency
            .with_labels(&[namespace])?
            .observe(gateway_secs)?;
        // The request stays in flight for a moment, as real ones do.
        std::thread::sleep(Duration::from_millis(1));
        in_flight.dec();
        Ok(())
    }
}

/// xorshift64*: enough randomness for made-up traffic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The demo: makes the file, starts the workers, serves, waits for Ctrl-C, cleans up.
pub fn run(listen: SocketAddr) -> Result<(), Failure> {
    let path =
        std::env::temp_dir().join(format!("metricore-demo-{}.metricore", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let stop = StopSignals::install()?;
    let registry = Registry::open_shared(&path, &Options::default()).map_err(Failure::registry)?;
    Gateway::new(&registry).map_err(Failure::other)?;
    let mut workers = Vec::new();
    let started = (|| {
        for _ in 0..WORKERS {
            workers.push(spawn_worker(&path)?);
        }
        metricore::process::register(&registry);
        Server::start(vec![registry.clone()], listen).map_err(Failure::other)
    })();
    let result = started.map(|server| {
        let url = format!("http://{}/metrics", server.local_addr());
        println!(
            "{WORKERS} processes x {THREADS} threads are recording into {}",
            path.display()
        );
        println!("serving it at {url}  (Ctrl-C stops)");
        std::thread::sleep(Duration::from_millis(1500));
        println!("\na sample of the exposition (curl -s {url}):\n");
        print!("{}", sample(&registry.render(Format::Prometheus)));
        println!(
            "\nmore: metricore inspect {}   metricore dump {} --format openmetrics",
            path.display(),
            path.display()
        );
        stop.wait();
        server.shutdown();
    });
    for mut w in workers {
        let _ = w.kill();
        let _ = w.wait();
    }
    let _ = std::fs::remove_file(&path);
    if result.is_ok() {
        println!("stopped; removed {}", path.display());
    }
    result
}

fn spawn_worker(path: &Path) -> Result<Child, Failure> {
    let exe = std::env::current_exe().map_err(Failure::other)?;
    Command::new(exe)
        .arg("demo-worker")
        .arg(path)
        .stdin(Stdio::piped())
        .spawn()
        .map_err(|e| Failure::other(format!("cannot start a demo worker: {e}")))
}

/// A few families of the exposition, whole.
fn sample(text: &str) -> String {
    let shown = [
        "model_requests_total",
        "gateway_in_flight_requests",
        "metricore_",
    ];
    let mut out = String::new();
    for line in text.lines() {
        let name = line
            .strip_prefix("# HELP ")
            .or_else(|| line.strip_prefix("# TYPE "))
            .unwrap_or(line);
        if shown.iter().any(|s| name.starts_with(s)) {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// A worker process: records until its standard input closes (the demo has ended or
/// died), then exits.
pub fn worker(path: &Path) -> Result<(), Failure> {
    let registry = Registry::open_existing(path).map_err(Failure::registry)?;
    let gateway = std::sync::Arc::new(Gateway::new(&registry).map_err(Failure::other)?);
    for t in 0..THREADS {
        let gateway = gateway.clone();
        std::thread::spawn(move || {
            let mut rng = Rng(u64::from(std::process::id()) << 8 | t as u64 | 1);
            while gateway.request(&mut rng).is_ok() {}
        });
    }
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    Ok(())
}
