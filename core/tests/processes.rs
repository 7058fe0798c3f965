//! Several processes recording into one shared file; a writer killed with SIGKILL.
//!
//! Child processes are this test binary run again with `METRICORE_CHILD` set, which
//! makes the `child` test below do the child's work instead of nothing.

use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

use metricore::{Format, GaugeMode, Kind, Options, Registry, Spec};

mod common;
use common::{spawn, tempdir};

const PROCS: usize = 4;
const INCS: u64 = 50_000;
const LABEL_SETS: usize = 50;

fn options() -> Options {
    Options {
        shards: Some(2),
        cells_per_shard: 1 << 16,
        series_capacity: 1 << 12,
        family_capacity: 64,
        process_capacity: 32,
        arena_bytes: 1 << 20,
        file_mode: 0o600,
        ..Options::default()
    }
}

/// The child's work; a no-op in a normal test run.
#[test]
fn child() {
    let Ok(role) = std::env::var("METRICORE_CHILD") else {
        return;
    };
    let path = PathBuf::from(std::env::var("METRICORE_FILE").unwrap());
    let r = Registry::open_shared(&path, &options()).unwrap();
    match role.as_str() {
        "hammer" => {
            let c = r.counter("jobs", "Jobs.").unwrap();
            let h = r.histogram("lat", "Latency.", &[1.0, 2.0]).unwrap();
            let fam = r.counter_vec("by_model", "By model.", &["model"]).unwrap();
            let g: metricore::GaugeVec = r
                .register(Spec::new(
                    "busy",
                    "Busy workers.",
                    Kind::Gauge(GaugeMode::LiveSum),
                ))
                .unwrap()
                .try_into()
                .unwrap();
            g.with_labels(&[]).unwrap().set(1.0);
            for i in 0..INCS {
                c.inc();
                h.observe((i % 3) as f64).unwrap();
                let m = format!("m{}", i as usize % LABEL_SETS);
                fam.with_labels(&[&m]).unwrap().inc();
            }
        }
        "forever" => {
            let c = r.counter("ticks", "Ticks.").unwrap();
            let fam = r.counter_vec("made", "Made.", &["n"]).unwrap();
            let g: metricore::GaugeVec = r
                .register(Spec::new(
                    "inprogress",
                    "In progress.",
                    Kind::Gauge(GaugeMode::LiveSum),
                ))
                .unwrap()
                .try_into()
                .unwrap();
            g.with_labels(&[]).unwrap().inc();
            for i in 0u64.. {
                c.inc();
                if i % 64 == 0 {
                    fam.with_labels(&[&(i / 64 % 1500).to_string()])
                        .unwrap()
                        .inc();
                }
            }
        }
        // Records until killed: a counter, a histogram and a float counter.
        "lane-writer" => {
            let c = r.counter("lane_ticks", "Ticks.").unwrap();
            let h = r.histogram("lane_lat", "Latency.", &[1.0]).unwrap();
            for i in 0u64.. {
                c.inc();
                h.observe((i % 2) as f64 * 2.0).unwrap();
            }
        }
        // Adds exactly ADDS to the same series, then exits.
        "lane-adder" => {
            let c = r.counter("lane_ticks", "Ticks.").unwrap();
            let h = r.histogram("lane_lat", "Latency.", &[1.0]).unwrap();
            for _ in 0..ADDS {
                c.inc();
                h.observe(0.5).unwrap();
            }
        }
        "gauges" => {
            for (name, mode) in [("pid_all", GaugeMode::All), ("pid_max", GaugeMode::Max)] {
                let g: metricore::GaugeVec = r
                    .register(Spec::new(name, "Per process.", Kind::Gauge(mode)).labels(&["k"]))
                    .unwrap()
                    .try_into()
                    .unwrap();
                g.with_labels(&["x"])
                    .unwrap()
                    .set(std::process::id() as f64);
            }
        }
        other => panic!("unknown child role {other}"),
    }
}

/// What each `lane-adder` child adds.
const ADDS: u64 = 100_000;

fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn processes_that_create_and_record_at_once_get_exact_totals() {
    let dir = tempdir("shared");
    let path = dir.join("shared.metricore");
    // All children start before the file exists: they race to create it.
    let children: Vec<Child> = (0..PROCS).map(|_| spawn("hammer", &path)).collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let before = Registry::open_existing(&path).unwrap();
    let dead: u64 = before
        .stats()
        .families
        .iter()
        .filter(|f| f.name == "busy")
        .map(|f| f.series)
        .sum();
    assert_eq!(
        dead, 0,
        "opening the file swept the exited workers' livesum series"
    );
    let r = Registry::open_existing(&path).unwrap();
    let t = r.render(Format::Prometheus);
    let n = (PROCS as u64 * INCS) as f64;
    assert_eq!(value(&t, "jobs_total"), Some(n), "{t}");
    assert_eq!(value(&t, "lat_count"), Some(n));
    assert_eq!(value(&t, "lat_bucket{le=\"+Inf\"}"), Some(n));
    assert_eq!(
        t.matches("by_model_total{").count(),
        LABEL_SETS,
        "one series per label set"
    );
    let per_set = n / LABEL_SETS as f64;
    for m in 0..LABEL_SETS {
        assert_eq!(
            value(&t, &format!("by_model_total{{model=\"m{m}\"}}")),
            Some(per_set)
        );
    }
    assert_eq!(
        value(&t, "busy"),
        None,
        "exited workers leave a livesum gauge"
    );
    let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary files left: {leftovers:?}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_writer_killed_with_sigkill_loses_nothing_recorded() {
    let dir = tempdir("killed");
    let path = dir.join("killed.metricore");
    let mut child = spawn("forever", &path);
    let deadline = Instant::now() + Duration::from_secs(60);
    let r = loop {
        if let Ok(r) = Registry::open_existing(&path) {
            if value(&r.render(Format::Prometheus), "ticks_total").unwrap_or(0.0) > 200_000.0 {
                break r;
            }
        }
        assert!(Instant::now() < deadline, "the writer never got going");
        std::thread::sleep(Duration::from_millis(20));
    };
    let t = r.render(Format::Prometheus);
    assert_eq!(
        value(&t, "inprogress"),
        Some(1.0),
        "live writer counted: {t}"
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let before = r.render(Format::Prometheus);
    let ticks = value(&before, "ticks_total").unwrap();
    assert!(ticks >= 200_000.0);
    assert_eq!(
        value(&before, "inprogress"),
        None,
        "a dead writer drops out of livesum"
    );

    // Open anew, record, render: the file is whole and nothing was lost.
    let again = Registry::open_shared(&path, &options()).unwrap();
    again.counter("ticks", "Ticks.").unwrap().inc_by(5);
    let made = again.counter_vec("made", "Made.", &["n"]).unwrap();
    made.with_labels(&["0"]).unwrap().inc();
    let after = again.render(Format::Prometheus);
    assert_eq!(value(&after, "ticks_total"), Some(ticks + 5.0));
    let series = after.matches("made_total{").count();
    let stats = again.stats();
    assert_eq!(
        stats
            .families
            .iter()
            .find(|f| f.name == "made")
            .unwrap()
            .series as usize,
        series
    );
    for line in after.lines().filter(|l| l.starts_with("made_total{")) {
        let v: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        assert!(v >= 1.0, "{line}");
    }
    assert!(after.contains("made_total{n=\"0\"}"));
    std::fs::remove_dir_all(dir).unwrap();
}

/// A writer killed mid-recording keeps what it recorded in its lane; the next writers
/// take that lane back instead of a new one and add on top, exactly.
#[test]
fn a_killed_writers_lane_is_taken_back_and_totals_stay_exact() {
    let dir = tempdir("lanes");
    let path = dir.join("lanes.metricore");
    let mut writer = spawn("lane-writer", &path);
    let deadline = Instant::now() + Duration::from_secs(60);
    let r = loop {
        if let Ok(r) = Registry::open_existing(&path) {
            if value(&r.render(Format::Prometheus), "lane_ticks_total").unwrap_or(0.0) > 100_000.0 {
                break r;
            }
        }
        assert!(Instant::now() < deadline, "the writer never got going");
        std::thread::sleep(Duration::from_millis(20));
    };
    writer.kill().unwrap(); // SIGKILL, mid-recording
    writer.wait().unwrap();
    let t = r.render(Format::Prometheus);
    let (ticks, count) = (
        value(&t, "lane_ticks_total").unwrap(),
        value(&t, "lane_lat_count").unwrap(),
    );
    assert_eq!(
        value(&t, "lane_lat_bucket{le=\"+Inf\"}"),
        Some(count),
        "{t}"
    );
    assert!((ticks - count).abs() <= 1.0, "{t}");
    let low = value(&t, "lane_lat_bucket{le=\"1.0\"}").unwrap();
    assert_eq!(r.stats().lanes_in_use, 1, "one writer, one lane");

    // One after the other: the first takes the dead writer's lane and gives it back
    // when it exits, and the second takes it again.
    for _ in 0..2 {
        assert!(spawn("lane-adder", &path).wait().unwrap().success());
    }
    let t = r.render(Format::Prometheus);
    let added = 2.0 * ADDS as f64;
    assert_eq!(value(&t, "lane_ticks_total"), Some(ticks + added), "{t}");
    assert_eq!(value(&t, "lane_lat_count"), Some(count + added), "{t}");
    assert_eq!(
        value(&t, "lane_lat_bucket{le=\"1.0\"}"),
        Some(low + added),
        "{t}"
    );
    assert_eq!(
        r.stats().lanes_in_use,
        1,
        "the dead writer's lane was taken back, not a new one"
    );
    assert_eq!(r.check().1, Vec::<String>::new());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn check_finds_a_corrupt_directory_slot() {
    let dir = tempdir("check");
    let path = dir.join("check.metricore");
    let opts = Options {
        family_capacity: 16,
        ..options()
    };
    let r = Registry::open_shared(&path, &opts).unwrap();
    let c = r.counter_vec("jobs", "Jobs.", &["kind"]).unwrap();
    for k in ["a", "b", "c"] {
        c.with_labels(&[k]).unwrap().inc();
    }
    let (checked, problems) = r.check();
    assert_eq!(
        (checked, problems.len()),
        (4, 0),
        "3 series and the overflow series: {problems:?}"
    );
    // The directory follows the 64-word header and 16 families of 4 words: put a slot
    // there that points past the arena, as a corrupt file would.
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    let slots = (64 + 16 * 4) * 8;
    let bad: u64 = 0x1234_5678_7fff_fff0;
    let free = (0..(1u64 << 12))
        .find(|i| {
            let mut w = [0u8; 8];
            f.read_at(&mut w, slots + i * 8).unwrap();
            u64::from_le_bytes(w) == 0
        })
        .unwrap();
    f.write_at(&bad.to_le_bytes(), slots + free * 8).unwrap();
    let (_, problems) = Registry::open_existing(&path).unwrap().check();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("outside the arena"), "{problems:?}");
    assert!(Registry::open_existing(&path)
        .unwrap()
        .render(Format::Prometheus)
        .contains("jobs_total{kind=\"c\"} 1\n"));
    std::fs::remove_dir_all(dir).unwrap();
}

fn gauge_series(r: &Registry) -> u64 {
    r.stats()
        .families
        .iter()
        .filter(|f| f.name.starts_with("pid_"))
        .map(|f| f.series)
        .sum()
}

#[test]
fn dead_processes_leave_no_gauge_series_of_any_mode() {
    let dir = tempdir("gauge-modes");
    let path = dir.join("gauges.metricore");
    let children: Vec<Child> = (0..3).map(|_| spawn("gauges", &path)).collect();
    let pids: Vec<u32> = children.iter().map(Child::id).collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    // Opening the file sweeps what exited processes left, in every gauge mode.
    let r = Registry::open_shared(&path, &options()).unwrap();
    let t = r.render(Format::Prometheus);
    for pid in pids {
        assert!(!t.contains(&format!("pid=\"{pid}\"")), "{t}");
    }
    assert!(!t.contains("pid_max{"), "{t}");
    assert_eq!(gauge_series(&r), 0, "{t}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_full_process_table_sends_gauges_to_the_shared_series() {
    let dir = tempdir("procs-full");
    let path = dir.join("full.metricore");
    // The parent takes the one process slot; the children find the table full.
    let r = Registry::open_shared(
        &path,
        &Options {
            process_capacity: 1,
            ..options()
        },
    )
    .unwrap();
    for _ in 0..2 {
        let mut c = spawn("gauges", &path);
        assert!(
            c.wait().unwrap().success(),
            "registering a gauge never fails"
        );
    }
    let t = r.render(Format::Prometheus);
    let shared = t
        .lines()
        .find(|l| l.starts_with("pid_all{k=\"x\",pid=\"shared\"}"))
        .unwrap_or_else(|| panic!("{t}"));
    let v: f64 = shared.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(v > 0.0, "{shared}");
    assert_eq!(t.matches("pid_all{").count(), 1, "one shared series: {t}");
    assert!(
        t.contains("metricore_processes_without_slot_total 2\n"),
        "{t}"
    );
    // The shared series outlives the processes that wrote it.
    let again = Registry::open_shared(&path, &options()).unwrap();
    assert!(again.render(Format::Prometheus).contains("pid=\"shared\""));
    std::fs::remove_dir_all(dir).unwrap();
}
