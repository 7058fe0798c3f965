//! Records into a shared registry file at known, steady rates, so that what a scraper
//! computes from it can be checked: counters by model and namespace at fixed rates, a
//! histogram of a uniform distribution, label values that need escaping and a UTF-8
//! (Prometheus 3) name.
//!
//! `cargo run --release -p metricore --example paced -- FILE`
//!
//! Prints `ready` once its families exist, then records until its standard input
//! closes (or ten minutes have passed). Several processes may record into one file;
//! the rates then add up.

use std::io::Read;
use std::time::{Duration, Instant};

use metricore::{Options, Registry};

/// Increments per second of `paced_requests_total`, by model and namespace.
const RATES: [(&str, &str, u64); 4] = [
    ("gpt-4", "wechat", 40),
    ("gpt-4", "search", 20),
    ("llama-3-70b", "wechat", 10),
    ("llama-3-70b", "search", 30),
];
/// Observations per second of `paced_latency_seconds`: `(i % 100 + 0.5) / 100` for the
/// i-th, a uniform distribution on [0, 1).
const OBSERVATIONS: u64 = 100;
/// Label values of `paced_odd_total`, each counted once.
const ODD: [&str; 4] = ["quote\"d", "back\\slash", "new\nline", "ünïcödé ✓"];
const TICK: Duration = Duration::from_millis(10);
const LIMIT: Duration = Duration::from_secs(600);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: paced FILE")?;
    let registry = Registry::open_shared(&path, &Options::default())?;
    let requests = registry.counter_vec(
        "paced_requests",
        "Requests at known rates.",
        &["model", "namespace"],
    )?;
    let series: Vec<_> = RATES
        .iter()
        .map(|(m, n, r)| Ok((requests.with_labels(&[m, n])?, *r)))
        .collect::<metricore::Result<_>>()?;
    let latency = registry.histogram(
        "paced_latency_seconds",
        "Uniformly distributed observations.",
        &[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0],
    )?;
    let odd = registry.counter_vec("paced_odd", "Label values that need escaping.", &["value"])?;
    for v in ODD {
        odd.with_labels(&[v])?.inc();
    }
    registry.gauge("paced_constant", "Always 7.")?.set(7.0);
    // A UTF-8 (Prometheus 3) name, one per writer.
    registry
        .counter_vec(
            "paced.utf8",
            "A name outside the legacy set.",
            &["code.class"],
        )?
        .with_labels(&["2xx"])?
        .inc();
    println!("ready");

    std::thread::spawn(move || {
        // Each tick brings every series to `rate x elapsed`, so the rates hold exactly on
        // average however late a tick runs.
        let start = Instant::now();
        let mut done = vec![0u64; series.len()];
        let mut observed = 0u64;
        while start.elapsed() < LIMIT {
            let ms = start.elapsed().as_millis() as u64;
            for ((counter, rate), done) in series.iter().zip(&mut done) {
                let target = rate * ms / 1000;
                counter.inc_by(target - *done);
                *done = target;
            }
            for i in observed..OBSERVATIONS * ms / 1000 {
                let _ = latency.observe(((i % 100) as f64 + 0.5) / 100.0);
            }
            observed = observed.max(OBSERVATIONS * ms / 1000);
            std::thread::sleep(TICK);
        }
        std::process::exit(0);
    });
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    Ok(())
}
