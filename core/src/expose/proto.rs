//! The protobuf encoder: `io.prometheus.client.MetricFamily` messages, each preceded
//! by its length as a varint (`encoding=delimited`), appended to the caller's buffer.
//! Like the text encoder it formats only what it is handed and never reads the region.
//!
//! It takes the same calls as the text encoder (a family, then its samples as the text
//! formats name them) and gathers them into messages: a counter's `_total` sample is a
//! `Counter`, a histogram's `_bucket`, `_count` and `_sum` samples one `Histogram`
//! (with the native buckets [`Encoder::native`] gives it), a summary's samples one
//! `Summary`. The samples of one metric share their labels; a sample with other labels
//! starts the next metric. Counters are named with `_total` and info with `_info`, as
//! in the text format; info and state sets are gauges, `unknown` is `UNTYPED`.

use super::parse::ParsedFamily;

// MetricType values.
const COUNTER: u64 = 0;
const GAUGE: u64 = 1;
const SUMMARY: u64 = 2;
const UNTYPED: u64 = 3;
const HISTOGRAM: u64 = 4;
const GAUGE_HISTOGRAM: u64 = 5;

/// Appends `v` as a varint.
fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends the key of field `field` with wire type `wire`.
fn key(out: &mut Vec<u8>, field: u32, wire: u32) {
    varint(out, u64::from(field << 3 | wire));
}

/// Appends a varint field.
fn uint(out: &mut Vec<u8>, field: u32, v: u64) {
    key(out, field, 0);
    varint(out, v);
}

/// Appends a `sint32`/`sint64` field (zigzag).
fn sint(out: &mut Vec<u8>, field: u32, v: i64) {
    uint(out, field, zigzag(v));
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// Appends a `double` field.
fn double(out: &mut Vec<u8>, field: u32, v: f64) {
    key(out, field, 1);
    out.extend_from_slice(&v.to_le_bytes());
}

/// Appends a length-delimited field (a string, bytes or a message).
fn bytes(out: &mut Vec<u8>, field: u32, b: &[u8]) {
    key(out, field, 2);
    varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// Appends one `LabelPair` as field 1 of a `Metric` (or of an `Exemplar`).
pub(crate) fn label_pair(out: &mut Vec<u8>, name: &str, value: &str) {
    key(out, 1, 2);
    varint(
        out,
        (2 + varint_len(name.len()) + name.len() + varint_len(value.len()) + value.len()) as u64,
    );
    bytes(out, 1, name.as_bytes());
    bytes(out, 2, value.as_bytes());
}

fn varint_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

/// An exemplar: labels (a trace id), the value it explains and when it was recorded.
pub(crate) struct Exemplar<'a> {
    /// Label names and values.
    pub labels: &'a [(&'a str, &'a str)],
    /// The observed value or increment.
    pub value: f64,
    /// Seconds since the Unix epoch, if known.
    pub timestamp: Option<f64>,
}

impl Exemplar<'_> {
    /// The encoded `Exemplar` message.
    fn encode(&self, out: &mut Vec<u8>) {
        for (n, v) in self.labels {
            label_pair(out, n, v);
        }
        double(out, 2, self.value);
        if let Some(t) = self.timestamp.filter(|t| t.is_finite()) {
            let (secs, nanos) = (t.floor(), ((t - t.floor()) * 1e9) as u64);
            let mut ts = Vec::with_capacity(16);
            uint(&mut ts, 1, secs as i64 as u64);
            uint(&mut ts, 2, nanos.min(999_999_999));
            bytes(out, 3, &ts);
        }
    }
}

/// The exponential buckets of a native histogram series: schema, zero bucket, and the
/// populated buckets of each sign as `(index, count)` in increasing index order.
pub(crate) struct Native<'a> {
    /// Resolution: bucket `i` ends at `2^(i * 2^-schema)`.
    pub schema: i32,
    /// Observations of at most this magnitude are in the zero bucket.
    pub zero_threshold: f64,
    /// Observations in the zero bucket.
    pub zero_count: u64,
    /// Positive buckets.
    pub positive: &'a [(i32, u64)],
    /// Negative buckets, by the index of the magnitude.
    pub negative: &'a [(i32, u64)],
}

impl Native<'_> {
    /// Appends the native fields of a `Histogram` message.
    fn encode(&self, out: &mut Vec<u8>) {
        sint(out, 5, i64::from(self.schema));
        double(out, 6, self.zero_threshold);
        uint(out, 7, self.zero_count);
        spans_and_deltas(out, 9, 10, self.negative);
        spans_and_deltas(out, 12, 13, self.positive);
    }
}

/// Appends `buckets` as `BucketSpan`s (field `span`) and the count deltas (packed
/// `sint64`, field `delta`): a span per run of consecutive indices, its offset the gap
/// from the end of the previous one (from 0 for the first); each count given as the
/// difference from the one before it.
fn spans_and_deltas(out: &mut Vec<u8>, span: u32, delta: u32, buckets: &[(i32, u64)]) {
    if buckets.is_empty() {
        return;
    }
    let mut next = 0i64;
    let mut i = 0;
    let mut msg = Vec::with_capacity(8);
    while i < buckets.len() {
        let start = i64::from(buckets[i].0);
        let len = 1 + buckets[i + 1..]
            .iter()
            .zip(&buckets[i..])
            .take_while(|(b, a)| b.0 == a.0.wrapping_add(1))
            .count();
        msg.clear();
        sint(&mut msg, 1, start - next);
        uint(&mut msg, 2, len as u64);
        bytes(out, span, &msg);
        next = start + len as i64;
        i += len;
    }
    msg.clear();
    let mut prev = 0i64;
    for &(_, c) in buckets {
        let c = c as i64;
        varint(&mut msg, zigzag(c.wrapping_sub(prev)));
        prev = c;
    }
    bytes(out, delta, &msg);
}

/// The metric being gathered from samples.
#[derive(Default)]
struct Pending {
    open: bool,
    /// Its labels, as encoded `LabelPair` fields.
    labels: Vec<u8>,
    /// Fields of its `Counter`, `Gauge`, `Untyped`, `Summary` or `Histogram`.
    body: Vec<u8>,
}

/// Writes one exposition in the protobuf format, family by family, into a buffer.
pub(crate) struct Encoder<'a> {
    out: &'a mut Vec<u8>,
    /// The current family's fields; its `Metric`s are appended as they close.
    family: Vec<u8>,
    /// The current family's type (`None` before the first family).
    kind: Option<u64>,
    metric: Pending,
    scratch: Vec<u8>,
}

impl<'a> Encoder<'a> {
    /// An encoder appending to `out`.
    pub fn new(out: &'a mut Vec<u8>) -> Encoder<'a> {
        Encoder {
            out,
            family: Vec::new(),
            kind: None,
            metric: Pending::default(),
            scratch: Vec::new(),
        }
    }

    /// Starts a family of kind `type_name` (`counter`, `gauge`, ... or `unknown`); a
    /// counter's name gets `_total`, an info's `_info`. The unit has no field in
    /// `io.prometheus.client` and is not written.
    pub fn family(&mut self, name: &str, type_name: &str, help: &str) {
        self.end_family();
        let (suffix, kind) = match type_name {
            "counter" => ("_total", COUNTER),
            "info" => ("_info", GAUGE),
            "gauge" | "stateset" => ("", GAUGE),
            "histogram" => ("", HISTOGRAM),
            "gaugehistogram" => ("", GAUGE_HISTOGRAM),
            "summary" => ("", SUMMARY),
            _ => ("", UNTYPED),
        };
        let f = &mut self.family;
        key(f, 1, 2);
        varint(f, (name.len() + suffix.len()) as u64);
        f.extend_from_slice(name.as_bytes());
        f.extend_from_slice(suffix.as_bytes());
        if !help.is_empty() {
            bytes(f, 2, help.as_bytes());
        }
        uint(f, 3, kind);
        self.kind = Some(kind);
    }

    /// Takes one sample as the text formats name it: `suffix` after the family name,
    /// the series' `labels` (encoded `LabelPair` fields, see [`label_pair`]), an
    /// `extra` label (`le` and `quantile` become bucket and quantile bounds, any other
    /// is a label), the value (`count`, its integer form, for counts), and the
    /// exemplar of a counter's value or of a bucket.
    pub fn sample(
        &mut self,
        suffix: &str,
        labels: &[u8],
        extra: Option<(&str, &str)>,
        (f, count): (f64, u64),
        exemplar: Option<&Exemplar>,
    ) {
        let Some(kind) = self.kind else {
            return;
        };
        let grouped = matches!(kind, HISTOGRAM | GAUGE_HISTOGRAM | SUMMARY);
        let bound = extra.filter(|(n, _)| grouped && matches!(*n, "le" | "quantile"));
        if !grouped {
            self.end_metric();
        }
        self.open(labels);
        let m = &mut self.metric;
        if bound.is_none() {
            if let Some((n, v)) = extra {
                label_pair(&mut m.labels, n, v);
            }
        }
        match (kind, suffix, bound) {
            (COUNTER, "_created", _) => m.open = false,
            (COUNTER, ..) | (GAUGE, ..) | (UNTYPED, ..) => {
                double(&mut m.body, 1, f);
                if let (COUNTER, Some(e)) = (kind, exemplar) {
                    self.scratch.clear();
                    e.encode(&mut self.scratch);
                    bytes(&mut m.body, 2, &self.scratch);
                }
            }
            (_, "_bucket", Some((_, le))) => {
                let s = &mut self.scratch;
                s.clear();
                uint(s, 1, count);
                double(s, 2, parse_bound(le));
                if let Some(e) = exemplar {
                    let mut ex = Vec::with_capacity(64);
                    e.encode(&mut ex);
                    bytes(s, 3, &ex);
                }
                bytes(&mut m.body, 3, s);
            }
            (SUMMARY, "", Some((_, q))) => {
                let mut b = Vec::with_capacity(18);
                double(&mut b, 1, parse_bound(q));
                double(&mut b, 2, f);
                bytes(&mut m.body, 3, &b);
            }
            (_, "_count" | "_gcount", _) => uint(&mut m.body, 1, count),
            (_, "_sum" | "_gsum", _) => double(&mut m.body, 2, f),
            _ => {}
        }
        if !grouped {
            self.end_metric();
        }
    }

    /// Gives the histogram metric of `labels` its native buckets.
    pub fn native(&mut self, labels: &[u8], native: &Native) {
        self.open(labels);
        native.encode(&mut self.metric.body);
    }

    /// Makes the metric being gathered the one of `labels`, closing another.
    fn open(&mut self, labels: &[u8]) {
        if self.metric.open && self.metric.labels != labels {
            self.end_metric();
        }
        let m = &mut self.metric;
        if !m.open {
            m.open = true;
            m.labels.extend_from_slice(labels);
        }
    }

    /// Closes the metric being gathered, appending it to the family.
    fn end_metric(&mut self) {
        let m = &mut self.metric;
        if m.open {
            let field = match self.kind {
                Some(COUNTER) => 3,
                Some(GAUGE) => 2,
                Some(SUMMARY) => 4,
                Some(HISTOGRAM | GAUGE_HISTOGRAM) => 7,
                _ => 5,
            };
            let s = &mut self.scratch;
            s.clear();
            s.extend_from_slice(&m.labels);
            bytes(s, field, &m.body);
            bytes(&mut self.family, 4, s);
        }
        m.open = false;
        m.labels.clear();
        m.body.clear();
    }

    /// Closes the current family and writes it, length first.
    fn end_family(&mut self) {
        self.end_metric();
        if self.kind.take().is_some() {
            varint(self.out, self.family.len() as u64);
            self.out.extend_from_slice(&self.family);
        }
        self.family.clear();
    }

    /// Writes families read from exposition text (what render callbacks append).
    pub fn parsed(&mut self, families: &[ParsedFamily]) {
        let mut labels = Vec::new();
        for fam in families {
            let type_name = match fam.kind.as_str() {
                "untyped" => "unknown",
                k => k,
            };
            self.family(&fam.name, type_name, &fam.help);
            let own = match type_name {
                "counter" => "_total",
                "info" => "_info",
                _ => "",
            };
            for s in &fam.samples {
                let Some(suffix) = s.name.strip_prefix(fam.name.as_str()) else {
                    continue;
                };
                let suffix = if suffix == own { "" } else { suffix };
                let bound = match (type_name, suffix) {
                    ("histogram" | "gaugehistogram", "_bucket") => "le",
                    ("summary", "") => "quantile",
                    _ => "",
                };
                labels.clear();
                let mut extra = None;
                for (n, v) in &s.labels {
                    if n == bound {
                        extra = Some((n.as_str(), v.as_str()));
                    } else {
                        label_pair(&mut labels, n, v);
                    }
                }
                self.sample(suffix, &labels, extra, (s.value, s.value as u64), None);
            }
        }
    }

    /// Writes the last family.
    pub fn finish(mut self) {
        self.end_family();
    }
}

/// A bucket or quantile bound written as text (`0.5`, `1e+06`, `+Inf`).
fn parse_bound(s: &str) -> f64 {
    match s {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        s => s.parse().unwrap_or(f64::NAN),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads a varint at `*at`.
    fn read_varint(b: &[u8], at: &mut usize) -> u64 {
        let (mut v, mut shift) = (0u64, 0);
        loop {
            let byte = b[*at];
            *at += 1;
            v |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return v;
            }
            shift += 7;
        }
    }

    /// The fields of a message: (field, wire type, varint or bytes).
    fn fields(b: &[u8]) -> Vec<(u32, u32, u64, Vec<u8>)> {
        let mut at = 0;
        let mut out = Vec::new();
        while at < b.len() {
            let k = read_varint(b, &mut at);
            let (field, wire) = ((k >> 3) as u32, (k & 7) as u32);
            match wire {
                0 => out.push((field, 0, read_varint(b, &mut at), vec![])),
                1 => {
                    let v = u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
                    at += 8;
                    out.push((field, 1, v, vec![]));
                }
                2 => {
                    let n = read_varint(b, &mut at) as usize;
                    out.push((field, 2, 0, b[at..at + n].to_vec()));
                    at += n;
                }
                w => panic!("wire type {w}"),
            }
        }
        out
    }

    #[test]
    fn varints_and_zigzag_are_as_protobuf_writes_them() {
        let mut b = Vec::new();
        varint(&mut b, 300);
        assert_eq!(b, [0xac, 0x02]);
        assert_eq!(zigzag(0), 0);
        assert_eq!(zigzag(-1), 1);
        assert_eq!(zigzag(1), 2);
        assert_eq!(zigzag(-2), 3);
        assert_eq!(varint_len(127), 1);
        assert_eq!(varint_len(128), 2);
    }

    #[test]
    fn spans_split_at_gaps_and_deltas_follow_the_counts() {
        let mut b = Vec::new();
        spans_and_deltas(&mut b, 12, 13, &[(-2, 3), (-1, 5), (3, 1)]);
        let f = fields(&b);
        assert_eq!(f.len(), 3);
        let span = |m: &[u8]| {
            let g = fields(m);
            (g[0].2, g[1].2)
        };
        // Offset -2 (zigzag 3), length 2; then a gap of 3 after index -1 (ends at 0).
        assert_eq!(span(&f[0].3), (3, 2));
        assert_eq!(span(&f[1].3), (6, 1));
        assert_eq!(f[2].0, 13);
        // Deltas 3, 2, -4.
        assert_eq!(f[2].3, [6, 4, 7]);
    }

    #[test]
    fn a_counter_family_is_one_length_delimited_message() {
        let mut out = Vec::new();
        let mut enc = Encoder::new(&mut out);
        let mut labels = Vec::new();
        enc.family("jobs", "counter", "Jobs.");
        label_pair(&mut labels, "q", "a");
        let ex = Exemplar {
            labels: &[("trace_id", "abc")],
            value: 1.0,
            timestamp: None,
        };
        enc.sample("_total", &labels, None, (3.0, 3), Some(&ex));
        enc.finish();
        let mut at = 0;
        let len = read_varint(&out, &mut at) as usize;
        assert_eq!(len, out.len() - at);
        let f = fields(&out[at..]);
        assert_eq!(f[0].3, b"jobs_total");
        assert_eq!(f[1].3, b"Jobs.");
        assert_eq!((f[2].0, f[2].2), (3, COUNTER));
        let metric = fields(&f[3].3);
        let pair = fields(&metric[0].3);
        assert_eq!((&pair[0].3[..], &pair[1].3[..]), (&b"q"[..], &b"a"[..]));
        let counter = fields(&metric[1].3);
        assert_eq!(metric[1].0, 3);
        assert_eq!(f64::from_bits(counter[0].2), 3.0);
        assert_eq!(counter[1].0, 2, "the exemplar");
    }

    #[test]
    fn histogram_samples_of_one_series_make_one_metric() {
        let mut out = Vec::new();
        let mut enc = Encoder::new(&mut out);
        let mut labels = Vec::new();
        enc.family("h", "histogram", "");
        for l in ["a", "b"] {
            labels.clear();
            label_pair(&mut labels, "l", l);
            enc.sample("_bucket", &labels, Some(("le", "1.0")), (1.0, 1), None);
            enc.sample("_bucket", &labels, Some(("le", "+Inf")), (2.0, 2), None);
            enc.sample("_count", &labels, None, (2.0, 2), None);
            enc.sample("_sum", &labels, None, (2.5, 2), None);
        }
        enc.finish();
        let mut at = 0;
        read_varint(&out, &mut at);
        let metrics: Vec<_> = fields(&out[at..])
            .into_iter()
            .filter(|f| f.0 == 4)
            .collect();
        assert_eq!(metrics.len(), 2);
        let h = fields(&fields(&metrics[1].3)[1].3);
        let buckets: Vec<_> = h.iter().filter(|f| f.0 == 3).collect();
        assert_eq!(buckets.len(), 2);
        assert_eq!(f64::from_bits(fields(&buckets[0].3)[1].2), 1.0);
        assert!(h.iter().any(|f| f.0 == 1 && f.2 == 2));
        assert!(h.iter().any(|f| f.0 == 2 && f64::from_bits(f.2) == 2.5));
    }

    #[test]
    fn an_exemplar_carries_its_labels_value_and_time() {
        let mut b = Vec::new();
        Exemplar {
            labels: &[("trace_id", "abc")],
            value: 0.5,
            timestamp: Some(1.25),
        }
        .encode(&mut b);
        let f = fields(&b);
        assert_eq!(f[0].0, 1);
        assert_eq!(f64::from_bits(f[1].2), 0.5);
        let ts = fields(&f[2].3);
        assert_eq!((ts[0].2, ts[1].2), (1, 250_000_000));
    }
}
