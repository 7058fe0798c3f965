//! The `/metrics` endpoint, spoken to over raw TCP: negotiation, gzip, status codes,
//! keep-alive, hostile clients, and scrapes while other threads record.
#![cfg(feature = "http")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use metricore::http::{Server, HEADER_READ_TIMEOUT};
use metricore::{Filter, Format, Options, Registry};

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

fn registry() -> Registry {
    let r = Registry::with_options(&small()).unwrap();
    let c = r.counter_vec("requests", "Requests.", &["model"]).unwrap();
    c.with_labels(&["gpt-4"]).unwrap().inc_by(3);
    c.with_labels(&["qu\"ote\\d\nnew ✓"]).unwrap().inc();
    r.state_set_vec("phase", "Phase.", &[], &["idle", "busy"])
        .unwrap()
        .with_labels(&[])
        .unwrap();
    r
}

fn start(registries: Vec<Registry>) -> Server {
    Server::start(registries, "127.0.0.1:0".parse().unwrap()).unwrap()
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }
}

/// One HTTP/1.1 connection, read and written by hand.
struct Conn {
    reader: BufReader<TcpStream>,
}

impl Conn {
    fn open(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        Conn {
            reader: BufReader::new(stream),
        }
    }

    fn send(&mut self, method: &str, path: &str, headers: &[(&str, &str)]) {
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: test\r\n");
        for (n, v) in headers {
            req.push_str(&format!("{n}: {v}\r\n"));
        }
        req.push_str("\r\n");
        self.reader.get_mut().write_all(req.as_bytes()).unwrap();
    }

    /// Reads one response; `None` if the server closed the connection first.
    fn response(&mut self, head: bool) -> Option<Response> {
        let mut line = String::new();
        if self.reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let status = line.split_whitespace().nth(1)?.parse().ok()?;
        let mut headers = Vec::new();
        loop {
            line.clear();
            self.reader.read_line(&mut line).ok()?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let (n, v) = l.split_once(':')?;
            headers.push((n.trim().to_owned(), v.trim().to_owned()));
        }
        let mut r = Response {
            status,
            headers,
            body: Vec::new(),
        };
        let len: usize = r.header("content-length").map_or(0, |v| v.parse().unwrap());
        if !head {
            r.body = vec![0; len];
            self.reader.read_exact(&mut r.body).ok()?;
        }
        Some(r)
    }

    fn get(&mut self, path: &str, headers: &[(&str, &str)]) -> Response {
        self.send("GET", path, headers);
        self.response(false).expect("a response")
    }
}

fn gunzip(b: &[u8]) -> String {
    let mut s = String::new();
    flate2::read::GzDecoder::new(b)
        .read_to_string(&mut s)
        .unwrap();
    s
}

#[test]
fn content_negotiation_and_gzip() {
    let r = registry();
    let server = start(vec![r.clone()]);
    let mut c = Conn::open(server.local_addr());

    let plain = c.get("/metrics", &[]);
    assert_eq!(plain.status, 200);
    assert_eq!(
        plain.header("content-type"),
        Some(Format::Prometheus.content_type())
    );
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.text(), r.render(Format::Prometheus));

    // What Prometheus 2.x sends.
    let accept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let om = c.get("/metrics", &[("Accept", accept)]);
    assert_eq!(
        om.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=underscores")
    );
    assert_eq!(om.text(), r.render(Format::OpenMetrics));
    assert!(om.text().ends_with("# EOF\n"));

    let gz = c.get(
        "/metrics?ignored=1",
        &[("Accept", accept), ("Accept-Encoding", "gzip")],
    );
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(gunzip(&gz.body), r.render(Format::OpenMetrics));

    // What Prometheus 2.42 sends with native histograms on.
    let accept = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
    let pb = c.get("/metrics", &[("Accept", accept)]);
    assert_eq!(
        pb.header("content-type"),
        Some(Format::Protobuf.content_type())
    );
    let mut want = Vec::new();
    metricore::registry::render_bytes(
        std::slice::from_ref(&r),
        Format::Protobuf,
        &Filter::all(),
        &mut want,
    );
    assert_eq!(pb.body, want);
    assert!(
        pb.body.windows(14).any(|w| w == b"requests_total"),
        "a family name"
    );

    let refused = c.get("/metrics", &[("Accept-Encoding", "gzip;q=0, identity")]);
    assert_eq!(refused.header("content-encoding"), None);
    assert_eq!(refused.text(), r.render(Format::Prometheus));
    let listed_twice = c.get(
        "/metrics",
        &[("Accept-Encoding", "br"), ("Accept-Encoding", "gzip")],
    );
    assert_eq!(listed_twice.header("content-encoding"), Some("gzip"));
}

#[test]
fn utf8_names_are_quoted_only_for_a_scraper_that_asks_for_them() {
    let r = Registry::new();
    r.counter_vec("http.requests", "Requests.", &["http.method"])
        .unwrap()
        .with_labels(&["GET"])
        .unwrap()
        .inc();
    let server = start(vec![r.clone()]);
    let mut c = Conn::open(server.local_addr());

    // What Prometheus 2.42 sends: no escaping asked for, so legacy names only.
    let accept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    for headers in [&[][..], &[("Accept", accept)][..]] {
        let text = c.get("/metrics", headers).text();
        assert!(
            text.contains("\nhttp_requests_total{http_method=\"GET\"} 1\n"),
            "{text}"
        );
        assert!(!text.contains("http.requests"), "{text}");
    }

    // What Prometheus 3 sends.
    let accept = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1";
    let utf8 = c.get("/metrics", &[("Accept", accept)]);
    assert_eq!(
        utf8.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=allow-utf-8")
    );
    let text = utf8.text();
    assert!(
        text.contains("# TYPE \"http.requests\" counter\n"),
        "{text}"
    );
    assert!(
        text.contains("\n{\"http.requests_total\",\"http.method\"=\"GET\"} 1\n"),
        "{text}"
    );

    let plain = c.get(
        "/metrics",
        &[("Accept", "text/plain; version=1.0.0; escaping=dots")],
    );
    assert_eq!(
        plain.header("content-type"),
        Some("text/plain; version=1.0.0; charset=utf-8; escaping=dots")
    );
    assert!(
        plain
            .text()
            .contains("\nhttp_dot_requests__total{http_dot_method=\"GET\"} 1\n"),
        "{}",
        plain.text()
    );
}

#[test]
fn other_paths_and_methods_are_refused_and_head_has_no_body() {
    let server = start(vec![registry()]);
    let mut c = Conn::open(server.local_addr());
    for path in ["/", "/metrics/", "/metricsx", "/favicon.ico"] {
        assert_eq!(c.get(path, &[]).status, 404, "{path}");
    }
    for method in ["POST", "PUT", "DELETE", "OPTIONS"] {
        c.send(method, "/metrics", &[("Content-Length", "0")]);
        let r = c.response(false).unwrap();
        assert_eq!(r.status, 405, "{method}");
        assert_eq!(r.header("allow"), Some("GET, HEAD"));
    }
    let get = c.get("/metrics", &[]);
    c.send("HEAD", "/metrics", &[]);
    let head = c.response(true).unwrap();
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), get.header("content-length"));
    // Had the HEAD response carried a body, this would read it instead of a status line.
    assert_eq!(c.get("/metrics", &[]).status, 200);
}

#[test]
fn keep_alive_serves_many_requests_on_one_connection() {
    let server = start(vec![registry()]);
    let mut c = Conn::open(server.local_addr());
    for _ in 0..50 {
        let r = c.get("/metrics", &[]);
        assert_eq!(r.status, 200);
        assert_ne!(r.header("connection"), Some("close"));
    }
    // Pipelined requests are answered in order.
    c.send("GET", "/nope", &[]);
    c.send("GET", "/metrics", &[]);
    assert_eq!(c.response(false).unwrap().status, 404);
    assert_eq!(c.response(false).unwrap().status, 200);
}

/// Scrapes `addr` on a fresh connection and says how long it took.
fn timed_scrape(addr: SocketAddr) -> Duration {
    let t = Instant::now();
    let r = Conn::open(addr).get("/metrics", &[]);
    assert_eq!(r.status, 200);
    t.elapsed()
}

#[test]
fn huge_headers_are_refused_without_harm() {
    let server = start(vec![registry()]);
    let addr = server.local_addr();
    let mut c = Conn::open(addr);
    let huge = "x".repeat(64 * 1024);
    c.send("GET", "/metrics", &[("X-Huge", &huge)]);
    // An answer, if any, is 431; closing without one is fine too.
    if let Some(r) = c.response(false) {
        assert_eq!(r.status, 431);
    }
    // Many headers of ordinary size add up the same way.
    let mut c = Conn::open(addr);
    let many: Vec<(String, String)> = (0..2000)
        .map(|i| (format!("X-H{i}"), "v".repeat(20)))
        .collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    c.send("GET", "/metrics", &many);
    if let Some(r) = c.response(false) {
        assert!(r.status == 431 || r.status == 400, "{}", r.status);
    }
    assert!(timed_scrape(addr) < Duration::from_secs(2));
}

#[test]
fn slow_clients_do_not_block_other_scrapes_and_are_let_go() {
    let server = start(vec![registry()]);
    let addr = server.local_addr();
    // Clients that send half a request head and then nothing, or nothing at all.
    let mut slow: Vec<TcpStream> = (0..40)
        .map(|i| {
            let mut s = TcpStream::connect(addr).unwrap();
            if i % 2 == 0 {
                s.write_all(b"GET /metrics HTTP/1.1\r\nHost: sl").unwrap();
            }
            s
        })
        .collect();
    // A client that trickles its head, a byte at a time.
    let mut trickle = TcpStream::connect(addr).unwrap();
    let trickler = std::thread::spawn(move || {
        for b in b"GET /metrics HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaa" {
            if trickle.write_all(&[*b]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    });
    for _ in 0..20 {
        assert!(timed_scrape(addr) < Duration::from_secs(2));
    }
    // Past the header read timeout, the silent clients have been disconnected.
    let started = Instant::now();
    let s = &mut slow[1];
    s.set_read_timeout(Some(HEADER_READ_TIMEOUT + Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 1];
    let n = s.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "expected the server to close the idle connection");
    assert!(started.elapsed() <= HEADER_READ_TIMEOUT + Duration::from_secs(4));
    trickler.join().unwrap();
    assert!(timed_scrape(addr) < Duration::from_secs(2));
}

/// The value of `hits_total` in a Prometheus text body.
fn total(text: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix("hits_total "))
        .expect("hits_total in the body")
        .parse()
        .unwrap()
}

#[test]
fn concurrent_scrapes_while_recording() {
    let r = Registry::with_options(&small()).unwrap();
    let hits = r.counter("hits", "Hits.").unwrap();
    let lat = r
        .histogram_vec("lat", "Latency.", &["w"], &[0.1, 1.0])
        .unwrap();
    let server = start(vec![r.clone()]);
    let addr = server.local_addr();
    let stop = Arc::new(AtomicBool::new(false));
    let recorded = Arc::new(AtomicU64::new(0));
    let recorders: Vec<_> = (0..2)
        .map(|w| {
            let (hits, lat, stop, recorded) =
                (hits.clone(), lat.clone(), stop.clone(), recorded.clone());
            std::thread::spawn(move || {
                let h = lat.with_labels(&[&w.to_string()]).unwrap();
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    hits.inc();
                    h.observe((n % 20) as f64 / 10.0).unwrap();
                    n += 1;
                }
                recorded.fetch_add(n, Ordering::Relaxed);
            })
        })
        .collect();
    let scrapers: Vec<_> = (0..4)
        .map(|_| {
            let hits = hits.clone();
            std::thread::spawn(move || {
                let mut c = Conn::open(addr);
                let mut last = 0;
                for _ in 0..40 {
                    let before = hits.get() as u64;
                    let r = c.get("/metrics", &[("Accept-Encoding", "gzip")]);
                    assert_eq!(r.status, 200);
                    let text = gunzip(&r.body);
                    let v = total(&text);
                    assert!(v >= last, "counter went back from {last} to {v}");
                    // Rendered after the request was sent, never before.
                    assert!(v >= before, "answer older than its request: {v} < {before}");
                    last = v;
                    // _count equals the +Inf bucket in every scrape.
                    for w in ["0", "1"] {
                        let inf = format!("lat_bucket{{w=\"{w}\",le=\"+Inf\"}} ");
                        let count = format!("lat_count{{w=\"{w}\"}} ");
                        let get = |p: &str| {
                            text.lines()
                                .find_map(|l| l.strip_prefix(p))
                                .map(str::to_owned)
                        };
                        assert_eq!(get(&inf), get(&count));
                    }
                }
                last
            })
        })
        .collect();
    let seen: Vec<u64> = scrapers.into_iter().map(|s| s.join().unwrap()).collect();
    let during = hits.get() as u64;
    stop.store(true, Ordering::Relaxed);
    for t in recorders {
        t.join().unwrap();
    }
    assert!(seen.iter().all(|&v| v > 0 && v <= during));
    let last = Conn::open(addr).get("/metrics", &[]);
    assert_eq!(total(&last.text()), recorded.load(Ordering::Relaxed));
}

#[test]
fn several_registries_are_one_exposition() {
    let (a, b) = (registry(), registry());
    b.counter("only_b", "Only in b.").unwrap().inc();
    let server = start(vec![a.clone(), b.clone(), a.clone()]);
    let text = Conn::open(server.local_addr()).get("/metrics", &[]).text();
    assert_eq!(
        text.matches("# TYPE requests_total counter\n").count(),
        1,
        "{text}"
    );
    assert!(
        text.contains("requests_total{model=\"gpt-4\"} 6\n"),
        "{text}"
    );
    assert!(text.contains("only_b_total 1\n"));
    assert_eq!(text.matches("# TYPE metricore_series gauge\n").count(), 1);
}

#[test]
fn an_address_in_use_is_an_error_and_shutdown_frees_it() {
    let server = start(vec![registry()]);
    let addr = server.local_addr();
    let err = Server::start(vec![registry()], addr)
        .err()
        .expect("address in use");
    assert!(matches!(err, metricore::Error::Listen { .. }));
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
    assert!(err.to_string().to_lowercase().contains("in use"), "{err}");
    let mut open = Conn::open(addr);
    assert_eq!(open.get("/metrics", &[]).status, 200);
    server.shutdown();
    assert!(
        open.response(false).is_none(),
        "connections close at shutdown"
    );
    assert!(TcpStream::connect(addr).is_err());
    // The address can be listened on again.
    let again = Server::start(vec![registry()], addr).unwrap();
    assert_eq!(
        Conn::open(again.local_addr()).get("/metrics", &[]).status,
        200
    );
}

#[test]
fn a_rendering_that_panics_fails_its_scrape_and_not_the_next() {
    let r = registry();
    let fail = Arc::new(AtomicBool::new(true));
    let f = fail.clone();
    r.on_render(move |_, _| {
        if f.swap(false, Ordering::Relaxed) {
            panic!("a render callback that fails once");
        }
    });
    let server = start(vec![r]);
    let mut c = Conn::open(server.local_addr());
    assert_eq!(c.get("/metrics", &[]).status, 503);
    let ok = c.get("/metrics", &[]);
    assert_eq!(ok.status, 200);
    assert!(ok.text().contains("requests_total{model=\"gpt-4\"} 3\n"));
}

#[test]
fn name_parameters_restrict_the_exposition_of_each_scrape() {
    let r = registry();
    r.histogram("latency_seconds", "Latency.", &[0.1])
        .unwrap()
        .observe(0.05)
        .unwrap();
    metricore::process::register(&r);
    let server = start(vec![r.clone()]);
    let mut conn = Conn::open(server.local_addr());
    let families = |text: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .map(|l| l.split(' ').next().unwrap().to_owned())
            .collect()
    };
    let all = families(&conn.get("/metrics", &[]).text());
    assert!(all.len() > 8, "{all:?}");

    // Counter by its sample name, histogram by one of its samples, a gauge of the
    // process collector and a self-metric; the brackets percent-encoded or not.
    let path = "/metrics?name[]=requests_total&name%5B%5D=latency_seconds_count\
                &name%5b%5d=process_open_fds&name[]=metricore_series&other=1";
    let text = conn.get(path, &[]).text();
    assert_eq!(
        families(&text),
        [
            "latency_seconds",
            "requests_total",
            "metricore_series",
            "process_open_fds"
        ],
        "{text}"
    );
    assert!(
        text.contains("latency_seconds_bucket{le=\"0.1\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("requests_total{model=\"gpt-4\"} 3\n"),
        "{text}"
    );

    // OpenMetrics names the counter family without `_total`; the registered name works.
    let om = conn
        .get(
            "/metrics?name[]=requests&name[]=process_cpu_seconds",
            &[("Accept", "application/openmetrics-text; version=1.0.0")],
        )
        .text();
    assert_eq!(families(&om), ["requests", "process_cpu_seconds"], "{om}");
    assert!(om.ends_with("# EOF\n"), "{om}");

    // Names that select nothing give an empty exposition, not an error.
    let none = conn.get("/metrics?name[]=absent", &[]);
    assert_eq!(none.status, 200);
    assert_eq!(none.text(), "");
    // Without `name[]`, everything again.
    assert_eq!(families(&conn.get("/metrics?x=1", &[]).text()), all);
}
