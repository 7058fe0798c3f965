//! Naming rules for metrics and labels, shared by every binding.

use crate::error::{Error, Result};

/// Whether `name` is in the legacy character set: `[a-zA-Z_:][a-zA-Z0-9_:]*` for a
/// metric name, `[a-zA-Z_][a-zA-Z0-9_]*` for a label name (`label`). Such a name is
/// written as it is in every exposition; another one is quoted or escaped.
pub fn is_legacy_name(name: &str, label: bool) -> bool {
    !name.is_empty()
        && name.bytes().enumerate().all(|(i, b)| {
            b.is_ascii_alphabetic()
                || b == b'_'
                || (!label && b == b':')
                || (i > 0 && b.is_ascii_digit())
        })
}

/// Checks a metric name: any UTF-8 text that is not empty, as Prometheus 3 names are
/// (one outside the legacy set, see [`is_legacy_name`], is escaped or quoted when
/// rendered).
pub fn check_metric_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::InvalidMetricName(name.to_owned()));
    }
    Ok(())
}

/// Checks a label name: any UTF-8 text that is not empty and does not start with the
/// reserved `__`.
pub fn check_label_name(name: &str) -> Result<()> {
    if name.is_empty() || name.starts_with("__") {
        return Err(Error::InvalidLabelName(name.to_owned()));
    }
    Ok(())
}

/// Checks a name that has to stay in the legacy label name set (a unit, a Pushgateway
/// grouping key): as [`check_label_name`], within [`is_legacy_name`]'s set.
pub fn check_legacy_label_name(name: &str) -> Result<()> {
    check_label_name(name)?;
    if !is_legacy_name(name, true) {
        return Err(Error::InvalidLabelName(name.to_owned()));
    }
    Ok(())
}

/// How a name outside the legacy character set is written for a scraper that asks for
/// UTF-8 names (the `escaping` parameter of its content type).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Escaping {
    /// As it is, quoted when outside the legacy set (`allow-utf-8`).
    AllowUtf8,
    /// Each character outside the legacy set as `_` (`underscores`).
    Underscores,
    /// `.` as `_dot_`, `_` as `__`, other characters outside the set as `__`
    /// (`dots`).
    Dots,
    /// `U__`, then `_` as `__` and other characters outside the set by their code
    /// point in hex between underscores (`values`).
    Values,
}

impl Escaping {
    /// The scheme of a content-type parameter value, if known.
    pub fn from_name(name: &str) -> Option<Escaping> {
        match name {
            "allow-utf-8" => Some(Escaping::AllowUtf8),
            "underscores" => Some(Escaping::Underscores),
            "dots" => Some(Escaping::Dots),
            "values" => Some(Escaping::Values),
            _ => None,
        }
    }

    /// The scheme's name, as a content-type parameter value gives it.
    pub fn name(self) -> &'static str {
        match self {
            Escaping::AllowUtf8 => "allow-utf-8",
            Escaping::Underscores => "underscores",
            Escaping::Dots => "dots",
            Escaping::Values => "values",
        }
    }
}

/// `name` (a label name with `label`, else a metric name) as `escaping` writes it. A
/// name of the legacy set stays as it is (in every scheme but [`Escaping::Dots`],
/// which doubles its `_`); with [`Escaping::AllowUtf8`] another one is quoted, its
/// `\`, newline and `"` escaped.
///
/// ```
/// use metricore::names::{escape_name, Escaping};
///
/// assert_eq!(escape_name("http.status:sum", false, Escaping::Underscores), "http_status:sum");
/// assert_eq!(escape_name("http.status:sum", true, Escaping::Dots), "http_dot_status__sum");
/// assert_eq!(escape_name("a.b", false, Escaping::Values), "U__a_2e_b");
/// assert_eq!(escape_name("a.b", false, Escaping::AllowUtf8), "\"a.b\"");
/// ```
pub fn escape_name(name: &str, label: bool, escaping: Escaping) -> String {
    let legal = |i: usize, c: char| {
        c.is_ascii_alphabetic() || c == '_' || (!label && c == ':') || (i > 0 && c.is_ascii_digit())
    };
    let legacy = is_legacy_name(name, label);
    let mut out = String::with_capacity(name.len() + 2);
    match escaping {
        _ if name.is_empty() => {}
        Escaping::AllowUtf8 | Escaping::Underscores | Escaping::Values if legacy => {
            out.push_str(name)
        }
        Escaping::AllowUtf8 => {
            out.push('"');
            for c in name.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '"' => out.push_str("\\\""),
                    c => out.push(c),
                }
            }
            out.push('"');
        }
        Escaping::Underscores => {
            out.extend(
                name.chars()
                    .enumerate()
                    .map(|(i, c)| if legal(i, c) { c } else { '_' }),
            )
        }
        Escaping::Dots => {
            for (i, c) in name.chars().enumerate() {
                match c {
                    '_' => out.push_str("__"),
                    '.' => out.push_str("_dot_"),
                    c if legal(i, c) => out.push(c),
                    _ => out.push_str("__"),
                }
            }
        }
        Escaping::Values => {
            out.push_str("U__");
            for (i, c) in name.chars().enumerate() {
                match c {
                    '_' => out.push_str("__"),
                    c if legal(i, c) => out.push(c),
                    c => {
                        out.push('_');
                        out.push_str(&format!("{:x}", c as u32));
                        out.push('_');
                    }
                }
            }
        }
    }
    out
}

/// The most characters an exemplar's label names and values may have together, as
/// OpenMetrics limits them.
pub const MAX_EXEMPLAR_CHARS: usize = 128;

/// Checks an exemplar's labels: at most [`MAX_EXEMPLAR_CHARS`] characters of names
/// and values together and names by [`check_legacy_label_name`] with `legacy`, else by
/// [`check_label_name`].
pub fn check_exemplar(labels: &[(&str, &str)], legacy: bool) -> Result<()> {
    let mut chars = 0;
    for (name, value) in labels {
        if legacy {
            check_legacy_label_name(name)?;
        } else {
            check_label_name(name)?;
        }
        chars += name.chars().count() + value.chars().count();
    }
    if chars > MAX_EXEMPLAR_CHARS {
        return Err(Error::ExemplarTooLong(chars));
    }
    Ok(())
}

/// Joins `namespace`, `subsystem` and `name` with `_` (skipping empty parts) and appends
/// `_unit` unless the name already ends with it, as Prometheus client libraries do.
pub fn full_name(namespace: &str, subsystem: &str, name: &str, unit: &str) -> String {
    let mut full = [namespace, subsystem, name]
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("_");
    if !unit.is_empty() && !full.ends_with(&format!("_{unit}")) {
        full.push('_');
        full.push_str(unit);
    }
    full
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names() {
        for ok in [
            "a",
            "_a",
            "a:b_c9",
            ":x",
            "9a",
            "a-b",
            "a b",
            "é",
            "my.utf8.metric.#{}=",
        ] {
            check_metric_name(ok).unwrap();
        }
        let e = check_metric_name("").unwrap_err().to_string();
        assert!(e.contains("\"\""), "{e}");
        for legacy in ["a", "_a", "a:b_c9", ":x"] {
            assert!(is_legacy_name(legacy, false), "{legacy}");
        }
        for other in ["", "9a", "a-b", "a b", "é", "a.b"] {
            assert!(!is_legacy_name(other, false), "{other}");
        }
    }

    #[test]
    fn label_names() {
        for ok in [
            "model",
            "_x1",
            "a:b",
            "1a",
            "a-b",
            "http.status",
            "\u{82b1}",
        ] {
            check_label_name(ok).unwrap();
        }
        for bad in ["", "__name", "__"] {
            assert!(check_label_name(bad).is_err(), "{bad}");
        }
        check_legacy_label_name("seconds").unwrap();
        for bad in ["", "__name", "a:b", "1a", "a.b"] {
            assert!(check_legacy_label_name(bad).is_err(), "{bad}");
        }
        assert!(is_legacy_name("a:b", false) && !is_legacy_name("a:b", true));
    }

    #[test]
    fn full_names() {
        assert_eq!(full_name("ns", "", "req", ""), "ns_req");
        assert_eq!(full_name("", "sub", "lat", "seconds"), "sub_lat_seconds");
        assert_eq!(full_name("", "", "lat_seconds", "seconds"), "lat_seconds");
    }

    #[test]
    fn escaped_names() {
        use Escaping::*;
        // (name, label?, underscores, dots, values)
        let cases = [
            (
                "no:escaping_required",
                false,
                "no:escaping_required",
                "no:escaping__required",
                "no:escaping_required",
            ),
            (
                "mysystem.prod.west.cpu.load_total",
                false,
                "mysystem_prod_west_cpu_load_total",
                "mysystem_dot_prod_dot_west_dot_cpu_dot_load__total",
                "U__mysystem_2e_prod_2e_west_2e_cpu_2e_load__total",
            ),
            (
                "http.status:sum",
                true,
                "http_status_sum",
                "http_dot_status__sum",
                "U__http_2e_status_3a_sum",
            ),
            (
                "label with \u{1f631}",
                false,
                "label_with__",
                "label__with____",
                "U__label_20_with_20__1f631_",
            ),
            ("\u{82b1}\u{706b}", true, "__", "____", "U___82b1__706b_"),
            ("", false, "", "", ""),
        ];
        for (name, label, under, dots, values) in cases {
            assert_eq!(escape_name(name, label, Underscores), under, "{name}");
            assert_eq!(escape_name(name, label, Dots), dots, "{name}");
            assert_eq!(escape_name(name, label, Values), values, "{name}");
        }
        assert_eq!(escape_name("a\"b\\c", false, AllowUtf8), "\"a\\\"b\\\\c\"");
        assert_eq!(Escaping::from_name("dots"), Some(Dots));
        assert_eq!(Escaping::from_name("nope"), None);
        for e in [AllowUtf8, Underscores, Dots, Values] {
            assert_eq!(Escaping::from_name(e.name()), Some(e));
        }
    }

    #[test]
    fn exemplar_labels() {
        check_exemplar(&[(":o)", "smile")], false).unwrap();
        assert!(check_exemplar(&[(":o)", "smile")], true).is_err());
        let long = "x".repeat(127);
        check_exemplar(&[("a", &long[..])], true).unwrap();
        let e = check_exemplar(&[("a", &long[..119]), ("b", "12345678")], true).unwrap_err();
        assert!(e.to_string().contains("129 characters"), "{e}");
    }
}
