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

/// The values of series `i` padded to 64 bytes each (`model-3-----...`), for lookups
/// whose cost is in reading long values.
pub fn long_values(i: usize) -> [String; 3] {
    values(i).map(|v| format!("{v:-<64}"))
}

/// `0..n` in an order that looks random and is the same in every run.
pub fn shuffled(n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for i in (1..n).rev() {
        // xorshift64: a fixed sequence, no dependency.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        order.swap(i, (x % (i as u64 + 1)) as usize);
    }
    order
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
        assert!(super::long_values(7).iter().all(|v| v.len() == 64));
    }

    #[test]
    fn shuffled_is_a_permutation() {
        let mut order = super::shuffled(1000);
        assert_ne!(order[..10], (0..10).collect::<Vec<_>>()[..]);
        order.sort_unstable();
        assert_eq!(order, (0..1000).collect::<Vec<_>>());
    }
}
