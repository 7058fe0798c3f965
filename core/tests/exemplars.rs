//! Exemplars: stored per counter series and per histogram bucket, rendered in
//! OpenMetrics and protobuf (never the Prometheus text format), shared between registries of one file, never torn by processes
//! writing one slot at once.
//!
//! Child processes are this test binary run again with `METRICORE_CHILD` set, which
//! makes the `child` test below do the child's work instead of nothing.

use std::path::PathBuf;

use metricore::{Error, Format, Options, Registry};

mod common;
use common::{spawn, tempdir};

const WRITERS: u64 = 4;
const WRITES: u64 = 20_000;

fn small() -> Options {
    Options {
        shards: Some(2),
        cells_per_shard: 1 << 12,
        series_capacity: 1 << 8,
        family_capacity: 16,
        process_capacity: 8,
        arena_bytes: 1 << 20,
        file_mode: 0o600,
        ..Options::default()
    }
}

fn line<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line {prefix:?} in\n{text}"))
}

/// `(labels, value, timestamp)` of a line's exemplar.
fn exemplar_of(line: &str) -> (&str, f64, f64) {
    let (_, ex) = line.split_once(" # ").expect("an exemplar");
    let (labels, rest) = ex.split_once("} ").unwrap();
    let (v, t) = rest.split_once(' ').unwrap();
    (&labels[1..], v.parse().unwrap(), t.parse().unwrap())
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[test]
fn counters_and_buckets_show_their_latest_exemplar_in_openmetrics_only() {
    let r = Registry::with_options(&small()).unwrap();
    let c = r.counter_vec("requests", "Requests.", &["model"]).unwrap();
    let h = r
        .histogram_vec("latency_seconds", "Latency.", &["model"], &[0.1, 1.0])
        .unwrap();
    let before = now();
    let gpt = c.with_labels(&["gpt"]).unwrap();
    gpt.inc_with_exemplar(&[("trace_id", "aaa")]).unwrap();
    gpt.inc_by_f64_with_exemplar(2.5, &[("trace_id", "b\"b"), ("span_id", "1")])
        .unwrap();
    c.with_labels_ref(&["other"]).unwrap().inc();
    let hh = h.with_labels(&["gpt"]).unwrap();
    hh.observe_with_exemplar(0.05, &[("trace_id", "h1")])
        .unwrap();
    hh.observe_with_exemplar(0.5, &[("trace_id", "h2")])
        .unwrap();
    hh.observe_with_exemplar(7.0, &[("trace_id", "h3")])
        .unwrap();
    hh.observe(0.07).unwrap();
    let after = now();

    let om = r.render(Format::OpenMetrics);
    let l = line(&om, "requests_total{model=\"gpt\"}");
    assert!(
        l.starts_with("requests_total{model=\"gpt\"} 3.5 # {"),
        "{l}"
    );
    let (labels, v, t) = exemplar_of(l);
    assert_eq!(labels, "trace_id=\"b\\\"b\",span_id=\"1\"");
    assert_eq!(v, 2.5);
    assert!(
        (before..=after).contains(&t),
        "{t} not in {before}..{after}"
    );
    assert!(!line(&om, "requests_total{model=\"other\"}").contains('#'));
    for (le, id, v, count) in [
        ("0.1", "h1", 0.05, 2),
        ("1.0", "h2", 0.5, 3),
        ("+Inf", "h3", 7.0, 4),
    ] {
        let l = line(
            &om,
            &format!("latency_seconds_bucket{{model=\"gpt\",le=\"{le}\"}}"),
        );
        assert!(l.contains(&format!("}} {count} # {{")), "{l}");
        let (labels, got, _) = exemplar_of(l);
        assert_eq!((labels, got), (format!("trace_id=\"{id}\"").as_str(), v));
    }
    assert!(!line(&om, "latency_seconds_count").contains('#'));

    let text = r.render(Format::Prometheus);
    assert!(!text.contains(" # {"), "{text}");
    assert!(text.contains("requests_total{model=\"gpt\"} 3.5\n"));

    // Protobuf carries them too: each exemplar's trace id once, in its counter or bucket.
    let mut pb = Vec::new();
    metricore::registry::render_bytes(
        std::slice::from_ref(&r),
        Format::Protobuf,
        &metricore::Filter::all(),
        &mut pb,
    );
    let count = |needle: &[u8]| pb.windows(needle.len()).filter(|w| w == &needle).count();
    for id in ["b\"b", "h1", "h2", "h3"] {
        // The label pair: name "trace_id", then field 2 with the value's length and bytes.
        let mut pair = b"\x08trace_id\x12".to_vec();
        pair.push(id.len() as u8);
        pair.extend_from_slice(id.as_bytes());
        assert_eq!(count(&pair), 1, "{id}");
    }
    assert_eq!(count(b"aaa"), 0, "a replaced exemplar is gone");
}

#[test]
fn refused_exemplars_still_count_and_say_why() {
    let r = Registry::with_options(&small()).unwrap();
    let c = r.counter("c", "C.").unwrap();
    let h = r.histogram("h", "H.", &[1.0]).unwrap();
    let long = "x".repeat(121);
    match c.inc_with_exemplar(&[("trace_id", &long)]) {
        Err(Error::ExemplarTooLong(129)) => {}
        other => panic!("{other:?}"),
    }
    assert!(c.inc_with_exemplar(&[(":o)", "smile")]).is_err());
    assert!(h.observe_with_exemplar(0.5, &[("1", "number")]).is_err());
    assert!(h.observe_with_exemplar(f64::NAN, &[("t", "1")]).is_err());
    assert!(c.inc_by_f64_with_exemplar(-1.0, &[("t", "1")]).is_err());
    assert_eq!(c.get(), 2.0);
    let om = r.render(Format::OpenMetrics);
    assert!(om.contains("c_total 2\n"), "{om}");
    assert!(om.contains("h_count 1\n"), "{om}");
    assert!(!om.contains(" # {"), "{om}");
    // 128 characters fit (names and values together).
    c.inc_with_exemplar(&[("trace_id", &long[..120])]).unwrap();
    assert!(r.render(Format::OpenMetrics).contains(&long[..120]));
}

#[test]
fn exemplars_written_through_one_registry_are_read_through_another_of_the_file() {
    let dir = std::env::temp_dir().join(format!("metricore-exemplars-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("m.db");
    let a = Registry::open_shared(&path, &small()).unwrap();
    let b = Registry::open_shared(&path, &small()).unwrap();
    let ca = a.counter_vec("jobs", "Jobs.", &["q"]).unwrap();
    let cb = b.counter_vec("jobs", "Jobs.", &["q"]).unwrap();
    ca.with_labels(&["x"])
        .unwrap()
        .inc_with_exemplar(&[("trace_id", "from-a")])
        .unwrap();
    let om = b.render(Format::OpenMetrics);
    assert!(
        line(&om, "jobs_total{q=\"x\"} 1").contains("{trace_id=\"from-a\"} 1.0 "),
        "{om}"
    );
    cb.with_labels(&["x"])
        .unwrap()
        .inc_with_exemplar(&[("trace_id", "from-b")])
        .unwrap();
    let om = a.render(Format::OpenMetrics);
    assert!(
        line(&om, "jobs_total{q=\"x\"} 2").contains("{trace_id=\"from-b\"} 1.0 "),
        "{om}"
    );
    drop((a, b));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The labels and value writer `p` gives its `i`th exemplar: lengths vary, so a copy
/// mixing two exemplars shows.
fn written(p: u64, i: u64) -> (String, f64) {
    let pad = char::from(b'a' + ((p + i) % 26) as u8).to_string();
    (
        format!("{p}-{i}-{}", pad.repeat((i % 90) as usize)),
        (p * 1_000_000 + i) as f64,
    )
}

/// The child's work; a no-op in a normal test run.
#[test]
fn child() {
    let Ok(role) = std::env::var("METRICORE_CHILD") else {
        return;
    };
    let path = PathBuf::from(std::env::var("METRICORE_FILE").unwrap());
    let r = Registry::open_shared(&path, &small()).unwrap();
    let h = r.histogram("slot", "One slot.", &[1e12]).unwrap();
    let p: u64 = role.parse().unwrap();
    for i in 0..WRITES {
        let (id, v) = written(p, i);
        h.observe_with_exemplar(v, &[("trace_id", &id)]).unwrap();
    }
}

#[test]
fn processes_hammering_one_slot_never_show_a_torn_exemplar() {
    let dir = tempdir("exemplar-storm");
    let path = dir.join("m.db");
    let r = Registry::open_shared(&path, &small()).unwrap();
    let h = r.histogram("slot", "One slot.", &[1e12]).unwrap();
    let start = now();
    let mut children: Vec<_> = (0..WRITERS).map(|p| spawn(&p.to_string(), &path)).collect();
    let (mut reads, mut seen) = (0, std::collections::HashSet::new());
    let mut check = |om: &str| {
        let l = line(om, "slot_bucket{le=\"1000000000000.0\"}");
        if !l.contains(" # ") {
            return;
        }
        let (labels, v, t) = exemplar_of(l);
        let id = labels
            .strip_prefix("trace_id=\"")
            .and_then(|r| r.strip_suffix('"'))
            .unwrap_or_else(|| panic!("torn labels: {l}"));
        let mut parts = id.splitn(3, '-');
        let p: u64 = parts.next().unwrap().parse().unwrap();
        let i: u64 = parts.next().unwrap().parse().unwrap();
        assert_eq!(
            (written(p, i).0.as_str(), written(p, i).1),
            (id, v),
            "torn: {l}"
        );
        assert!(t >= start && t <= now(), "time {t} of {l}");
        reads += 1;
        seen.insert(p);
    };
    while children.iter_mut().any(|c| c.try_wait().unwrap().is_none()) {
        check(&r.render(Format::OpenMetrics));
    }
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    check(&r.render(Format::OpenMetrics));
    assert!(reads > 10, "only {reads} renders found an exemplar");
    assert_eq!(h.bounds(), [1e12]);
    let om = r.render(Format::OpenMetrics);
    assert!(
        om.contains(&format!("slot_count {}\n", WRITERS * WRITES)),
        "{om}"
    );
    let dropped: u64 = line(&om, "metricore_exemplars_dropped_total ")
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(dropped < WRITERS * WRITES, "{dropped} dropped");
    eprintln!("{reads} renders checked, writers seen: {seen:?}, {dropped} exemplars dropped");
    std::fs::remove_dir_all(&dir).unwrap();
}
