//! The text encoder: family headers and sample lines in the Prometheus text format
//! 0.0.4 or OpenMetrics 1.0.0, written into the caller's buffer. It formats only what it
//! is handed (names, labels, values) and never reads the region.

use std::borrow::Cow;

use super::format::{Format, Numbers};
use crate::error::{Error, Result};
use crate::exemplar::Exemplar;
use crate::names::{check_label_name, check_metric_name, escape_name, is_legacy_name, Escaping};

/// A sample value: integers as integers, floats in the shortest form that reads back.
#[derive(Clone, Copy)]
pub(crate) enum Value {
    /// An integer.
    U(u64),
    /// A float.
    F(f64),
}

impl Value {
    /// The value as a float.
    pub fn as_f64(self) -> f64 {
        match self {
            Value::U(v) => v as f64,
            Value::F(v) => v,
        }
    }

    /// The value as a count (a float saturated into `u64`).
    pub fn as_u64(self) -> u64 {
        match self {
            Value::U(v) => v,
            Value::F(v) => v as u64,
        }
    }

    fn write(self, numbers: Numbers, out: &mut String) {
        match (self, numbers) {
            (Value::U(v), Numbers::Shortest) => out.push_str(itoa::Buffer::new().format(v)),
            // Below 10^6 an integer is written as itself with `.0`, as Python does.
            (Value::U(v), Numbers::Python) if v < 1_000_000 => {
                out.push_str(itoa::Buffer::new().format(v));
                out.push_str(".0");
            }
            (Value::U(v), Numbers::Python) => write_f64(v as f64, numbers, out),
            (Value::F(v), _) => write_f64(v, numbers, out),
        }
    }
}

/// Writes a float: `NaN`, `+Inf`, `-Inf`, or its shortest form in the style `numbers`
/// names.
pub(crate) fn write_f64(v: f64, numbers: Numbers, out: &mut String) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v == f64::INFINITY {
        out.push_str("+Inf");
    } else if v == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else if numbers == Numbers::Shortest || python_is_shortest(v) {
        out.push_str(ryu::Buffer::new().format_finite(v));
    } else {
        write_python(v, out);
    }
}

/// Whether Python writes `v` as the shortest form does: decimal notation in
/// [10^-4, 10^16) (and zero), below 10^6 for positive values.
fn python_is_shortest(v: f64) -> bool {
    let a = v.abs();
    v == 0.0 || ((1e-4..1e16).contains(&a) && !(v > 0.0 && a >= 1e6))
}

/// Python's `repr` of a finite float, but with Go's exponent form for positive values
/// of 10^6 or more, as `prometheus_client` writes values. Nothing is allocated.
fn write_python(v: f64, out: &mut String) {
    match whole_micros(v) {
        Some(m) => write_go_micros(m, out),
        None => write_shortest_python(v, out),
    }
}

/// [`write_python`] by a search for the shortest digits.
fn write_shortest_python(v: f64, out: &mut String) {
    let mut buf = ryu::Buffer::new();
    let short = buf.format_finite(v.abs());
    // The shortest digits and the decimal exponent of the first one.
    let (mantissa, exp) = match short.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (short, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    // ryu writes fewer than 25 characters.
    let mut all = [0u8; 32];
    let mut n = 0;
    for (d, b) in all.iter_mut().zip(int.bytes().chain(frac.bytes())) {
        *d = b;
        n += 1;
    }
    let lead = all[..n].iter().take_while(|&&d| d == b'0').count();
    let exp = exp + int.len() as i32 - 1 - lead as i32;
    let digits = std::str::from_utf8(&all[lead..n]).unwrap_or_default();
    let digits = digits.trim_end_matches('0');
    if v.is_sign_negative() {
        out.push('-');
    }
    if digits.is_empty() {
        out.push_str("0.0");
        return;
    }
    let go = v > 0.0 && exp >= 6;
    if go || !(-4..16).contains(&exp) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push_str(if exp < 0 { "e-" } else { "e+" });
        let e = exp.unsigned_abs();
        if e < 10 {
            out.push('0');
        }
        out.push_str(itoa::Buffer::new().format(e));
    } else if exp < 0 {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        out.push_str(digits);
    } else {
        let point = exp as usize + 1;
        if digits.len() > point {
            out.push_str(&digits[..point]);
            out.push('.');
            out.push_str(&digits[point..]);
        } else {
            out.push_str(digits);
            for _ in digits.len()..point {
                out.push('0');
            }
            out.push_str(".0");
        }
    }
}

/// `v` as a whole number of microseconds, if it is the double nearest one and lies in
/// [10^6, 2^32), where doubles are less than a microsecond apart: then no shorter
/// decimal reads back as `v`, so its shortest form is that number's digits (trailing
/// zeros left out), found without a search. Creation times are such numbers.
fn whole_micros(v: f64) -> Option<u64> {
    if !(1e6..4_294_967_296.0).contains(&v) {
        return None;
    }
    let m = (v * 1e6).round();
    (m / 1e6 == v).then_some(m as u64)
}

/// Writes `m` microseconds (10^12 or more) in Go's exponent form, as [`write_python`]
/// writes values of 10^6 or more: `1.7649345671234e+09`.
fn write_go_micros(m: u64, out: &mut String) {
    let mut buf = itoa::Buffer::new();
    let digits = buf.format(m);
    let exp = digits.len() - 7;
    let digits = digits.trim_end_matches('0');
    out.push_str(&digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    out.push_str("e+0");
    out.push_str(itoa::Buffer::new().format(exp));
}

/// A series' labels as `name="value"` pairs without braces (or, for the protobuf
/// encoder, as encoded `LabelPair` fields; for the structured one, as pairs), names
/// outside the legacy set written as the scheme says: rendered once, reused for each of
/// the series' lines.
pub(crate) struct Labels {
    text: String,
    proto: Option<Vec<u8>>,
    pairs: Option<Vec<(String, String)>>,
    escaping: Escaping,
}

impl Labels {
    /// No labels yet; names outside the legacy set are to be written as `escaping` says.
    pub fn new(escaping: Escaping) -> Labels {
        Labels {
            text: String::new(),
            proto: None,
            pairs: None,
            escaping,
        }
    }

    /// Labels for the protobuf encoder, which writes names as `escaping` says
    /// ([`Escaping::AllowUtf8`]: as they are).
    pub fn proto(escaping: Escaping) -> Labels {
        Labels {
            proto: Some(Vec::new()),
            ..Labels::new(escaping)
        }
    }

    /// Labels for the structured encoder: names as they are.
    pub fn pairs_only() -> Labels {
        Labels {
            pairs: Some(Vec::new()),
            ..Labels::new(Escaping::AllowUtf8)
        }
    }

    /// The labels as name and value pairs (empty unless made by [`Labels::pairs_only`]).
    pub fn pairs(&self) -> &[(String, String)] {
        self.pairs.as_deref().unwrap_or_default()
    }

    /// The encoded `LabelPair` fields (empty for text labels).
    pub fn proto_fields(&self) -> &[u8] {
        self.proto.as_deref().unwrap_or_default()
    }

    /// The labels as the text formats write them.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Text labels again, as [`Labels::text`] gave them.
    pub fn set_text(&mut self, text: &str) {
        self.text.clear();
        self.text.push_str(text);
    }

    /// Removes every label.
    #[inline]
    pub fn clear(&mut self) {
        self.text.clear();
        if let Some(pb) = &mut self.proto {
            pb.clear();
        }
        if let Some(pairs) = &mut self.pairs {
            pairs.clear();
        }
    }

    /// Appends the label `name="value"`, escaping the name as the scheme says and the
    /// value.
    pub fn push(&mut self, name: &str, value: &str) {
        if let Some(pb) = &mut self.proto {
            super::proto::label_pair(pb, &proto_name(name, true, self.escaping), value);
            return;
        }
        if self.pairs.is_some() {
            return self.push_plain(name, value);
        }
        let out = &mut self.text;
        if !out.is_empty() {
            out.push(',');
        }
        push_name(out, name, "", true, self.escaping);
        out.push_str("=\"");
        escape_into(out, value);
        out.push('"');
    }

    /// As [`Labels::push`], for a name [`Labels::plain`] found written as it is.
    #[inline]
    pub fn push_plain(&mut self, name: &str, value: &str) {
        if let Some(pb) = &mut self.proto {
            super::proto::label_pair(pb, name, value);
            return;
        }
        if let Some(pairs) = &mut self.pairs {
            pairs.push((name.to_owned(), value.to_owned()));
            return;
        }
        let out = &mut self.text;
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(name);
        out.push_str("=\"");
        escape_into(out, value);
        out.push('"');
    }

    /// Whether every label name of `names` is written as it is by this scheme, so
    /// they can be pushed with [`Labels::push_plain`].
    pub fn plain(&self, names: &[String]) -> bool {
        match self.escaping {
            Escaping::AllowUtf8 if self.proto.is_some() || self.pairs.is_some() => true,
            Escaping::Dots => false,
            _ => names.iter().all(|n| is_legacy_name(n, true)),
        }
    }
}

/// Writes one exposition, family by family, into a buffer.
pub(crate) struct Encoder<'a> {
    out: &'a mut String,
    format: Format,
    numbers: Numbers,
    escaping: Escaping,
    /// Whether the name of the current family is written as it is.
    plain: bool,
}

impl<'a> Encoder<'a> {
    /// An encoder appending to `out` in `format`, writing values as `numbers` says and
    /// names outside the legacy set as `escaping` says.
    pub fn new(
        out: &'a mut String,
        format: Format,
        numbers: Numbers,
        escaping: Escaping,
    ) -> Encoder<'a> {
        Encoder {
            out,
            format,
            numbers,
            escaping,
            plain: true,
        }
    }

    /// The labels of a series, to be written by this encoder.
    pub fn labels(&self) -> Labels {
        Labels::new(self.escaping)
    }

    /// The format this encoder writes.
    pub fn format(&self) -> Format {
        self.format
    }

    /// How this encoder writes values.
    pub fn numbers(&self) -> Numbers {
        self.numbers
    }

    /// Writes the `# HELP` (when there is help), `# TYPE` and, in OpenMetrics, `# UNIT`
    /// lines of a family of kind `type_name` (`counter`, `gauge`, ... or `unknown`).
    pub fn family(&mut self, name: &str, type_name: &str, help: &str, unit: &str) {
        let (suffix, kind) = type_line(self.format, type_name);
        let om = self.format == Format::OpenMetrics;
        let escaping = self.escaping;
        self.plain = plain(name, escaping);
        let out = &mut *self.out;
        if !help.is_empty() {
            out.push_str("# HELP ");
            push_name(out, name, suffix, false, escaping);
            out.push(' ');
            for c in help.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '"' if om => out.push_str("\\\""),
                    c => out.push(c),
                }
            }
            out.push('\n');
        }
        out.push_str("# TYPE ");
        push_name(out, name, suffix, false, escaping);
        out.push(' ');
        out.push_str(kind);
        out.push('\n');
        if om && !unit.is_empty() {
            out.push_str("# UNIT ");
            push_name(out, name, "", false, escaping);
            out.push(' ');
            out.push_str(unit);
            out.push('\n');
        }
    }

    /// Writes one sample: `name` (the name of the family last written, or a name of
    /// the legacy set) and `suffix`, the labels and then the `extra` label (`le`,
    /// `pid`, a state), and the value.
    pub fn sample(
        &mut self,
        name: &str,
        suffix: &str,
        labels: &Labels,
        extra: Option<(&str, &str)>,
        value: Value,
    ) {
        let out = &mut *self.out;
        let labels = labels.text.as_str();
        // With UTF-8 names a name outside the legacy set goes quoted inside the braces.
        let inside = !self.plain && self.escaping == Escaping::AllowUtf8;
        if self.plain {
            out.push_str(name);
            out.push_str(suffix);
        } else if inside {
            out.push('{');
            push_name(out, name, suffix, false, self.escaping);
            if !labels.is_empty() || extra.is_some() {
                out.push(',');
            }
        } else {
            push_name(out, name, suffix, false, self.escaping);
        }
        if inside || !labels.is_empty() || extra.is_some() {
            if !inside {
                out.push('{');
            }
            out.push_str(labels);
            if let Some((n, v)) = extra {
                if !labels.is_empty() {
                    out.push(',');
                }
                push_name(out, n, "", true, self.escaping);
                out.push_str("=\"");
                escape_into(out, v);
                out.push('"');
            }
            out.push('}');
        }
        out.push(' ');
        value.write(self.numbers, out);
        out.push('\n');
    }

    /// Whether this encoder writes exemplars: in OpenMetrics only.
    pub fn writes_exemplars(&self) -> bool {
        self.format == Format::OpenMetrics
    }

    /// Appends `exemplar` to the sample line just written, in OpenMetrics
    /// (` # {labels} value timestamp`); nothing in the Prometheus text format.
    pub fn exemplar(&mut self, exemplar: &Exemplar) {
        if !self.writes_exemplars() {
            return;
        }
        let mut labels = self.labels();
        for (n, v) in exemplar.labels() {
            labels.push(n, v);
        }
        let out = &mut *self.out;
        out.pop();
        out.push_str(" # {");
        out.push_str(&labels.text);
        out.push_str("} ");
        write_f64(exemplar.value(), self.numbers, out);
        out.push(' ');
        write_f64(exemplar.timestamp(), Numbers::Shortest, out);
        out.push('\n');
    }

    /// Writes one sample of an external family, with its time if it has one: in
    /// milliseconds in the Prometheus text format, in seconds in OpenMetrics.
    fn sample_at(&mut self, name: &str, labels: &Labels, value: f64, timestamp: Option<f64>) {
        self.plain = plain(name, self.escaping);
        self.sample(name, "", labels, None, Value::F(value));
        let Some(t) = timestamp.filter(|t| t.is_finite()) else {
            return;
        };
        self.out.pop();
        self.out.push(' ');
        if self.format == Format::OpenMetrics {
            write_f64(t, self.numbers, self.out);
        } else {
            self.out
                .push_str(itoa::Buffer::new().format((t * 1000.0) as i64));
        }
        self.out.push('\n');
    }

    /// The buffer, for text that is appended as it is.
    pub fn out(&mut self) -> &mut String {
        self.out
    }

    /// Ends the exposition: `# EOF` in OpenMetrics, nothing in Prometheus text.
    pub fn finish(self) {
        if self.format == Format::OpenMetrics {
            self.out.push_str("# EOF\n");
        }
    }
}

/// The suffix of a family's name in its `# TYPE` line, and the type named there: the
/// Prometheus text format names counters `_total` and info `_info`, has no info or
/// state set types (they are gauges there) and calls `unknown` `untyped`.
fn type_line(format: Format, type_name: &str) -> (&'static str, &str) {
    match (type_name, format) {
        ("counter", Format::Prometheus) => ("_total", "counter"),
        ("info", Format::Prometheus) => ("_info", "gauge"),
        ("stateset", Format::Prometheus) => ("", "gauge"),
        ("unknown", Format::Prometheus) => ("", "untyped"),
        (t, _) => ("", t),
    }
}

/// Whether `escaping` writes the metric name `name` (and it with a suffix) as it is.
fn plain(name: &str, escaping: Escaping) -> bool {
    escaping != Escaping::Dots && is_legacy_name(name, false)
}

/// Writes `name` and then `suffix` (legacy characters) as `escaping` writes their whole,
/// a metric name or (`label`) a label name. A legacy name is copied as it is (but for
/// [`Escaping::Dots`], which doubles its `_`).
fn push_name(out: &mut String, name: &str, suffix: &str, label: bool, escaping: Escaping) {
    if escaping != Escaping::Dots && is_legacy_name(name, label) {
        out.push_str(name);
        out.push_str(suffix);
    } else if suffix.is_empty() {
        out.push_str(&escape_name(name, label, escaping));
    } else {
        out.push_str(&escape_name(&format!("{name}{suffix}"), label, escaping));
    }
}

/// A metric name or (`label`) a label name as the protobuf exposition carries it under
/// `escaping`: as it is with [`Escaping::AllowUtf8`] (protobuf needs no quotes), else
/// as the text formats write it.
pub(crate) fn proto_name(name: &str, label: bool, escaping: Escaping) -> Cow<'_, str> {
    if escaping == Escaping::AllowUtf8
        || (escaping != Escaping::Dots && is_legacy_name(name, label))
    {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(escape_name(name, label, escaping))
    }
}

/// Values up to this long are searched byte by byte.
const SHORT: usize = 32;

/// Escapes a label value: `\`, `"` and newline; runs without them are copied whole.
fn escape_into(out: &mut String, v: &str) {
    // Most values are short and need no escape: a plain loop finds that sooner than a
    // vectorised search is set up.
    if v.len() <= SHORT && !v.bytes().any(|b| matches!(b, b'\\' | b'"' | b'\n')) {
        out.push_str(v);
        return;
    }
    let mut rest = v;
    while let Some(i) = memchr::memchr3(b'\\', b'"', b'\n', rest.as_bytes()) {
        out.push_str(&rest[..i]);
        out.push_str(match rest.as_bytes()[i] {
            b'\\' => "\\\\",
            b'"' => "\\\"",
            _ => "\\n",
        });
        rest = &rest[i + 1..];
    }
    out.push_str(rest);
}

/// A family made outside the registry, by a custom collector, to be rendered by the
/// same rules as the registry's own.
#[derive(Clone, Debug)]
pub struct ExternalFamily<'a> {
    /// Family name (for counters without `_total`, for info without `_info`).
    pub name: &'a str,
    /// Help text.
    pub help: &'a str,
    /// Unit, or empty.
    pub unit: &'a str,
    /// `counter`, `gauge`, `histogram`, `gaugehistogram`, `summary`, `info`,
    /// `stateset` or `unknown`.
    pub kind: &'a str,
    /// The samples, in order.
    pub samples: &'a [ExternalSample<'a>],
}

/// One sample of an [`ExternalFamily`].
#[derive(Clone, Debug)]
pub struct ExternalSample<'a> {
    /// Full sample name (`x_total`, `x_bucket`, ...).
    pub name: &'a str,
    /// Label names and values.
    pub labels: &'a [(&'a str, &'a str)],
    /// The value.
    pub value: f64,
    /// The time of the value, in seconds since the Unix epoch, if it has one.
    pub timestamp: Option<f64>,
}

/// Checks and renders an external family into `out`, its values written as `numbers`
/// says and names outside the legacy set as `escaping` says ([`Format::Protobuf`]
/// writes the Prometheus text format).
pub fn render_external(
    format: Format,
    numbers: Numbers,
    escaping: Escaping,
    family: &ExternalFamily,
    out: &mut String,
) -> Result<()> {
    let format = format.text();
    const KINDS: [&str; 8] = [
        "counter",
        "gauge",
        "histogram",
        "gaugehistogram",
        "summary",
        "info",
        "stateset",
        "unknown",
    ];
    let kind = KINDS
        .iter()
        .find(|k| **k == family.kind)
        .ok_or_else(|| Error::UnknownType {
            metric: family.name.to_owned(),
            kind: family.kind.to_owned(),
        })?;
    check_metric_name(family.name)?;
    for s in family.samples {
        check_metric_name(s.name)?;
        for (n, _) in s.labels {
            check_label_name(n)?;
        }
    }
    let mut enc = Encoder::new(out, format, numbers, escaping);
    let mut labels = enc.labels();
    let mut write = |enc: &mut Encoder<'_>, keep: &dyn Fn(&str) -> bool| {
        for s in family.samples.iter().filter(|s| keep(s.name)) {
            labels.clear();
            for (n, v) in s.labels {
                labels.push(n, v);
            }
            enc.sample_at(s.name, &labels, s.value, s.timestamp);
        }
    };
    if *kind == "gaugehistogram" && format == Format::Prometheus {
        // The text format has no gauge histograms: the buckets as a histogram, the
        // count and sum as gauges of their own.
        enc.family(family.name, "histogram", family.help, family.unit);
        let (gcount, gsum) = (
            format!("{}_gcount", family.name),
            format!("{}_gsum", family.name),
        );
        write(&mut enc, &|n| n != gcount && n != gsum);
        for gauge in [&gcount, &gsum] {
            if family.samples.iter().any(|s| s.name == gauge.as_str()) {
                enc.family(gauge, "gauge", family.help, family.unit);
                write(&mut enc, &|n| n == gauge.as_str());
            }
        }
        return Ok(());
    }
    enc.family(family.name, kind, family.help, family.unit);
    write(&mut enc, &|_| true);
    Ok(())
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// Whole microseconds are written as the search for the shortest digits writes
    /// them.
    #[test]
    fn whole_microseconds_are_written_as_the_shortest_form_is() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut checked = 0;
        for i in 0..200_000 {
            // Seconds over the whole range, and times of today, with 0 to 6 decimals.
            let secs = if i % 2 == 0 {
                1_000_000 + next() % 4_293_967_296
            } else {
                1_764_000_000 + next() % 1_000_000
            };
            let d = (next() % 7) as usize;
            let frac = next() % 10u64.pow(d as u32);
            let text = if d == 0 {
                format!("{secs}")
            } else {
                format!("{secs}.{frac:0>d$}")
            };
            let v: f64 = text.parse().unwrap();
            let Some(m) = whole_micros(v) else {
                continue;
            };
            let (mut fast, mut slow) = (String::new(), String::new());
            write_go_micros(m, &mut fast);
            write_shortest_python(v, &mut slow);
            assert_eq!(fast, slow, "{v}");
            checked += 1;
        }
        assert!(checked > 190_000, "{checked}");
        for v in [1e6, 1234567.0, 1e9 + 0.5, 4294967295.999999] {
            let (mut fast, mut slow) = (String::new(), String::new());
            write_go_micros(whole_micros(v).unwrap(), &mut fast);
            write_shortest_python(v, &mut slow);
            assert_eq!(fast, slow, "{v}");
        }
        assert_eq!(whole_micros(4294967296.0), None);
        assert_eq!(whole_micros(1764934567.1234567), None);
    }
}
