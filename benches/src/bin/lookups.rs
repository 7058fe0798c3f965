//! Lookup plus increment of existing 3-label series, as `lookup_inc/*` in the `labels`
//! bench does it, for counting instructions and cache misses rather than timing: run
//! it under `valgrind --tool=callgrind --toggle-collect='*lookups::run*'`, then divide
//! the instructions by the lookups made.
//!
//! ```sh
//! lookups SUBJECT WORK LOOKUPS
//! ```
//!
//! SUBJECT is `metricore`, `prometheus` or `prometheus-client` (as built); WORK is
//! `shuffled` (100,000 series visited in shuffled order), `hot` (one series among
//! 1,000, again and again) or `long` (the same with 64-byte values).

use std::hint::black_box;
use std::process::ExitCode;

use metricore_benches::series::{all_values, borrow, long_values, shuffled, HIT};
use metricore_benches::Subject;

/// Series visited in shuffled order.
const MANY: usize = 100_000;

/// Series in the family besides the one hit, in the hot works.
const PRESENT: usize = 1000;

/// Makes a family of `values`' series, then makes `lookups` lookups, the `i`-th of
/// `values[order[i % order.len()]]`.
fn work<S: Subject>(values: &[[String; 3]], order: &[usize], lookups: usize) {
    let family = S::family(values.len());
    for v in values {
        S::inc_labels(&family, borrow(v));
    }
    run::<S>(&family, values, order, lookups);
}

/// The lookups counted.
#[inline(never)]
fn run<S: Subject>(family: &S::Family, values: &[[String; 3]], order: &[usize], lookups: usize) {
    for &i in order.iter().cycle().take(lookups) {
        S::inc_labels(black_box(family), borrow(&values[i]));
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [subject, which, lookups] = &args[..] else {
        eprintln!("usage: lookups SUBJECT shuffled|hot|long LOOKUPS");
        return ExitCode::FAILURE;
    };
    let Ok(lookups) = lookups.parse::<usize>() else {
        eprintln!("LOOKUPS must be a count, not {lookups:?}");
        return ExitCode::FAILURE;
    };
    let (values, order) = match which.as_str() {
        "shuffled" => (all_values(MANY), shuffled(MANY)),
        "hot" => {
            let mut values = all_values(PRESENT);
            values.push(HIT.map(String::from));
            (values, vec![PRESENT])
        }
        "long" => ((0..=PRESENT).map(long_values).collect(), vec![PRESENT / 2]),
        _ => {
            eprintln!("WORK must be shuffled, hot or long, not {which:?}");
            return ExitCode::FAILURE;
        }
    };
    match subject.as_str() {
        "metricore" => work::<metricore_benches::subjects::Metricore>(&values, &order, lookups),
        #[cfg(feature = "prometheus")]
        "prometheus" => work::<metricore_benches::subjects::Prometheus>(&values, &order, lookups),
        #[cfg(feature = "prometheus-client")]
        "prometheus-client" => {
            work::<metricore_benches::subjects::PrometheusClient>(&values, &order, lookups)
        }
        _ => {
            eprintln!("SUBJECT {subject:?} is not built here");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
