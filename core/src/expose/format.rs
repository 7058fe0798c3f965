//! The exposition formats, and which one a scraper's `Accept` header asks for.

use crate::names::Escaping;

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

/// What a scraper's `Accept` header asks for: the format, how names outside the legacy
/// set are written, and the `Content-Type` of the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// The format, as [`Format::from_accept`] chooses it.
    pub format: Format,
    /// The escaping scheme of the chosen range's `escaping` parameter when that range
    /// has version 1.0.0 (an unknown scheme or none is [`Escaping::Underscores`]); else
    /// [`Escaping::Underscores`], so a scraper that does not ask for UTF-8 names gets
    /// legacy ones.
    pub escaping: Escaping,
    /// The content type: the format's, with `version=1.0.0` and the escaping scheme
    /// when the chosen range had version 1.0.0.
    pub content_type: &'static str,
}

/// Negotiates a scrape by its `Accept` header as `prometheus_client` does: the format
/// of [`Format::from_accept`]; its first range with a non-zero quality and version
/// 1.0.0 (`text/plain; version=1.0.0` for the Prometheus text format) gives the
/// escaping scheme of its `escaping` parameter.
///
/// ```
/// use metricore::expose::{negotiate, Format};
/// use metricore::names::Escaping;
///
/// let n = negotiate("text/plain; version=1.0.0; escaping=allow-utf-8");
/// assert_eq!((n.format, n.escaping), (Format::Prometheus, Escaping::AllowUtf8));
/// assert_eq!(n.content_type, "text/plain; version=1.0.0; charset=utf-8; escaping=allow-utf-8");
/// assert_eq!(negotiate("").escaping, Escaping::Underscores);
/// ```
pub fn negotiate(accept: &str) -> Negotiated {
    let format = Format::from_accept(accept);
    let media = match format {
        Format::Prometheus => "text/plain",
        Format::OpenMetrics => "application/openmetrics-text",
    };
    let versioned = accept.split(',').find_map(|range| {
        let mut parts = range.split(';').map(str::trim);
        if !parts.next().is_some_and(|t| t.eq_ignore_ascii_case(media)) {
            return None;
        }
        let (mut version, mut escaping, mut q) = ("", "", 1.0);
        for (k, v) in parts.filter_map(|p| p.split_once('=')) {
            match k.trim().to_ascii_lowercase().as_str() {
                "version" => version = v.trim(),
                "escaping" => escaping = v.trim(),
                "q" => q = v.trim().parse::<f64>().unwrap_or(0.0),
                _ => {}
            }
        }
        (version == "1.0.0" && q > 0.0)
            .then(|| Escaping::from_name(escaping).unwrap_or(Escaping::Underscores))
    });
    let content_type = match (format, versioned) {
        (f, None) => f.content_type(),
        (Format::Prometheus, Some(e)) => match e {
            Escaping::AllowUtf8 => "text/plain; version=1.0.0; charset=utf-8; escaping=allow-utf-8",
            Escaping::Underscores => {
                "text/plain; version=1.0.0; charset=utf-8; escaping=underscores"
            }
            Escaping::Dots => "text/plain; version=1.0.0; charset=utf-8; escaping=dots",
            Escaping::Values => "text/plain; version=1.0.0; charset=utf-8; escaping=values",
        },
        (Format::OpenMetrics, Some(e)) => match e {
            Escaping::AllowUtf8 => {
                "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=allow-utf-8"
            }
            Escaping::Underscores => {
                "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=underscores"
            }
            Escaping::Dots => {
                "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=dots"
            }
            Escaping::Values => {
                "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=values"
            }
        },
    };
    Negotiated {
        format,
        escaping: versioned.unwrap_or(Escaping::Underscores),
        content_type,
    }
}
