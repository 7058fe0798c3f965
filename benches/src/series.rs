//! The label names and values every library records with.

/// Label names of the labelled families.
pub const LABELS: [&str; 3] = ["model", "namespace", "status"];

/// The series that the lookup benchmarks hit.
pub const HIT: [&str; 3] = ["gpt-4", "wechat", "200"];

/// The value the histogram benchmarks observe (it falls in the fourth bucket).
pub const OBSERVATION: f64 = 0.042;

/// The Prometheus client libraries' default histogram bounds.
pub const DEFAULT_BUCKETS: [f64; 14] = metricore::buckets::DEFAULT_BUCKETS;

const STATUSES: [&str; 10] = [
    "200", "201", "204", "301", "400", "401", "403", "404", "429", "500",
];

/// The label values of series `i`: distinct for every `i`, shaped like an LLM
/// gateway's (`model-3`, `namespace-41`, `429`).
pub fn values(i: usize) -> [String; 3] {
    [
        format!("model-{}", i / 1000),
        format!("namespace-{}", i / 10 % 100),
        STATUSES[i % 10].to_owned(),
    ]
}

/// The values of series `0..n`, made ahead of a timed loop.
pub fn all_values(n: usize) -> Vec<[String; 3]> {
    (0..n).map(values).collect()
}

/// Borrows a series' values as the subjects take them.
pub fn borrow(v: &[String; 3]) -> [&str; 3] {
    v.each_ref().map(String::as_str)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    #[test]
    fn values_are_distinct() {
        let all: HashSet<_> = super::all_values(100_000).into_iter().collect();
        assert_eq!(all.len(), 100_000);
        assert!(!all.contains(&super::HIT.map(String::from)));
    }
}
