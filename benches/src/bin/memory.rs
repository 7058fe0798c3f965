//! Memory per counter series: builds a family of 3-label series in every library and
//! prints the bytes each series added, on the heap (counted by the global allocator)
//! and, for metricore, in its mapped region (from `Registry::stats`).

use metricore_benches::alloc::{counting, Counting};
use metricore_benches::series::{all_values, borrow};
use metricore_benches::subjects::Metricore;
use metricore_benches::{for_each_subject, Subject};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Series made in each family.
const SERIES: usize = 10_000;

fn per_series(bytes: i64) -> f64 {
    bytes as f64 / SERIES as f64
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
    println!(
        "  {:<18} {:>10.1} {:>10.1} {:>10.1} {:>12.2}",
        S::NAME,
        per_series(heap.live_bytes),
        per_series(mapped),
        per_series(heap.live_bytes + mapped),
        heap.allocations as f64 / SERIES as f64,
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
    println!(
        "metricore with {} shards: {cells:.1} cell per shard = {:.1} bytes of cells, and \
         {arena:.1} bytes of series record and label key in the arena, per series; plus \
         one 8-byte slot each in the preallocated directory ({} slots)",
        after.shards,
        cells * 8.0 * after.shards as f64,
        after.series_capacity,
    );
    println!(
        "target (DESIGN.md section 6): <= 8 bytes x {} shards + directory entry",
        after.shards
    );
}

fn main() {
    let values = all_values(SERIES);
    println!("memory per counter series ({SERIES} series with 3 labels, bytes per series):");
    println!(
        "  {:<18} {:>10} {:>10} {:>10} {:>12}",
        "library", "heap", "mapped", "total", "allocations"
    );
    for_each_subject!("memory", measure(&values));
    metricore_breakdown(&values);
}
