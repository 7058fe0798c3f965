//! The exposition formats, and which one a scraper's `Accept` header asks for.

use crate::names::Escaping;

/// An exposition format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4.
    Prometheus,
    /// OpenMetrics text format 1.0.0.
    OpenMetrics,
    /// Length-delimited `io.prometheus.client.MetricFamily` protobuf messages, the
    /// only format that carries native histograms. It is binary: render it with
    /// `registry::render_bytes`; the functions that render
    /// into a `String` write the Prometheus text format for it.
    Protobuf,
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
    /// The format a scraper asks for in its `Accept` header: protobuf when it lists
    /// `application/vnd.google.protobuf` with `proto=io.prometheus.client.MetricFamily`
    /// and `encoding=delimited` at a quality no lower than OpenMetrics' and
    /// `text/plain`'s (Prometheus lists it first when native histograms are on); else
    /// OpenMetrics when it lists
    /// `application/openmetrics-text` (version 1.0.0 or unversioned) with a non-zero
    /// quality; Prometheus text otherwise.
    ///
    /// ```
    /// use metricore::Format;
    ///
    /// let prometheus = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;\
    ///                   encoding=delimited;q=0.8,application/openmetrics-text;version=1.0.0;q=0.5,\
    ///                   text/plain;version=0.0.4;q=0.2,*/*;q=0.1";
    /// assert_eq!(Format::from_accept(prometheus), Format::Protobuf);
    /// assert_eq!(Format::from_accept("application/openmetrics-text"), Format::OpenMetrics);
    /// assert_eq!(Format::from_accept("*/*"), Format::Prometheus);
    /// let later = "text/plain, application/vnd.google.protobuf;\
    ///              proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.5";
    /// assert_eq!(Format::from_accept(later), Format::Prometheus);
    /// ```
    pub fn from_accept(accept: &str) -> Format {
        let (mut om, mut pb, mut plain) = (0.0f64, 0.0f64, 0.0f64);
        for range in accept.split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default();
            let is_om = media.eq_ignore_ascii_case("application/openmetrics-text");
            let is_pb = media.eq_ignore_ascii_case("application/vnd.google.protobuf");
            let is_plain = media.eq_ignore_ascii_case("text/plain");
            if !is_om && !is_pb && !is_plain {
                continue;
            }
            let (mut q, mut fits, mut proto, mut delimited) = (1.0, true, false, false);
            for p in parts {
                let Some((k, v)) = p.split_once('=') else {
                    continue;
                };
                let (k, v) = (k.trim(), v.trim());
                if k.eq_ignore_ascii_case("q") {
                    q = v.parse::<f64>().unwrap_or(0.0);
                } else if is_om && k.eq_ignore_ascii_case("version") {
                    fits &= matches!(v, "1.0.0" | "0.0.1");
                } else if k.eq_ignore_ascii_case("proto") {
                    proto = v == "io.prometheus.client.MetricFamily";
                } else if k.eq_ignore_ascii_case("encoding") {
                    delimited = v == "delimited";
                }
            }
            if is_om && fits {
                om = om.max(q);
            } else if is_pb && proto && delimited {
                pb = pb.max(q);
            } else if is_plain {
                plain = plain.max(q);
            }
        }
        if pb > 0.0 && pb >= om && pb >= plain {
            Format::Protobuf
        } else if om > 0.0 {
            Format::OpenMetrics
        } else {
            Format::Prometheus
        }
    }

    /// The text format the text encoder writes for this format: Prometheus text for
    /// protobuf.
    pub(crate) fn text(self) -> Format {
        match self {
            Format::Protobuf => Format::Prometheus,
            f => f,
        }
    }

    /// The `Content-Type` of this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Protobuf => {
                "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; \
                 encoding=delimited"
            }
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
    /// has version 1.0.0, or is protobuf's (an unknown scheme or none is
    /// [`Escaping::Underscores`]); else [`Escaping::Underscores`], so a scraper that does
    /// not ask for UTF-8 names gets legacy ones.
    pub escaping: Escaping,
    /// The content type: the format's, with `version=1.0.0` and the escaping scheme
    /// when the chosen range had version 1.0.0 (protobuf: with the scheme when the
    /// range named one).
    pub content_type: &'static str,
}

/// Negotiates a scrape by its `Accept` header as `prometheus_client` does: the format
/// of [`Format::from_accept`]; its first range with a non-zero quality and version
/// 1.0.0 (`text/plain; version=1.0.0` for the Prometheus text format) gives the
/// escaping scheme of its `escaping` parameter. For protobuf, its first range that
/// [`Format::from_accept`] takes as protobuf gives the scheme of its `escaping`
/// parameter if it has one; protobuf then carries names as they are
/// ([`Escaping::AllowUtf8`], unquoted) or escaped as the text formats escape them.
///
/// ```
/// use metricore::expose::{negotiate, Format};
/// use metricore::names::Escaping;
///
/// let n = negotiate("text/plain; version=1.0.0; escaping=allow-utf-8");
/// assert_eq!((n.format, n.escaping), (Format::Prometheus, Escaping::AllowUtf8));
/// assert_eq!(n.content_type, "text/plain; version=1.0.0; charset=utf-8; escaping=allow-utf-8");
/// assert_eq!(negotiate("").escaping, Escaping::Underscores);
/// let pb = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;\
///           encoding=delimited;escaping=allow-utf-8";
/// assert_eq!((negotiate(pb).format, negotiate(pb).escaping), (Format::Protobuf, Escaping::AllowUtf8));
/// ```
pub fn negotiate(accept: &str) -> Negotiated {
    let format = Format::from_accept(accept);
    let media = match format {
        Format::Prometheus => "text/plain",
        Format::OpenMetrics => "application/openmetrics-text",
        Format::Protobuf => "application/vnd.google.protobuf",
    };
    let versioned = accept.split(',').find_map(|range| {
        let mut parts = range.split(';').map(str::trim);
        if !parts.next().is_some_and(|t| t.eq_ignore_ascii_case(media)) {
            return None;
        }
        let (mut version, mut escaping, mut q) = ("", "", 1.0);
        let (mut proto, mut delimited) = (false, false);
        for (k, v) in parts.filter_map(|p| p.split_once('=')) {
            let v = v.trim();
            match k.trim().to_ascii_lowercase().as_str() {
                "version" => version = v,
                "escaping" => escaping = v,
                "q" => q = v.parse::<f64>().unwrap_or(0.0),
                "proto" => proto = v == "io.prometheus.client.MetricFamily",
                "encoding" => delimited = v == "delimited",
                _ => {}
            }
        }
        let asked = match format {
            Format::Protobuf => proto && delimited && !escaping.is_empty(),
            _ => version == "1.0.0",
        };
        (asked && q > 0.0).then(|| Escaping::from_name(escaping).unwrap_or(Escaping::Underscores))
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
        (Format::Protobuf, Some(e)) => match e {
            Escaping::AllowUtf8 => {
                "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; \
                 encoding=delimited; escaping=allow-utf-8"
            }
            Escaping::Underscores => {
                "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; \
                 encoding=delimited; escaping=underscores"
            }
            Escaping::Dots => {
                "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; \
                 encoding=delimited; escaping=dots"
            }
            Escaping::Values => {
                "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; \
                 encoding=delimited; escaping=values"
            }
        },
    };
    Negotiated {
        format,
        escaping: versioned.unwrap_or(Escaping::Underscores),
        content_type,
    }
}
