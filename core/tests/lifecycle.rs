//! Removed and expired series give their cells, records and key bytes back, and a
//! handle that outlives its series never writes into the series that reused them: in
//! one process, and with the handle held by another process (this test binary run
//! again with `METRICORE_CHILD` set).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use metricore::{Counter, CounterVec, Format, Kind, Options, Registry, Spec};

mod common;
use common::{spawn, tempdir};

fn options() -> Options {
    Options {
        shards: Some(2),
        cells_per_shard: 1 << 12,
        series_capacity: 1 << 10,
        family_capacity: 16,
        process_capacity: 8,
        arena_bytes: 4 << 20,
        ..Options::default()
    }
}

/// Series each `churner` child makes and removes.
const CYCLES: u64 = 3000;

/// A file whose arena holds 8,192 words, of which a family may take 2,048: about 200
/// records of a series with a short key, were records never reused.
fn small_arena() -> Options {
    Options {
        arena_bytes: 1 << 16,
        ..options()
    }
}

/// Increments the `held` child makes through its handle once told to go.
const STALE_INCS: u64 = 10_000;

/// The child's work; a no-op in a normal test run.
#[test]
fn child() {
    let Ok(role) = std::env::var("METRICORE_CHILD") else {
        return;
    };
    let path = PathBuf::from(std::env::var("METRICORE_FILE").unwrap());
    let r = Registry::open_shared(&path, &options()).unwrap();
    let v = r.counter_vec("held", "Held.", &["k"]).unwrap();
    match role.as_str() {
        // Takes a handle, records once, waits for the go file, records STALE_INCS.
        "holder" => {
            let h = v.with_labels(&["gone"]).unwrap();
            h.inc();
            let go = path.with_extension("go");
            while !go.exists() {
                std::thread::sleep(Duration::from_millis(5));
            }
            for _ in 0..STALE_INCS {
                h.inc();
            }
        }
        // Makes, records into and removes CYCLES series one at a time, and counts them
        // in a series of its own.
        "churner" => {
            let me = std::process::id().to_string();
            let kept = v.with_labels(&[&me]).unwrap();
            for i in 0..CYCLES {
                let k = format!("{me}-{i}");
                v.with_labels(&[&k]).unwrap().inc_by(2);
                assert!(v.remove(&[&k]).unwrap());
                kept.inc();
            }
        }
        other => panic!("unknown child role {other}"),
    }
}

fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Makes and removes `n` series of `v`, one at a time, so that their cells are
/// reclaimed.
fn churn(v: &CounterVec, n: usize) {
    for i in 0..n {
        let k = format!("churn{i}");
        v.with_labels(&[&k]).unwrap().inc();
        assert!(v.remove(&[&k]).unwrap());
    }
}

/// A new series of `v` whose cells are those of the handle `old` (same first cell), made by
/// creating (and removing) series until one reuses them.
fn reusing(v: &CounterVec, old: &Counter) -> (String, Counter) {
    for i in 0..20_000 {
        let k = format!("new{i}");
        let c = v.with_labels(&[&k]).unwrap();
        if c.first_cell() == old.first_cell() {
            assert_ne!(
                c.id(),
                old.id(),
                "a new series in old cells has an id of its own"
            );
            return (k, c);
        }
        assert!(v.remove(&[&k]).unwrap());
    }
    panic!("no new series reused the removed series' cells");
}

#[test]
fn a_handle_held_across_a_removal_never_writes_into_the_series_that_reused_its_cells() {
    let r = Registry::with_options(&options()).unwrap();
    let v = r.counter_vec("held", "Held.", &["k"]).unwrap();
    let held = v.with_labels(&["gone"]).unwrap();
    held.inc_by(3);
    assert!(v.remove(&["gone"]).unwrap());
    held.inc();
    churn(&v, 600);
    let (k, new) = reusing(&v, &held);
    let t = r.render(Format::Prometheus);
    assert_eq!(
        value(&t, &format!("held_total{{k=\"{k}\"}}")),
        Some(0.0),
        "{t}"
    );
    for _ in 0..1000 {
        held.inc();
        new.inc_by(2);
    }
    held.inc_by_f64(0.5).unwrap();
    assert_eq!(held.get(), 0.0, "a removed series' handle reads nothing");
    assert_eq!(new.get(), 2000.0);
    let t = r.render(Format::Prometheus);
    assert_eq!(value(&t, &format!("held_total{{k=\"{k}\"}}")), Some(2000.0));
    assert!(!t.contains("k=\"gone\""), "{t}");
    assert_eq!(value(&t, "metricore_stale_recordings_total"), Some(1002.0));
    let s = r.stats();
    assert_eq!(s.stale_recordings, 1002);
    assert_eq!(s.overflows, 0);
}

#[test]
fn series_made_and_removed_far_past_the_cells_reuse_them() {
    let r = Registry::with_options(&options()).unwrap();
    let v = r.counter_vec("churn", "Churn.", &["k"]).unwrap();
    let h = r
        .histogram_vec("churn_seconds", "Churn.", &["k"], &[0.1, 1.0])
        .unwrap();
    let kept = v.with_labels(&["kept"]).unwrap();
    // Three times the cells of a lane, one series at a time (records stay in the
    // arena: a quarter of it is the family's).
    for i in 0..3 * 4096 {
        let k = i.to_string();
        v.with_labels(&[&k]).unwrap().inc();
        h.with_labels(&[&k]).unwrap().observe(0.5).unwrap();
        assert!(v.remove(&[&k]).unwrap());
        assert!(h.remove(&[&k]).unwrap());
        kept.inc();
    }
    let s = r.stats();
    assert_eq!(s.overflows, 0, "no new series went to the overflow series");
    assert_eq!(s.series, 1);
    assert!(s.cells.0 < 256 + 3000, "cells in use: {:?}", s.cells);
    let t = r.render(Format::Prometheus);
    assert_eq!(value(&t, "churn_total{k=\"kept\"}"), Some(12288.0));
    assert_eq!(t.matches("churn_total{").count(), 1, "{t}");
    assert_eq!(
        value(&t, "metricore_series_reclaimable"),
        Some(s.reclaimable as f64)
    );
    assert_eq!(value(&t, "metricore_cells_free"), Some(s.cells_free as f64));
    assert_eq!(value(&t, "metricore_stale_recordings_total"), Some(0.0));
}

fn wait_for(path: &Path, series: &str, want: f64) {
    let start = Instant::now();
    loop {
        let r = Registry::open_existing(path).unwrap();
        if value(&r.render(Format::Prometheus), series) == Some(want) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{series} never {want}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_handle_held_by_another_process_across_a_removal_writes_nothing_into_reused_cells() {
    let dir = tempdir("lifecycle-held");
    let path = dir.join("m.db");
    let r = Registry::open_shared(&path, &options()).unwrap();
    let v = r.counter_vec("held", "Held.", &["k"]).unwrap();
    let mine = v.with_labels(&["gone"]).unwrap();
    let mut child = spawn("holder", &path);
    wait_for(&path, "held_total{k=\"gone\"}", 1.0);
    assert!(v.remove(&["gone"]).unwrap());
    churn(&v, 600);
    let (k, new) = reusing(&v, &mine);
    new.inc_by(7);
    std::fs::write(path.with_extension("go"), b"").unwrap();
    assert!(child.wait().unwrap().success());
    let t = r.render(Format::Prometheus);
    assert_eq!(
        value(&t, &format!("held_total{{k=\"{k}\"}}")),
        Some(7.0),
        "{t}"
    );
    assert!(!t.contains("k=\"gone\""), "{t}");
    assert_eq!(
        value(&t, "metricore_stale_recordings_total"),
        Some(STALE_INCS as f64)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn processes_that_make_and_remove_series_at_once_reuse_cells_and_keep_exact_totals() {
    let dir = tempdir("lifecycle-churn");
    let path = dir.join("m.db");
    let r = Registry::open_shared(&path, &options()).unwrap();
    // More recording processes than lanes: some threads share lanes by CPU.
    let children: Vec<_> = (0..3).map(|_| spawn("churner", &path)).collect();
    let pids: Vec<u32> = children.iter().map(|c| c.id()).collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let t = r.render(Format::Prometheus);
    for pid in pids {
        let series = format!("held_total{{k=\"{pid}\"}}");
        assert_eq!(value(&t, &series), Some(CYCLES as f64), "{t}");
    }
    assert_eq!(t.matches("held_total{").count(), 3, "{t}");
    let s = r.stats();
    assert_eq!(s.overflows, 0, "no new series went to the overflow series");
    // 9,000 series of one cell went through 3,840 cells of a lane.
    assert!(s.cells.0 < 4096, "{:?}", s.cells);
    eprintln!(
        "cells in use {:?}, free {}, reclaimable {}",
        s.cells, s.cells_free, s.reclaimable
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_family_that_makes_and_removes_series_far_past_its_arena_share_reuses_records() {
    let r = Registry::with_options(&small_arena()).unwrap();
    let v = r.counter_vec("churn", "Churn.", &["k"]).unwrap();
    let kept: Vec<Counter> = (0..10)
        .map(|i| v.with_labels(&[&format!("kept{i}")]).unwrap())
        .collect();
    let arena = r.stats().arena_bytes;
    // 100 times the records the family's share could hold without reuse.
    const N: usize = 20_000;
    for i in 0..N {
        let k = format!("s{i}");
        v.with_labels(&[&k]).unwrap().inc_by(3);
        assert_eq!(v.with_labels(&[&k]).unwrap().get(), 3.0, "{k}");
        assert!(v.remove(&[&k]).unwrap());
        kept[i % 10].inc();
    }
    let s = r.stats();
    assert_eq!(s.overflows, 0, "no new series went to the overflow series");
    assert_eq!(s.series, 10);
    // At most a reclamation's worth (256 records) of 11 words, and the slack of a
    // record per key size, past the arena used before.
    let grown = s.arena_bytes.0 - arena.0;
    assert!(
        grown <= 8 * 11 * 300,
        "arena grew {grown} bytes: {:?}",
        s.arena_bytes
    );
    assert!(s.records_reused >= (N - 300) as u64, "{}", s.records_reused);
    let t = r.render(Format::Prometheus);
    for i in 0..10 {
        let series = format!("churn_total{{k=\"kept{i}\"}}");
        assert_eq!(value(&t, &series), Some((N / 10) as f64), "{t}");
    }
    assert_eq!(t.matches("churn_total{").count(), 10, "{t}");
    assert_eq!(value(&t, "metricore_stale_recordings_total"), Some(0.0));
}

#[test]
fn series_with_long_label_values_reuse_records_too() {
    let r = Registry::with_options(&small_arena()).unwrap();
    let v = r
        .counter_vec("long", "Long keys.", &["model", "tenant", "path"])
        .unwrap();
    let arena = r.stats().arena_bytes;
    // Keys of 3 values from 40 to 300 bytes: records of 16 to 128 key words, each
    // class many times what the family's share could hold without reuse.
    const N: usize = 4_000;
    for i in 0..N {
        let long = |c: char| c.to_string().repeat(40 + (i * 37) % 260);
        let labels = [format!("m{i}"), long('t'), long('p')];
        let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
        v.with_labels(&labels).unwrap().inc_by(2);
        assert_eq!(v.with_labels(&labels).unwrap().get(), 2.0, "{i}");
        assert!(v.remove(&labels).unwrap());
    }
    let s = r.stats();
    assert_eq!(s.overflows, 0, "no new series went to the overflow series");
    assert_eq!(s.series, 0);
    assert!(s.records_reused >= (N - 300) as u64, "{}", s.records_reused);
    // At most a reclamation's worth of the largest records (128 key words and the
    // head) past the arena used before.
    let grown = s.arena_bytes.0 - arena.0;
    assert!(
        grown <= 8 * 140 * 300,
        "arena grew {grown} bytes: {:?}",
        s.arena_bytes
    );
    let t = r.render(Format::Prometheus);
    assert_eq!(t.matches("long_total{").count(), 0, "{t}");
    assert_eq!(value(&t, "metricore_stale_recordings_total"), Some(0.0));
}

#[test]
fn series_with_exemplars_give_their_slots_back() {
    let r = Registry::with_options(&options()).unwrap();
    let counters = r.counter_vec("traced", "Traced.", &["k"]).unwrap();
    let latency = r
        .histogram_vec("latency_seconds", "Latency.", &["k"], &[0.1, 1.0])
        .unwrap();
    let arena = r.stats().arena_bytes;
    // A counter's slot is 68 words and a histogram's three 204: the families' shares
    // (131,072 words each) hold about 1,900 and 640 series' slots without reuse, and
    // the slots of a reclamation's worth of removed series (256) with room to spare.
    const N: usize = 4_000;
    for i in 0..N {
        let k = format!("s{i}");
        let trace = format!("t{i}");
        let c = counters.with_labels(&[&k]).unwrap();
        c.inc_with_exemplar(&[("trace_id", &trace)]).unwrap();
        let h = latency.with_labels(&[&k]).unwrap();
        h.observe_with_exemplar(0.5, &[("trace_id", &trace)])
            .unwrap();
        if i % 100 == 0 {
            // Each series shows its own exemplar, not that of a series before it in
            // the same slots.
            let t = r.render(Format::OpenMetrics);
            let line = |prefix: &str| {
                t.lines()
                    .find(|l| l.starts_with(prefix))
                    .unwrap_or("")
                    .to_owned()
            };
            let want = format!("# {{trace_id=\"{trace}\"}}");
            assert!(
                line(&format!("traced_total{{k=\"{k}\"}}")).contains(&want),
                "{t}"
            );
            assert!(
                line(&format!("latency_seconds_bucket{{k=\"{k}\",le=\"1.0\"}}")).contains(&want),
                "{t}"
            );
        }
        assert!(counters.remove(&[&k]).unwrap());
        assert!(latency.remove(&[&k]).unwrap());
    }
    let s = r.stats();
    assert_eq!(s.overflows, 0, "no new series went to the overflow series");
    let t = r.render(Format::Prometheus);
    assert_eq!(
        value(&t, "metricore_exemplars_dropped_total"),
        Some(0.0),
        "{t}"
    );
    // At most a reclamation's worth of records and slots past the arena used before.
    let grown = s.arena_bytes.0 - arena.0;
    assert!(
        grown <= 8 * (11 + 204) * 300,
        "arena grew {grown} bytes: {:?}",
        s.arena_bytes
    );
}

#[test]
fn series_that_expire_far_past_their_familys_arena_share_reuse_records() {
    const IDLE: Duration = Duration::from_millis(50);
    let r = Registry::with_options(&small_arena()).unwrap();
    let spec = Spec::new("jobs", "Jobs.", Kind::Counter)
        .labels(&["k"])
        .expire_after(IDLE);
    let v: CounterVec = r.register(spec).unwrap().try_into().unwrap();
    let kept = v.with_labels(&["kept"]).unwrap();
    let arena = r.stats().arena_bytes;
    // 2,000 series in batches of 100, each left to expire: ten times the records the
    // family's share could hold without reuse.
    let (rounds, batch) = (20, 100);
    for round in 0..rounds {
        for i in 0..batch {
            v.with_labels(&[&format!("{round}-{i}")])
                .unwrap()
                .inc_by(i + 1);
        }
        kept.inc();
        let t = r.render(Format::Prometheus);
        for i in 0..batch {
            let series = format!("jobs_total{{k=\"{round}-{i}\"}}");
            assert_eq!(value(&t, &series), Some((i + 1) as f64), "{t}");
        }
        let start = Instant::now();
        loop {
            std::thread::sleep(IDLE);
            kept.inc();
            let t = r.render(Format::Prometheus);
            if t.matches("jobs_total{").count() == 1 {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "never expired: {t}"
            );
        }
    }
    let s = r.stats();
    assert_eq!(s.overflows, 0, "no new series went to the overflow series");
    assert_eq!(s.expired, rounds * batch);
    let grown = s.arena_bytes.0 - arena.0;
    assert!(
        grown <= 8 * 10 * 400,
        "arena grew {grown} bytes: {:?}",
        s.arena_bytes
    );
    let t = r.render(Format::Prometheus);
    assert_eq!(value(&t, "jobs_total{k=\"kept\"}"), Some(kept.get()), "{t}");
}

#[test]
fn a_handle_held_across_the_reuse_of_its_record_by_another_label_set_records_nothing() {
    let r = Registry::with_options(&options()).unwrap();
    let v = r.counter_vec("held", "Held.", &["k"]).unwrap();
    let held = v.with_labels(&["a"]).unwrap();
    held.inc_by(5);
    assert!(v.remove(&["a"]).unwrap());
    // 255 series of longer keys (another record size) retired after it: with "a",
    // the 256 that make the next creation reclaim them all, and "a"'s cell, freed
    // last, is the first taken.
    for i in 0..255 {
        let k = format!("longer-key-{i:04}");
        v.with_labels(&[&k]).unwrap().inc();
        assert!(v.remove(&[&k]).unwrap());
    }
    let arena = r.stats().arena_bytes;
    // Same key size as "a": the one free record of that size is "a"'s.
    let b = v.with_labels(&["b"]).unwrap();
    assert_eq!(
        r.stats().arena_bytes,
        arena,
        "b took a free record, not fresh arena"
    );
    assert_eq!(b.first_cell(), held.first_cell(), "b took a's cell too");
    assert_ne!(b.id(), held.id());
    for _ in 0..100 {
        held.inc();
        b.inc_by(2);
    }
    held.inc_by_f64(0.5).unwrap();
    held.inc_with_exemplar(&[("trace_id", "x")]).unwrap();
    assert_eq!(held.get(), 0.0, "a removed series' handle reads nothing");
    assert_eq!(b.get(), 200.0);
    let t = r.render(Format::OpenMetrics);
    assert_eq!(value(&t, "held_total{k=\"b\"}"), Some(200.0), "{t}");
    assert!(
        !t.contains("trace_id"),
        "no exemplar of a's handle in b: {t}"
    );
    assert!(!t.contains("k=\"a\""), "{t}");
    assert_eq!(r.stats().stale_recordings, 102);
}

#[test]
fn processes_that_churn_one_file_past_its_arena_reuse_records() {
    let dir = tempdir("lifecycle-records");
    let path = dir.join("m.db");
    let r = Registry::open_shared(&path, &small_arena()).unwrap();
    let arena = r.stats().arena_bytes;
    // 9,000 series of 11-word records through a share of 2,048 words.
    let children: Vec<_> = (0..3).map(|_| spawn("churner", &path)).collect();
    let pids: Vec<u32> = children.iter().map(|c| c.id()).collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let t = r.render(Format::Prometheus);
    for pid in pids {
        let series = format!("held_total{{k=\"{pid}\"}}");
        assert_eq!(value(&t, &series), Some(CYCLES as f64), "{t}");
    }
    assert_eq!(t.matches("held_total{").count(), 3, "{t}");
    let s = r.stats();
    assert_eq!(s.overflows, 0, "no new series went to the overflow series");
    // Without reuse the series past the family's share would have gone to the
    // overflow series. The arena holds the share and the free records of the key
    // sizes not in use now (keys of 1 and 2 words here).
    let grown = s.arena_bytes.0 - arena.0;
    assert!(
        grown < 8 * 2 * 2048,
        "arena grew {grown} bytes: {:?}",
        s.arena_bytes
    );
    let _ = std::fs::remove_dir_all(&dir);
}
