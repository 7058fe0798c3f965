//! `metricore inspect`: a registry file's capacity and use, families and processes, and
//! a check of every series (exit status 1 when it finds a problem).

use std::fmt::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use metricore::Options;

use crate::{open, Failure};

/// Prints the report for the registry file at `path`, opened read-only.
pub fn run(path: &Path, options: &Options) -> Result<(), Failure> {
    let registry = open(path, options)?;
    let s = registry.stats();
    let mut out = String::new();
    let row = |out: &mut String, name: &str, value: String| {
        let _ = writeln!(out, "{name:<12} {value}");
    };
    row(&mut out, "registry", path.display().to_string());
    row(&mut out, "created", created(s.created_unix_ns));
    row(
        &mut out,
        "lanes",
        format!("{} in use of {}", s.lanes_in_use, s.shards),
    );
    row(
        &mut out,
        "series",
        of(s.series, s.series_capacity as u64, |n| n.to_string()),
    );
    row(
        &mut out,
        "directory",
        format!(
            "{} slots of removed series, free for new ones; lookups probe at most {} slots",
            s.tombstones, s.probes
        ),
    );
    row(
        &mut out,
        "cells",
        format!(
            "{} per shard; of them {} free for reuse, and the cells of {} removed series \
             not yet reclaimed",
            of(s.cells.0, s.cells.1, |n| n.to_string()),
            s.cells_free,
            s.reclaimable
        ),
    );
    row(
        &mut out,
        "arena",
        format!(
            "{} handed out; {} records of removed series reused",
            of(s.arena_bytes.0, s.arena_bytes.1, bytes),
            s.records_reused
        ),
    );
    let on_disk = std::fs::metadata(path).map_or(String::new(), |m| {
        format!("; {} of the file on disk", bytes(m.blocks() * 512))
    });
    row(
        &mut out,
        "region",
        format!(
            "{} in use{on_disk}",
            of(s.region_bytes.0, s.region_bytes.1, bytes)
        ),
    );
    row(
        &mut out,
        "overflows",
        format!("{} lookups sent to an overflow series", s.overflows),
    );
    if s.no_space > 0 {
        row(
            &mut out,
            "full",
            format!(
                "the filesystem refused {} reservations: new series went to overflow series",
                s.no_space
            ),
        );
    }
    if s.process_table_full > 0 {
        row(
            &mut out,
            "processes",
            format!(
                "{} found the process table full: their per-process gauges share one series",
                s.process_table_full
            ),
        );
    }
    row(
        &mut out,
        "errors",
        format!("{} recordings refused as invalid", s.errors),
    );
    if s.stale_recordings > 0 {
        row(
            &mut out,
            "stale",
            format!(
                "{} recordings dropped: their handles' series had been removed",
                s.stale_recordings
            ),
        );
    }
    if s.expired > 0 {
        row(
            &mut out,
            "expired",
            format!(
                "{} series removed after their family's idle time unwritten",
                s.expired
            ),
        );
    }

    let width = s
        .families
        .iter()
        .map(|f| f.name.len())
        .max()
        .unwrap_or(0)
        .max("FAMILY".len());
    let _ = writeln!(
        out,
        "\n{:<width$}  {:<9}  {:>8}  {:>10}",
        "FAMILY", "TYPE", "SERIES", "OVERFLOWED"
    );
    for f in &s.families {
        let _ = writeln!(
            out,
            "{:<width$}  {:<9}  {:>8}  {:>10}",
            f.name, f.kind, f.series, f.overflowed
        );
    }
    if s.families.is_empty() {
        out.push_str("(no families)\n");
    }

    let _ = writeln!(out, "\n{:>8}  STATE", "PID");
    for (pid, alive) in &s.processes {
        let state = if *alive {
            "running"
        } else {
            "exited without detaching"
        };
        let _ = writeln!(out, "{pid:>8}  {state}");
    }
    let (checked, problems) = registry.check();
    if problems.is_empty() {
        let _ = writeln!(out, "\ncheck: healthy, {checked} series records verified");
    } else {
        let _ = writeln!(
            out,
            "\ncheck: {} problems in {checked} series records",
            problems.len()
        );
        for p in &problems {
            let _ = writeln!(out, "  {p}");
        }
    }
    print!("{out}");
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Failure::other(format!(
            "{}: {} problems found",
            path.display(),
            problems.len()
        )))
    }
}

/// `used of all (p%)`, with `show` formatting the numbers.
fn of(used: u64, all: u64, show: impl Fn(u64) -> String) -> String {
    let pct = if all == 0 {
        0.0
    } else {
        used as f64 * 100.0 / all as f64
    };
    format!("{} of {} ({pct:.1}%)", show(used), show(all))
}

fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// A creation time as a UTC date and time, with its age.
fn created(unix_ns: u64) -> String {
    let secs = unix_ns / 1_000_000_000;
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_date(days as i64);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(secs, |d| d.as_secs());
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC ({} ago)",
        rest / 3600,
        rest / 60 % 60,
        rest % 60,
        age(now.saturating_sub(secs))
    )
}

fn age(s: u64) -> String {
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {}s", s / 60, s % 60),
        3600..86_400 => format!("{}h {}m", s / 3600, s / 60 % 60),
        _ => format!("{}d {}h", s / 86_400, s / 3600 % 24),
    }
}

/// Year, month and day of a day count since 1970-01-01 (proleptic Gregorian).
fn civil_date(days: i64) -> (i64, u32, u32) {
    // Count from 0000-03-01, so that leap days end each 4-, 100- and 400-year cycle.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_sizes() {
        assert_eq!(civil_date(0), (1970, 1, 1));
        assert_eq!(civil_date(11_016), (2000, 2, 29));
        assert_eq!(civil_date(20_423), (2025, 12, 1));
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(3 << 20), "3.0 MiB");
        assert_eq!(age(3725), "1h 2m");
    }
}
