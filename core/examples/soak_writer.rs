//! The Rust process of the series-lifecycle soak test (tests/soak): makes series with
//! new label values in a shared registry file, records into each, and removes it or
//! leaves it to idle expiry, while it records into a fixed set of live series
//! throughout. The Python (tests/soak/writer.py) and Lua (tests/soak/soak.lua) writers
//! do the same.
//!
//! ```text
//! soak_writer FILE WRITER STOP EXPIRE_PER_SECOND REPORT
//! ```
//!
//! Until the file STOP exists (looked for every 1,000 series), it makes series: each
//! is `soak_removed_total{writer, id}`, incremented 3 times and removed, or, at most
//! EXPIRE_PER_SECOND a second, `soak_expiring_total{writer, id}` (idle time 200 ms),
//! incremented 3 times and left; after each, one of the 100 `soak_live_total{writer,
//! id}` series is incremented once. Then it writes REPORT (JSON): the series made,
//! the live series' totals, and every 1,000 series the seconds since the start.

use std::time::{Duration, Instant};

use metricore::{Kind, Options, Registry, Spec};

/// Live series per writer.
const LIVE: usize = 100;
/// Increments of each series made.
const INCREMENTS: u64 = 3;
/// Series between two looks for the stop file (and two times in the report).
const BATCH: usize = 1000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path, writer, stop, expire_rate, report] = &args[..] else {
        return Err("usage: soak_writer FILE WRITER STOP EXPIRE_PER_SECOND REPORT".into());
    };
    let expire_gap = Duration::from_secs_f64(1.0 / expire_rate.parse::<f64>()?);
    let registry = Registry::open_shared(path, &Options::default())?;
    let labels = ["writer", "id"];
    let removed = registry.counter_vec("soak_removed", "Series made and removed.", &labels)?;
    let expiring: metricore::CounterVec = registry
        .register(
            Spec::new(
                "soak_expiring",
                "Series made and left to expire.",
                Kind::Counter,
            )
            .labels(&labels)
            .expire_after(Duration::from_millis(200)),
        )?
        .try_into()?;
    let live_family =
        registry.counter_vec("soak_live", "Series recorded into throughout.", &labels)?;
    let live = (0..LIVE)
        .map(|k| live_family.with_labels(&[writer, &k.to_string()]))
        .collect::<metricore::Result<Vec<_>>>()?;
    let mut totals = [0u64; LIVE];
    println!("ready");

    let start = Instant::now();
    let mut times = Vec::new();
    let mut last_expiring: Option<Instant> = None;
    let mut made = 0usize;
    while !std::path::Path::new(stop).exists() {
        for _ in 0..BATCH {
            let id = made.to_string();
            let values = [writer.as_str(), id.as_str()];
            let now = Instant::now();
            if last_expiring.is_none_or(|t| now - t >= expire_gap) {
                last_expiring = Some(now);
                let c = expiring.with_labels(&values)?;
                for _ in 0..INCREMENTS {
                    c.inc();
                }
            } else {
                let c = removed.with_labels(&values)?;
                for _ in 0..INCREMENTS {
                    c.inc();
                }
                drop(c);
                removed.remove(&values)?;
            }
            live[made % LIVE].inc();
            totals[made % LIVE] += 1;
            made += 1;
        }
        times.push(format!("{:.6}", start.elapsed().as_secs_f64()));
    }
    let live_json: Vec<String> = (0..LIVE)
        .map(|k| format!("\"{k}\": {}", totals[k]))
        .collect();
    std::fs::write(
        report,
        format!(
            "{{\"writer\": \"{writer}\", \"made\": {made}, \"batch\": {BATCH}, \
             \"times\": [{}], \"live\": {{{}}}}}\n",
            times.join(", "),
            live_json.join(", ")
        ),
    )?;
    println!("done {made}");
    Ok(())
}
