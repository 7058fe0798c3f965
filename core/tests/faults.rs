//! Registry files truncated, removed or replaced under running processes: nobody dies,
//! and everybody moves to the file that is at the path afterwards.
//!
//! Child processes are this test binary run again with `METRICORE_CHILD` set, which
//! makes the `child` test below do the child's work instead of nothing.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use metricore::{Format, Options, Registry};

mod common;
use common::{spawn, tempdir};

fn options() -> Options {
    Options {
        shards: Some(2),
        cells_per_shard: 1 << 12,
        series_capacity: 1 << 10,
        family_capacity: 64,
        process_capacity: 32,
        arena_bytes: 1 << 18,
        ..Options::default()
    }
}

fn stop_file(path: &Path) -> PathBuf {
    path.with_extension("stop")
}

/// The child's work; a no-op in a normal test run.
#[test]
fn child() {
    let Ok(role) = std::env::var("METRICORE_CHILD") else {
        return;
    };
    let path = PathBuf::from(std::env::var("METRICORE_FILE").unwrap());
    let stop = stop_file(&path);
    match role.as_str() {
        // A long-held handle, and a lookup per recording.
        "recorder" => {
            let r = Registry::open_shared(&path, &options()).unwrap();
            let held = r.counter("held", "Recorded through one handle.").unwrap();
            let looked = r
                .counter_vec("looked", "Recorded through lookups.", &["k"])
                .unwrap();
            ready(&path);
            while !stop.exists() {
                for _ in 0..100 {
                    held.inc();
                    looked.with_labels(&["a"]).unwrap().inc();
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        "renderer" => {
            let r = Registry::open_existing(&path).unwrap();
            ready(&path);
            while !stop.exists() {
                let text = r.render(Format::Prometheus);
                assert!(text.contains("metricore_errors_total"));
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        // A SIGBUS on a mapping that is not a registry's goes to the handler that was
        // there before (exit 42), or kills the process when there was none.
        "foreign" | "foreign-handled" => {
            if role == "foreign-handled" {
                extern "C" fn on_bus(_: libc::c_int) {
                    // SAFETY: `_exit` is async-signal-safe.
                    unsafe { libc::_exit(42) }
                }
                // SAFETY: installs a plain handler with an empty mask.
                unsafe {
                    let mut act: libc::sigaction = std::mem::zeroed();
                    act.sa_sigaction = on_bus as *const () as usize;
                    libc::sigemptyset(&mut act.sa_mask);
                    libc::sigaction(libc::SIGBUS, &act, std::ptr::null_mut());
                }
            }
            let r = Registry::open_shared(&path, &options()).unwrap();
            r.counter("held", "Recorded through one handle.")
                .unwrap()
                .inc();
            let other = path.with_extension("other");
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&other)
                .unwrap();
            file.set_len(8192).unwrap();
            // SAFETY: a fresh shared mapping of a file this test owns.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    8192,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED,
                    std::os::unix::io::AsRawFd::as_raw_fd(&file),
                    0,
                )
            };
            assert_ne!(p, libc::MAP_FAILED);
            file.set_len(0).unwrap();
            // SAFETY: inside the mapping; the page is gone from the file, so this faults.
            unsafe { std::ptr::write_volatile(p as *mut u8, 1) };
            std::process::exit(7);
        }
        _ => panic!("unknown role {role}"),
    }
}

/// Tells the test that this child has the registry open (`<path>.ready.<pid>`).
fn ready(path: &Path) {
    std::fs::write(
        path.with_extension(format!("ready.{}", std::process::id())),
        b"",
    )
    .unwrap();
}

/// Waits until every one of `n` children has the registry at `path` open.
fn all_ready(path: &Path, n: usize) {
    let dir = path.parent().unwrap();
    let ready = || {
        std::fs::read_dir(dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().contains(".ready."))
            })
            .count()
    };
    assert!(
        within(Duration::from_secs(30), || ready() == n),
        "{} of {n} children ready",
        ready()
    );
}

fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Waits up to `limit` for `f` to hold, checking every 20 ms.
fn within(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

fn assert_running(children: &mut [Child]) {
    for c in children.iter_mut() {
        assert!(
            c.try_wait().unwrap().is_none(),
            "a process died: {:?}",
            c.try_wait()
        );
    }
}

fn stop(children: Vec<Child>, path: &Path) {
    std::fs::write(stop_file(path), b"").unwrap();
    for mut c in children {
        let status = c.wait().unwrap();
        assert!(status.success(), "{status:?}");
    }
}

#[test]
fn a_file_truncated_under_recorders_and_a_renderer_kills_nobody() {
    let dir = tempdir("truncated");
    let path = dir.join("reg");
    drop(Registry::open_shared(&path, &options()).unwrap());
    let mut children = vec![
        spawn("recorder", &path),
        spawn("recorder", &path),
        spawn("renderer", &path),
    ];
    all_ready(&path, children.len());
    let reader = Registry::open_existing(&path).unwrap();
    assert!(within(Duration::from_secs(10), || {
        value(&reader.render(Format::Prometheus), "looked_total{k=\"a\"}").unwrap_or(0.0) > 1000.0
    }));
    drop(reader);

    let truncated = Command::new("truncate")
        .args(["-s", "4096"])
        .arg(&path)
        .status()
        .unwrap();
    assert!(truncated.success());
    std::thread::sleep(Duration::from_secs(1));
    assert_running(&mut children);
    // The truncated file is no registry: every process stays where it is.
    assert!(Registry::open_existing(&path).is_err());

    // A valid file is back: every process moves there and records again.
    std::fs::remove_file(&path).unwrap();
    let fresh = Registry::open_shared(&path, &options()).unwrap();
    let mut text = String::new();
    assert!(
        within(Duration::from_secs(2), || {
            text = fresh.render(Format::Prometheus);
            value(&text, "looked_total{k=\"a\"}").unwrap_or(0.0) > 100.0
                && value(&text, "metricore_region_faults_total") == Some(3.0)
        }),
        "{text}"
    );
    assert_running(&mut children);
    stop(children, &path);
}

#[test]
fn a_file_removed_and_recreated_takes_every_process_along() {
    let dir = tempdir("replaced");
    let path = dir.join("reg");
    drop(Registry::open_shared(&path, &options()).unwrap());
    let mut children = vec![spawn("recorder", &path), spawn("recorder", &path)];
    all_ready(&path, children.len());
    let reader = Registry::open_existing(&path).unwrap();
    assert!(within(Duration::from_secs(10), || {
        value(&reader.render(Format::Prometheus), "looked_total{k=\"a\"}").unwrap_or(0.0) > 1000.0
    }));
    drop(reader);

    std::fs::remove_file(&path).unwrap();
    let fresh = Registry::open_shared(&path, &options()).unwrap();
    let mut text = String::new();
    // Each recorder makes its series again in the new file on its next lookup there.
    let looked = |text: &str| value(text, "looked_total{k=\"a\"}").unwrap_or(0.0);
    let mut seen = 0.0;
    assert!(
        within(Duration::from_secs(2), || {
            text = fresh.render(Format::Prometheus);
            // Both recorders moved once the count grows by more than one can add.
            let now = looked(&text);
            let moved = seen > 0.0 && now - seen > 150.0;
            seen = now;
            moved
        }),
        "{text}"
    );
    // The handles held from before keep recording into the old file, at the rate the
    // lookups record into the new one: that is counted as lost.
    let lost = |text: &str| value(text, "metricore_lost_recordings_total").unwrap();
    std::thread::sleep(Duration::from_millis(600));
    text = fresh.render(Format::Prometheus);
    let (looked0, lost0) = (looked(&text), lost(&text));
    std::thread::sleep(Duration::from_millis(1500));
    text = fresh.render(Format::Prometheus);
    let (grew, lost_grew) = (looked(&text) - looked0, lost(&text) - lost0);
    assert!(grew > 1000.0, "{text}");
    assert!(
        (grew * 0.5..grew * 1.5).contains(&lost_grew),
        "lost grew by {lost_grew}, lookups in the new file by {grew}:\n{text}"
    );
    assert_eq!(value(&text, "held_total"), Some(0.0), "{text}");
    assert_running(&mut children);
    stop(children, &path);
}

#[test]
fn other_sigbus_goes_to_the_handler_that_was_there_before() {
    let dir = tempdir("foreign");
    let path = dir.join("reg");
    let status = spawn("foreign-handled", &path).wait().unwrap();
    assert_eq!(status.code(), Some(42), "{status:?}");
    let status = spawn("foreign", &path).wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGBUS), "{status:?}");
}
