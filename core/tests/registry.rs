//! Behaviour of the registry and its handles, through the public API.

use metricore::{buckets, Error, Format, GaugeMode, Kind, Options, Registry, Spec};

fn small() -> Options {
    Options {
        shards: Some(4),
        cells_per_shard: 4096,
        series_capacity: 1024,
        family_capacity: 64,
        process_capacity: 16,
        arena_bytes: 1 << 18,
        file_mode: 0o600,
        ..Options::default()
    }
}

fn text(r: &Registry) -> String {
    r.render(Format::Prometheus)
}

#[test]
fn counters_sum_over_threads_exactly() {
    let r = Registry::with_options(&small()).unwrap();
    let c = r.counter_vec("hits", "Hits.", &["kind"]).unwrap();
    std::thread::scope(|s| {
        for t in 0..4 {
            let c = c.clone();
            s.spawn(move || {
                let h = c.with_labels(&["a"]).unwrap();
                for _ in 0..10_000 {
                    h.inc();
                }
                c.with_labels(&["b"]).unwrap().inc_by(t);
            });
        }
    });
    assert_eq!(c.with_labels(&["a"]).unwrap().get(), 40_000.0);
    let t = text(&r);
    assert!(t.contains("hits_total{kind=\"a\"} 40000\n"), "{t}");
    assert!(t.contains("hits_total{kind=\"b\"} 6\n"), "{t}");
}

#[test]
fn float_increments_join_the_integer_cell() {
    let r = Registry::with_options(&small()).unwrap();
    let c = r.counter("cost_usd", "Cost.").unwrap();
    c.inc_by_f64(0.25).unwrap();
    c.inc_by_f64(2.0).unwrap();
    c.inc();
    assert_eq!(c.get(), 3.25);
    assert!(text(&r).contains("cost_usd_total 3.25\n"));
    for bad in [-1.0, f64::NAN, f64::INFINITY] {
        let e = c.inc_by_f64(bad).unwrap_err();
        assert!(matches!(e, Error::InvalidIncrement(_)), "{e}");
    }
    assert_eq!(c.get(), 3.25, "refused increments record nothing");
    assert!(text(&r).contains("metricore_errors_total 3\n"));
}

#[test]
fn gauges_and_their_operations() {
    let r = Registry::with_options(&small()).unwrap();
    let g = r.gauge("in_flight", "In flight.").unwrap();
    g.inc();
    g.inc();
    g.dec();
    g.add(2.5);
    g.sub(0.5);
    assert_eq!(g.get(), 3.0);
    g.set(-7.0);
    assert!(text(&r).contains("in_flight -7.0\n"));
    g.set_to_current_time();
    assert!(g.get() > 1.7e9);
}

#[test]
fn histogram_buckets_are_cumulative_and_count_equals_inf() {
    let r = Registry::with_options(&small()).unwrap();
    let h = r
        .histogram_vec("lat", "Latency.", &["model"], &[0.1, 1.0, f64::INFINITY])
        .unwrap();
    let s = h.with_labels(&["m"]).unwrap();
    assert_eq!(
        s.bounds(),
        [0.1, 1.0],
        "a trailing +Inf is implied, not stored"
    );
    for v in [0.05, 0.1, 0.5, 3.0, -1.0] {
        s.observe(v).unwrap();
    }
    assert!(s.observe(f64::NAN).is_err());
    let t = text(&r);
    for line in [
        "lat_bucket{model=\"m\",le=\"0.1\"} 3\n",
        "lat_bucket{model=\"m\",le=\"1.0\"} 4\n",
        "lat_bucket{model=\"m\",le=\"+Inf\"} 5\n",
        "lat_count{model=\"m\"} 5\n",
        "lat_sum{model=\"m\"} 2.65\n",
    ] {
        assert!(t.contains(line), "missing {line:?} in\n{t}");
    }
    assert!(r.histogram("bad", "", &[2.0, 1.0]).is_err());
    assert!(buckets::exponential(0.001, 2.0, 10).is_ok());
}

#[test]
fn summary_info_and_state_set() {
    let r = Registry::with_options(&small()).unwrap();
    let s = r.summary("req_size", "Sizes.").unwrap();
    s.observe(3.0).unwrap();
    s.observe(4.5).unwrap();
    let i = r.info_vec("build", "Build.", &[]).unwrap();
    i.set(&[], &[("version", "1.2"), ("commit", "abc")])
        .unwrap();
    i.set(&[], &[("version", "1.3")]).unwrap();
    assert!(i.set(&[], &[("__bad", "x")]).is_err());
    let per_host = r.info_vec("host", "Host.", &["dc"]).unwrap();
    per_host.set(&["eu"], &[("os", "linux")]).unwrap();
    per_host.set(&["us"], &[("os", "bsd")]).unwrap();
    assert!(per_host.remove(&["eu"]).unwrap());
    assert!(!per_host.remove(&["eu"]).unwrap());
    let st = r
        .state_set_vec("phase", "Phase.", &["job"], &["starting", "running"])
        .unwrap();
    let j = st.with_labels(&["x"]).unwrap();
    assert_eq!(j.get(), "starting");
    j.set("running").unwrap();
    assert!(j.set("flying").unwrap_err().to_string().contains("flying"));
    let t = text(&r);
    assert!(t.contains("req_size_count 2\nreq_size_sum 7.5\n"), "{t}");
    assert!(t.contains("build_info{version=\"1.3\"} 1\n"), "{t}");
    assert!(
        t.contains("host_info{dc=\"us\",os=\"bsd\"} 1\n") && !t.contains("linux"),
        "{t}"
    );
    assert!(!t.contains("1.2"), "info replaced: {t}");
    assert!(
        t.contains("phase{job=\"x\",phase=\"starting\"} 0\nphase{job=\"x\",phase=\"running\"} 1\n"),
        "{t}"
    );
    let om = r.render(Format::OpenMetrics);
    assert!(om.contains("# TYPE phase stateset\n"), "{om}");
    assert!(om.contains("# TYPE build info\n"), "{om}");
}

#[test]
fn registration_is_idempotent_and_conflicts_are_refused() {
    let r = Registry::with_options(&small()).unwrap();
    let a = r.counter_vec("req", "Requests.", &["model"]).unwrap();
    let b = r
        .counter_vec("req_total", "Other help.", &["model"])
        .unwrap();
    a.with_labels(&["x"]).unwrap().inc();
    b.with_labels(&["x"]).unwrap().inc();
    assert!(text(&r).contains("req_total{model=\"x\"} 2\n"));
    let e = r
        .gauge_vec("req", "", &["model"])
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("counter") && e.contains("gauge"), "{e}");
    assert!(r.counter_vec("req", "", &["other"]).is_err());
    assert!(matches!(r.counter("", ""), Err(Error::InvalidMetricName(n)) if n.is_empty()));
    assert!(matches!(
        r.counter_vec("x", "", &["__x"]),
        Err(Error::InvalidLabelName(_))
    ));
    assert!(
        r.counter("metricore_series", "").is_err(),
        "reserved prefix"
    );
}

#[test]
fn wrong_label_counts_are_refused_and_counted() {
    let r = Registry::with_options(&small()).unwrap();
    let c = r.counter_vec("x", "", &["a", "b"]).unwrap();
    c.with_labels(&["1", "2"]).unwrap().inc();
    let e = c.with_labels(&["1"]).err().unwrap();
    assert!(
        matches!(
            e,
            Error::LabelCount {
                expected: 2,
                got: 1,
                ..
            }
        ),
        "{e}"
    );
    assert!(
        text(&r).contains("x_total{a=\"1\",b=\"2\"} 1\n"),
        "nothing lost"
    );
    assert_eq!(r.stats().errors, 1);
}

#[test]
fn remove_and_clear() {
    let r = Registry::with_options(&small()).unwrap();
    let c = r.counter_vec("x", "", &["a"]).unwrap();
    for v in ["1", "2", "3"] {
        c.with_labels(&[v]).unwrap().inc();
    }
    assert!(c.remove(&["2"]).unwrap());
    assert!(!c.remove(&["2"]).unwrap());
    let t = text(&r);
    assert!(t.contains("a=\"1\"") && !t.contains("a=\"2\"") && t.contains("a=\"3\""));
    c.with_labels(&["2"]).unwrap().inc();
    assert!(
        text(&r).contains("x_total{a=\"2\"} 1\n"),
        "re-created from zero"
    );
    c.clear();
    assert!(!text(&r).contains("x_total{"));
    assert_eq!(r.stats().series, 0);
}

#[test]
fn borrowed_handles_record_into_the_series_owned_handles_do() {
    let r = Registry::with_options(&small()).unwrap();
    let c = r.counter_vec("req", "", &["model", "status"]).unwrap();
    // Values of every length from 0 to 40 bytes, some with NUL bytes, so that each
    // way the lookup reads a value (short, one word, several words) finds its series.
    let values: Vec<String> = (0..=40)
        .map(|n| {
            (0..n)
                .map(|i| {
                    if n % 7 == 3 && i == n / 2 {
                        '\0'
                    } else {
                        char::from(b'a' + (i * 7 + n) as u8 % 26)
                    }
                })
                .collect()
        })
        .collect();
    for (i, v) in values.iter().enumerate() {
        let status = i.to_string();
        let owned = c.with_labels(&[v, &status]).unwrap();
        owned.inc_by(i as u64);
        let borrowed = c.with_labels_ref(&[v, &status]).unwrap();
        borrowed.inc();
        borrowed.inc_by_f64(0.5).unwrap();
        assert_eq!(borrowed.id(), owned.id(), "{v:?}");
        assert_eq!(owned.get(), i as f64 + 1.5, "{v:?}");
    }
    assert_eq!(r.stats().series, values.len() as u64);
    // A value one byte longer or shorter, or with one byte changed, is another series.
    let other = c.with_labels_ref(&["abcdefghijklmnopq", "1"]).unwrap();
    assert_ne!(
        other.id(),
        c.with_labels_ref(&["abcdefghijklmnop", "1"]).unwrap().id()
    );
    assert_ne!(
        other.id(),
        c.with_labels_ref(&["abcdefghijklmnopr", "1"]).unwrap().id()
    );
    assert!(c.remove(&[&values[5], "5"]).unwrap());
    assert_eq!(c.with_labels_ref(&[&values[5], "5"]).unwrap().get(), 0.0);
    assert!(matches!(
        c.with_labels_ref(&["only one"]),
        Err(Error::LabelCount { .. })
    ));
}

#[test]
fn cardinality_limit_sends_new_series_to_overflow() {
    let r = Registry::with_options(&small()).unwrap();
    let f = r
        .register(
            Spec::new("users", "Per user.", Kind::Counter)
                .labels(&["user"])
                .limit(3),
        )
        .unwrap();
    let c: metricore::CounterVec = f.try_into().unwrap();
    for u in 0..10 {
        c.with_labels(&[&u.to_string()]).unwrap().inc();
    }
    c.with_labels(&["0"]).unwrap().inc();
    let t = text(&r);
    assert!(t.contains("users_total{user=\"0\"} 2\n"), "{t}");
    assert!(
        t.contains("users_total{otel_metric_overflow=\"true\"} 7\n"),
        "{t}"
    );
    assert!(
        t.contains("metricore_series_overflow_total{family=\"users\"} 7\n"),
        "{t}"
    );
    assert_eq!(
        r.stats()
            .families
            .iter()
            .find(|f| f.name == "users")
            .unwrap()
            .series,
        3
    );
}

#[test]
fn a_full_region_records_into_overflow_not_a_crash() {
    let opts = Options {
        cells_per_shard: 300,
        ..small()
    };
    let r = Registry::with_options(&opts).unwrap();
    let c = r.counter_vec("x", "", &["a"]).unwrap();
    for i in 0..100 {
        c.with_labels(&[&i.to_string()]).unwrap().inc();
    }
    let t = text(&r);
    assert!(t.contains("x_total{otel_metric_overflow=\"true\"}"), "{t}");
    let total: u64 = t
        .lines()
        .filter(|l| l.starts_with("x_total"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(total, 100, "every increment landed somewhere visible");
}

#[test]
fn scopes_add_constant_labels_and_merge() {
    let r = Registry::with_options(&small()).unwrap();
    let ns = |n: &str| {
        r.scope("namespace", n)
            .unwrap()
            .scope("component", "router")
            .unwrap()
    };
    ns("a").counter("req", "Requests.").unwrap().inc();
    ns("b").counter("req", "Requests.").unwrap().inc_by(2);
    let same = ns("a").counter("req", "Requests.").unwrap();
    same.inc();
    let t = text(&r);
    assert_eq!(t.matches("# TYPE req_total counter").count(), 1, "{t}");
    assert!(
        t.contains("req_total{namespace=\"a\",component=\"router\"} 2\n"),
        "{t}"
    );
    assert!(
        t.contains("req_total{namespace=\"b\",component=\"router\"} 2\n"),
        "{t}"
    );
    assert!(r
        .scope("namespace", "a")
        .unwrap()
        .scope("namespace", "b")
        .is_err());
    let e = ns("a").counter_vec("x", "", &["namespace"]).err().unwrap();
    assert!(matches!(e, Error::DuplicateLabel { .. }), "{e}");
    // A conflicting redefinition across scopes: same name, other labels.
    assert!(r.counter("req", "").is_err());
}

#[test]
fn callbacks_run_at_collection() {
    let r = Registry::with_options(&small()).unwrap();
    let g = r.gauge("queue", "Queue.").unwrap();
    let n = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let n2 = n.clone();
    r.on_collect(move || {
        g.set(n2.fetch_add(1, std::sync::atomic::Ordering::Relaxed) as f64 + 10.0)
    });
    r.on_render(|_, out| out.push_str("# TYPE backend_up gauge\nbackend_up 1\n"));
    assert!(text(&r).contains("queue 10.0\n"));
    let om = r.render(Format::OpenMetrics);
    assert!(om.contains("queue 11.0\n"));
    assert!(om.ends_with("backend_up 1\n# EOF\n"), "{om}");
}

#[test]
fn per_process_gauge_modes_in_one_process() {
    let r = Registry::with_options(&small()).unwrap();
    for (mode, expect) in [
        ("livesum", "g_livesum 5.0\n"),
        ("max", "g_max 5.0\n"),
        ("mostrecent", "g_mostrecent 5.0\n"),
    ] {
        let f = r
            .register(Spec::new(
                &format!("g_{mode}"),
                "",
                Kind::Gauge(GaugeMode::from_name(mode).unwrap()),
            ))
            .unwrap();
        let g: metricore::GaugeVec = f.try_into().unwrap();
        g.with_labels(&[]).unwrap().set(5.0);
        assert!(text(&r).contains(expect), "{mode}: {}", text(&r));
    }
    let all: metricore::GaugeVec = r
        .register(Spec::new("g_all", "", Kind::Gauge(GaugeMode::All)))
        .unwrap()
        .try_into()
        .unwrap();
    all.with_labels(&[]).unwrap().set(1.0);
    assert!(text(&r).contains(&format!("g_all{{pid=\"{}\"}} 1.0\n", std::process::id())));
    assert!(GaugeMode::from_name("average").is_err());
}

#[test]
fn output_is_sorted_and_deterministic() {
    let r = Registry::with_options(&small()).unwrap();
    let b = r.counter_vec("b", "", &["x"]).unwrap();
    let a = r.counter_vec("a", "", &["x"]).unwrap();
    for v in ["zz", "a", "a\u{0}b", "", "m"] {
        b.with_labels(&[v]).unwrap().inc();
        a.with_labels(&[v]).unwrap().inc();
    }
    let t = text(&r);
    assert!(t.find("a_total").unwrap() < t.find("b_total").unwrap());
    let order: Vec<&str> = t
        .lines()
        .filter(|l| l.starts_with("a_total"))
        .map(|l| l.split('"').nth(1).unwrap())
        .collect();
    assert_eq!(order, ["", "a", "a\u{0}b", "m", "zz"]);
    assert_eq!(t, text(&r));
}

#[test]
fn handles_of_one_series_share_an_id() {
    let r = Registry::with_options(&small()).unwrap();
    let c = r.counter_vec("x", "", &["a"]).unwrap();
    let (a1, a2, b) = (
        c.with_labels(&["1"]).unwrap(),
        c.with_labels(&["1"]).unwrap(),
        c.with_labels(&["2"]).unwrap(),
    );
    assert_eq!(a1.id(), a2.id());
    assert_ne!(a1.id(), b.id());
}

#[test]
fn a_kept_exposition_plan_follows_changes_made_elsewhere() {
    let path =
        std::env::temp_dir().join(format!("metricore-plan-{}.metricore", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let a = Registry::open_shared(&path, &small()).unwrap();
    let b = Registry::open_shared(&path, &small()).unwrap();
    let fa = a.counter_vec("x", "", &["k"]).unwrap();
    fa.with_labels(&["1"]).unwrap().inc();
    assert!(text(&a).contains("x_total{k=\"1\"} 1\n"));
    let fb = b.counter_vec("x", "", &["k"]).unwrap();
    fb.with_labels(&["2"]).unwrap().inc();
    assert!(
        text(&a).contains("x_total{k=\"2\"} 1\n"),
        "a series made through another registry"
    );
    assert!(fb.remove(&["1"]).unwrap());
    assert!(
        !text(&a).contains("k=\"1\""),
        "a series removed through another registry"
    );
    b.gauge("y", "").unwrap().set(2.0);
    assert!(
        text(&a).contains("y 2.0\n"),
        "a family made through another registry"
    );
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_lookup_after_a_removal_elsewhere_finds_the_new_series() {
    let path =
        std::env::temp_dir().join(format!("metricore-hits-{}.metricore", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let a = Registry::open_shared(&path, &small()).unwrap();
    let b = Registry::open_shared(&path, &small()).unwrap();
    let fa = a.counter_vec("x", "", &["k", "code"]).unwrap();
    let fb = b.counter_vec("x", "", &["k", "code"]).unwrap();
    // The same lookup again and again, so that this thread remembers where it found it.
    for _ in 0..3 {
        fa.with_labels_ref(&["gpt-4", "200"]).unwrap().inc();
    }
    let old = fa.with_labels_ref(&["gpt-4", "200"]).unwrap().id();
    assert!(fb.remove(&["gpt-4", "200"]).unwrap());
    let new = fa.with_labels_ref(&["gpt-4", "200"]).unwrap();
    assert_ne!(new.id(), old, "the removed series is not handed out");
    new.inc();
    assert_eq!(fb.with_labels_ref(&["gpt-4", "200"]).unwrap().get(), 1.0);
    assert!(
        text(&a).contains("x_total{k=\"gpt-4\",code=\"200\"} 1\n"),
        "{}",
        text(&a)
    );
    // Clearing elsewhere too.
    fb.clear();
    fa.with_labels_ref(&["gpt-4", "200"]).unwrap().inc_by(5);
    assert_eq!(fb.with_labels_ref(&["gpt-4", "200"]).unwrap().get(), 5.0);
    // Another thread's lookups do not change what this one finds.
    std::thread::scope(|s| {
        s.spawn(|| fa.with_labels_ref(&["gpt-4", "500"]).unwrap().inc());
    });
    assert_eq!(fa.with_labels_ref(&["gpt-4", "200"]).unwrap().get(), 5.0);
    std::fs::remove_file(&path).unwrap();
}

/// Byte offset in `file` of the cell word of the series record whose key is `key`
/// (the encoded values; a key starts a word, six words after the cell word).
fn cell_word_at(file: &std::path::Path, key: &[u8]) -> u64 {
    let bytes = std::fs::read(file).unwrap();
    let at = (0..bytes.len() - key.len())
        .step_by(8)
        .find(|&i| bytes[i..].starts_with(key))
        .expect("the key in the file");
    at as u64 - 48
}

#[test]
fn a_record_whose_cells_went_out_of_range_is_not_remembered() {
    use std::os::unix::fs::FileExt;
    let path = std::env::temp_dir().join(format!(
        "metricore-hits-cells-{}.metricore",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&path);
    let r = Registry::open_shared(&path, &small()).unwrap();
    let c = r.counter_vec("x", "", &["k"]).unwrap();
    // Remembered by this thread, then its cell word points past every lane.
    let before = [0; 3].map(|_| c.with_labels_ref(&["broken"]).unwrap().id());
    assert_eq!(before, [before[0]; 3]);
    let sink = {
        c.with_labels_ref(&["other"]).unwrap().inc();
        let at = cell_word_at(&path, b"other\0\x01");
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.write_at(&u32::MAX.to_le_bytes(), at).unwrap();
        c.with_labels_ref(&["other"]).unwrap().id()
    };
    assert_ne!(sink, before[0]);
    let at = cell_word_at(&path, b"broken\0\x01");
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.write_at(&u32::MAX.to_le_bytes(), at).unwrap();
    // Every lookup now records into the sink, never through the remembered cell nor
    // through the out-of-range one.
    for _ in 0..3 {
        let h = c.with_labels_ref(&["broken"]).unwrap();
        assert_eq!(h.id(), sink);
        h.inc();
    }
    assert!(!text(&r).contains("broken"), "{}", text(&r));
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn concurrent_creators_of_series_within_the_limit_never_overflow() {
    for _ in 0..20 {
        let r = Registry::with_options(&small()).unwrap();
        let c: metricore::CounterVec = r
            .register(Spec::new("u", "", Kind::Counter).labels(&["id"]).limit(8))
            .unwrap()
            .try_into()
            .unwrap();
        let barrier = std::sync::Barrier::new(4);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    barrier.wait();
                    for i in 0..8 {
                        c.with_labels(&[&format!("u{i}")]).unwrap().inc();
                    }
                });
            }
        });
        let t = text(&r);
        for i in 0..8 {
            assert!(t.contains(&format!("u_total{{id=\"u{i}\"}} 4\n")), "{t}");
        }
        assert!(!t.contains("otel_metric_overflow"), "{t}");
    }
}
