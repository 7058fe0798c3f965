//! Idle expiry: a series of a family with an idle time that is not written for that
//! long leaves the output and is made anew, from zero, by a later lookup; in one
//! process, and with another process (this test binary run again with
//! `METRICORE_CHILD` set) writing while this one sweeps.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use metricore::{CounterVec, Error, Format, GaugeVec, Kind, Options, Registry, Spec};

mod common;
use common::{spawn, tempdir};

const IDLE: Duration = Duration::from_millis(100);
/// The idle time of the family two processes share: long beside the 5 ms between the
/// writer's increments, so that a writer the machine holds back is not taken for idle.
const SHARED_IDLE: Duration = Duration::from_millis(1500);

fn options() -> Options {
    Options {
        shards: Some(2),
        cells_per_shard: 1 << 12,
        series_capacity: 1 << 10,
        family_capacity: 16,
        process_capacity: 8,
        arena_bytes: 1 << 20,
        ..Options::default()
    }
}

fn counters(r: &Registry, idle: Duration) -> CounterVec {
    let spec = Spec::new("jobs", "Jobs.", Kind::Counter)
        .labels(&["k"])
        .expire_after(idle);
    r.register(spec).unwrap().try_into().unwrap()
}

fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Renders `r` (each render sweeps), calling `between` before each, until `done`
/// holds for the text; fails after 10 seconds.
fn render_until(
    r: &Registry,
    mut between: impl FnMut(),
    mut done: impl FnMut(&str) -> bool,
) -> String {
    let start = Instant::now();
    loop {
        between();
        let t = r.render(Format::Prometheus);
        if done(&t) {
            return t;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "never: {t}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The child's work; a no-op in a normal test run.
#[test]
fn child() {
    let Ok(role) = std::env::var("METRICORE_CHILD") else {
        return;
    };
    assert_eq!(role, "writer");
    let path = PathBuf::from(std::env::var("METRICORE_FILE").unwrap());
    let r = Registry::open_shared(&path, &options()).unwrap();
    let v = counters(&r, SHARED_IDLE);
    // "once" is written once now and once more after the go file; "busy" every 5 ms
    // until the stop file, counted in the file "busy.n" at the end.
    v.with_labels(&["once"]).unwrap().inc_by(5);
    let (go, stop) = (path.with_extension("go"), path.with_extension("stop"));
    let mut wrote_again = false;
    let (mut busy, start) = (0u64, Instant::now());
    // A parent that failed never writes the stop file.
    while !stop.exists() && start.elapsed() < Duration::from_secs(30) {
        v.with_labels(&["busy"]).unwrap().inc();
        busy += 1;
        if !wrote_again && go.exists() {
            v.with_labels(&["once"]).unwrap().inc();
            wrote_again = true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    std::fs::write(path.with_extension("busy"), busy.to_string()).unwrap();
}

#[test]
fn an_idle_series_expires_and_a_later_lookup_makes_it_anew_from_zero() {
    let r = Registry::with_options(&options()).unwrap();
    let v = counters(&r, IDLE);
    let held = v.with_labels(&["idle"]).unwrap();
    held.inc_by(5);
    let busy = v.with_labels(&["busy"]).unwrap();
    let t = render_until(&r, || busy.inc(), |t| !t.contains("k=\"idle\""));
    assert!(value(&t, "jobs_total{k=\"busy\"}").is_some(), "{t}");
    assert_eq!(
        value(&t, "metricore_series_expired_total"),
        Some(1.0),
        "{t}"
    );
    assert_eq!(r.stats().expired, 1);
    assert_eq!(r.stats().series, 1);
    // The handle kept from before writes nothing; a lookup (through this thread's
    // remembered hit, which no longer checks out) makes the series anew.
    held.inc();
    v.with_labels(&["idle"]).unwrap().inc();
    let t = r.render(Format::Prometheus);
    assert_eq!(value(&t, "jobs_total{k=\"idle\"}"), Some(1.0), "{t}");
    assert_eq!(value(&t, "metricore_stale_recordings_total"), Some(1.0));
}

#[test]
fn a_gauge_set_to_the_value_it_holds_is_not_written_and_expires() {
    let r = Registry::with_options(&options()).unwrap();
    let spec = Spec::new("temp", "Temp.", Kind::Gauge(Default::default()))
        .labels(&["k"])
        .expire_after(IDLE);
    let g: GaugeVec = r.register(spec).unwrap().try_into().unwrap();
    let (same, moving) = (
        g.with_labels(&["same"]).unwrap(),
        g.with_labels(&["moving"]).unwrap(),
    );
    let mut x = 0.0;
    let t = render_until(
        &r,
        || {
            same.set(3.0);
            x += 1.0;
            moving.set(x);
        },
        |t| !t.contains("k=\"same\""),
    );
    assert!(t.contains("temp{k=\"moving\"}"), "{t}");
}

#[test]
fn series_of_families_without_an_idle_time_never_expire() {
    let r = Registry::with_options(&options()).unwrap();
    r.counter_vec("kept", "Kept.", &["k"])
        .unwrap()
        .with_labels(&["a"])
        .unwrap()
        .inc();
    let v = counters(&r, IDLE);
    v.with_labels(&["a"]).unwrap().inc();
    let t = render_until(&r, || {}, |t| !t.contains("jobs_total{"));
    assert_eq!(value(&t, "kept_total{k=\"a\"}"), Some(1.0), "{t}");
}

#[test]
fn idle_times_are_part_of_the_family_and_checked() {
    let r = Registry::with_options(&options()).unwrap();
    counters(&r, IDLE);
    let other = Spec::new("jobs", "Jobs.", Kind::Counter)
        .labels(&["k"])
        .expire_after(IDLE * 2);
    assert!(matches!(r.register(other), Err(Error::Conflict { .. })));
    let never = Spec::new("jobs", "Jobs.", Kind::Counter).labels(&["k"]);
    assert!(matches!(r.register(never), Err(Error::Conflict { .. })));
    let bad = [
        Spec::new("a", "", Kind::Counter)
            .labels(&["k"])
            .expire_after(Duration::from_secs(400 * 24 * 3600)),
        Spec::new("b", "", Kind::Counter).expire_after(IDLE),
        Spec::new("c", "", Kind::Info)
            .labels(&["k"])
            .expire_after(IDLE),
    ];
    for spec in bad {
        let e = r.register(spec).err().unwrap();
        assert!(matches!(e, Error::InvalidExpiry { .. }), "{e}");
    }
}

fn wait_file(path: &Path) -> String {
    let start = Instant::now();
    loop {
        if let Ok(s) = std::fs::read_to_string(path) {
            if !s.is_empty() {
                return s;
            }
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{path:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_series_another_process_writes_stays_while_one_it_left_idle_expires_and_comes_back() {
    let dir = tempdir("expiry-procs");
    let path = dir.join("m.db");
    let r = Registry::open_shared(&path, &options()).unwrap();
    let mut child = spawn("writer", &path);
    render_until(
        &r,
        || {},
        |t| value(t, "jobs_total{k=\"once\"}") == Some(5.0),
    );
    // The family as the writer registered it, idle time included.
    let plain = Spec::new("jobs", "Jobs.", Kind::Counter).labels(&["k"]);
    assert!(matches!(r.register(plain), Err(Error::Conflict { .. })));
    counters(&r, SHARED_IDLE);
    let mut last = 0.0;
    render_until(
        &r,
        || {},
        |t| {
            let busy = value(t, "jobs_total{k=\"busy\"}").expect("busy never expires");
            assert!(busy >= last, "busy went back from {last} to {busy}");
            last = busy;
            !t.contains("k=\"once\"")
        },
    );
    std::fs::write(path.with_extension("go"), b"").unwrap();
    render_until(
        &r,
        || {},
        |t| value(t, "jobs_total{k=\"once\"}") == Some(1.0),
    );
    std::fs::write(path.with_extension("stop"), b"").unwrap();
    assert!(child.wait().unwrap().success());
    let busy: f64 = wait_file(&path.with_extension("busy")).parse().unwrap();
    let t = r.render(Format::Prometheus);
    // Nothing the writer added while it wrote every 5 ms was lost to an expiry.
    assert_eq!(value(&t, "jobs_total{k=\"busy\"}"), Some(busy), "{t}");
    let expired = r.stats().expired;
    assert!(expired >= 1);
    // The command (built only with the `cli` feature) reports the count too.
    #[cfg(feature = "cli")]
    {
        let bin = env!("CARGO_BIN_EXE_metricore");
        let out = std::process::Command::new(bin)
            .arg("inspect")
            .arg(&path)
            .output()
            .unwrap();
        let report = String::from_utf8_lossy(&out.stdout);
        let row = format!("expired      {expired} series removed");
        assert!(report.contains(&row), "{report}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
