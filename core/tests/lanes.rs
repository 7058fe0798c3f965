//! Lanes in an in-process registry: each recording thread gets one, gives it back when
//! it exits, and threads past the capacity share lanes; totals are exact throughout.

use std::sync::Barrier;

use metricore::{Format, Options, Registry};

fn registry(lanes: u32) -> Registry {
    Registry::with_options(&Options {
        shards: Some(lanes),
        cells_per_shard: 1 << 12,
        series_capacity: 64,
        family_capacity: 8,
        process_capacity: 4,
        arena_bytes: 1 << 14,
        ..Options::default()
    })
    .unwrap()
}

fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Runs `threads` threads at once, each calling `f` `n` times once all have started,
/// and keeps them all until every one is done. Returns once they have exited, their
/// thread-local destructors (which give lanes back) included: joined one by one, not
/// only by the end of the scope, which can come before those destructors run.
fn at_once(threads: usize, n: u64, f: impl Fn() + Sync) {
    let (start, end) = (Barrier::new(threads), Barrier::new(threads));
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    for _ in 0..n {
                        f();
                    }
                    end.wait();
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    });
}

#[test]
fn threads_get_lanes_of_their_own_and_give_them_back() {
    let r = registry(4);
    let c = r.counter("c", "").unwrap();
    let h = r.histogram("h", "", &[1.0]).unwrap();
    assert_eq!(r.stats().lanes_in_use, 1, "lane 0 is always in use");
    at_once(2, 1000, || {
        c.inc();
        h.observe(0.5).unwrap();
    });
    assert_eq!(r.stats().lanes_in_use, 2);
    // The two threads exited: the next ones take their lanes again.
    at_once(2, 1000, || c.inc());
    assert_eq!(r.stats().lanes_in_use, 2);
    let t = r.render(Format::Prometheus);
    assert_eq!(value(&t, "c_total"), Some(4000.0), "{t}");
    assert_eq!(value(&t, "h_count"), Some(2000.0), "{t}");
    assert_eq!(value(&t, "h_sum"), Some(1000.0), "{t}");
    assert_eq!(c.get(), 4000.0);
}

#[test]
fn threads_past_the_capacity_share_lanes_and_lose_nothing() {
    let r = registry(2);
    let c = r.counter("c", "").unwrap();
    at_once(6, 10_000, || c.inc_by_f64(0.5).unwrap());
    assert_eq!(r.stats().lanes_in_use, 2);
    let t = r.render(Format::Prometheus);
    assert_eq!(value(&t, "c_total"), Some(30_000.0), "{t}");
}

#[test]
fn by_default_a_main_thread_and_a_thread_per_cpu_each_have_a_lane() {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let r = Registry::with_options(&Options {
        shards: None,
        cells_per_shard: 1 << 12,
        series_capacity: 64,
        family_capacity: 8,
        process_capacity: 4,
        arena_bytes: 1 << 14,
        ..Options::default()
    })
    .unwrap();
    let c = r.counter("c", "").unwrap();
    c.inc();
    at_once(cpus, 1000, || c.inc());
    assert_eq!(r.stats().lanes_in_use, cpus + 1, "none shares a lane");
    assert_eq!(c.get(), (cpus * 1000 + 1) as f64);
}

#[test]
fn threads_past_the_thread_slots_share_one_lane_and_lose_nothing() {
    // More threads than a process has slots (1,024): the last share one slot, and with
    // it one lane, which they write with atomic adds.
    let r = registry(2048);
    let h = r.histogram("h", "", &[1.0]).unwrap();
    let s = r.summary("s", "").unwrap();
    at_once(1100, 2000, || {
        h.observe(1.0).unwrap();
        s.observe(1.0).unwrap();
    });
    let t = r.render(Format::Prometheus);
    for series in [
        "h_count",
        "h_sum",
        "h_bucket{le=\"1.0\"}",
        "s_count",
        "s_sum",
    ] {
        assert_eq!(value(&t, series), Some(2_200_000.0), "{series}");
    }
}
