//! Restricting an exposition to families named in a scrape (`name[]` of its query).
//!
//! A family is selected when one of the names is its name as registered (without
//! `_total` or `_info`), the name its `# TYPE` line carries in either format, or the
//! name of one of its samples (`x_total`, `x_bucket`, `x_count`, `x_sum`, `x_info`).
//! A selected family is rendered whole: `name[]=latency_seconds_bucket` gives the
//! histogram's buckets, count and sum. Self-metrics and the text of render callbacks
//! (the process collector, custom collectors) are selected by the same rule.

use std::collections::BTreeSet;

/// Which families an exposition holds: all of them, or those a set of names selects
/// (see the rule in [`Filter::selects`]).
///
/// ```
/// use metricore::{Filter, Format, Registry};
///
/// let r = Registry::new();
/// r.counter("requests", "Requests.").unwrap().inc();
/// r.gauge("queue", "Queued jobs.").unwrap().set(3.0);
/// let text = r.render_filtered(Format::Prometheus, &Filter::from_query("name[]=requests_total"));
/// assert!(text.contains("requests_total 1\n"));
/// assert!(!text.contains("queue"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Filter {
    /// `None`: every family.
    names: Option<BTreeSet<String>>,
}

/// Sample suffixes of a family, by the type name of its kind.
fn suffixes(type_name: &str) -> &'static [&'static str] {
    match type_name {
        "counter" => &["_total"],
        "histogram" => &["_bucket", "_count", "_sum"],
        "summary" => &["_count", "_sum"],
        "info" => &["_info"],
        _ => &[],
    }
}

impl Filter {
    /// Every family.
    pub fn all() -> Filter {
        Filter { names: None }
    }

    /// The families `names` select; no names select none.
    pub fn names<I, S>(names: I) -> Filter
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Filter {
            names: Some(names.into_iter().map(Into::into).collect()),
        }
    }

    /// The filter of a request's query string (without the `?`): the values of its
    /// `name[]` parameters (the key may be percent-encoded, `name%5B%5D`; values are
    /// percent-decoded, `+` is a space). A query without `name[]` selects every family,
    /// as `client_golang` and `prometheus_client` do.
    pub fn from_query(query: &str) -> Filter {
        let names: Vec<String> = query
            .split('&')
            .filter_map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                (decode(key) == "name[]").then(|| decode(value))
            })
            .collect();
        if names.is_empty() {
            Filter::all()
        } else {
            Filter::names(names)
        }
    }

    /// Whether it selects every family.
    pub fn is_all(&self) -> bool {
        self.names.is_none()
    }

    /// The names given, `None` when every family is selected.
    pub fn given(&self) -> Option<impl Iterator<Item = &str>> {
        self.names.as_ref().map(|n| n.iter().map(String::as_str))
    }

    /// Whether the family `name` (as registered: without `_total` or `_info`) of type
    /// `type_name` (`counter`, `gauge`, `histogram`, `summary`, `info`, `stateset` or
    /// `unknown`) is selected: one of the names is `name`, or `name` with one of its
    /// sample suffixes (`_total`; `_bucket`, `_count`, `_sum`; `_info`).
    pub fn selects(&self, name: &str, type_name: &str) -> bool {
        let Some(names) = &self.names else {
            return true;
        };
        let suffixes = suffixes(type_name);
        names.contains(name)
            || names.iter().any(|n| {
                n.strip_prefix(name)
                    .is_some_and(|suffix| suffixes.contains(&suffix))
            })
    }

    /// Keeps of `out[from..]`, exposition text appended by a callback, the families
    /// selected. A family is the run of lines from its first `# HELP` or `# TYPE` line
    /// to the next comment naming another family; it is kept when the name in its
    /// comments, that name without `_total` for a counter, or one of its sample names
    /// is one of the names. Samples before any comment are kept by their own name.
    pub(crate) fn retain_text(&self, out: &mut String, from: usize) {
        let Some(names) = &self.names else {
            return;
        };
        let text = out.split_off(from);
        let mut block = String::new();
        let mut block_name: Option<String> = None;
        let mut keep = false;
        let flush = |block: &mut String, keep: bool, out: &mut String| {
            if keep {
                out.push_str(block);
            }
            block.clear();
        };
        for line in text.split_inclusive('\n') {
            let comment = line
                .strip_prefix("# ")
                .and_then(|rest| {
                    let mut words = rest.split_whitespace();
                    let what = words.next()?;
                    matches!(what, "HELP" | "TYPE" | "UNIT")
                        .then(|| (what, words.next(), words.next()))
                })
                .and_then(|(what, name, kind)| Some((what, name?, kind)));
            match comment {
                Some((what, name, kind)) => {
                    if block_name.as_deref() != Some(name) {
                        flush(&mut block, keep, out);
                        block_name = Some(name.to_owned());
                        keep = names.contains(name);
                    }
                    if what == "TYPE" && kind == Some("counter") {
                        keep |= name
                            .strip_suffix("_total")
                            .is_some_and(|base| names.contains(base));
                    }
                }
                None => {
                    let sample = line
                        .split(|c: char| c == '{' || c.is_whitespace())
                        .next()
                        .unwrap_or_default();
                    if block_name.is_none() {
                        if names.contains(sample) {
                            out.push_str(line);
                        }
                        continue;
                    }
                    keep |= names.contains(sample);
                }
            }
            block.push_str(line);
        }
        flush(&mut block, keep, out);
    }
}

/// Percent-decodes a query component (`+` is a space); invalid UTF-8 is replaced.
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut bytes = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
        match b[i] {
            b'+' => bytes.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    bytes.push(h << 4 | l);
                    i += 2;
                }
                _ => bytes.push(b'%'),
            },
            c => bytes.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::{decode, Filter};

    #[test]
    fn queries_give_the_names_of_name_brackets() {
        assert!(Filter::from_query("").is_all());
        assert!(Filter::from_query("other=1").is_all());
        let f = Filter::from_query("name[]=a&name%5B%5D=b%5Fc&x=y&name%5b%5d=d+e");
        let names: Vec<&str> = f.given().unwrap().collect();
        assert_eq!(names, ["a", "b_c", "d e"]);
        assert_eq!(decode("%zz%4"), "%zz%4");
        assert_eq!(decode("%C3%A9"), "é");
    }

    #[test]
    fn families_are_selected_by_name_type_line_or_sample_name() {
        let f = Filter::names(["requests_total", "latency_bucket", "build_info", "queue"]);
        assert!(f.selects("requests", "counter"));
        assert!(f.selects("latency", "histogram"));
        assert!(f.selects("build", "info"));
        assert!(f.selects("queue", "gauge"));
        assert!(!f.selects("requests", "gauge"));
        assert!(!f.selects("latency", "summary"));
        assert!(!f.selects("queue_depth", "gauge"));
        assert!(!Filter::names(Vec::<String>::new()).selects("queue", "gauge"));
        assert!(Filter::all().selects("anything", "gauge"));
    }

    #[test]
    fn callback_text_keeps_the_families_selected() {
        let text = "# HELP a_total A.\n# TYPE a_total counter\na_total 1\n\
                    # TYPE b gauge\nb{x=\"1\"} 2\nb{x=\"2\"} 3\n\
                    # HELP c C.\n# TYPE c histogram\nc_bucket{le=\"+Inf\"} 1\nc_count 1\nc_sum 2\n";
        let keep = |f: &Filter| {
            let mut out = format!("head\n{text}");
            f.retain_text(&mut out, 5);
            out
        };
        assert_eq!(keep(&Filter::all()), format!("head\n{text}"));
        assert_eq!(
            keep(&Filter::names(["a"])),
            "head\n# HELP a_total A.\n# TYPE a_total counter\na_total 1\n"
        );
        assert_eq!(
            keep(&Filter::names(["b", "c_count"])),
            "head\n# TYPE b gauge\nb{x=\"1\"} 2\nb{x=\"2\"} 3\n\
             # HELP c C.\n# TYPE c histogram\nc_bucket{le=\"+Inf\"} 1\nc_count 1\nc_sum 2\n"
        );
        assert_eq!(keep(&Filter::names(["z"])), "head\n");
    }
}
