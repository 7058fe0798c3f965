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

use crate::expose::{render_external, ExternalFamily, ExternalSample, Format, Numbers};
use crate::procstat::Stat;
use crate::registry::Registry;

/// Has every collection of `registry` (in this process) include this process's metrics.
/// Register once per registry: each registration adds the families again.
pub fn register(registry: &Registry) {
    registry.on_render(|format, out| render(format, Numbers::Shortest, out));
}

/// Renders this process's metrics into `out`, values written as `numbers` says (for a
/// binding's own render callback); a value that cannot be read is left out.
pub fn render(format: Format, numbers: Numbers, out: &mut String) {
    let stat = Stat::of_self().and_then(|s| {
        Some(Times {
            utime: s.utime()?,
            stime: s.stime()?,
            starttime: s.start_time()?,
            vsize: s.vsize()?,
        })
    });
    let ticks = clock_ticks();
    let families: [(&str, &str, &str, &str, Option<f64>); 6] = [
        (
            "process_cpu_seconds",
            "Total user and system CPU time spent in seconds.",
            "seconds",
            "counter",
            stat.as_ref()
                .zip(ticks)
                .map(|(s, t)| (s.utime + s.stime) as f64 / t),
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
            resident_bytes(),
        ),
        (
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            "seconds",
            "gauge",
            stat.as_ref()
                .zip(ticks)
                .zip(boot_time())
                .map(|((s, t), boot)| boot + s.starttime as f64 / t),
        ),
        (
            "process_open_fds",
            "Number of open file descriptors.",
            "",
            "gauge",
            std::fs::read_dir("/proc/self/fd")
                .ok()
                .map(|d| d.count() as f64),
        ),
        (
            "process_max_fds",
            "Maximum number of open file descriptors.",
            "",
            "gauge",
            max_fds(),
        ),
    ];
    for (name, help, unit, kind, value) in families {
        let Some(value) = value else { continue };
        let sample_name = if kind == "counter" {
            format!("{name}_total")
        } else {
            name.to_owned()
        };
        let samples = [ExternalSample {
            name: &sample_name,
            labels: &[],
            value,
            timestamp: None,
        }];
        let family = ExternalFamily {
            name,
            help,
            unit,
            kind,
            samples: &samples,
        };
        // The names and kinds above are valid, so rendering cannot be refused.
        let _ = render_external(format, numbers, &family, out);
    }
}

/// The fields of `/proc/self/stat` used here.
struct Times {
    utime: u64,
    stime: u64,
    starttime: u64,
    vsize: u64,
}

/// Clock ticks per second, the unit of the times in `/proc/self/stat`.
fn clock_ticks() -> Option<f64> {
    // SAFETY: sysconf only reads a system constant; it takes no pointers.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (ticks > 0).then_some(ticks as f64)
}

/// `VmRSS` of `/proc/self/status`, in bytes.
fn resident_bytes() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024.0)
}

/// The boot time from `/proc/stat`, in seconds since the epoch.
fn boot_time() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("btime "))?;
    line[6..].trim().parse().ok()
}

/// The soft limit on open files from `/proc/self/limits`.
fn max_fds() -> Option<f64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
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
}
