//! Records one counter increment and one histogram observation (0.5), each with an
//! exemplar, into the shared registry `FILE`, with the label `lang="rust"`; the trace
//! ids are `ID-counter` and `ID-histogram`. The integration test of exemplars
//! (`tests/prometheus/test_exemplars.py`) runs it beside writers in C, Python and Lua.
//!
//! `cargo run --release -p metricore --example exemplar_writer -- FILE ID`

use metricore::{Options, Registry};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(path), Some(id)) = (args.next(), args.next()) else {
        return Err("usage: exemplar_writer FILE ID".into());
    };
    let registry = Registry::open_shared(&path, &Options::default())?;
    let requests = registry.counter_vec("exemplar_requests", "Requests.", &["lang"])?;
    let latency = registry.histogram_vec(
        "exemplar_latency_seconds",
        "Latency.",
        &["lang"],
        &[0.1, 1.0],
    )?;
    requests
        .with_labels(&["rust"])?
        .inc_with_exemplar(&[("trace_id", &format!("{id}-counter"))])?;
    latency
        .with_labels(&["rust"])?
        .observe_with_exemplar(0.5, &[("trace_id", &format!("{id}-histogram"))])?;
    Ok(())
}
