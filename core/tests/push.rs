//! Pushing to the real Pushgateway (Debian package `prometheus-pushgateway`) on loopback.
#![cfg(feature = "http")]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use metricore::{push, Registry};

/// A Pushgateway on a free loopback port, keeping metrics in memory; killed on drop.
struct Gateway {
    child: Child,
    addr: SocketAddr,
    log: std::path::PathBuf,
}

impl Gateway {
    fn start() -> Gateway {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let log = std::env::temp_dir().join(format!("metricore-pushgateway-{port}.log"));
        let child = Command::new("prometheus-pushgateway")
            .arg(format!("--web.listen-address={addr}"))
            .arg("--persistence.file=")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect(
                "prometheus-pushgateway not found: the test command installs the Debian \
                 package `prometheus-pushgateway`",
            );
        let mut gw = Gateway { child, addr, log };
        let deadline = Instant::now() + Duration::from_secs(20);
        while get(addr, "/-/ready").is_none() {
            if let Ok(Some(status)) = gw.child.try_wait() {
                panic!("pushgateway exited with {status}:\n{}", gw.log());
            }
            assert!(
                Instant::now() < deadline,
                "pushgateway not ready within 20 s:\n{}",
                gw.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        gw
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The gateway's own exposition, without its bookkeeping series.
    fn metrics(&self) -> Vec<String> {
        get(self.addr, "/metrics")
            .expect("pushgateway answers /metrics")
            .lines()
            .filter(|l| {
                !l.starts_with('#')
                    && !l.starts_with("push_")
                    && !l.starts_with("go_")
                    && !l.starts_with("process_")
                    && !l.starts_with("pushgateway_")
                    && !l.starts_with("metricore_")
            })
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// GETs `path` with HTTP/1.0 and returns the body of a 200 answer.
fn get(addr: SocketAddr, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: test\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?;
    (status == "200").then(|| body.to_owned())
}

#[test]
fn push_push_add_and_delete() {
    let gw = Gateway::start();
    let url = gw.url();
    let grouping = [("instance", "host/a b"), ("shard", "")];
    let labels = r#"instance="host/a b",job="nightly/batch",shard="""#;

    let r = Registry::new();
    r.counter_vec("rows", "Rows.", &["table"])
        .unwrap()
        .with_labels(&["users \"main\""])
        .unwrap()
        .inc_by(1200);
    push::push(&url, "nightly/batch", &grouping, &r).unwrap();
    let m = gw.metrics();
    let rows = format!(r#"rows_total{{{labels},table="users \"main\""}} 1200"#);
    assert!(m.contains(&rows), "{m:#?}\n{}", gw.log());

    // push_add keeps what is there; push replaces the whole group.
    let other = Registry::new();
    other.gauge("lag_seconds", "Lag.").unwrap().set(2.5);
    push::push_add(&url, "nightly/batch", &grouping, &other).unwrap();
    let m = gw.metrics();
    assert!(m.contains(&rows), "{m:#?}");
    assert!(
        m.contains(&format!("lag_seconds{{{labels}}} 2.5")),
        "{m:#?}"
    );
    push::push(&url, "nightly/batch", &grouping, &other).unwrap();
    let m = gw.metrics();
    assert!(!m.iter().any(|l| l.starts_with("rows_total")), "{m:#?}");
    assert!(
        m.contains(&format!("lag_seconds{{{labels}}} 2.5")),
        "{m:#?}"
    );

    // Another group is its own.
    push::push(&url, "other", &[], &r).unwrap();
    push::delete(&url, "nightly/batch", &grouping).unwrap();
    let m = gw.metrics();
    assert!(!m.iter().any(|l| l.starts_with("lag_seconds")), "{m:#?}");
    assert!(
        m.contains(
            &r#"rows_total{instance="",job="other",table="users \"main\""} 1200"#.to_owned()
        ),
        "{m:#?}"
    );
}

#[test]
fn refusals_and_unreachable_gateways_are_errors() {
    let gw = Gateway::start();
    // The gateway refuses a push inconsistent with what another group holds.
    let counter = Registry::new();
    counter.counter("jobs", "Jobs.").unwrap().inc();
    push::push(&gw.url(), "a", &[], &counter).unwrap();
    let gauge = Registry::new();
    gauge.gauge("jobs_total", "Jobs.").unwrap().set(1.0);
    let err = push::push(&gw.url(), "b", &[], &gauge).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("PUT") && text.contains("400") && text.contains("/metrics/job/b"),
        "{text}"
    );

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let err = push::delete(&format!("http://{closed}"), "j", &[]).unwrap_err();
    assert!(matches!(err, metricore::Error::Push { .. }), "{err}");
    assert!(err.to_string().contains("DELETE"), "{err}");
}
