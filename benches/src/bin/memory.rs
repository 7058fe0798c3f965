//! Memory per counter series: builds a family of 3-label series in every library and
//! prints the bytes each series added, on the heap (counted by the global allocator)
//! and, for metricore, in its mapped region (from `Registry::stats`).
//!
//! Prints records (see [`metricore_benches::record`]) in bytes or allocations per
//! series, and a table for people on standard error. The target: at most 8 bytes per
//! lane in use (one cell in each) plus the series' directory entry, per series
//! (`benches/reporting/targets.py`).

use metricore_benches::alloc::{counting, Counting};
use metricore_benches::record;
use metricore_benches::series::{all_values, borrow};
use metricore_benches::subjects::Metricore;
use metricore_benches::{for_each_subject, Subject};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Series made in each family.
const SERIES: usize = 10_000;

/// The suite of the records printed.
const SUITE: &str = "memory";

fn per_series(bytes: i64) -> f64 {
    bytes as f64 / SERIES as f64
}

/// Prints a record of `subject`'s `value` per series.
fn print(work: &str, subject: &str, value: f64, unit: &str, params: &[(&str, f64)]) {
    let mut all = vec![("series", SERIES as f64), ("labels", 3.0)];
    all.extend_from_slice(params);
    record::measured(SUITE, work, subject, value, unit, &all);
}

fn measure<S: Subject>(values: &[[String; 3]]) {
    let family = S::family(values.len());
    let mapped_before = S::mapped_bytes(&family);
    let ((), heap) = counting(|| {
        for v in values {
            S::inc_labels(&family, borrow(v));
        }
    });
    let mapped = (S::mapped_bytes(&family) - mapped_before) as i64;
    let (heap_bytes, mapped) = (per_series(heap.live_bytes), per_series(mapped));
    let allocations = heap.allocations as f64 / SERIES as f64;
    eprintln!(
        "  {:<18} {heap_bytes:>10.1} {mapped:>10.1} {:>10.1} {allocations:>12.2}",
        S::NAME,
        heap_bytes + mapped,
    );
    print("heap", S::NAME, heap_bytes, "bytes/series", &[]);
    print("mapped", S::NAME, mapped, "bytes/series", &[]);
    print("total", S::NAME, heap_bytes + mapped, "bytes/series", &[]);
    print(
        "allocations",
        S::NAME,
        allocations,
        "allocations/series",
        &[],
    );
}

/// Where metricore's bytes per series go, from its own statistics.
fn metricore_breakdown(values: &[[String; 3]]) {
    let family = Metricore::family(values.len());
    let before = family.stats();
    for v in values {
        Metricore::inc_labels(&family, borrow(v));
    }
    let after = family.stats();
    let n = values.len() as f64;
    let cells = (after.cells.0 - before.cells.0) as f64 / n;
    let arena = (after.arena_bytes.0 - before.arena_bytes.0) as f64 / n;
    let cell_bytes = cells * 8.0 * after.lanes_in_use as f64;
    eprintln!(
        "metricore with {} lanes in use: {cells:.1} cell per lane = {cell_bytes:.1} bytes of cells, \
         and {arena:.1} bytes of series record and label key in the arena, per series; plus \
         one 8-byte slot each in the preallocated directory ({} slots)",
        after.lanes_in_use, after.series_capacity,
    );
    let shards = ("lanes", after.lanes_in_use as f64);
    print(
        "cells",
        Metricore::NAME,
        cell_bytes,
        "bytes/series",
        &[shards],
    );
    print(
        "series record and label key",
        Metricore::NAME,
        arena,
        "bytes/series",
        &[shards],
    );
}

fn main() {
    let values = all_values(SERIES);
    eprintln!("memory per counter series ({SERIES} series with 3 labels, bytes per series):");
    eprintln!(
        "  {:<18} {:>10} {:>10} {:>10} {:>12}",
        "library", "heap", "mapped", "total", "allocations"
    );
    for_each_subject!("memory", measure(&values));
    metricore_breakdown(&values);
}
