//! A SIGKILL storm: processes that keep making new series are killed at random
//! instants, again and again, then the family is cleared. The file must stay usable:
//! every series renders, the text parses, the counts agree with what is rendered, and
//! `check` finds nothing wrong.
//!
//! Child processes are this test binary run again with `METRICORE_CHILD` set, which
//! makes the `child` test below do the child's work instead of nothing.

use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

use metricore::{Format, Options, Registry};

mod common;
use common::{spawn, tempdir};

const WORKERS: usize = 3;
const KILLS: usize = 50;
/// New series a worker makes before it only records.
const PER_WORKER: u32 = 2000;

fn options() -> Options {
    Options {
        shards: Some(2),
        cells_per_shard: 1 << 18,
        series_capacity: 1 << 18,
        family_capacity: 16,
        process_capacity: 64,
        // Room for every series the workers can make (3 x 2,000 per life, 51 lives)
        // within the family's share of the arena.
        arena_bytes: 64 << 20,
        ..Options::default()
    }
}

fn family(r: &Registry) -> metricore::CounterVec {
    r.register(
        metricore::Spec::new(
            "made",
            "Series made by killed workers.",
            metricore::Kind::Counter,
        )
        .labels(&["worker", "n"])
        .limit(1 << 20),
    )
    .unwrap()
    .try_into()
    .unwrap()
}

/// The child's work: make new series, a few at a time, until killed.
#[test]
fn child() {
    if std::env::var("METRICORE_CHILD").is_err() {
        return;
    }
    let path = PathBuf::from(std::env::var("METRICORE_FILE").unwrap());
    let r = Registry::open_shared(&path, &options()).unwrap();
    let made = family(&r);
    let ticks = r.counter("ticks", "Ticks.").unwrap();
    let me = std::process::id().to_string();
    for i in 0..PER_WORKER {
        made.with_labels(&[&me, &i.to_string()]).unwrap().inc();
        ticks.inc();
        if i % 16 == 0 {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    loop {
        ticks.inc();
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Checks that `text` is a well-formed Prometheus text exposition and returns its
/// samples (series with labels, value).
fn parse(text: &str) -> Vec<(String, f64)> {
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(c) = line.strip_prefix("# ") {
            assert!(
                c.starts_with("HELP ") || c.starts_with("TYPE ") || c.starts_with("UNIT "),
                "comment line {line:?}"
            );
            continue;
        }
        let name_end = line
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or_else(|| panic!("no value in {line:?}"));
        let mut rest = &line[name_end..];
        if let Some(labels) = rest.strip_prefix('{') {
            // name="value" pairs, values with \\, \" and \n escapes.
            let mut chars = labels.char_indices();
            let mut in_value = false;
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match (in_value, c) {
                    (true, '\\') => {
                        let (_, e) = chars.next().unwrap();
                        assert!(matches!(e, '\\' | '"' | 'n'), "escape in {line:?}");
                    }
                    (true, '"') => in_value = false,
                    (false, '"') => in_value = true,
                    (false, '}') => {
                        end = Some(i);
                        break;
                    }
                    (false, c) => assert!(
                        c.is_ascii_alphanumeric() || matches!(c, '_' | '=' | ','),
                        "label syntax in {line:?}"
                    ),
                    _ => {}
                }
            }
            rest = &labels[end.unwrap_or_else(|| panic!("unclosed labels in {line:?}")) + 1..];
        }
        let value = rest
            .strip_prefix(' ')
            .unwrap_or_else(|| panic!("no value in {line:?}"));
        let v: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("value {value:?} in {line:?}"));
        samples.push((line[..line.len() - value.len() - 1].to_owned(), v));
    }
    samples
}

fn family_series(r: &Registry, name: &str) -> u64 {
    r.stats()
        .families
        .iter()
        .find(|f| f.name == name)
        .map_or(0, |f| f.series)
}

#[test]
fn series_makers_killed_at_random_instants_leave_a_file_that_renders() {
    let dir = tempdir("kill-storm");
    let path = dir.join("storm.metricore");
    // Create the file first, so that kills land in series creation.
    let r = Registry::open_shared(&path, &options()).unwrap();
    let made = family(&r);
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64
        | 1;
    println!("kill storm seed {seed}");
    let mut rand = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let start = Instant::now();
    let mut workers: Vec<Child> = (0..WORKERS).map(|_| spawn("maker", &path)).collect();
    for _ in 0..KILLS {
        std::thread::sleep(Duration::from_micros(rand(40_000)));
        let i = rand(WORKERS as u64) as usize;
        workers[i].kill().unwrap(); // SIGKILL
        workers[i].wait().unwrap();
        workers[i] = spawn("maker", &path);
    }
    for mut w in workers {
        w.kill().unwrap();
        w.wait().unwrap();
    }
    println!(
        "{KILLS} kills of {WORKERS} workers in {:.1} s",
        start.elapsed().as_secs_f64()
    );

    // Every series the killed workers made renders, once, with a value of 1, or 0 when
    // its maker was killed between making it and recording.
    let text = r.render(Format::Prometheus);
    let samples = parse(&text);
    let made_lines: Vec<&(String, f64)> = samples
        .iter()
        .filter(|(s, _)| s.starts_with("made_total{"))
        .collect();
    assert!(
        made_lines.len() > KILLS,
        "the workers made series: {}",
        made_lines.len()
    );
    assert!(
        made_lines.iter().all(|(_, v)| *v == 1.0 || *v == 0.0),
        "{text}"
    );
    let mut keys: Vec<&String> = made_lines.iter().map(|(s, _)| s).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), made_lines.len(), "no series twice");
    // A worker killed between publishing a series and counting it leaves the count
    // low, by at most one per kill.
    let live = family_series(&r, "made");
    let rendered = made_lines.len() as u64;
    println!("{rendered} series rendered, family count {live}");
    assert!(
        live <= rendered && live + KILLS as u64 + WORKERS as u64 >= rendered,
        "family count {live}, rendered {rendered}"
    );
    let (checked, problems) = r.check();
    assert!(problems.is_empty(), "{problems:?}");
    assert!(checked >= rendered);

    // Clearing removes them all; no count wraps below zero.
    made.clear();
    assert_eq!(family_series(&r, "made"), 0);
    let stats = r.stats();
    assert!(stats.series <= 1, "only `ticks` is left: {}", stats.series);
    let text = r.render(Format::Prometheus);
    let samples = parse(&text);
    assert!(
        !samples.iter().any(|(s, _)| s.starts_with("made_total{")),
        "{text}"
    );
    let series = samples
        .iter()
        .find(|(s, _)| s == "metricore_series")
        .unwrap()
        .1;
    assert!(series <= 1.0, "{text}");
    assert!(samples.iter().any(|(s, v)| s == "ticks_total" && *v > 0.0));

    // The family takes new series again and counts them.
    made.with_labels(&["parent", "1"]).unwrap().inc_by(3);
    assert_eq!(family_series(&r, "made"), 1);
    let again = Registry::open_existing(&path).unwrap();
    let text = again.render(Format::OpenMetrics);
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(
        text.contains("made_total{worker=\"parent\",n=\"1\"} 3\n"),
        "{text}"
    );
    let (_, problems) = again.check();
    assert!(problems.is_empty(), "{problems:?}");
    drop((r, again));
    std::fs::remove_dir_all(dir).unwrap();
}
