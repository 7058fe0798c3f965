//! The exposition formats, checked by `promtool` and by parsing the output back.

use std::io::Write;
use std::process::{Command, Stdio};

use metricore::names::Escaping;
use metricore::{Format, GaugeMode, Kind, Numbers, Options, Registry, Spec};
use proptest::prelude::*;

fn small() -> Options {
    Options {
        shards: Some(2),
        cells_per_shard: 1 << 14,
        series_capacity: 1 << 12,
        family_capacity: 64,
        process_capacity: 8,
        arena_bytes: 1 << 20,
        file_mode: 0o600,
        ..Options::default()
    }
}

/// A registry with every kind of metric and awkward label values.
fn every_kind() -> Registry {
    let r = Registry::with_options(&small()).unwrap();
    let odd = ["quote\"d", "back\\slash", "new\nline", "ünïcödé ✓", ""];
    let c = r
        .counter_vec(
            "requests",
            "Requests \"served\".\nSecond line \\ end.",
            &["model", "namespace"],
        )
        .unwrap();
    for (i, v) in odd.iter().enumerate() {
        c.with_labels(&["gpt-4", v]).unwrap().inc_by(i as u64 + 1);
    }
    let cost: metricore::CounterVec = r
        .register(Spec::new("cost", "Cost.", Kind::Counter).unit("usd"))
        .unwrap()
        .try_into()
        .unwrap();
    cost.with_labels(&[]).unwrap().inc_by_f64(0.125).unwrap();
    r.gauge_vec("in_flight", "In flight.", &["api"])
        .unwrap()
        .with_labels(&["chat"])
        .unwrap()
        .set(3.0);
    let lat = r
        .histogram_vec(
            "latency_seconds",
            "Latency.",
            &["model"],
            &metricore::buckets::DEFAULT_BUCKETS,
        )
        .unwrap();
    for v in [0.001, 0.02, 0.3, 4.0, 20.0] {
        lat.with_labels(&["m\"1"]).unwrap().observe(v).unwrap();
    }
    r.register(
        Spec::new(
            "ttfb",
            "Time to first byte.",
            Kind::Histogram(vec![0.5, 1.0]),
        )
        .unit("seconds"),
    )
    .unwrap();
    r.summary_vec("payload_bytes", "Payload.", &["dir"])
        .unwrap()
        .with_labels(&["in"])
        .unwrap()
        .observe(512.0)
        .unwrap();
    r.info_vec("build", "Build.", &[])
        .unwrap()
        .set(&[], &[("version", "1.0 \"rc\"")])
        .unwrap();
    r.state_set_vec("phase", "Phase.", &[], &["idle", "busy"])
        .unwrap()
        .with_labels(&[])
        .unwrap()
        .set("busy")
        .unwrap();
    let g: metricore::GaugeVec = r
        .register(Spec::new("workers", "Workers.", Kind::Gauge(GaugeMode::All)).labels(&["pool"]))
        .unwrap()
        .try_into()
        .unwrap();
    g.with_labels(&["a"]).unwrap().set(1.0);
    let limited: metricore::CounterVec = r
        .register(
            Spec::new("users", "Users.", Kind::Counter)
                .labels(&["user"])
                .limit(1),
        )
        .unwrap()
        .try_into()
        .unwrap();
    for u in ["a", "b", "c"] {
        limited.with_labels(&[u]).unwrap().inc();
    }
    r
}

fn promtool(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool not found: the test command installs the Debian package `prometheus`");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool refused the output:\n{}{}\n---\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn promtool_accepts_every_kind_in_prometheus_text() {
    promtool(&every_kind().render(Format::Prometheus));
}

/// `promtool check metrics` reads only the Prometheus text format (it refuses the
/// OpenMetrics `info` and `stateset` types), so OpenMetrics is checked by structure here.
#[test]
fn openmetrics_structure() {
    let om = every_kind().render(Format::OpenMetrics);
    assert!(om.ends_with("# EOF\n"));
    assert!(
        om.contains("# TYPE cost_usd counter\n# UNIT cost_usd usd\n"),
        "{om}"
    );
    assert!(
        om.contains("# TYPE ttfb_seconds histogram\n# UNIT ttfb_seconds seconds\n"),
        "{om}"
    );
    assert!(om.contains("# TYPE requests counter\n"), "{om}");
    assert!(
        om.contains("# TYPE build info\nbuild_info{version=\"1.0 \\\"rc\\\"\"} 1\n"),
        "{om}"
    );
    assert!(
        om.contains("# TYPE phase stateset\nphase{phase=\"idle\"} 0\nphase{phase=\"busy\"} 1\n"),
        "{om}"
    );
    assert_eq!(om.matches("# EOF").count(), 1);
}

#[test]
fn escaping_in_both_formats() {
    let r = every_kind();
    let text = r.render(Format::Prometheus);
    assert!(
        text.contains("# HELP requests_total Requests \"served\".\\nSecond line \\\\ end.\n"),
        "{text}"
    );
    assert!(text.contains(r#"namespace="quote\"d""#));
    assert!(text.contains(r#"namespace="back\\slash""#));
    assert!(text.contains(r#"namespace="new\nline""#));
    assert!(text.contains("namespace=\"ünïcödé ✓\""));
    assert!(text.contains("latency_seconds_bucket{model=\"m\\\"1\",le=\"0.005\"} 1\n"));
    let om = r.render(Format::OpenMetrics);
    assert!(
        om.contains("# HELP requests Requests \\\"served\\\".\\nSecond line \\\\ end.\n"),
        "{om}"
    );
    assert!(om.contains("requests_total{model=\"gpt-4\",namespace=\"\"} 5\n"));
}

#[test]
fn negotiation_and_content_types() {
    assert_eq!(Format::from_accept(""), Format::Prometheus);
    assert_eq!(
        Format::from_accept("text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
        Format::Prometheus
    );
    let prom = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    assert_eq!(Format::from_accept(prom), Format::OpenMetrics);
    assert_eq!(
        Format::from_accept("application/openmetrics-text; q=0"),
        Format::Prometheus
    );
    assert_eq!(
        Format::from_accept("application/openmetrics-text;version=2.0.0"),
        Format::Prometheus
    );
    assert_eq!(
        Format::OpenMetrics.content_type(),
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert_eq!(
        Format::Prometheus.content_type(),
        "text/plain; version=0.0.4; charset=utf-8"
    );
}

/// Parses one sample line of the text format into (name, labels, value).
fn parse_line(line: &str) -> (String, Vec<(String, String)>, String) {
    let (name, rest) = match line.find('{') {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => {
            let (n, v) = line.split_once(' ').unwrap();
            return (n.into(), vec![], v.into());
        }
    };
    let mut labels = Vec::new();
    let mut chars = rest.chars();
    loop {
        let mut lname = String::new();
        for c in chars.by_ref() {
            if c == '=' {
                break;
            }
            lname.push(c);
        }
        assert_eq!(chars.next(), Some('"'));
        let mut v = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next().unwrap() {
                    'n' => v.push('\n'),
                    c => v.push(c),
                },
                '"' => break,
                c => v.push(c),
            }
        }
        labels.push((lname, v));
        match chars.next() {
            Some(',') => continue,
            Some('}') => break,
            other => panic!("unexpected {other:?} in {line:?}"),
        }
    }
    let value = chars.as_str().trim_start().to_owned();
    (name.into(), labels, value)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn random_label_values_render_and_parse_back(
        values in proptest::collection::vec((any::<String>(), any::<String>(), 1u64..1000), 1..20)
    ) {
        let r = Registry::with_options(&small()).unwrap();
        let c = r.counter_vec("x", "X.", &["a", "b"]).unwrap();
        let mut expect = std::collections::BTreeMap::new();
        for (a, b, n) in &values {
            c.with_labels(&[a, b]).unwrap().inc_by(*n);
            *expect.entry((a.clone(), b.clone())).or_insert(0) += n;
        }
        for format in [Format::Prometheus, Format::OpenMetrics] {
            let text = r.render(format);
            let mut got = std::collections::BTreeMap::new();
            for line in text.lines().filter(|l| l.starts_with("x_total{")) {
                let (name, labels, value) = parse_line(line);
                prop_assert_eq!(name, "x_total");
                prop_assert_eq!(labels.len(), 2);
                got.insert((labels[0].1.clone(), labels[1].1.clone()), value.parse::<u64>().unwrap());
            }
            prop_assert_eq!(&got, &expect);
        }
    }
}

#[test]
fn external_families_follow_the_same_rules() {
    use metricore::expose::{render_external, ExternalFamily, ExternalSample};
    let samples = [ExternalSample {
        name: "backend_jobs_total",
        labels: &[("queue", "a\"b")],
        value: 3.0,
        timestamp: None,
    }];
    let fam = ExternalFamily {
        name: "backend_jobs",
        help: "Jobs.",
        unit: "",
        kind: "counter",
        samples: &samples,
    };
    let mut out = String::new();
    render_external(
        Format::Prometheus,
        Numbers::Shortest,
        Escaping::Underscores,
        &fam,
        &mut out,
    )
    .unwrap();
    assert_eq!(
        out,
        "# HELP backend_jobs_total Jobs.\n# TYPE backend_jobs_total counter\nbackend_jobs_total{queue=\"a\\\"b\"} 3.0\n"
    );
    promtool(&out);
    out.clear();
    render_external(
        Format::OpenMetrics,
        Numbers::Shortest,
        Escaping::Underscores,
        &fam,
        &mut out,
    )
    .unwrap();
    assert!(
        out.starts_with("# HELP backend_jobs Jobs.\n# TYPE backend_jobs counter\n"),
        "{out}"
    );
    let bad = ExternalFamily {
        kind: "bogus",
        ..fam.clone()
    };
    assert!(render_external(
        Format::Prometheus,
        Numbers::Shortest,
        Escaping::Underscores,
        &bad,
        &mut out
    )
    .unwrap_err()
    .to_string()
    .contains("bogus"));
    let bad_label = [ExternalSample {
        name: "x",
        labels: &[("__a", "v")],
        value: 1.0,
        timestamp: None,
    }];
    let bad = ExternalFamily {
        samples: &bad_label,
        ..fam
    };
    assert!(render_external(
        Format::Prometheus,
        Numbers::Shortest,
        Escaping::Underscores,
        &bad,
        &mut out
    )
    .is_err());
}

#[test]
fn a_filtered_rendering_of_several_registries_keeps_only_the_families_named() {
    use metricore::registry::render_filtered;
    use metricore::Filter;

    let (a, b) = (Registry::new(), Registry::new());
    a.counter("jobs", "Jobs.").unwrap().inc_by(2);
    b.counter("jobs", "Jobs.").unwrap().inc();
    a.gauge("queue", "Queue.").unwrap().set(4.0);
    b.summary("wait_seconds", "Wait.")
        .unwrap()
        .observe(0.5)
        .unwrap();
    b.on_render(|_, out| {
        out.push_str("# HELP extra_total Extra.\n# TYPE extra_total counter\nextra_total 9\n");
        out.push_str("# TYPE other gauge\nother 1\n");
    });
    let full = |r: &Registry| r.render(Format::Prometheus);
    let before = full(&a);
    let mut text = String::new();
    let filter = Filter::names([
        "jobs",
        "wait_seconds_sum",
        "extra",
        "metricore_errors_total",
    ]);
    render_filtered(
        &[a.clone(), b.clone()],
        Format::Prometheus,
        &filter,
        &mut text,
    );
    assert_eq!(
        text,
        "# HELP jobs_total Jobs.\n# TYPE jobs_total counter\njobs_total 3\n\
         # HELP wait_seconds Wait.\n# TYPE wait_seconds summary\nwait_seconds_count 1\nwait_seconds_sum 0.5\n\
         # HELP metricore_errors_total Recordings refused as invalid.\n\
         # TYPE metricore_errors_total counter\nmetricore_errors_total 0\n\
         # HELP extra_total Extra.\n# TYPE extra_total counter\nextra_total 9\n"
    );
    // A filtered rendering leaves the registry's kept plan alone.
    assert_eq!(
        a.render_filtered(Format::Prometheus, &Filter::names(["queue"])),
        "# HELP queue Queue.\n# TYPE queue gauge\nqueue 4.0\n"
    );
    assert_eq!(full(&a), before);
    assert!(full(&b).contains("other 1\n"));
}

#[test]
fn python_numbers_are_written_as_prometheus_client_writes_them() {
    let r = Registry::with_options(&small()).unwrap();
    r.set_numbers(Numbers::Python);
    r.set_self_metrics(false);
    r.counter("c", "C.").unwrap().inc_by(2);
    r.counter("big", "Big.").unwrap().inc_by(12_345_678);
    let values = [
        ("value_0", 1234567.0, "1.234567e+06"),
        ("value_1", 1e6, "1e+06"),
        ("value_2", 123456.0, "123456.0"),
        ("value_3", 0.0001, "0.0001"),
        ("value_4", 0.00001, "1e-05"),
        ("value_5", 1e16, "1e+16"),
        ("value_6", -1e16, "-1e+16"),
        ("value_7", -2.5e6, "-2500000.0"),
        ("value_8", -0.0, "-0.0"),
        ("value_9", 0.1 + 0.2, "0.30000000000000004"),
        ("value_10", 1e22, "1e+22"),
        ("value_11", 1.5e-7, "1.5e-07"),
        ("value_12", f64::NAN, "NaN"),
    ];
    for (name, v, _) in values {
        r.gauge(name, "G.").unwrap().set(v);
    }
    let h = r.histogram("h", "H.", &[0.5, 1.0, 1e6]).unwrap();
    h.observe(3.0).unwrap();
    let text = r.render(Format::Prometheus);
    assert!(text.contains("\nc_total 2.0\n"), "{text}");
    assert!(text.contains("\nbig_total 1.2345678e+07\n"), "{text}");
    for (name, _, want) in values {
        assert!(
            text.contains(&format!("\n{name} {want}\n")),
            "{name}: {text}"
        );
    }
    assert!(text.contains("h_bucket{le=\"0.5\"} 0.0\nh_bucket{le=\"1.0\"} 0.0\nh_bucket{le=\"1e+06\"} 1.0\nh_bucket{le=\"+Inf\"} 1.0\nh_count 1.0\nh_sum 3.0\n"), "{text}");
    assert!(!text.contains("metricore_"), "{text}");
    promtool(&text);

    r.set_numbers(Numbers::Shortest);
    r.set_self_metrics(true);
    let text = r.render(Format::Prometheus);
    assert!(text.contains("\nc_total 2\n"), "{text}");
    assert!(text.contains("h_bucket{le=\"1000000.0\"} 1\n"), "{text}");
    assert!(text.contains("# TYPE metricore_series gauge\n"), "{text}");
}

#[test]
fn families_whose_samples_share_a_name_are_refused() {
    let r = Registry::with_options(&small()).unwrap();
    r.counter("c", "C.").unwrap();
    let collides = |e: metricore::Error| matches!(e, metricore::Error::DuplicateSeries { .. });
    assert!(collides(r.gauge("c_total", "G.").err().unwrap()));
    assert!(collides(r.gauge("c_created", "G.").err().unwrap()));
    r.gauge("h_count", "G.").unwrap();
    assert!(collides(r.histogram("h", "H.", &[1.0]).err().unwrap()));
    r.histogram("lat", "H.", &[1.0]).unwrap();
    let e = r.counter("lat_bucket", "C.").err().unwrap();
    assert_eq!(
        e.to_string(),
        "duplicated timeseries: metric \"lat_bucket\" and metric \"lat\" both have samples named \"lat_bucket\""
    );
    r.info_vec("build", "B.", &[]).unwrap();
    assert!(collides(r.gauge("build_info", "G.").err().unwrap()));
    // Names that only look alike are fine, and the same family registers again.
    r.gauge("c_totals", "G.").unwrap();
    r.gauge("lat_sum_x", "G.").unwrap();
    r.counter("c", "C.").unwrap();
}

#[test]
fn external_gauge_histograms_are_split_in_the_text_format() {
    use metricore::expose::{render_external, ExternalFamily, ExternalSample};
    let samples = [
        ExternalSample {
            name: "gh_bucket",
            labels: &[("le", "1.0")],
            value: 4.0,
            timestamp: None,
        },
        ExternalSample {
            name: "gh_bucket",
            labels: &[("le", "+Inf")],
            value: 5.0,
            timestamp: None,
        },
        ExternalSample {
            name: "gh_gcount",
            labels: &[],
            value: 5.0,
            timestamp: None,
        },
        ExternalSample {
            name: "gh_gsum",
            labels: &[],
            value: 7.0,
            timestamp: None,
        },
    ];
    let fam = ExternalFamily {
        name: "gh",
        help: "help",
        unit: "",
        kind: "gaugehistogram",
        samples: &samples,
    };
    let mut out = String::new();
    render_external(
        Format::Prometheus,
        Numbers::Python,
        Escaping::Underscores,
        &fam,
        &mut out,
    )
    .unwrap();
    assert_eq!(
        out,
        "# HELP gh help\n# TYPE gh histogram\ngh_bucket{le=\"1.0\"} 4.0\ngh_bucket{le=\"+Inf\"} 5.0\n\
         # HELP gh_gcount help\n# TYPE gh_gcount gauge\ngh_gcount 5.0\n\
         # HELP gh_gsum help\n# TYPE gh_gsum gauge\ngh_gsum 7.0\n"
    );
    out.clear();
    render_external(
        Format::OpenMetrics,
        Numbers::Shortest,
        Escaping::Underscores,
        &fam,
        &mut out,
    )
    .unwrap();
    assert!(
        out.starts_with("# HELP gh help\n# TYPE gh gaugehistogram\ngh_bucket{le=\"1.0\"} 4.0\n"),
        "{out}"
    );
    assert!(out.ends_with("gh_gcount 5.0\ngh_gsum 7.0\n"), "{out}");
}

#[test]
fn info_and_state_sets_have_no_unit() {
    let r = Registry::with_options(&small()).unwrap();
    let spec = Spec::new("build", "B.", Kind::Info).unit("seconds");
    assert!(r
        .register(spec)
        .err()
        .unwrap()
        .to_string()
        .contains("no unit"));
    let spec = Spec::new("mode", "M.", Kind::StateSet(vec!["a".into()])).unit("seconds");
    assert!(r.register(spec).is_err());
}

#[test]
fn external_samples_carry_their_time() {
    use metricore::expose::{render_external, ExternalFamily, ExternalSample};
    let samples = [
        ExternalSample {
            name: "ts",
            labels: &[("foo", "a")],
            value: 0.0,
            timestamp: Some(123.456),
        },
        ExternalSample {
            name: "ts",
            labels: &[("foo", "b")],
            value: 0.0,
            timestamp: Some(-123.456),
        },
        ExternalSample {
            name: "ts",
            labels: &[("foo", "c")],
            value: 1.0,
            timestamp: None,
        },
    ];
    let fam = ExternalFamily {
        name: "ts",
        help: "help",
        unit: "",
        kind: "unknown",
        samples: &samples,
    };
    let mut out = String::new();
    render_external(
        Format::Prometheus,
        Numbers::Python,
        Escaping::Underscores,
        &fam,
        &mut out,
    )
    .unwrap();
    assert_eq!(
        out,
        "# HELP ts help\n# TYPE ts untyped\nts{foo=\"a\"} 0.0 123456\nts{foo=\"b\"} 0.0 -123456\nts{foo=\"c\"} 1.0\n"
    );
    out.clear();
    render_external(
        Format::OpenMetrics,
        Numbers::Python,
        Escaping::Underscores,
        &fam,
        &mut out,
    )
    .unwrap();
    assert!(out.contains("ts{foo=\"a\"} 0.0 123.456\n"), "{out}");
}

/// A registry whose names are outside the legacy set, rendered as `escaping` says.
fn utf8_render(format: Format, escaping: Escaping) -> String {
    use metricore::{registry::render_escaped, Filter};
    let r = Registry::new();
    r.counter_vec("req.total", "Req.", &["http.method"])
        .unwrap()
        .with_labels(&["GET"])
        .unwrap()
        .inc();
    r.histogram_vec("lat.seconds", "Lat.", &[], &[0.5])
        .unwrap()
        .with_labels(&[])
        .unwrap()
        .observe(0.2)
        .unwrap();
    r.state_set_vec("phase.now", "Phase.", &[], &["idle"])
        .unwrap()
        .with_labels(&[])
        .unwrap();
    r.gauge("plain", "Plain.").unwrap().set(1.0);
    let mut out = Vec::new();
    render_escaped(&[r], format, escaping, &Filter::all(), &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn protobuf_carries_utf8_names_as_they_are_or_escaped() {
    let has = |body: &str, name: &str| body.contains(name);
    let kept = utf8_render(Format::Protobuf, Escaping::AllowUtf8);
    assert!(
        has(&kept, "req.total_total") && has(&kept, "http.method"),
        "{kept:?}"
    );
    assert!(!has(&kept, "req_total_total"), "{kept:?}");
    let escaped = utf8_render(Format::Protobuf, Escaping::Underscores);
    assert!(
        has(&escaped, "req_total_total") && has(&escaped, "http_method"),
        "{escaped:?}"
    );
    assert!(!has(&escaped, "req.total"), "{escaped:?}");
}

#[test]
fn utf8_names_are_quoted_with_allow_utf8_and_escaped_otherwise() {
    let text = utf8_render(Format::Prometheus, Escaping::AllowUtf8);
    for line in [
        "# HELP \"req.total_total\" Req.\n# TYPE \"req.total_total\" counter\n",
        "{\"req.total_total\",\"http.method\"=\"GET\"} 1\n",
        "{\"lat.seconds_bucket\",le=\"0.5\"} 1\n",
        "{\"lat.seconds_count\"} 1\n",
        "{\"phase.now\",\"phase.now\"=\"idle\"} 1\n",
        "\nplain 1.0\n",
    ] {
        assert!(text.contains(line), "{line:?} in\n{text}");
    }
    // The OpenMetrics text of the same names reads back, names and all.
    let om = utf8_render(Format::OpenMetrics, Escaping::AllowUtf8);
    let fams = metricore::expose::parse(&om, Format::OpenMetrics).unwrap();
    let names: Vec<&str> = fams.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names[..4],
        ["lat.seconds", "phase.now", "plain", "req.total"]
    );

    let under = utf8_render(Format::Prometheus, Escaping::Underscores);
    assert!(
        under.contains("\nreq_total_total{http_method=\"GET\"} 1\n"),
        "{under}"
    );
    assert!(
        !under.contains("req.total") && !under.contains("http.method"),
        "{under}"
    );
    promtool(&under);
    let dots = utf8_render(Format::Prometheus, Escaping::Dots);
    assert!(
        dots.contains("\nreq_dot_total__total{http_dot_method=\"GET\"} 1\n"),
        "{dots}"
    );
    assert!(
        dots.contains("\nlat_dot_seconds__bucket{le=\"0.5\"} 1\n"),
        "{dots}"
    );
    let values = utf8_render(Format::OpenMetrics, Escaping::Values);
    assert!(
        values.contains("\nU__req_2e_total__total{U__http_2e_method=\"GET\"} 1\n"),
        "{values}"
    );
    assert!(values.contains("\nplain 1.0\n"), "{values}");
}

#[test]
fn negotiation_reads_the_escaping_of_a_version_1_range() {
    use metricore::expose::negotiate;
    let cases = [
        ("", Format::Prometheus, Escaping::Underscores, "text/plain; version=0.0.4; charset=utf-8"),
        (
            "text/plain; charset=utf-8; escaping=allow-utf-8",
            Format::Prometheus,
            Escaping::Underscores,
            "text/plain; version=0.0.4; charset=utf-8",
        ),
        (
            "text/plain;version=1.0.0",
            Format::Prometheus,
            Escaping::Underscores,
            "text/plain; version=1.0.0; charset=utf-8; escaping=underscores",
        ),
        (
            "text/plain;version=1.0.0;escaping=values",
            Format::Prometheus,
            Escaping::Values,
            "text/plain; version=1.0.0; charset=utf-8; escaping=values",
        ),
        (
            "text/plain;version=1.0.0;escaping=allow-utf-8;q=0,text/plain;version=0.0.4",
            Format::Prometheus,
            Escaping::Underscores,
            "text/plain; version=0.0.4; charset=utf-8",
        ),
        (
            "application/openmetrics-text; charset=utf-8; escaping=allow-utf-8",
            Format::OpenMetrics,
            Escaping::Underscores,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        ),
        (
            "application/openmetrics-text; version=1.0.0; escaping=bogus",
            Format::OpenMetrics,
            Escaping::Underscores,
            "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=underscores",
        ),
        (
            "text/plain;version=0.0.4;q=0.5,application/openmetrics-text;version=1.0.0;escaping=dots",
            Format::OpenMetrics,
            Escaping::Dots,
            "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=dots",
        ),
    ];
    for (accept, format, escaping, content_type) in cases {
        let n = negotiate(accept);
        assert_eq!(
            (n.format, n.escaping, n.content_type),
            (format, escaping, content_type),
            "{accept}"
        );
    }
}

/// `registry::collect` gives the families and samples the OpenMetrics text gives
/// when read back, for every kind, with exemplars, escaped label values, numbers in
/// Python's style, the self-metrics and text appended by a callback.
#[test]
fn collect_gives_what_openmetrics_text_reads_back_as() {
    use metricore::expose::parse;
    use metricore::registry::{collect, render_many};
    use metricore::Filter;

    let r = Registry::new();
    r.set_numbers(Numbers::Python);
    r.set_self_metrics(true);
    let c = r.counter_vec("jobs", "Jobs \"done\"\\.", &["q"]).unwrap();
    c.with_labels(&["a\"b\\c\nd"]).unwrap().inc_by(3);
    c.with_labels(&["x"]).unwrap().inc_by_f64(0.25).unwrap();
    c.with_labels(&["x"])
        .unwrap()
        .inc_with_exemplar(&[("trace_id", "t1")])
        .unwrap();
    let h = r.histogram("lat", "Latency.", &[0.5, 1.0, 2e6]).unwrap();
    h.observe(0.2).unwrap();
    h.observe_with_exemplar(3.0, &[("trace_id", "t2")]).unwrap();
    r.gauge("temp", "").unwrap().set(-1.5);
    r.summary("size", "Sizes.").unwrap().observe(7.0).unwrap();
    r.info_vec("build", "Build.", &["v"])
        .unwrap()
        .set(&["1.2"], &[("rev", "abc")])
        .unwrap();
    r.state_set_vec("mode", "Mode.", &[], &["on", "off"])
        .unwrap()
        .with_labels(&[])
        .unwrap()
        .set("off")
        .unwrap();
    r.on_render(|_, out| out.push_str("# TYPE extra gauge\nextra{k=\"v\"} 4.0\n"));

    for filter in [Filter::all(), Filter::names(["jobs_total", "lat", "extra"])] {
        let mut text = String::new();
        metricore::registry::render_filtered(
            std::slice::from_ref(&r),
            Format::OpenMetrics,
            &filter,
            &mut text,
        );
        let want = parse(&text, Format::OpenMetrics).unwrap();
        let got = collect(std::slice::from_ref(&r), &filter);
        assert_eq!(got, want, "{text}");
    }
    let all = collect(std::slice::from_ref(&r), &Filter::all());
    let jobs = &all.iter().find(|f| f.name == "jobs").unwrap().samples;
    assert_eq!(jobs[0].labels[0].1, "a\"b\\c\nd");
    assert_eq!(jobs[1].value, 1.25);
    assert_eq!(jobs[1].exemplar.as_ref().unwrap().labels[0].1, "t1");
    let lat = &all.iter().find(|f| f.name == "lat").unwrap().samples;
    assert_eq!(lat[2].labels, [("le".to_owned(), "2e+06".to_owned())]);
    assert!(all.iter().any(|f| f.name == "extra"));
    let mut text = String::new();
    render_many(&[r], Format::OpenMetrics, &mut text);
    assert!(text.contains("lat_bucket{le=\"2e+06\"} 2.0 # "), "{text}");
}

/// The `_created` samples of a registry that has them on: counters, histograms and
/// summaries, with the time `with_clock` gives when the series is made.
fn created_render(format: Format) -> String {
    let r = Registry::with_options(&small()).unwrap();
    r.set_self_metrics(false);
    r.set_numbers(Numbers::Python);
    r.set_created(true);
    metricore::with_clock(
        || 123.456,
        || {
            let c = r.counter_vec("cc", "A counter", &["a"]).unwrap();
            c.with_labels(&["x"]).unwrap().inc();
            c.with_labels(&["y"]).unwrap().inc_by(2);
            r.histogram("hh", "A histogram", &[1.0])
                .unwrap()
                .observe(0.5)
                .unwrap();
            r.summary("ss", "A summary").unwrap().observe(2.0).unwrap();
            r.gauge("gg", "A gauge").unwrap().set(1.0);
        },
    );
    r.render(format)
}

#[test]
fn created_series_are_written_as_prometheus_client_writes_them() {
    assert_eq!(
        created_render(Format::Prometheus),
        "# HELP cc_total A counter\n# TYPE cc_total counter\n\
         cc_total{a=\"x\"} 1.0\ncc_total{a=\"y\"} 2.0\n\
         # HELP cc_created A counter\n# TYPE cc_created gauge\n\
         cc_created{a=\"x\"} 123.456\ncc_created{a=\"y\"} 123.456\n\
         # HELP gg A gauge\n# TYPE gg gauge\ngg 1.0\n\
         # HELP hh A histogram\n# TYPE hh histogram\n\
         hh_bucket{le=\"1.0\"} 1.0\nhh_bucket{le=\"+Inf\"} 1.0\nhh_count 1.0\nhh_sum 0.5\n\
         # HELP hh_created A histogram\n# TYPE hh_created gauge\nhh_created 123.456\n\
         # HELP ss A summary\n# TYPE ss summary\nss_count 1.0\nss_sum 2.0\n\
         # HELP ss_created A summary\n# TYPE ss_created gauge\nss_created 123.456\n"
    );
    assert_eq!(
        created_render(Format::OpenMetrics),
        "# HELP cc A counter\n# TYPE cc counter\n\
         cc_total{a=\"x\"} 1.0\ncc_created{a=\"x\"} 123.456\n\
         cc_total{a=\"y\"} 2.0\ncc_created{a=\"y\"} 123.456\n\
         # HELP gg A gauge\n# TYPE gg gauge\ngg 1.0\n\
         # HELP hh A histogram\n# TYPE hh histogram\n\
         hh_bucket{le=\"1.0\"} 1.0\nhh_bucket{le=\"+Inf\"} 1.0\nhh_count 1.0\nhh_sum 0.5\n\
         hh_created 123.456\n\
         # HELP ss A summary\n# TYPE ss summary\nss_count 1.0\nss_sum 2.0\nss_created 123.456\n\
         # EOF\n"
    );
}

#[test]
fn created_series_are_off_by_default_and_reset_restamps_them() {
    let r = Registry::with_options(&small()).unwrap();
    r.set_self_metrics(false);
    let c = metricore::with_clock(|| 5.0, || r.counter("cc", "A counter").unwrap());
    c.inc_by(3);
    c.inc_by_f64(0.5).unwrap();
    assert_eq!(
        r.render(Format::OpenMetrics),
        "# HELP cc A counter\n# TYPE cc counter\ncc_total 3.5\n# EOF\n"
    );
    r.set_created(true);
    assert!(r.render(Format::OpenMetrics).contains("cc_created 5.0\n"));
    metricore::with_clock(|| 7.0, || c.reset());
    assert_eq!(c.get(), 0.0);
    assert_eq!(
        r.render(Format::OpenMetrics),
        "# HELP cc A counter\n# TYPE cc counter\ncc_total 0.0\ncc_created 7.0\n# EOF\n"
    );
    c.inc();
    assert_eq!(c.get(), 1.0);
}
