//! metricore, with an in-process registry.

use metricore::{Counter, CounterVec, Format, Histogram, Kind, Options, Registry, Spec, Stats};

use crate::series::{DEFAULT_BUCKETS, LABELS};
use crate::{FloatSubject, Subject};

/// metricore.
pub struct Metricore;

/// A metricore counter family and its registry.
pub struct Family {
    registry: Registry,
    requests: CounterVec,
    out: String,
}

impl Family {
    /// Occupancy of the family's registry.
    pub fn stats(&self) -> Stats {
        self.registry.stats()
    }
}

impl Subject for Metricore {
    const NAME: &'static str = "metricore";
    type Counter = Counter;
    type Histogram = Histogram;
    type Family = Family;

    fn counter() -> Counter {
        Registry::new()
            .counter("requests", "Requests served.")
            .expect("a new counter")
    }

    #[inline]
    fn inc(c: &Counter) {
        c.inc();
    }

    fn histogram() -> Histogram {
        Registry::new()
            .histogram("latency_seconds", "Request latency.", &DEFAULT_BUCKETS)
            .expect("a new histogram")
    }

    #[inline]
    fn observe(h: &Histogram, v: f64) {
        h.observe(v).expect("a finite observation");
    }

    fn family(series: usize) -> Family {
        // Room for `series` series of 64-byte values with the directory at most half
        // full; the family may take a quarter of the arena.
        let defaults = Options::default();
        let registry = Registry::with_options(&Options {
            series_capacity: u32::try_from((2 * series).next_power_of_two())
                .expect("a capacity that fits u32")
                .max(defaults.series_capacity),
            arena_bytes: (1200 * series as u64).max(defaults.arena_bytes),
            ..defaults
        })
        .expect("an in-process registry");
        let limit = u32::try_from(series).expect("a series count that fits u32");
        let spec = Spec::new("requests", "Requests served.", Kind::Counter)
            .labels(&LABELS)
            .limit(limit.max(metricore::DEFAULT_SERIES_LIMIT));
        let requests = registry
            .register(spec)
            .and_then(CounterVec::try_from)
            .expect("a new counter family");
        Family {
            registry,
            requests,
            out: String::new(),
        }
    }

    #[inline]
    fn inc_labels(f: &Family, values: [&str; 3]) {
        f.requests
            .with_labels_ref(&values)
            .expect("three label values")
            .inc();
    }

    fn render(f: &mut Family) -> usize {
        f.registry.render_into(Format::Prometheus, &mut f.out);
        f.out.len()
    }

    fn mapped_bytes(f: &Family) -> u64 {
        f.stats().region_bytes.0
    }
}

impl FloatSubject for Metricore {
    type FloatCounter = Counter;

    fn float_counter() -> Counter {
        Self::counter()
    }

    #[inline]
    fn inc_f64(c: &Counter, v: f64) {
        c.inc_by_f64(v).expect("a finite, non-negative increment");
    }
}
