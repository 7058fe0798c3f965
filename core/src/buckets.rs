//! Histogram bucket bounds: validation and the usual constructors; the exponential
//! buckets of native histograms ([`Native`]).

use std::sync::OnceLock;

use crate::error::{Error, Result};

/// Most bucket bounds a histogram can have (`+Inf` not counted).
pub const MAX_BUCKETS: usize = 128;

/// The Prometheus client libraries' default bounds, in seconds.
pub const DEFAULT_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// Checks that bounds are finite, strictly increasing, at least one and at most
/// [`MAX_BUCKETS`].
pub fn check(bounds: &[f64]) -> Result<()> {
    if bounds.is_empty() {
        return Err(Error::InvalidBuckets(
            "no finite bound given: a histogram needs a bucket besides +Inf".to_owned(),
        ));
    }
    if bounds.len() > MAX_BUCKETS {
        return Err(Error::InvalidBuckets(format!(
            "{} bounds given, at most {MAX_BUCKETS} allowed",
            bounds.len()
        )));
    }
    if let Some(b) = bounds.iter().find(|b| !b.is_finite()) {
        return Err(Error::InvalidBuckets(format!(
            "bound {b} is not finite (+Inf is implied)"
        )));
    }
    if let Some(w) = bounds.windows(2).find(|w| w[0] >= w[1]) {
        return Err(Error::InvalidBuckets(format!(
            "bounds must increase strictly, but {} is followed by {}",
            w[0], w[1]
        )));
    }
    Ok(())
}

/// `count` bounds `start, start + width, ...`.
pub fn linear(start: f64, width: f64, count: usize) -> Result<Vec<f64>> {
    if count == 0 || width.is_nan() || width <= 0.0 {
        return Err(Error::InvalidBuckets(format!(
            "linear buckets need count >= 1 and width > 0, got count {count}, width {width}"
        )));
    }
    let b: Vec<f64> = (0..count).map(|i| start + width * i as f64).collect();
    check(&b)?;
    Ok(b)
}

/// `count` bounds `start, start * factor, ...`.
pub fn exponential(start: f64, factor: f64, count: usize) -> Result<Vec<f64>> {
    if count == 0 || start.is_nan() || start <= 0.0 || factor.is_nan() || factor <= 1.0 {
        return Err(Error::InvalidBuckets(format!(
            "exponential buckets need count >= 1, start > 0 and factor > 1, \
             got count {count}, start {start}, factor {factor}"
        )));
    }
    let b: Vec<f64> = (0..count).map(|i| start * factor.powi(i as i32)).collect();
    check(&b)?;
    Ok(b)
}

/// The index of the bucket `v` falls in: the first bound `>= v`, or `bounds.len()` for
/// `+Inf`. Linear below 32 bounds, binary above.
#[inline]
pub(crate) fn index(bounds: &[f64], v: f64) -> usize {
    if bounds.len() < 32 {
        let mut i = 0;
        while i < bounds.len() && v > bounds[i] {
            i += 1;
        }
        i
    } else {
        bounds.partition_point(|&b| b < v)
    }
}

/// Most cells a series of any kind takes: the size of the sink, which records for a
/// series that could get no cells of its own.
pub(crate) const MAX_SERIES_CELLS: usize = 256;

/// Most buckets of each sign a native histogram series can hold (fewer with classic
/// buckets alongside: a series takes at most 256 cells, see [`Native`]).
pub const MAX_NATIVE_BUCKETS: u16 = 127;

/// A native histogram: exponential buckets by `schema`, a zero bucket, and optionally
/// classic buckets alongside, chosen when the family is made.
///
/// Bucket `i` holds the magnitudes in `(2^((i-1) * 2^-schema), 2^(i * 2^-schema)]`
/// (schema 3: 8 buckets per doubling, about 4.4 % relative error). Observations of at
/// most `zero_threshold` in magnitude count into the zero bucket. A series holds
/// `max_buckets` cells per sign, from the bucket that holds the zero threshold
/// upward, so it resolves magnitudes up to about `zero_threshold *
/// 2^(max_buckets * 2^-schema)` ([`upper_limit`](Native::upper_limit)); a larger
/// magnitude (infinity too) counts into the outermost bucket of its sign. Nothing is
/// lost: count and sum stay exact, only the outermost bucket's bounds understate those
/// observations. A series takes `2 * max_buckets + 2` cells (zero bucket and sum),
/// plus its classic buckets and `+Inf`, at most 256 in all.
///
/// Only the protobuf format carries the native buckets. The text formats show the
/// classic buckets when there are some, else only the `+Inf` bucket, with `_count`
/// and `_sum`.
///
/// ```
/// use metricore::buckets::Native;
///
/// // Seconds from 1 ms to about 30 s at 4.4 % error, the defaults.
/// let n = Native::with_schema(3);
/// assert_eq!((n.zero_threshold, n.max_buckets), (0.001, 120));
/// assert!(n.upper_limit() > 30.0);
/// // To about 17 minutes at 9 %.
/// assert!(Native::with_schema(2).upper_limit() > 1000.0);
/// let tokens = Native::with_schema(2).zero_threshold(0.5).max_buckets(88);
/// assert!(tokens.upper_limit() >= 1e6);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Native {
    /// Resolution, -4 (a factor of 65,536 per bucket) to 8 (256 buckets per doubling).
    pub schema: i8,
    /// Largest magnitude of the zero bucket, finite and at least `f64::MIN_POSITIVE`.
    pub zero_threshold: f64,
    /// Buckets each sign holds per series, 1 to [`MAX_NATIVE_BUCKETS`].
    pub max_buckets: u16,
    /// Classic bucket bounds rendered alongside (as [`check`] requires); empty for none.
    pub classic: Vec<f64>,
}

impl Native {
    /// Buckets by `schema`, with a zero threshold of 0.001 and 120 buckets per sign.
    pub fn with_schema(schema: i8) -> Native {
        Native {
            schema,
            zero_threshold: 0.001,
            max_buckets: 120,
            classic: Vec::new(),
        }
    }

    /// Sets the zero threshold.
    pub fn zero_threshold(mut self, t: f64) -> Native {
        self.zero_threshold = t;
        self
    }

    /// Sets the buckets per sign.
    pub fn max_buckets(mut self, n: u16) -> Native {
        self.max_buckets = n;
        self
    }

    /// Sets classic bucket bounds to render alongside.
    pub fn classic(mut self, bounds: &[f64]) -> Native {
        self.classic = bounds.to_vec();
        self
    }

    /// Checks the schema, zero threshold, bucket count and classic bounds (none is
    /// allowed).
    pub fn check(&self) -> Result<()> {
        let bad = |what: String| Err(Error::InvalidBuckets(what));
        if !(-4..=8).contains(&self.schema) {
            return bad(format!("schema {} is not in -4..=8", self.schema));
        }
        if !(self.zero_threshold.is_finite() && self.zero_threshold >= f64::MIN_POSITIVE) {
            return bad(format!(
                "zero threshold {} is not a finite number of at least {:e}",
                self.zero_threshold,
                f64::MIN_POSITIVE
            ));
        }
        if !(1..=MAX_NATIVE_BUCKETS).contains(&self.max_buckets) {
            return bad(format!(
                "{} buckets per sign, 1 to {MAX_NATIVE_BUCKETS} allowed",
                self.max_buckets
            ));
        }
        if !self.classic.is_empty() {
            check(&self.classic)?;
        }
        if self.cells() > MAX_SERIES_CELLS {
            return bad(format!(
                "{} buckets per sign and {} classic bounds take {} cells, at most \
                 {MAX_SERIES_CELLS} allowed",
                self.max_buckets,
                self.classic.len(),
                self.cells()
            ));
        }
        Ok(())
    }

    /// The upper bound of the outermost bucket: larger magnitudes count into it.
    pub fn upper_limit(&self) -> f64 {
        let top = self.first() + i32::from(self.max_buckets) - 1;
        bucket_bound(self.schema, top)
    }

    /// The index of the bucket that holds the zero threshold: cell 0 of each sign.
    pub(crate) fn first(&self) -> i32 {
        native_index(self.zero_threshold, self.schema, table(self.schema))
    }

    /// Cells of the classic buckets (`+Inf` included; none without bounds).
    pub(crate) fn classic_cells(&self) -> usize {
        if self.classic.is_empty() {
            0
        } else {
            self.classic.len() + 1
        }
    }

    /// Cells a series takes: classic buckets, zero bucket, positive then negative
    /// buckets (all counts), then the sum.
    pub(crate) fn cells(&self) -> usize {
        self.classic_cells() + 2 + 2 * usize::from(self.max_buckets)
    }
}

/// The upper bound of bucket `i` at `schema`: `2^(i * 2^-schema)`.
pub(crate) fn bucket_bound(schema: i8, i: i32) -> f64 {
    if schema <= 0 {
        2f64.powi(i << -schema)
    } else {
        let per = 1i32 << schema;
        let (octave, step) = (i.div_euclid(per), i.rem_euclid(per));
        2f64.powi(octave) * 2f64.powf(f64::from(step) / f64::from(per))
    }
}

/// What finding a bucket at a schema of 1 to 8 reads (empty for the others): the
/// bounds of the fractions in `[0.5, 1]` of a doubling, `2^(j * 2^-schema - 1)` for
/// j = 0 ..= 2^schema, and for each of the 2^(schema + 1) equal slices of `[0.5, 1)`
/// that a fraction's top schema + 1 bits name, the first bound at or above the slice's
/// start. A bucket is wider than a slice (by at least ln 2 / 2), so a fraction's bound
/// is that one or the next.
pub(crate) struct Table {
    bounds: Vec<f64>,
    starts: Vec<u16>,
}

/// The [`Table`] of `schema`, made once per process.
pub(crate) fn table(schema: i8) -> &'static Table {
    static TABLES: [OnceLock<Table>; 9] = [const { OnceLock::new() }; 9];
    static EMPTY: Table = Table {
        bounds: Vec::new(),
        starts: Vec::new(),
    };
    match schema {
        1..=8 => TABLES[schema as usize].get_or_init(|| {
            let per = 1u32 << schema;
            let bounds: Vec<f64> = (0..=per)
                .map(|j| 2f64.powf(f64::from(j) / f64::from(per) - 1.0))
                .collect();
            let starts = (0..2 * per)
                .map(|k| {
                    let from = 0.5 + f64::from(k) / f64::from(4 * per);
                    bounds.partition_point(|&b| b < from) as u16
                })
                .collect();
            Table { bounds, starts }
        }),
        _ => &EMPTY,
    }
}

/// The index of the bucket of the magnitude `a` (a normal, finite number) at `schema`,
/// `table` being [`table`]`(schema)`: exact at the bounds, from the exponent and the
/// fraction of `a` (`a = frac * 2^exp`, `frac` in `[0.5, 1)`).
#[inline]
pub(crate) fn native_index(a: f64, schema: i8, table: &Table) -> i32 {
    let bits = a.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32 - 1022;
    let mantissa = bits & ((1u64 << 52) - 1);
    let frac = f64::from_bits(mantissa | (1022u64 << 52));
    if schema > 0 {
        let slice = (mantissa >> (51 - schema as u32)) as usize;
        let j = table.starts.get(slice).copied().unwrap_or(0) as usize;
        let j = j + table.bounds.get(j).is_some_and(|&b| b < frac) as usize;
        j as i32 + (exp - 1) * (1i32 << schema)
    } else {
        let key = exp - i32::from(frac == 0.5);
        let shift = -i32::from(schema);
        (key + (1 << shift) - 1) >> shift
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_indices_put_each_bound_in_the_bucket_it_ends() {
        for schema in -4..=8i8 {
            let t = table(schema);
            for i in -40..40 {
                let b = bucket_bound(schema, i);
                assert_eq!(native_index(b, schema, t), i, "schema {schema} bound {i}");
                let above = b * (1.0 + 1e-9);
                assert_eq!(
                    native_index(above, schema, t),
                    i + 1,
                    "schema {schema} above {i}"
                );
            }
        }
        assert_eq!(native_index(1.0, 0, table(0)), 0);
        assert_eq!(native_index(1.5, 0, table(0)), 1);
        assert_eq!(native_index(3.0, 1, table(1)), 4, "(2^1.5, 2^2]");
        assert_eq!(native_index(5.0, -1, table(-1)), 2, "(4, 16]");
        // Between the bounds, against the bucket `log2` gives (away from the bounds,
        // where rounding could tip it).
        for schema in 1..=8i8 {
            let t = table(schema);
            let per = f64::from(1u32 << schema);
            let mut x = 1e-6f64;
            while x < 1e6 {
                let exact = x.log2() * per;
                if (exact - exact.round()).abs() > 1e-6 {
                    assert_eq!(
                        native_index(x, schema, t),
                        exact.ceil() as i32,
                        "{x} at {schema}"
                    );
                }
                x *= 1.0137;
            }
        }
    }

    #[test]
    fn native_settings_are_checked() {
        Native::with_schema(3).check().unwrap();
        assert!(Native::with_schema(9).check().is_err());
        assert!(Native::with_schema(-5).check().is_err());
        assert!(Native::with_schema(0).zero_threshold(0.0).check().is_err());
        assert!(Native::with_schema(0)
            .zero_threshold(f64::NAN)
            .check()
            .is_err());
        assert!(Native::with_schema(0).max_buckets(0).check().is_err());
        assert!(Native::with_schema(0).classic(&[2.0, 1.0]).check().is_err());
        Native::with_schema(0).max_buckets(127).check().unwrap();
        let e = Native::with_schema(0)
            .max_buckets(127)
            .classic(&DEFAULT_BUCKETS)
            .check()
            .unwrap_err();
        assert!(e.to_string().contains("271 cells"), "{e}");
        let n = Native::with_schema(3);
        assert_eq!(n.cells(), 242);
        // The zero threshold 0.001 lies in bucket -79, (2^(-80/8), 2^(-79/8)].
        assert_eq!(n.first(), -79);
        assert!((n.upper_limit() - 2f64.powf(40.0 / 8.0)).abs() < 1e-9);
    }

    #[test]
    fn constructors_and_checks() {
        assert_eq!(linear(1.0, 2.0, 3).unwrap(), [1.0, 3.0, 5.0]);
        assert_eq!(exponential(1.0, 10.0, 3).unwrap(), [1.0, 10.0, 100.0]);
        assert!(linear(0.0, 0.0, 3).is_err());
        assert!(exponential(0.0, 2.0, 3).is_err());
        check(&DEFAULT_BUCKETS).unwrap();
        assert!(check(&[1.0, 1.0])
            .unwrap_err()
            .to_string()
            .contains("followed by"));
        assert!(check(&[f64::NAN]).is_err());
        assert!(check(&[f64::INFINITY]).is_err());
        assert!(check(&[]).is_err());
        assert!(check(&vec![0.0; 200]).is_err());
    }

    #[test]
    fn index_agrees_between_linear_and_binary_search() {
        let small = [1.0, 2.0, 5.0];
        assert_eq!(index(&small, 0.5), 0);
        assert_eq!(index(&small, 1.0), 0, "bounds are inclusive upper bounds");
        assert_eq!(index(&small, 1.5), 1);
        assert_eq!(index(&small, 9.0), 3);
        let big = linear(0.0, 1.0, 64).unwrap();
        for v in [-1.0, 0.0, 0.5, 1.0, 31.5, 63.0, 64.0, 1e9] {
            let expect = big.iter().position(|&b| v <= b).unwrap_or(big.len());
            assert_eq!(index(&big, v), expect, "{v}");
        }
    }
}
