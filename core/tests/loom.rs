//! Loom models of the lock-free paths. Run with
//! `RUSTFLAGS="--cfg loom" cargo test -p metricore --lib --test loom --release` (the
//! `--lib` part runs the directory model in `src/directory.rs`).
#![cfg(loom)]

use loom::thread;
use metricore::{Format, Options, Registry};

/// The smallest region the layout allows: every word is a loom atomic.
fn tiny() -> Registry {
    Registry::with_options(&Options {
        shards: Some(1),
        cells_per_shard: 260,
        series_capacity: 4,
        family_capacity: 2,
        process_capacity: 1,
        arena_bytes: 1024,
        file_mode: 0o600,
        ..Options::default()
    })
    .unwrap()
}

fn sample(text: &str, series: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

use std::sync::atomic::{AtomicUsize, Ordering};

/// Runs `builder` over `f` and returns how many interleavings it explored, counted per
/// model: the tests run at once in several threads.
fn explore(builder: loom::model::Builder, f: impl Fn() + Sync + Send + 'static) -> usize {
    let explored = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = explored.clone();
    builder.check(move || {
        counted.fetch_add(1, Ordering::Relaxed);
        f()
    });
    explored.load(Ordering::Relaxed)
}

/// Explores every interleaving of `f` (no preemption bound) and reports how many.
fn model(f: impl Fn() + Sync + Send + 'static) {
    let n = explore(loom::model::Builder::new(), f);
    eprintln!("explored {n} interleavings");
    assert!(n > 1, "the model ran concurrently");
}

/// Explores the interleavings of `f` with at most `bound` preemptions per thread, for
/// models whose every interleaving is too many to explore in the test suite.
fn model_bounded(bound: usize, f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(bound);
    let n = explore(builder, f);
    eprintln!("explored {n} interleavings (at most {bound} preemptions)");
    assert!(n > 1, "the model ran concurrently");
}

#[test]
fn increments_race_with_reads() {
    model(|| {
        let r = tiny();
        let c = r.counter("c", "").unwrap();
        let ts: Vec<_> = (0..2)
            .map(|_| {
                let c = c.clone();
                thread::spawn(move || c.inc())
            })
            .collect();
        let seen = c.get();
        assert!((0.0..=2.0).contains(&seen));
        for t in ts {
            t.join().unwrap();
        }
        assert_eq!(c.get(), 2.0);
    });
}

#[test]
fn two_creators_of_one_label_set_get_one_series() {
    model_bounded(3, || {
        let r = tiny();
        let v = r.counter_vec("c", "", &["a"]).unwrap();
        let ts: Vec<_> = (0..2)
            .map(|_| {
                let v = v.clone();
                thread::spawn(move || v.with_labels(&["x"]).unwrap().inc())
            })
            .collect();
        for t in ts {
            t.join().unwrap();
        }
        assert_eq!(r.stats().series, 1);
        let text = r.render(Format::Prometheus);
        assert_eq!(sample(&text, "c_total{a=\"x\"}"), Some(2), "{text}");
    });
}

#[test]
fn histogram_count_equals_inf_bucket_during_observation() {
    model(|| {
        let r = std::sync::Arc::new(tiny());
        let h = r.histogram("h", "", &[1.0]).unwrap();
        // The render runs in the spawned thread, the recording in this one.
        let t = {
            let r = r.clone();
            thread::spawn(move || {
                let text = r.render(Format::Prometheus);
                let (low, inf, count) = (
                    sample(&text, "h_bucket{le=\"1.0\"}").unwrap(),
                    sample(&text, "h_bucket{le=\"+Inf\"}").unwrap(),
                    sample(&text, "h_count").unwrap(),
                );
                assert!(low <= inf && inf == count, "{text}");
            })
        };
        h.observe(0.5).unwrap();
        h.observe(2.0).unwrap();
        t.join().unwrap();
        let text = r.render(Format::Prometheus);
        assert_eq!(sample(&text, "h_count"), Some(2));
    });
}

/// A render in another thread races a counter's first add and the mark of its line: it
/// shows the count before or after the add, and a render after both shows it.
#[test]
fn a_render_racing_an_add_and_its_mark_sees_nothing_or_the_value() {
    model(|| {
        let r = std::sync::Arc::new(tiny());
        let c = r.counter("c", "").unwrap();
        let t = {
            let r = r.clone();
            thread::spawn(move || {
                let text = r.render(Format::Prometheus);
                let seen = sample(&text, "c_total");
                assert!(matches!(seen, Some(0 | 1)), "{text}");
            })
        };
        c.inc();
        t.join().unwrap();
        let text = r.render(Format::Prometheus);
        assert_eq!(sample(&text, "c_total"), Some(1), "{text}");
    });
}

#[test]
fn concurrent_families_share_the_string_area() {
    model_bounded(3, || {
        let r = tiny();
        let r2 = r.clone();
        let t = thread::spawn(move || r2.gauge("left", "L").unwrap().set(1.0));
        r.gauge("right", "R").unwrap().set(2.0);
        t.join().unwrap();
        let text = r.render(Format::Prometheus);
        assert!(
            text.contains("# HELP left L\n# TYPE left gauge\nleft 1.0\n"),
            "{text}"
        );
        assert!(
            text.contains("# HELP right R\n# TYPE right gauge\nright 2.0\n"),
            "{text}"
        );
    });
}

#[test]
fn creators_of_one_series_at_the_limit_do_not_overflow() {
    model_bounded(3, || {
        let r = tiny();
        let v: metricore::CounterVec = r
            .register(
                metricore::Spec::new("c", "", metricore::Kind::Counter)
                    .labels(&["a"])
                    .limit(1),
            )
            .unwrap()
            .try_into()
            .unwrap();
        let v2 = v.clone();
        let t = thread::spawn(move || v2.with_labels(&["x"]).unwrap().inc());
        v.with_labels(&["x"]).unwrap().inc();
        t.join().unwrap();
        let text = r.render(Format::Prometheus);
        assert_eq!(sample(&text, "c_total{a=\"x\"}"), Some(2), "{text}");
        assert!(!text.contains("otel_metric_overflow"), "{text}");
    });
}

#[test]
fn clearing_while_a_series_is_made_never_wraps_the_counts() {
    model_bounded(3, || {
        let r = tiny();
        let v = r.counter_vec("c", "", &["a"]).unwrap();
        v.with_labels(&["x"]).unwrap().inc();
        let v2 = v.clone();
        let t = thread::spawn(move || v2.with_labels(&["y"]).unwrap().inc());
        v.clear();
        t.join().unwrap();
        let text = r.render(Format::Prometheus);
        let rendered = text.lines().filter(|l| l.starts_with("c_total{")).count() as u64;
        assert!(rendered <= 1, "{text}");
        // A series cleared between being published and being counted is taken off a
        // count that does not have it yet: the count stops at 0 and ends one high.
        let stats = r.stats();
        let live = stats.families[0].series;
        assert!(live == rendered || live == rendered + 1, "{live} {text}");
        assert!(stats.series == rendered || stats.series == rendered + 1);
    });
}

/// Two processes re-create a removed label set while another series is removed: one
/// may reuse the removed slot, the other a slot freed during the race, yet the label
/// set ends with one live series that has both increments.
#[test]
fn re_creators_of_a_removed_label_set_reusing_slots_get_one_series() {
    model_bounded(3, || {
        // Room for a record and cell per attempt: removed space is not reused here.
        let r = Registry::with_options(&Options {
            shards: Some(1),
            cells_per_shard: 264,
            series_capacity: 4,
            family_capacity: 2,
            process_capacity: 1,
            arena_bytes: 1024,
            ..Options::default()
        })
        .unwrap();
        let v = r.counter_vec("c", "", &["a"]).unwrap();
        v.with_labels(&["x"]).unwrap().inc();
        v.with_labels(&["y"]).unwrap().inc();
        assert!(v.remove(&["x"]).unwrap());
        let v2 = v.clone();
        let t = thread::spawn(move || v2.with_labels(&["x"]).unwrap().inc());
        assert!(v.remove(&["y"]).unwrap());
        v.with_labels(&["x"]).unwrap().inc();
        t.join().unwrap();
        let text = r.render(Format::Prometheus);
        assert_eq!(sample(&text, "c_total{a=\"x\"}"), Some(2), "{text}");
        assert_eq!(text.matches("c_total{a=\"x\"}").count(), 1, "{text}");
        assert_eq!(r.stats().series, 1, "{text}");
    });
}

#[allow(dead_code)]
#[path = "../src/fault/table.rs"]
mod fault_table;
/// The table of mapping ranges that the `SIGBUS` handler reads, compiled on its own
/// with loom's atomics.
#[allow(dead_code)]
#[path = "../src/sync.rs"]
mod sync;

/// A handler looking an address up while its mapping is unregistered and the slot is
/// taken again by another mapping: it finds the first range whole or nothing (never
/// the start of one with the length of the other), and a range it found is not
/// unmapped before it leaves.
#[test]
fn fault_table_ranges_are_read_whole_and_stay_mapped_while_read() {
    use loom::sync::atomic::AtomicBool;
    use loom::sync::Arc;
    model(|| {
        let table = Arc::new(fault_table::Table::<1>::new());
        let mapped = Arc::new(AtomicBool::new(true));
        let slot = table.claim(4096, 8192).unwrap();
        let owner = {
            let (table, mapped) = (table.clone(), mapped.clone());
            thread::spawn(move || {
                table.release(slot);
                mapped.store(false, Ordering::SeqCst); // munmap
                table.claim(65536, 4096).unwrap();
            })
        };
        table.enter();
        if let Some(found) = table.find(5000) {
            assert_eq!(found, (0, 4096, 8192));
            assert!(
                mapped.load(Ordering::SeqCst),
                "unmapped while a handler used it"
            );
        }
        table.leave();
        owner.join().unwrap();
        assert_eq!(table.find(5000), None);
        assert_eq!(table.find(65536), Some((0, 65536, 4096)));
    });
}

#[allow(dead_code)]
#[path = "../src/lanes/table.rs"]
mod lane_table;
/// The packed words the lane table uses, compiled on their own.
#[allow(dead_code)]
#[path = "../src/word.rs"]
mod word;

/// Two threads of different processes claim lanes while a third allocates cells past
/// the reserved ones: lane 0's holder is dead, so one claimer takes it and the other
/// the next lane; whichever of a claim and the allocation ends last finds the lane's
/// allocated cells reserved before the claimer could store to them.
#[test]
fn lane_claims_race_with_each_other_a_dead_holder_and_an_allocation() {
    use loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
    use loom::sync::Arc;
    use word::{LaneOwner, Reserved};

    const LANES: usize = 3;
    const CELLS: u64 = 8;
    const NONE: usize = usize::MAX;
    struct Shared {
        owners: Vec<AtomicU64>,
        reserved: AtomicU64,
        /// Bit `lane * CELLS + cell` is set once that cell has file space.
        space: AtomicU64,
        /// The lane each claimer got, once its claim returned.
        claimed: [AtomicUsize; 2],
        /// Set once cells below CELLS are allocated.
        grown: AtomicBool,
    }
    impl Shared {
        fn table(&self) -> lane_table::Table<'_> {
            lane_table::Table {
                owners: &self.owners,
                reserved: &self.reserved,
                cells: CELLS,
            }
        }
        fn reserve(&self, lanes: std::ops::Range<usize>, from: u64, to: u64) -> Result<(), ()> {
            let cells = (1u64 << to) - (1u64 << from);
            let bits = lanes.fold(0, |b, l| b | cells << (l as u64 * CELLS));
            self.space.fetch_or(bits, Ordering::SeqCst);
            Ok(())
        }
        fn covered(&self, lane: usize) -> bool {
            let all = ((1u64 << CELLS) - 1) << (lane as u64 * CELLS);
            self.space.load(Ordering::SeqCst) & all == all
        }
    }
    let dead = LaneOwner::new(9, 9);
    model_bounded(3, move || {
        let s = Arc::new(Shared {
            owners: (0..LANES).map(|_| AtomicU64::new(0)).collect(),
            // Lane 0 in use with 4 cells reserved (at creation), held by a dead process.
            reserved: AtomicU64::new(Reserved::new(1, 4).0),
            space: AtomicU64::new(0b1111),
            claimed: [AtomicUsize::new(NONE), AtomicUsize::new(NONE)],
            grown: AtomicBool::new(false),
        });
        s.owners[0].store(dead.0, Ordering::Relaxed);
        let claimers: Vec<_> = (0..2)
            .map(|i| {
                let s = s.clone();
                thread::spawn(move || {
                    let me = LaneOwner::new(i as u32 + 1, 1);
                    let got =
                        s.table()
                            .claim(me, |o| o != dead, |_| {}, |l, f, t| s.reserve(l, f, t));
                    let lane_table::Claimed::Own(lane) = got else {
                        panic!("{got:?}");
                    };
                    s.claimed[i].store(lane, Ordering::SeqCst);
                    if s.grown.load(Ordering::SeqCst) {
                        assert!(s.covered(lane), "lane {lane} stored to unreserved");
                    }
                    lane
                })
            })
            .collect();
        s.table()
            .grow(4, CELLS, 4, |l, f, t| s.reserve(l, f, t))
            .unwrap();
        s.grown.store(true, Ordering::SeqCst);
        for c in &s.claimed {
            let lane = c.load(Ordering::SeqCst);
            if lane != NONE {
                assert!(s.covered(lane), "lane {lane} stored to unreserved");
            }
        }
        let mut lanes: Vec<usize> = claimers.into_iter().map(|t| t.join().unwrap()).collect();
        lanes.sort();
        assert_eq!(lanes, [0, 1], "the dead holder's lane, then the next");
        assert_eq!(s.table().in_use(), 2);
    });
}
