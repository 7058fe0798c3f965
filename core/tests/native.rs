//! Native histograms: where observations land, what the protobuf exposition says of
//! them (read back by a small decoder here), and what the text formats carry.

use metricore::buckets::Native;
use metricore::registry::render_bytes;
use metricore::{Filter, Format, HistogramVec, Kind, Options, Registry, Spec};

/// A protobuf message read into its fields: (field number, varint or fixed64, bytes).
struct Msg(Vec<(u32, u64, Vec<u8>)>);

fn varint(b: &[u8], at: &mut usize) -> u64 {
    let (mut v, mut shift) = (0u64, 0);
    loop {
        let byte = b[*at];
        *at += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return v;
        }
        shift += 7;
    }
}

impl Msg {
    fn read(b: &[u8]) -> Msg {
        let (mut at, mut fields) = (0, Vec::new());
        while at < b.len() {
            let key = varint(b, &mut at);
            let field = (key >> 3) as u32;
            match key & 7 {
                0 => fields.push((field, varint(b, &mut at), vec![])),
                1 => {
                    let v = u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
                    at += 8;
                    fields.push((field, v, vec![]));
                }
                2 => {
                    let n = varint(b, &mut at) as usize;
                    fields.push((field, 0, b[at..at + n].to_vec()));
                    at += n;
                }
                w => panic!("unexpected wire type {w}"),
            }
        }
        Msg(fields)
    }
    fn all(&self, f: u32) -> impl Iterator<Item = &(u32, u64, Vec<u8>)> {
        self.0.iter().filter(move |x| x.0 == f)
    }
    fn msgs(&self, f: u32) -> Vec<Msg> {
        self.all(f).map(|x| Msg::read(&x.2)).collect()
    }
    fn uint(&self, f: u32) -> Option<u64> {
        self.all(f).next().map(|x| x.1)
    }
    fn double(&self, f: u32) -> Option<f64> {
        self.uint(f).map(f64::from_bits)
    }
    fn sint(&self, f: u32) -> Option<i64> {
        self.uint(f).map(unzigzag)
    }
    fn string(&self, f: u32) -> String {
        String::from_utf8(self.all(f).next().unwrap().2.clone()).unwrap()
    }
}

fn unzigzag(v: u64) -> i64 {
    (v >> 1) as i64 ^ -((v & 1) as i64)
}

/// The MetricFamily messages of a length-delimited body.
fn families(body: &[u8]) -> Vec<Msg> {
    let (mut at, mut out) = (0, Vec::new());
    while at < body.len() {
        let n = varint(body, &mut at) as usize;
        out.push(Msg::read(&body[at..at + n]));
        at += n;
    }
    out
}

/// A native histogram message's buckets of one sign, `(index, count)`, from its spans
/// and deltas.
fn buckets(h: &Msg, span: u32, delta: u32) -> Vec<(i64, u64)> {
    let deltas: Vec<i64> = h
        .all(delta)
        .flat_map(|x| {
            let mut at = 0;
            let mut v = Vec::new();
            while at < x.2.len() {
                v.push(unzigzag(varint(&x.2, &mut at)));
            }
            v
        })
        .collect();
    let (mut idx, mut count, mut d) = (0i64, 0i64, deltas.iter());
    let mut out = Vec::new();
    for s in h.msgs(span) {
        idx += s.sint(1).unwrap_or(0);
        for _ in 0..s.uint(2).unwrap_or(0) {
            count += d.next().unwrap();
            out.push((idx, count as u64));
            idx += 1;
        }
    }
    out
}

fn registry() -> Registry {
    Registry::with_options(&Options {
        shards: Some(4),
        cells_per_shard: 1 << 14,
        series_capacity: 1 << 10,
        family_capacity: 64,
        arena_bytes: 1 << 20,
        ..Options::default()
    })
    .unwrap()
}

fn native_vec(r: &Registry, name: &str, native: Native) -> HistogramVec {
    r.register(Spec::new(name, "Latency.", Kind::NativeHistogram(native)).labels(&["m"]))
        .unwrap()
        .try_into()
        .unwrap()
}

fn histogram_of(r: &Registry, name: &str) -> Msg {
    let mut body = Vec::new();
    render_bytes(
        std::slice::from_ref(r),
        Format::Protobuf,
        &Filter::names([name]),
        &mut body,
    );
    let fams = families(&body);
    assert_eq!(fams.len(), 1);
    assert_eq!(fams[0].string(1), name);
    assert_eq!(fams[0].uint(3), Some(4), "HISTOGRAM");
    let metric = &fams[0].msgs(4)[0];
    metric.msgs(7).remove(0)
}

#[test]
fn observations_land_in_their_exponential_buckets() {
    let r = registry();
    let h = native_vec(
        &r,
        "lat",
        Native::with_schema(0).zero_threshold(0.5).max_buckets(4),
    );
    let s = h.with_labels(&["a"]).unwrap();
    // Schema 0: bucket i is (2^(i-1), 2^i]; the threshold 0.5 is in bucket -1, the
    // first of each sign, and bucket 2 is the outermost.
    for v in [
        0.0,
        0.25,
        -0.5,
        0.75,
        1.0,
        1.5,
        3.0,
        4.0,
        1e9,
        f64::INFINITY,
        -3.0,
    ] {
        s.observe(v).unwrap();
    }
    assert!(s.observe(f64::NAN).is_err());
    let m = histogram_of(&r, "lat");
    assert_eq!(m.sint(5), Some(0), "schema");
    assert_eq!(m.double(6), Some(0.5), "zero threshold");
    assert_eq!(m.uint(7), Some(3), "zero count: 0, 0.25, -0.5");
    assert_eq!(m.uint(1), Some(11), "count");
    assert_eq!(m.double(2), Some(f64::INFINITY), "sum");
    // 0.75 and 1 in bucket 0, 1.5 in 1, 3, 4, 1e9 and +Inf in the outermost, 2.
    assert_eq!(buckets(&m, 12, 13), [(0, 2), (1, 1), (2, 4)]);
    assert_eq!(buckets(&m, 9, 10), [(2, 1)]);
}

#[test]
fn sparse_buckets_make_several_spans_and_counts_add_over_threads() {
    let r = registry();
    let h = native_vec(
        &r,
        "tok",
        Native::with_schema(3).zero_threshold(1.0).max_buckets(127),
    );
    let values = [1.5, 1.5, 100.0, 101.0, 2e4];
    std::thread::scope(|t| {
        for _ in 0..4 {
            t.spawn(|| {
                let s = h.with_labels(&["x"]).unwrap();
                for _ in 0..1000 {
                    for v in values {
                        s.observe(v).unwrap();
                    }
                }
            });
        }
    });
    let m = histogram_of(&r, "tok");
    assert_eq!(m.uint(1), Some(20_000));
    let idx = |v: f64| (v.log2() * 8.0).ceil() as i64;
    let want = vec![(idx(1.5), 8000), (idx(100.0), 8000), (idx(2e4), 4000)];
    assert_eq!(idx(100.0), idx(101.0));
    assert_eq!(buckets(&m, 12, 13), want);
    assert_eq!(m.msgs(12).len(), 3, "a span per run");
    assert_eq!(m.double(2), Some(4000.0 * values.iter().sum::<f64>()));
}

#[test]
fn text_formats_carry_count_sum_and_the_classic_buckets() {
    let r = registry();
    let only = native_vec(&r, "only", Native::with_schema(1));
    let both = native_vec(&r, "both", Native::with_schema(1).classic(&[0.1, 1.0]));
    for v in [0.05, 0.5, 2.0] {
        only.with_labels(&["a"]).unwrap().observe(v).unwrap();
        both.with_labels(&["a"]).unwrap().observe(v).unwrap();
    }
    let text = r.render(Format::Prometheus);
    assert!(text.contains("# TYPE only histogram\n"), "{text}");
    assert!(
        text.contains(
            "only_bucket{m=\"a\",le=\"+Inf\"} 3\nonly_count{m=\"a\"} 3\nonly_sum{m=\"a\"} 2.55\n"
        ),
        "{text}"
    );
    assert!(text.contains("both_bucket{m=\"a\",le=\"0.1\"} 1\nboth_bucket{m=\"a\",le=\"1.0\"} 2\nboth_bucket{m=\"a\",le=\"+Inf\"} 3\nboth_count{m=\"a\"} 3\n"), "{text}");
    let om = r.render(Format::OpenMetrics);
    assert!(om.contains("only_bucket{m=\"a\",le=\"+Inf\"} 3\n"), "{om}");

    // In protobuf: the classic buckets beside the native ones; none for `only`.
    let m = histogram_of(&r, "both");
    let classic: Vec<(u64, f64)> = m
        .msgs(3)
        .iter()
        .map(|b| (b.uint(1).unwrap(), b.double(2).unwrap()))
        .collect();
    assert_eq!(classic, [(1, 0.1), (2, 1.0), (3, f64::INFINITY)]);
    assert_eq!(buckets(&m, 12, 13).iter().map(|b| b.1).sum::<u64>(), 3);
    assert_eq!(histogram_of(&r, "only").msgs(3).len(), 0);
}

#[test]
fn every_kind_has_its_protobuf_type_and_value() {
    let r = registry();
    r.counter_vec("jobs", "Jobs.", &["q"])
        .unwrap()
        .with_labels(&["a\"b"])
        .unwrap()
        .inc_by(3);
    r.gauge("temp", "").unwrap().set(-1.5);
    r.summary("sz", "").unwrap().observe(2.0).unwrap();
    r.histogram("h", "", &[1.0]).unwrap().observe(0.5).unwrap();
    r.state_set_vec("phase", "", &[], &["idle", "busy"])
        .unwrap()
        .with_labels(&[])
        .unwrap();
    r.info_vec("build", "", &[])
        .unwrap()
        .set(&[], &[("v", "1")])
        .unwrap();
    r.on_render(|format, out| {
        assert_eq!(format, Format::Prometheus);
        out.push_str("# TYPE ext_total counter\next_total{k=\"v\"} 7\n");
    });
    let mut body = Vec::new();
    render_bytes(
        std::slice::from_ref(&r),
        Format::Protobuf,
        &Filter::all(),
        &mut body,
    );
    let fams = families(&body);
    let get = |name: &str| {
        fams.iter()
            .find(|f| f.string(1) == name)
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    let jobs = get("jobs_total");
    assert_eq!(
        (jobs.string(2), jobs.uint(3)),
        ("Jobs.".to_owned(), Some(0))
    );
    let m = &jobs.msgs(4)[0];
    let pair = &m.msgs(1)[0];
    assert_eq!(
        (pair.string(1), pair.string(2)),
        ("q".to_owned(), "a\"b".to_owned())
    );
    assert_eq!(m.msgs(3)[0].double(1), Some(3.0));
    assert_eq!(get("temp").msgs(4)[0].msgs(2)[0].double(1), Some(-1.5));
    let sz = &get("sz").msgs(4)[0].msgs(4)[0];
    assert_eq!((sz.uint(1), sz.double(2)), (Some(1), Some(2.0)));
    let h = &get("h").msgs(4)[0].msgs(7)[0];
    assert_eq!((h.uint(1), h.msgs(3).len()), (Some(1), 2));
    assert_eq!(get("phase").msgs(4).len(), 2, "a gauge per state");
    assert_eq!(get("build_info").uint(3), Some(1), "info is a gauge");
    let ext = get("ext_total");
    assert_eq!(
        ext.msgs(4)[0].msgs(3)[0].double(1),
        Some(7.0),
        "callback text"
    );
    assert_eq!(get("metricore_series").uint(3), Some(1));
}
