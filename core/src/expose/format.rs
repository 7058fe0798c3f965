//! The exposition formats, and which one a scraper's `Accept` header asks for.

/// An exposition format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4.
    Prometheus,
    /// OpenMetrics text format 1.0.0.
    OpenMetrics,
}

/// How sample values (and `le` bounds) are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Numbers {
    /// Integers as integers (`2`), floats in the shortest form that reads back (`2.5`,
    /// `1000000.0`, `1e16`).
    #[default]
    Shortest,
    /// As `prometheus_client` writes them: every value as a float in Python's
    /// shortest form (`2.0`, `1e-05`), and a positive one of 10^6 or more in Go's
    /// exponent form (`1e+06`, `1.234567e+06`).
    Python,
}

impl Format {
    /// The format a scraper asks for in its `Accept` header: OpenMetrics when it lists
    /// `application/openmetrics-text` (version 1.0.0 or unversioned) with a non-zero
    /// quality, Prometheus text otherwise.
    pub fn from_accept(accept: &str) -> Format {
        let wants_om = accept.split(',').any(|range| {
            let mut parts = range.split(';').map(str::trim);
            if !parts
                .next()
                .is_some_and(|t| t.eq_ignore_ascii_case("application/openmetrics-text"))
            {
                return false;
            }
            parts.all(|p| match p.split_once('=') {
                Some((k, v)) if k.trim().eq_ignore_ascii_case("q") => {
                    v.trim().parse::<f64>().is_ok_and(|q| q > 0.0)
                }
                Some((k, v)) if k.trim().eq_ignore_ascii_case("version") => {
                    matches!(v.trim(), "1.0.0" | "0.0.1")
                }
                _ => true,
            })
        });
        if wants_om {
            Format::OpenMetrics
        } else {
            Format::Prometheus
        }
    }

    /// The `Content-Type` of this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}
