//! The region is finite: counters at the edge of `u64` never go back, long label
//! values and flooding families are bounded, and a full filesystem (a real 2 MiB
//! tmpfs, filled by a recording child process) gives errors and overflow series,
//! never a signal.

use std::path::{Path, PathBuf};
use std::process::Command;

use metricore::registry::render_many;
use metricore::{Error, Format, Options, Registry};

fn small() -> Options {
    Options {
        shards: Some(2),
        cells_per_shard: 1 << 14,
        series_capacity: 1 << 12,
        family_capacity: 64,
        process_capacity: 8,
        arena_bytes: 1 << 20,
        ..Options::default()
    }
}

/// The value of the sample line that starts with `prefix` and a space.
fn sample(text: &str, prefix: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(prefix)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {prefix} in {text}"))
        .parse()
        .unwrap()
}

#[test]
fn integer_counters_carry_past_u64_max() {
    let r = Registry::with_options(&small()).unwrap();
    let c = r.counter("big", "Big.").unwrap();
    c.inc_by(u64::MAX);
    let at_max = sample(&r.render(Format::Prometheus), "big_total");
    c.inc_by(2);
    let past = sample(&r.render(Format::Prometheus), "big_total");
    assert!(past >= at_max, "{past} < {at_max}");
    assert_eq!(past, 18_446_744_073_709_551_617.0); // 2^64 + 1, as f64
    assert_eq!(c.get(), past);
    // inc() wraps the same way.
    let d = r.counter("edge", "Edge.").unwrap();
    d.inc_by(u64::MAX);
    d.inc();
    assert_eq!(d.get(), 18_446_744_073_709_551_616.0);
    let mut last = 0.0;
    for _ in 0..100 {
        d.inc_by(u64::MAX / 3);
        let now = sample(&r.render(Format::Prometheus), "edge_total");
        assert!(now >= last, "{now} < {last}");
        last = now;
    }
    let want = 2f64.powi(64) + 100.0 * (u64::MAX / 3) as f64;
    assert!((last - want).abs() / want < 1e-12, "{last} vs {want}");
}

#[test]
fn whole_float_increments_never_go_back() {
    let r = Registry::with_options(&small()).unwrap();
    let c = r.counter("tokens", "Tokens.").unwrap();
    let step = (2f64).powi(53) - 1.0;
    let mut last = 0.0;
    for i in 1..=2049u32 {
        c.inc_by_f64(step).unwrap();
        let now = sample(&r.render(Format::Prometheus), "tokens_total");
        assert!(now >= last, "step {i}: {now} < {last}");
        last = now;
    }
    let exact = 2049.0 * step; // rounded once
    assert!(
        (last - exact).abs() <= exact * f64::EPSILON,
        "{last} vs {exact}"
    );
}

#[test]
fn sums_over_regions_do_not_wrap() {
    let a = Registry::with_options(&small()).unwrap();
    let b = Registry::with_options(&small()).unwrap();
    for r in [&a, &b] {
        r.counter("shared", "Shared.").unwrap().inc_by(u64::MAX - 1);
        r.histogram("lat", "Latency.", &[1.0])
            .unwrap()
            .observe(0.5)
            .unwrap();
    }
    let mut out = String::new();
    render_many(&[a, b], Format::Prometheus, &mut out);
    let want = 2.0 * (u64::MAX - 1) as f64;
    assert_eq!(sample(&out, "shared_total"), want, "{out}");
    assert!(out.contains("lat_count 2\n"), "{out}");
}

#[test]
fn long_label_values_are_refused_and_counted() {
    let o = Options {
        max_label_value_bytes: 100,
        ..small()
    };
    let r = Registry::with_options(&o).unwrap();
    let c = r.counter_vec("req", "Requests.", &["path"]).unwrap();
    let long = "x".repeat(101);
    let e = c.with_labels(&[&long]).err().unwrap();
    assert!(
        matches!(
            e,
            Error::LabelValueTooLong {
                len: 101,
                max: 100,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("101 bytes"), "{e}");
    c.with_labels(&[&"x".repeat(100)]).unwrap().inc();
    let t = r.render(Format::Prometheus);
    assert!(t.contains("metricore_errors_total 1\n"), "{t}");
    // A scope's value is checked too.
    let e = r.scope("tenant", &long).unwrap().counter("hits", "Hits.");
    assert!(
        matches!(e, Err(Error::LabelValueTooLong { .. })),
        "{:?}",
        e.err()
    );
    for bad in [0, (1 << 16) + 1] {
        let o = Options {
            max_label_value_bytes: bad,
            ..small()
        };
        let e = Registry::with_options(&o).err().unwrap();
        assert!(e.to_string().contains("max_label_value_bytes"), "{e}");
    }
    assert_eq!(Options::default().max_label_value_bytes, 4096);
}

#[test]
fn a_flooding_family_leaves_room_for_the_others() {
    let o = Options {
        series_capacity: 1 << 14,
        cells_per_shard: 1 << 16,
        arena_bytes: 1 << 20,
        ..small()
    };
    let r = Registry::with_options(&o).unwrap();
    let flood = r.counter_vec("flood", "Flood.", &["v"]).unwrap();
    let long = "y".repeat(4000);
    for i in 0..1000 {
        flood.with_labels(&[&format!("{i}{long}")]).unwrap().inc();
    }
    let s = r.stats();
    let fam = |n: &str| s.families.iter().find(|f| f.name == n).unwrap().clone();
    let f = fam("flood");
    assert!(f.overflowed > 0, "{f:?}");
    // At most a quarter of the 1 MiB arena: 4 KiB records, so 64 of them or fewer.
    assert!((32..=64).contains(&f.series), "{f:?}");
    assert!(
        s.arena_bytes.0 <= (1 << 20) / 4 + 4096,
        "{:?}",
        s.arena_bytes
    );
    for other in ["a", "b", "c"] {
        let v = r.counter_vec(other, "Other.", &["v"]).unwrap();
        for i in 0..40 {
            v.with_labels(&[&format!("{i}{}", &long[..2000])])
                .unwrap()
                .inc();
        }
    }
    let s = r.stats();
    for other in ["a", "b", "c"] {
        let f = s.families.iter().find(|f| f.name == other).unwrap();
        assert_eq!((f.series, f.overflowed), (40, 0), "{f:?}");
    }
}

/// A tmpfs of `size` mounted on a fresh directory, unmounted when dropped; `None`
/// (with the reason on stderr) where mounting is not permitted.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = std::env::temp_dir().join(format!("metricore-tmpfs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs(dir)),
            Ok(o) => {
                eprintln!(
                    "SKIPPED: cannot mount a tmpfs ({}): {}",
                    o.status,
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                let _ = std::fs::remove_dir(&dir);
                None
            }
            Err(e) => {
                eprintln!("SKIPPED: cannot run mount: {e}");
                let _ = std::fs::remove_dir(&dir);
                None
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

fn tmp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect()
}

/// Options whose file (5 MiB of address space) is larger than the 2 MiB tmpfs.
fn roomy() -> Options {
    Options {
        shards: Some(2),
        cells_per_shard: 1 << 16,
        series_capacity: 1 << 15,
        family_capacity: 64,
        process_capacity: 8,
        arena_bytes: 4 << 20,
        ..Options::default()
    }
}

/// Run as a child by `a_full_tmpfs_gives_errors_not_signals`: records into the
/// registry file named by `METRICORE_FILL` until the filesystem is full.
#[test]
fn fill_child() {
    let Some(path) = std::env::var_os("METRICORE_FILL") else {
        return;
    };
    let r = Registry::open_shared(&path, &roomy()).unwrap();
    let value = "v".repeat(200);
    let mut refused = 0;
    for f in 0..16 {
        let c = r.counter_vec(&format!("family_{f}"), "Flood.", &["v"]);
        let h = r.histogram_vec(&format!("latency_{f}"), "Latency.", &["v"], &[0.1, 1.0]);
        let (Ok(c), Ok(h)) = (c, h) else {
            // No room for the family's descriptor or overflow series.
            refused += 1;
            continue;
        };
        for i in 0..1500 {
            let v = format!("{i}{value}");
            c.with_labels(&[&v]).unwrap().inc();
            h.with_labels(&[&v]).unwrap().observe(0.5).unwrap();
        }
    }
    let s = r.stats();
    let text = r.render(Format::Prometheus);
    println!(
        "series={} overflows={} no_space={} refused={refused} rendered={}",
        s.series,
        s.overflows,
        s.no_space,
        text.len()
    );
}

#[test]
fn a_full_tmpfs_gives_errors_not_signals() {
    use std::os::unix::process::ExitStatusExt;
    let Some(fs) = Tmpfs::mount("2m") else {
        return;
    };
    let path = fs.0.join("metrics.db");
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "fill_child", "--nocapture", "--test-threads=1"])
        .env("METRICORE_FILL", &path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&child.stdout);
    eprintln!("recorder on a 2 MiB tmpfs: {stdout}");
    assert_eq!(
        child.status.signal(),
        None,
        "the recorder died of a signal: {stdout}"
    );
    assert!(
        child.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&child.stderr)
    );
    let field = |name: &str| -> u64 {
        stdout
            .split_whitespace()
            .find_map(|w| w.strip_prefix(name)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("no {name} in {stdout}"))
            .parse()
            .unwrap()
    };
    assert!(field("no_space") > 0, "the tmpfs never filled: {stdout}");
    assert!(field("overflows") > 0, "{stdout}");
    assert!(field("series") > 100, "{stdout}");

    // Another process reads the full file: only cells that were handed out.
    let r = Registry::open_existing(&path).unwrap();
    let text = r.render(Format::Prometheus);
    assert!(text.contains("otel_metric_overflow=\"true\""), "{text}");
    let (errors, problems) = r.check();
    assert!(problems.is_empty(), "{errors} {problems:?}");

    // Fill what is left, then creating a file fails cleanly.
    let filler = fs.0.join("filler");
    let mut f = std::fs::File::create(&filler).unwrap();
    let block = vec![1u8; 1 << 16];
    while std::io::Write::write_all(&mut f, &block).is_ok() {}
    let second = fs.0.join("second.db");
    let e = Registry::open_shared(&second, &Options::default())
        .err()
        .expect("creating a registry on a full tmpfs must fail");
    assert!(matches!(e, Error::NoSpace { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("second.db") && msg.contains("os error 28"),
        "{msg}"
    );
    assert!(!second.exists());
    assert_eq!(tmp_files(&fs.0), Vec::<String>::new());
    drop(r);
}

#[test]
fn series_created_and_removed_many_times_over_reuse_the_directory() {
    let r = Registry::with_options(&Options {
        series_capacity: 256,
        ..small()
    })
    .unwrap();
    let v = r.counter_vec("churn", "Churn.", &["k"]).unwrap();
    let kept = v.with_labels(&["kept"]).unwrap();
    // Eight times the directory's slots, one series at a time.
    for i in 0..2048 {
        let k = i.to_string();
        v.with_labels(&[&k]).unwrap().inc();
        assert!(v.remove(&[&k]).unwrap());
        kept.inc();
    }
    let s = r.stats();
    assert_eq!(s.overflows, 0, "no new series went to the overflow series");
    assert_eq!(s.series, 1);
    assert!(s.tombstones < 256, "{} tombstones", s.tombstones);
    assert!(s.probes <= 8, "lookups probe {} slots", s.probes);
    let t = r.render(Format::Prometheus);
    assert_eq!(sample(&t, "churn_total{k=\"kept\"}"), 2048.0);
    assert_eq!(t.matches("churn_total{").count(), 1, "{t}");
    assert_eq!(
        sample(&t, "metricore_directory_tombstones") as u64,
        s.tombstones,
        "the header's count agrees with the directory"
    );
}
