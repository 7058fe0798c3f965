//! The work every library under test does, and the report of missing peers.

/// A metrics library under test: the handles each benchmark records into.
pub trait Subject {
    /// The row name in criterion's output.
    const NAME: &'static str;
    /// An integer counter without labels.
    type Counter: Sync;
    /// A histogram without labels, with [`DEFAULT_BUCKETS`](crate::series::DEFAULT_BUCKETS).
    type Histogram: Sync;
    /// A counter family with the labels [`LABELS`](crate::series::LABELS), in a
    /// registry of its own so that it can be rendered.
    type Family;

    /// Makes a counter.
    fn counter() -> Self::Counter;
    /// Adds one to `c`.
    fn inc(c: &Self::Counter);

    /// Makes a histogram.
    fn histogram() -> Self::Histogram;
    /// Records `v` in `h`.
    fn observe(h: &Self::Histogram, v: f64);
    /// Does, outside the timed part, what the library otherwise leaves to a background
    /// task (draining queued observations); nothing for most.
    fn settle(_h: &Self::Histogram) {}

    /// Makes an empty family that will hold up to `series` series.
    fn family(series: usize) -> Self::Family;
    /// Finds (or makes) the series for `values` and adds one to it.
    fn inc_labels(f: &Self::Family, values: [&str; 3]);
    /// Renders the family's registry as Prometheus text; returns the length rendered.
    fn render(f: &mut Self::Family) -> usize;
    /// Bytes the family holds outside the heap (a mapped region), if any.
    fn mapped_bytes(_f: &Self::Family) -> u64 {
        0
    }
}

/// A library with a counter that takes fractional increments.
pub trait FloatSubject: Subject {
    /// A counter that accepts `f64` increments.
    type FloatCounter: Sync;
    /// Makes a float counter.
    fn float_counter() -> Self::FloatCounter;
    /// Adds `v` to `c`.
    fn inc_f64(c: &Self::FloatCounter, v: f64);
}

/// The peers left out of this build, each with the feature that brings it in.
pub fn missing() -> Vec<&'static str> {
    let built = [
        ("prometheus", cfg!(feature = "prometheus")),
        ("prometheus-client", cfg!(feature = "prometheus-client")),
        ("metrics", cfg!(feature = "metrics")),
        ("measured", cfg!(feature = "measured")),
    ];
    built
        .into_iter()
        .filter(|(_, on)| !on)
        .map(|(name, _)| name)
        .collect()
}

/// Tells, on standard error, which peers are missing from `group`. The report knows
/// them already: it chose the features.
pub fn report_missing(group: &str) {
    for peer in missing() {
        eprintln!("{group}/{peer}: missing (not built: feature `{peer}` is off)");
    }
}

/// Prints a record saying that `peer` has no measurement of `work` in `suite` because it
/// lacks the feature measured.
pub fn report_unsupported(suite: &str, work: &str, unit: &str, peer: &str, why: &str) {
    if !missing().contains(&peer) {
        crate::record::not_measured(suite, work, peer, unit, &format!("not applicable ({why})"));
    }
}
