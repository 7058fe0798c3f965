//! The line the benchmark binaries print for each measurement, which `benches/report`
//! reads: one JSON object on one line of standard output,
//!
//! ```text
//! {"suite":"alloc","work":"counter inc","subject":"metricore","value":0,"unit":"allocations/call","params":{"calls":10000}}
//! ```
//!
//! `params` is left out when empty. A measurement that was not made has `"value":null`
//! and a `"note"` saying why. Other lines are for people and are not read.

/// Prints one measurement.
pub fn measured(
    suite: &str,
    work: &str,
    subject: &str,
    value: f64,
    unit: &str,
    params: &[(&str, f64)],
) {
    println!(
        "{}",
        line(suite, work, subject, Some(value), unit, params, None)
    );
}

/// Prints that `subject` has no measurement of `work`, and why.
pub fn not_measured(suite: &str, work: &str, subject: &str, unit: &str, note: &str) {
    println!(
        "{}",
        line(suite, work, subject, None, unit, &[], Some(note))
    );
}

fn line(
    suite: &str,
    work: &str,
    subject: &str,
    value: Option<f64>,
    unit: &str,
    params: &[(&str, f64)],
    note: Option<&str>,
) -> String {
    let mut out = format!(
        "{{\"suite\":{},\"work\":{},\"subject\":{},\"value\":{},\"unit\":{}",
        string(suite),
        string(work),
        string(subject),
        number(value),
        string(unit)
    );
    if !params.is_empty() {
        let params: Vec<_> = params
            .iter()
            .map(|&(k, v)| format!("{}:{}", string(k), number(Some(v))))
            .collect();
        out += &format!(",\"params\":{{{}}}", params.join(","));
    }
    if let Some(note) = note {
        out += &format!(",\"note\":{}", string(note));
    }
    out + "}"
}

/// A JSON number; `null` for none, NaN or infinity, which JSON cannot write.
fn number(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{v}"),
        _ => "null".to_string(),
    }
}

fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::line;

    #[test]
    fn writes_one_json_object() {
        assert_eq!(
            line(
                "memory",
                "heap",
                "metricore",
                Some(0.0),
                "bytes/series",
                &[("series", 10000.0)],
                None
            ),
            r#"{"suite":"memory","work":"heap","subject":"metricore","value":0,"unit":"bytes/series","params":{"series":10000}}"#
        );
        assert_eq!(
            line(
                "rust",
                "a \"b\"\n",
                "metrics",
                None,
                "ns",
                &[],
                Some("not applicable (no f64 counter)")
            ),
            r#"{"suite":"rust","work":"a \"b\"\u000a","subject":"metrics","value":null,"unit":"ns","note":"not applicable (no f64 counter)"}"#
        );
        assert_eq!(
            line(
                "alloc",
                "x",
                "y",
                Some(f64::NAN),
                "allocations/call",
                &[("calls", 0.016)],
                None
            ),
            r#"{"suite":"alloc","work":"x","subject":"y","value":null,"unit":"allocations/call","params":{"calls":0.016}}"#
        );
    }
}
