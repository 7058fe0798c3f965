//! Histogram bucket bounds: validation and the usual constructors.

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

#[cfg(test)]
mod tests {
    use super::*;

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
