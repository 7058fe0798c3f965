//! Counts heap allocations on the hit path of every library: counter increment, `f64`
//! counter increment, histogram observation, and lookup plus increment of an existing
//! 3-label series. Exits non-zero if metricore allocates on any of them.
//!
//! Prints one record per library and operation (see [`metricore_benches::record`]),
//! in allocations per call, and a table for people on standard error.

use std::process::ExitCode;

use metricore_benches::alloc::{counting, Counting};
use metricore_benches::record;
use metricore_benches::series::{HIT, OBSERVATION};
use metricore_benches::subjects::Metricore;
use metricore_benches::{for_each_float_subject, for_each_subject, FloatSubject, Subject};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Calls per operation counted.
const CALLS: u32 = 10_000;

/// The suite and unit of the records printed.
const SUITE: &str = "alloc";
const UNIT: &str = "allocations/call";

/// One counted operation: library, operation, allocations in [`CALLS`] calls.
type Row = (&'static str, &'static str, u64);

fn count(op: impl Fn()) -> u64 {
    let ((), counted) = counting(|| (0..CALLS).for_each(|_| op()));
    counted.allocations
}

fn hit_path<S: Subject>(rows: &mut Vec<Row>) {
    let counter = S::counter();
    let histogram = S::histogram();
    let family = S::family(1);
    // First uses may allocate: they make the series and any lazily made state.
    S::inc(&counter);
    S::observe(&histogram, OBSERVATION);
    S::inc_labels(&family, HIT);
    rows.push((S::NAME, "counter inc", count(|| S::inc(&counter))));
    rows.push((
        S::NAME,
        "histogram observe",
        count(|| S::observe(&histogram, OBSERVATION)),
    ));
    rows.push((
        S::NAME,
        "3-label lookup + inc",
        count(|| S::inc_labels(&family, HIT)),
    ));
}

fn float_path<S: FloatSubject>(rows: &mut Vec<Row>) {
    let counter = S::float_counter();
    S::inc_f64(&counter, 0.5);
    rows.push((
        S::NAME,
        "f64 counter inc",
        count(|| S::inc_f64(&counter, 0.5)),
    ));
}

fn main() -> ExitCode {
    let mut rows = Vec::new();
    for_each_subject!("alloc_check", hit_path(&mut rows));
    for_each_float_subject!(SUITE, "f64 counter inc", UNIT, float_path(&mut rows));
    rows.sort_by_key(|&(name, op, _)| (op, name != Metricore::NAME));

    eprintln!("allocations per call on the hit path ({CALLS} calls each):");
    for &(name, op, n) in &rows {
        let per_call = n as f64 / f64::from(CALLS);
        eprintln!("  {op:<22} {name:<18} {per_call:>8.3}");
        record::measured(
            SUITE,
            op,
            name,
            per_call,
            UNIT,
            &[("calls", f64::from(CALLS))],
        );
    }
    let failed: Vec<_> = rows
        .iter()
        .filter(|&&(name, _, n)| name == Metricore::NAME && n > 0)
        .collect();
    if failed.is_empty() {
        eprintln!("alloc_check: ok, metricore made 0 allocations on the hit path");
        ExitCode::SUCCESS
    } else {
        for (_, op, n) in failed {
            eprintln!("alloc_check: FAILED, metricore {op} made {n} allocations in {CALLS} calls");
        }
        ExitCode::FAILURE
    }
}
