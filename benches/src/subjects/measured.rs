//! The `measured` crate, with `paracord` interning the label values.

use measured::metric::histogram::Thresholds;
use measured::text::BufferedTextEncoder;
use measured::{CounterVec, LabelGroup, MetricGroup};
use paracord::ParaCord;

use crate::series::DEFAULT_BUCKETS;
use crate::Subject;

/// The `measured` crate.
pub struct Measured;

/// The labels of a request, interned on first use.
#[derive(Clone, Copy, LabelGroup)]
#[label(set = RequestSet)]
struct Request<'a> {
    #[label(dynamic_with = ParaCord, default)]
    model: &'a str,
    #[label(dynamic_with = ParaCord, default)]
    namespace: &'a str,
    #[label(dynamic_with = ParaCord, default)]
    status: &'a str,
}

/// The metrics of the family's registry.
#[derive(MetricGroup)]
struct Group {
    /// Requests served.
    requests: CounterVec<RequestSet>,
}

/// A `measured` counter vec and its encoder.
pub struct Family {
    group: Group,
    encoder: BufferedTextEncoder,
}

const BUCKETS: usize = DEFAULT_BUCKETS.len();

impl Subject for Measured {
    const NAME: &'static str = "measured";
    type Counter = measured::Counter;
    type Histogram = measured::Histogram<BUCKETS>;
    type Family = Family;

    fn counter() -> measured::Counter {
        measured::Counter::new()
    }

    #[inline]
    fn inc(c: &measured::Counter) {
        c.inc();
    }

    fn histogram() -> measured::Histogram<BUCKETS> {
        measured::Histogram::with_metadata(Thresholds::with_buckets(DEFAULT_BUCKETS))
    }

    #[inline]
    fn observe(h: &measured::Histogram<BUCKETS>, v: f64) {
        h.observe(v);
    }

    fn family(_series: usize) -> Family {
        Family {
            group: Group {
                requests: CounterVec::new(),
            },
            encoder: BufferedTextEncoder::new(),
        }
    }

    #[inline]
    fn inc_labels(f: &Family, [model, namespace, status]: [&str; 3]) {
        f.group.requests.inc(Request {
            model,
            namespace,
            status,
        });
    }

    fn render(f: &mut Family) -> usize {
        f.group
            .collect_group_into(&mut f.encoder)
            .expect("encoding to memory");
        f.encoder.finish().len()
    }
}
