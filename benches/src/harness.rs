//! Criterion settings and the timing loop shared by the multi-thread benchmarks.
//!
//! The figures are criterion's: it keeps each benchmark's estimates in
//! `<CRITERION_HOME>/<group>/<function>/new/estimates.json`, and `benches/report` reads
//! the medians from there as records (see [`crate::record`]) whose work is the group and
//! whose subject is the function. The benchmarks print records of their own only for
//! the libraries that lack the feature a group measures.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::Criterion;
use crossbeam_utils::CachePadded;

/// Short runs, so that the whole suite finishes in minutes on a 2-core machine;
/// criterion's command-line flags still override them.
pub fn criterion() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
}

/// Runs `op` `iters` times on each of `threads` threads, all released at once by a
/// barrier, and returns the slowest thread's time, so that criterion reports
/// nanoseconds per operation per thread. Each thread first makes its own state with
/// `make`, outside the timed part.
pub fn per_thread<T>(
    iters: u64,
    threads: usize,
    make: impl Fn() -> T + Sync,
    op: impl Fn(&T) + Sync,
) -> Duration {
    let barrier = Barrier::new(threads);
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let state = make();
                    barrier.wait();
                    let start = Instant::now();
                    for _ in 0..iters {
                        op(black_box(&state));
                    }
                    start.elapsed()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("benchmark thread panicked"))
            .max()
            .unwrap_or_default()
    })
}

/// A benchmark group as the benchmarks take it.
pub type Group<'a> = criterion::BenchmarkGroup<'a, criterion::measurement::WallTime>;

/// The floor: a relaxed `fetch_add` on one `AtomicU64`, from each of `threads`
/// threads. With more than one thread it is measured twice: on one shared atomic
/// (what a single-cell counter costs) and on one atomic per thread (the best a
/// sharded counter can do).
pub fn atomic_floor(g: &mut Group<'_>, threads: usize) {
    let shared = CachePadded::new(AtomicU64::new(0));
    if threads == 1 {
        g.bench_function("atomic", |b| {
            b.iter(|| black_box(&shared).fetch_add(1, Relaxed))
        });
        return;
    }
    g.bench_function("atomic (shared)", |b| {
        b.iter_custom(|iters| {
            per_thread(
                iters,
                threads,
                || &shared,
                |a| {
                    a.fetch_add(1, Relaxed);
                },
            )
        })
    });
    g.bench_function("atomic (per thread)", |b| {
        b.iter_custom(|iters| {
            per_thread(
                iters,
                threads,
                || Box::new(CachePadded::new(AtomicU64::new(0))),
                |a| {
                    a.fetch_add(1, Relaxed);
                },
            )
        })
    });
}
