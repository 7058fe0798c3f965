//! Metrics of the calling process, read from Linux's `/proc` at every collection, under
//! the names `prometheus_client`'s process collector uses:
//! `process_cpu_seconds_total`, `process_virtual_memory_bytes`,
//! `process_resident_memory_bytes`, `process_start_time_seconds`, `process_open_fds`
//! and `process_max_fds`.
//!
//! ```
//! let registry = metricore::Registry::new();
//! metricore::process::register(&registry);
//! let text = registry.render(metricore::Format::Prometheus);
//! assert!(text.contains("# TYPE process_cpu_seconds_total counter\n"));
//! ```
//!
//! The values are rendered as text by the registry's [`on_render`] callback, not stored
//! in the region: a registry file that several processes share still reports, to each
//! process that renders it, that process. The kernel keeps the CPU time, so the counter
//! is exact and never goes back between scrapes.
//!
//! [`on_render`]: crate::Registry::on_render

use std::path::Path;

use crate::expose::{render_external, ExternalFamily, ExternalSample, Format, Numbers};
use crate::names::Escaping;
use crate::procstat::Stat;
use crate::registry::Registry;

/// Has every collection of `registry` (in this process) include this process's metrics.
/// Register once per registry: each registration adds the families again.
pub fn register(registry: &Registry) {
    registry.on_render(|format, out| render(format, Numbers::Shortest, out));
}

/// One metric of a process, as read now.
#[derive(Clone, Debug, PartialEq)]
pub struct Reading {
    /// The family name (a counter's without `_total`), `process_` first.
    pub name: &'static str,
    /// The help text.
    pub help: &'static str,
    /// The unit, or empty.
    pub unit: &'static str,
    /// `counter` or `gauge`.
    pub kind: &'static str,
    /// The value.
    pub value: f64,
}

/// Renders this process's metrics into `out`, values written as `numbers` says (for a
/// binding's own render callback); a value that cannot be read is left out.
pub fn render(format: Format, numbers: Numbers, out: &mut String) {
    let (Some(ticks), Some(page_size)) = (clock_ticks(), page_size()) else {
        return;
    };
    for r in read(Path::new("/proc"), "self", ticks, page_size) {
        let sample_name = if r.kind == "counter" {
            format!("{}_total", r.name)
        } else {
            r.name.to_owned()
        };
        let samples = [ExternalSample {
            name: &sample_name,
            labels: &[],
            value: r.value,
            timestamp: None,
        }];
        let family = ExternalFamily {
            name: r.name,
            help: r.help,
            unit: r.unit,
            kind: r.kind,
            samples: &samples,
        };
        // The names and kinds are valid, so rendering cannot be refused.
        let _ = render_external(format, numbers, Escaping::Underscores, &family, out);
    }
}

/// The metrics of process `pid` (a number, or `self`) as the `/proc` directory `proc`
/// shows them, with `ticks` clock ticks a second and pages of `page_size` bytes; a
/// value that cannot be read is left out (all of them for a process not there).
pub fn read(proc: &Path, pid: &str, ticks: f64, page_size: f64) -> Vec<Reading> {
    let dir = proc.join(pid);
    let stat = Stat::at(&dir.join("stat")).and_then(|s| {
        Some(Times {
            utime: s.utime()?,
            stime: s.stime()?,
            starttime: s.start_time()?,
            vsize: s.vsize()?,
            rss: s.rss()?,
        })
    });
    let families: [(
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        Option<f64>,
    ); 6] = [
        (
            "process_cpu_seconds",
            "Total user and system CPU time spent in seconds.",
            "seconds",
            "counter",
            stat.as_ref().map(|s| (s.utime + s.stime) as f64 / ticks),
        ),
        (
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
            "bytes",
            "gauge",
            stat.as_ref().map(|s| s.vsize as f64),
        ),
        (
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            "bytes",
            "gauge",
            stat.as_ref().map(|s| s.rss as f64 * page_size),
        ),
        (
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            "seconds",
            "gauge",
            stat.as_ref()
                .zip(boot_time(proc))
                .map(|(s, boot)| boot + s.starttime as f64 / ticks),
        ),
        (
            "process_open_fds",
            "Number of open file descriptors.",
            "",
            "gauge",
            stat.as_ref()
                .and_then(|_| std::fs::read_dir(dir.join("fd")).ok())
                .map(|d| d.count() as f64),
        ),
        (
            "process_max_fds",
            "Maximum number of open file descriptors.",
            "",
            "gauge",
            stat.as_ref().and_then(|_| max_fds(&dir)),
        ),
    ];
    families
        .into_iter()
        .filter_map(|(name, help, unit, kind, value)| {
            Some(Reading {
                name,
                help,
                unit,
                kind,
                value: value?,
            })
        })
        .collect()
}

/// The fields of `/proc/PID/stat` used here.
struct Times {
    utime: u64,
    stime: u64,
    starttime: u64,
    vsize: u64,
    rss: u64,
}

/// Clock ticks per second, the unit of the times in `/proc/PID/stat`.
pub fn clock_ticks() -> Option<f64> {
    // SAFETY: sysconf only reads a system constant; it takes no pointers.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (ticks > 0).then_some(ticks as f64)
}

/// The page size in bytes, the unit of the resident size in `/proc/PID/stat`.
pub fn page_size() -> Option<f64> {
    // SAFETY: sysconf only reads a system constant; it takes no pointers.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    (size > 0).then_some(size as f64)
}

/// The boot time from `PROC/stat`, in seconds since the epoch.
fn boot_time(proc: &Path) -> Option<f64> {
    let stat = std::fs::read_to_string(proc.join("stat")).ok()?;
    let line = stat.lines().find(|l| l.starts_with("btime "))?;
    line[6..].trim().parse().ok()
}

/// The soft limit on open files from `limits` in the process directory `dir`.
fn max_fds(dir: &Path) -> Option<f64> {
    let limits = std::fs::read_to_string(dir.join("limits")).ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line["Max open files".len()..].split_whitespace().next()?;
    match soft {
        "unlimited" => Some(f64::INFINITY),
        n => n.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_read_and_the_counter_goes_up() {
        let value = |text: &str, name: &str| -> f64 {
            let line = text
                .lines()
                .find(|l| l.starts_with(&format!("{name} ")))
                .unwrap_or_else(|| panic!("{name} missing from\n{text}"));
            line[name.len() + 1..].parse().unwrap()
        };
        let mut before = String::new();
        render(Format::Prometheus, Numbers::Shortest, &mut before);
        // Burn CPU time until the kernel has counted some (it counts in clock ticks).
        let mut after = String::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let mut x = 0u64;
        loop {
            for _ in 0..1_000_000 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
            after.clear();
            render(Format::OpenMetrics, Numbers::Shortest, &mut after);
            let cpu = |t: &str| value(t, "process_cpu_seconds_total");
            if cpu(&after) > cpu(&before) || std::time::Instant::now() > deadline {
                break;
            }
        }
        assert!(after
            .contains("# TYPE process_cpu_seconds counter\n# UNIT process_cpu_seconds seconds\n"));
        assert!(
            value(&after, "process_cpu_seconds_total")
                > value(&before, "process_cpu_seconds_total")
        );
        assert!(value(&after, "process_resident_memory_bytes") > 1e6);
        assert!(
            value(&after, "process_virtual_memory_bytes")
                >= value(&after, "process_resident_memory_bytes")
        );
        assert!(value(&after, "process_open_fds") >= 3.0);
        assert!(value(&after, "process_max_fds") >= value(&after, "process_open_fds"));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let start = value(&after, "process_start_time_seconds");
        assert!(
            start <= now + 1.0 && start > now - 3600.0,
            "{start} vs {now}"
        );
    }
    #[test]
    fn another_process_is_read_under_a_proc_directory() {
        let proc = std::env::temp_dir().join(format!("metricore-proc-{}", std::process::id()));
        let dir = proc.join("7");
        std::fs::create_dir_all(dir.join("fd")).unwrap();
        std::fs::write(proc.join("stat"), "cpu  1 2 3\nbtime 1000\n").unwrap();
        let mut stat = String::from("7 (a) b) R");
        for n in 4..=52 {
            let v = match n {
                14 => 150, // utime
                15 => 50,  // stime
                22 => 500, // start time
                23 => 4096000,
                24 => 3, // resident pages
                _ => 0,
            };
            stat.push_str(&format!(" {v}"));
        }
        std::fs::write(dir.join("stat"), stat).unwrap();
        std::fs::write(dir.join("fd/0"), "").unwrap();
        std::fs::write(dir.join("fd/1"), "").unwrap();
        std::fs::write(
            dir.join("limits"),
            "Limit Soft Limit Hard Limit Units\nMax open files            1024                 4096                 files\n",
        )
        .unwrap();
        let values: Vec<(&str, f64)> = read(&proc, "7", 100.0, 4096.0)
            .iter()
            .map(|r| (r.name, r.value))
            .collect();
        assert_eq!(
            values,
            [
                ("process_cpu_seconds", 2.0),
                ("process_virtual_memory_bytes", 4096000.0),
                ("process_resident_memory_bytes", 12288.0),
                ("process_start_time_seconds", 1005.0),
                ("process_open_fds", 2.0),
                ("process_max_fds", 1024.0),
            ]
        );
        assert!(read(&proc, "8", 100.0, 4096.0).is_empty());
        std::fs::remove_dir_all(&proc).unwrap();
    }
}
