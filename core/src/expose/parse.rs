//! The text parser: Prometheus text 0.0.4 and OpenMetrics 1.0.0 read back into
//! families, with the rules `prometheus_client`'s parsers follow on valid input:
//! `# HELP` and `# TYPE` in either order, a sample whose name its family does not
//! have starts an untyped family of its own, names quoted the UTF-8 way (`{"a.b"}`),
//! blanks around labels, millisecond timestamps of the text format in seconds. In the
//! text format, counters are named without `_total` and their samples with it.

use super::format::Format;
use crate::error::{Error, Result};
use crate::names::is_legacy_name;

/// A family read from exposition text.
#[derive(Clone, Debug, PartialEq)]
pub struct ParsedFamily {
    /// Name (for counters without `_total`).
    pub name: String,
    /// Help text, unescaped.
    pub help: String,
    /// `counter`, `gauge`, `histogram`, `summary`, `info`, `stateset`,
    /// `gaugehistogram` or `unknown` (`untyped` in the text format).
    pub kind: String,
    /// Unit (OpenMetrics), or empty.
    pub unit: String,
    /// The samples, in order.
    pub samples: Vec<ParsedSample>,
}

/// One sample read from exposition text.
#[derive(Clone, Debug, PartialEq)]
pub struct ParsedSample {
    /// Full sample name.
    pub name: String,
    /// Label names and values, unescaped, in order.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: f64,
    /// The time, in seconds since the Unix epoch, when given.
    pub timestamp: Option<f64>,
    /// The exemplar after the sample (OpenMetrics only), when given.
    pub exemplar: Option<ParsedExemplar>,
}

/// An exemplar read from OpenMetrics text: ` # {labels} value [timestamp]`.
#[derive(Clone, Debug, PartialEq)]
pub struct ParsedExemplar {
    /// Label names and values, unescaped, in order.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: f64,
    /// The time, in seconds since the Unix epoch, when given.
    pub timestamp: Option<f64>,
}

/// Reads exposition `text` in `format` into families, in order. A line that cannot
/// be read is an [`Error::Parse`] naming it.
///
/// ```
/// use metricore::expose::parse;
/// use metricore::Format;
///
/// let text = "# TYPE jobs_total counter\n# HELP jobs_total Jobs.\njobs_total{q=\"a\"} 3 1000\n";
/// let families = parse(text, Format::Prometheus).unwrap();
/// assert_eq!(families[0].name, "jobs");
/// assert_eq!(families[0].help, "Jobs.");
/// assert_eq!(families[0].samples[0].name, "jobs_total");
/// assert_eq!(families[0].samples[0].timestamp, Some(1.0));
/// ```
pub fn parse(text: &str, format: Format) -> Result<Vec<ParsedFamily>> {
    let om = format == Format::OpenMetrics;
    let mut out = Vec::new();
    let mut cur = Current::default();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let fail = |reason: String| Error::Parse {
            line: n + 1,
            text: raw.to_owned(),
            reason,
        };
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let parts = split_quoted(comment, 3);
            let (Some(keyword), Some(name)) = (parts.first(), parts.get(1)) else {
                if om && parts.first() == Some(&"EOF") {
                    break;
                }
                continue;
            };
            let known = matches!(*keyword, "HELP" | "TYPE") || (om && *keyword == "UNIT");
            if !known {
                continue;
            }
            let (name, quoted) = unquote(name).map_err(fail)?;
            if !quoted && !is_legacy_name(&name, false) {
                return Err(fail(format!("invalid metric name {name:?}")));
            }
            let rest = parts.get(2).copied().unwrap_or("");
            match *keyword {
                "HELP" => {
                    if name != cur.name {
                        cur.flush(om, &mut out);
                        cur = Current::named(name);
                    }
                    cur.help = unescape(rest, om);
                }
                "TYPE" => {
                    if rest.is_empty() {
                        return Err(fail("a TYPE line without a type".into()));
                    }
                    if name != cur.name {
                        cur.flush(om, &mut out);
                        cur = Current::named(name);
                    }
                    cur.kind = rest.to_owned();
                    cur.allowed = suffixes(rest, om)
                        .iter()
                        .map(|s| format!("{}{s}", cur.name))
                        .collect();
                }
                _ => {
                    if name == cur.name {
                        cur.unit = rest.to_owned();
                    }
                }
            }
            continue;
        }
        let sample = parse_sample(line, om).map_err(fail)?;
        if cur.allowed.contains(&sample.name) {
            cur.samples.push(sample);
        } else {
            cur.flush(om, &mut out);
            let mut single = Current::named(sample.name.clone());
            single.samples.push(sample);
            single.flush(om, &mut out);
        }
    }
    cur.flush(om, &mut out);
    Ok(out)
}

/// The family being read.
struct Current {
    name: String,
    help: String,
    kind: String,
    unit: String,
    samples: Vec<ParsedSample>,
    /// The sample names the family has.
    allowed: Vec<String>,
}

impl Default for Current {
    fn default() -> Current {
        Current::named(String::new())
    }
}

impl Current {
    fn named(name: String) -> Current {
        Current {
            allowed: vec![name.clone()],
            name,
            help: String::new(),
            kind: "untyped".into(),
            unit: String::new(),
            samples: Vec::new(),
        }
    }

    /// Appends the family (if it has a name) to `out`; counters of the text format
    /// lose `_total` from the family name or gain it on their samples.
    fn flush(&mut self, om: bool, out: &mut Vec<ParsedFamily>) {
        if self.name.is_empty() {
            return;
        }
        let mut cur = std::mem::take(self);
        if cur.kind == "counter" && !om {
            match cur.name.strip_suffix("_total") {
                Some(base) => cur.name = base.to_owned(),
                None => cur
                    .samples
                    .iter_mut()
                    .for_each(|s| s.name.push_str("_total")),
            }
        }
        if cur.kind == "untyped" {
            cur.kind = "unknown".into();
        }
        out.push(ParsedFamily {
            name: cur.name,
            help: cur.help,
            kind: cur.kind,
            unit: cur.unit,
            samples: cur.samples,
        });
    }
}

/// The suffixes of the sample names a family of type `kind` has.
fn suffixes(kind: &str, om: bool) -> &'static [&'static str] {
    match (kind, om) {
        ("summary", false) => &["_count", "_sum", ""],
        ("histogram", false) => &["_count", "_sum", "_bucket"],
        ("counter", true) => &["_total", "_created"],
        ("summary", true) => &["_count", "_sum", "_created", ""],
        ("histogram", true) => &["_bucket", "_count", "_sum", "_created"],
        ("gaugehistogram", true) => &["_bucket", "_gcount", "_gsum"],
        ("info", true) => &["_info"],
        _ => &[""],
    }
}

/// One sample line: `name{labels} value [timestamp]`, or `{"name", labels} ...`.
fn parse_sample(line: &str, om: bool) -> std::result::Result<ParsedSample, String> {
    let brace = next_unquoted(line, 0, |c| c == '{').filter(|&b| !line[..b].contains(" # "));
    let (name, mut labels, rest) = match brace {
        None => {
            let end = next_unquoted(line, 0, |c| c == ' ' || c == '\t')
                .ok_or_else(|| "a sample without a value".to_owned())?;
            let name = line[..end].trim();
            if !is_legacy_name(name, false) {
                return Err(format!("invalid metric name {name:?}"));
            }
            (name.to_owned(), Vec::new(), &line[end + 1..])
        }
        Some(b) => {
            let end = next_unquoted(line, b, |c| c == '}')
                .ok_or_else(|| "labels without a closing brace".to_owned())?;
            let labels = parse_labels(&line[b + 1..end], om)
                .map_err(|e| format!("invalid labels {:?}: {e}", &line[b + 1..end]))?;
            (line[..b].trim().to_owned(), labels, &line[end + 1..])
        }
    };
    let named = labels.iter().position(|(n, _)| n == "__name__");
    let name = match (name.is_empty(), named) {
        (true, Some(i)) => labels.remove(i).1,
        (true, None) => return Err("a sample without a name".into()),
        (false, Some(_)) => return Err("the metric name is given twice".into()),
        (false, None) => name,
    };
    let (value, timestamp) = value_and_time(rest, om)?;
    let exemplar = match rest.find(" # ") {
        Some(i) if om => Some(parse_exemplar(&rest[i + 3..])?),
        _ => None,
    };
    Ok(ParsedSample {
        name,
        labels,
        value,
        timestamp,
        exemplar,
    })
}

/// An exemplar after ` # `: `{labels} value [timestamp]`.
fn parse_exemplar(text: &str) -> std::result::Result<ParsedExemplar, String> {
    let bad = || format!("invalid exemplar {text:?}");
    let text = text.trim_start().strip_prefix('{').ok_or_else(bad)?;
    let end = next_unquoted(text, 0, |c| c == '}').ok_or_else(bad)?;
    let labels = parse_labels(&text[..end], true).map_err(|e| format!("{}: {e}", bad()))?;
    let (value, timestamp) = value_and_time(&text[end + 1..], true)?;
    Ok(ParsedExemplar {
        labels,
        value,
        timestamp,
    })
}

/// The value and optional time after the labels; in OpenMetrics an exemplar (after
/// ` # `) is skipped.
fn value_and_time(rest: &str, om: bool) -> std::result::Result<(f64, Option<f64>), String> {
    let rest = match rest.find(" # ") {
        Some(i) if om => &rest[..i],
        _ => rest,
    };
    let rest = rest.trim_start();
    let sep = if rest.contains(' ') { ' ' } else { '\t' };
    let words: Vec<&str> = rest
        .split(sep)
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .collect();
    let Some(first) = words.first() else {
        return Err("a sample without a value".into());
    };
    let value = number(first)?;
    let timestamp = match words.len() {
        1 => None,
        _ => {
            let t = number(words[words.len() - 1])?;
            Some(if om { t } else { t / 1000.0 })
        }
    };
    Ok((value, timestamp))
}

/// A value: an integer or a float (`NaN`, `+Inf`, `-Inf`, exponents); no `_`.
fn number(word: &str) -> std::result::Result<f64, String> {
    let bad = || format!("invalid value {word:?}");
    if word.contains('_') {
        return Err(bad());
    }
    word.parse::<f64>().map_err(|_| bad())
}

/// The labels between the braces: `name="value"` terms separated by commas (a
/// trailing comma allowed), or a quoted name alone (the metric name).
fn parse_labels(mut text: &str, om: bool) -> std::result::Result<Vec<(String, String)>, String> {
    let mut labels: Vec<(String, String)> = Vec::new();
    text = text.trim();
    if om && text.starts_with(',') {
        return Err("a leading comma".into());
    }
    while !text.is_empty() {
        if let Some(after) = text.strip_prefix(',') {
            text = after;
            if text.is_empty() {
                break;
            }
            if text.starts_with(',') {
                return Err("two commas in a row".into());
            }
        }
        let (name, term, rest) = match next_unquoted(text, 0, |c| matches!(c, '=' | ',' | '}')) {
            Some(i) if text.as_bytes()[i] == b'=' => {
                let value = &text[i + 1..];
                let end = next_unquoted(value, 0, |c| c == ',' || c == '}').unwrap_or(value.len());
                (&text[..i], &value[..end], &value[end..])
            }
            found => {
                let end = found.unwrap_or(text.len());
                ("__name__", &text[..end], &text[end..])
            }
        };
        text = rest.trim();
        let term = term.trim();
        if term.is_empty() {
            if om {
                return Err("an empty term".into());
            }
            continue;
        }
        let (name, quoted) = unquote(name)?;
        if !quoted && !is_legacy_name(&name, false) {
            return Err(format!("invalid label name {name:?}"));
        }
        if !term.starts_with('"') || closing_quote(term) != Some(term.len() - 1) {
            return Err(format!("label {name:?}: the value must be quoted"));
        }
        if name.is_empty() {
            return Err("an empty label name".into());
        }
        if labels.iter().any(|(n, _)| *n == name) {
            return Err(format!("label {name:?} given twice"));
        }
        let (value, _) = unquote(term)?;
        labels.push((name, value));
    }
    Ok(labels)
}

/// The index of the quote that closes the string `text` opens, if any.
fn closing_quote(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// The byte index of the first character from `from` that `hit` accepts outside
/// double quotes.
fn next_unquoted(text: &str, from: usize, hit: impl Fn(char) -> bool) -> Option<usize> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in text[from..].char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if !quoted && hit(c) => return Some(from + i),
            _ => {}
        }
    }
    None
}

/// Splits `text` on blanks outside quotes into at most `max` words, the last one
/// the rest of the text.
fn split_quoted(text: &str, max: usize) -> Vec<&str> {
    let mut words = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        if words.len() + 1 == max {
            words.push(rest);
            break;
        }
        match next_unquoted(rest, 0, char::is_whitespace) {
            Some(i) => {
                words.push(&rest[..i]);
                rest = rest[i..].trim_start();
            }
            None => {
                words.push(rest);
                break;
            }
        }
    }
    words
}

/// `text` without its quotes (and whether it had them), unescaped.
fn unquote(text: &str) -> std::result::Result<(String, bool), String> {
    let text = text.trim();
    match text.strip_prefix('"') {
        Some(inner) => {
            let inner = inner
                .strip_suffix('"')
                .ok_or_else(|| format!("a missing closing quote in {text:?}"))?;
            Ok((unescape(inner, true), true))
        }
        None => Ok((unescape(text, true), false)),
    }
}

/// Replaces `\\` and `\n` (and `\"`, with `quotes`) by what they stand for; other
/// backslashes stay.
fn unescape(text: &str, quotes: bool) -> String {
    if !text.contains('\\') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('"') if quotes => out.push('"'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn sample(
        name: &str,
        labels: &[(&str, &str)],
        value: f64,
        timestamp: Option<f64>,
    ) -> ParsedSample {
        ParsedSample {
            name: name.into(),
            labels: labels
                .iter()
                .map(|(n, v)| ((*n).into(), (*v).into()))
                .collect(),
            value,
            timestamp,
            exemplar: None,
        }
    }

    #[test]
    fn an_exemplar_is_read_in_openmetrics_only() {
        let text = "# TYPE c counter\nc_total 2 # {trace_id=\"a\\\"b\",s=\"1\"} 0.5 1700000000.25\n# EOF\n";
        let f = parse(text, Format::OpenMetrics).unwrap();
        let e = f[0].samples[0].exemplar.clone().unwrap();
        assert_eq!(
            e.labels,
            [("trace_id".into(), "a\"b".into()), ("s".into(), "1".into())]
        );
        assert_eq!((e.value, e.timestamp), (0.5, Some(1700000000.25)));
        assert_eq!(f[0].samples[0].value, 2.0);
        assert!(parse(
            "# TYPE c counter\nc_total 2 # {x=\"1\" 0.5\n# EOF\n",
            Format::OpenMetrics
        )
        .is_err());
        let text = "# TYPE c_total counter\nc_total 2 # {trace_id=\"a\"} 0.5\n";
        let f = parse(text, Format::Prometheus).unwrap();
        assert_eq!(f[0].samples[0].exemplar, None, "{f:?}");
    }

    #[test]
    fn text_format_as_prometheus_client_reads_it() {
        let text = "# TYPE a counter\n# HELP a he\\\\lp\\n\na{ foo = \"b\\\"a}r\" ,} 1\t000\n\
                    # HELP g Gauge.\n# TYPE g gauge\ng 2.5 1234567890\nloose{x=\"y\"} +Inf\n\
                    # TYPE s summary\ns_count 1\ns{quantile=\"0.5\"} NaN\n{\"a.b\", c=\"d\"} 7\n";
        let f = parse(text, Format::Prometheus).unwrap();
        let names: Vec<_> = f
            .iter()
            .map(|f| (f.name.as_str(), f.kind.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("a", "counter"),
                ("g", "gauge"),
                ("loose", "unknown"),
                ("s", "summary"),
                ("a.b", "unknown")
            ]
        );
        assert_eq!(f[0].help, "he\\lp\n");
        assert_eq!(
            f[0].samples,
            [sample("a_total", &[("foo", "b\"a}r")], 1.0, Some(0.0))]
        );
        assert_eq!(f[1].samples, [sample("g", &[], 2.5, Some(1234567.89))]);
        assert_eq!(f[2].samples[0].value, f64::INFINITY);
        assert!(f[3].samples[1].value.is_nan());
        assert_eq!(f[4].samples, [sample("a.b", &[("c", "d")], 7.0, None)]);
    }

    #[test]
    fn openmetrics_keeps_names_and_seconds() {
        let text = "# TYPE c counter\n# UNIT c bytes\nc_total 1 2.5 # {t=\"x\"} 1\nc_created 3\n\
                    # TYPE i info\ni_info{v=\"1\"} 1\n# EOF\nignored 1\n";
        let f = parse(text, Format::OpenMetrics).unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!((f[0].name.as_str(), f[0].unit.as_str()), ("c", "bytes"));
        let exemplar = ParsedExemplar {
            labels: vec![("t".into(), "x".into())],
            value: 1.0,
            timestamp: None,
        };
        assert_eq!(
            f[0].samples[0],
            ParsedSample {
                exemplar: Some(exemplar),
                ..sample("c_total", &[], 1.0, Some(2.5))
            }
        );
        assert_eq!(f[0].samples[1].name, "c_created");
        assert_eq!((f[1].name.as_str(), f[1].kind.as_str()), ("i", "info"));
    }

    #[test]
    fn bad_lines_are_refused_with_their_number() {
        for (text, reason) in [
            ("a{foo=\"bar\",,} 1\n", "two commas"),
            ("a{foo=bar} 1\n", "quoted"),
            ("a{foo=\"1\",foo=\"2\"} 1\n", "twice"),
            ("a 1_000\n", "invalid value"),
            ("a\n", "without a value"),
            ("# TYPE a\n", "without a type"),
            ("# HELP a.b x\n", "invalid metric name"),
        ] {
            let e = parse(&format!("ok 1\n{text}"), Format::Prometheus).unwrap_err();
            let shown = e.to_string();
            assert!(
                shown.contains("line 2") && shown.contains(reason),
                "{text:?}: {shown}"
            );
        }
    }
}
