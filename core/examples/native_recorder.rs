//! The Rust writer of the native histogram test (tests/prometheus/test_native.py):
//! opens the registry file FILE (creating it with the default options), registers the
//! native histogram `llm_latency_seconds` (schema 3, the default zero threshold and
//! buckets) and observes each value of VALUES (one number a line; none to only make
//! the file and the series).
//!
//! ```text
//! native_recorder FILE VALUES
//! ```

use metricore::buckets::Native;
use metricore::{HistogramVec, Kind, Options, Registry, Spec};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, file, values] = args.as_slice() else {
        return Err("usage: native_recorder FILE VALUES".into());
    };
    let registry = Registry::open_shared(file, &Options::default())?;
    let spec = Spec::new(
        "llm_latency_seconds",
        "Latency.",
        Kind::NativeHistogram(Native::with_schema(3)),
    );
    let family: HistogramVec = registry.register(spec)?.try_into()?;
    let series = family.with_labels(&[])?;
    let mut n = 0;
    for line in std::fs::read_to_string(values)?.lines() {
        series.observe(line.trim().parse()?)?;
        n += 1;
    }
    println!("done {n}");
    Ok(())
}
