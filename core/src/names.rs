//! Naming rules for metrics and labels, shared by every binding.

use crate::error::{Error, Result};

/// Checks a metric name against `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn check_metric_name(name: &str) -> Result<()> {
    let ok = name.bytes().enumerate().all(|(i, b)| {
        b.is_ascii_alphabetic() || b == b'_' || b == b':' || (i > 0 && b.is_ascii_digit())
    });
    if ok && !name.is_empty() {
        Ok(())
    } else {
        Err(Error::InvalidMetricName(name.to_owned()))
    }
}

/// Checks a label name against `[a-zA-Z_][a-zA-Z0-9_]*`, refusing the reserved `__` prefix.
pub fn check_label_name(name: &str) -> Result<()> {
    let ok = name
        .bytes()
        .enumerate()
        .all(|(i, b)| b.is_ascii_alphabetic() || b == b'_' || (i > 0 && b.is_ascii_digit()));
    if ok && !name.is_empty() && !name.starts_with("__") {
        Ok(())
    } else {
        Err(Error::InvalidLabelName(name.to_owned()))
    }
}

/// The most characters an exemplar's label names and values may have together, as
/// OpenMetrics limits them.
pub const MAX_EXEMPLAR_CHARS: usize = 128;

/// Checks an exemplar's labels: at most [`MAX_EXEMPLAR_CHARS`] characters of names
/// and values together and, with `legacy`, names by [`check_label_name`] (else any
/// name that is not empty).
pub fn check_exemplar(labels: &[(&str, &str)], legacy: bool) -> Result<()> {
    let mut chars = 0;
    for (name, value) in labels {
        if legacy {
            check_label_name(name)?;
        } else if name.is_empty() {
            return Err(Error::InvalidLabelName(String::new()));
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
        for ok in ["a", "_a", "a:b_c9", ":x"] {
            check_metric_name(ok).unwrap();
        }
        for bad in ["", "9a", "a-b", "a b", "é"] {
            let e = check_metric_name(bad).unwrap_err().to_string();
            assert!(e.contains(&format!("{bad:?}")), "{e}");
        }
    }

    #[test]
    fn label_names() {
        check_label_name("model").unwrap();
        check_label_name("_x1").unwrap();
        for bad in ["", "__name", "a:b", "1a", "a-b"] {
            assert!(check_label_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn full_names() {
        assert_eq!(full_name("ns", "", "req", ""), "ns_req");
        assert_eq!(full_name("", "sub", "lat", "seconds"), "sub_lat_seconds");
        assert_eq!(full_name("", "", "lat_seconds", "seconds"), "lat_seconds");
    }
}
