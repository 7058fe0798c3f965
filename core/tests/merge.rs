//! Several registries rendered as one exposition.

use metricore::registry::render_many;
use metricore::{buckets, Format, GaugeMode, Kind, Options, Registry, Spec};

fn small() -> Options {
    Options {
        shards: Some(2),
        cells_per_shard: 1 << 14,
        series_capacity: 1 << 12,
        family_capacity: 64,
        process_capacity: 8,
        arena_bytes: 1 << 20,
        file_mode: 0o600,
        owner: None,
        group: None,
    }
}

fn render(registries: &[Registry], format: Format) -> String {
    let mut out = String::from("stale text is replaced");
    render_many(registries, format, &mut out);
    out
}

#[test]
fn one_registry_renders_as_itself() {
    let r = Registry::with_options(&small()).unwrap();
    r.counter_vec("a", "A.", &["x"])
        .unwrap()
        .with_labels(&["1"])
        .unwrap()
        .inc();
    r.on_render(|_, out| out.push_str("# TYPE extra gauge\nextra 1\n"));
    for f in [Format::Prometheus, Format::OpenMetrics] {
        assert_eq!(render(std::slice::from_ref(&r), f), r.render(f));
        assert_eq!(
            render(&[r.clone(), r.scope("s", "v").unwrap()], f),
            r.render(f)
        );
    }
}

#[test]
fn families_merge_and_series_add_up() {
    let (a, b) = (
        Registry::with_options(&small()).unwrap(),
        Registry::with_options(&small()).unwrap(),
    );
    for (r, n, help) in [(&a, 2, "Requests (a)."), (&b, 5, "Requests (b).")] {
        let c = r.counter_vec("requests", help, &["model"]).unwrap();
        c.with_labels(&["gpt-4"]).unwrap().inc_by(n);
        c.with_labels(&[if n == 2 { "only-a" } else { "only-b" }])
            .unwrap()
            .inc();
        let h = r
            .histogram("latency_seconds", "Latency.", &buckets::DEFAULT_BUCKETS)
            .unwrap();
        h.observe(0.01 * n as f64).unwrap();
        let g: metricore::GaugeVec = r
            .register(Spec::new(
                "in_flight",
                "In flight.",
                Kind::Gauge(GaugeMode::LiveSum),
            ))
            .unwrap()
            .try_into()
            .unwrap();
        g.with_labels(&[]).unwrap().set(n as f64);
        r.counter("cost", "Cost.")
            .unwrap()
            .inc_by_f64(0.25)
            .unwrap();
    }
    // Defined otherwise in b: left out there.
    a.counter("clash", "Clash.").unwrap().inc();
    b.gauge("clash", "Clash.").unwrap().set(9.0);

    let text = render(&[a.clone(), b.clone()], Format::Prometheus);
    assert_eq!(text.matches("# TYPE requests_total counter\n").count(), 1);
    assert!(
        text.contains(
            "# HELP requests_total Requests (a).\n# TYPE requests_total counter\n\
         requests_total{model=\"gpt-4\"} 7\n\
         requests_total{model=\"only-a\"} 1\n\
         requests_total{model=\"only-b\"} 1\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("latency_seconds_bucket{le=\"0.025\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("latency_seconds_bucket{le=\"0.05\"} 2\n"),
        "{text}"
    );
    assert!(text.contains("latency_seconds_count 2\n"));
    assert!(text.contains("in_flight 7.0\n"), "{text}");
    assert!(text.contains("cost_total 0.5\n"), "{text}");
    assert!(
        text.contains("# TYPE clash_total counter\nclash_total 1\n"),
        "{text}"
    );
    assert!(!text.contains("clash 9"), "{text}");
    let series = |r: &Registry| r.stats().series;
    assert!(text.contains(&format!("metricore_series {}\n", series(&a) + series(&b))));
    for name in [
        "metricore_series",
        "metricore_region_used_bytes",
        "metricore_errors_total",
    ] {
        assert_eq!(
            text.matches(&format!("# TYPE {name} ")).count(),
            1,
            "{name}"
        );
    }
    let om = render(&[a, b], Format::OpenMetrics);
    assert_eq!(om.matches("# EOF").count(), 1);
    assert!(om.ends_with("# EOF\n"));
}
