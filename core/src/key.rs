//! Series keys: how label values are hashed and stored.
//!
//! A stored key is the label values in order, each with its `0x00` bytes escaped as
//! `00 ff` and followed by the terminator `00 01`. Comparing two stored keys byte by
//! byte then orders them as the tuples of their values, which is the exposition order.
//! The hash is over the values themselves, fixed by this module (it is part of the
//! file format), so every process and every language finds the same slot.

use std::borrow::Cow;

const K: u64 = 0x9e37_79b9_7f4a_7c15;

/// Mixes one word into a hash.
#[inline]
pub(crate) fn mix(h: u64, w: u64) -> u64 {
    (h.rotate_left(5) ^ w).wrapping_mul(K)
}

#[inline]
fn finish(h: u64) -> u64 {
    let h = (h ^ (h >> 32)).wrapping_mul(0xd6e8_feb8_6659_fd93);
    h ^ (h >> 29)
}

/// Hashes bytes, eight at a time.
#[inline]
pub(crate) fn hash_bytes(mut h: u64, b: &[u8]) -> u64 {
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        h = mix(h, u64::from_le_bytes(c.try_into().unwrap_or_default()));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = mix(h, u64::from_le_bytes(w));
    }
    mix(h, b.len() as u64)
}

/// The hash of a series: its family and its label values.
#[inline]
pub(crate) fn hash<'a>(family: u32, values: impl Iterator<Item = &'a str>) -> u64 {
    finish(values.fold(mix(0, family as u64 + 1), |h, v| {
        hash_bytes(h, v.as_bytes())
    }))
}

/// The stored length of the key for `values`.
pub(crate) fn encoded_len<'a>(values: impl Iterator<Item = &'a str>) -> usize {
    values
        .map(|v| v.len() + v.bytes().filter(|&b| b == 0).count() + 2)
        .sum()
}

/// Appends the stored key for `values` to `out`.
pub(crate) fn encode<'a>(values: impl Iterator<Item = &'a str>, out: &mut Vec<u8>) {
    for v in values {
        for &b in v.as_bytes() {
            out.push(b);
            if b == 0 {
                out.push(0xff);
            }
        }
        out.extend_from_slice(&[0, 1]);
    }
}

/// Whether `stored` is the key of `values`, without allocating.
#[inline]
pub(crate) fn matches<'a>(stored: &[u8], values: impl Iterator<Item = &'a str>) -> bool {
    let mut rest = stored;
    for v in values {
        let v = v.as_bytes();
        if v.contains(&0) {
            let mut it = rest.iter();
            for &b in v {
                if it.next() != Some(&b) || (b == 0 && it.next() != Some(&0xff)) {
                    return false;
                }
            }
            rest = it.as_slice();
        } else {
            match rest.strip_prefix(v) {
                Some(r) => rest = r,
                None => return false,
            }
        }
        match rest.strip_prefix(&[0u8, 1][..]) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    rest.is_empty()
}

/// The label values of a stored key, unescaped. Invalid UTF-8 (a corrupt file) is
/// replaced, never trusted.
pub(crate) fn values(stored: &[u8]) -> impl Iterator<Item = Cow<'_, str>> {
    let mut rest = stored;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut i = 0;
        let mut escaped = false;
        while i < rest.len() {
            if rest[i] == 0 {
                match rest.get(i + 1) {
                    Some(0xff) => {
                        escaped = true;
                        i += 2;
                        continue;
                    }
                    _ => break,
                }
            }
            i += 1;
        }
        let raw = &rest[..i];
        rest = rest.get(i + 2..).unwrap_or_default();
        Some(if escaped {
            let mut v = Vec::with_capacity(raw.len());
            let mut it = raw.iter();
            while let Some(&b) = it.next() {
                v.push(b);
                if b == 0 {
                    it.next();
                }
            }
            Cow::Owned(String::from_utf8_lossy(&v).into_owned())
        } else {
            String::from_utf8_lossy(raw)
        })
    })
}

/// The first eight bytes of a stored key as a big-endian number: comparing these
/// orders keys as their bytes do, as far as they go.
#[inline]
pub(crate) fn prefix(stored: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    let n = stored.len().min(8);
    w[..n].copy_from_slice(&stored[..n]);
    u64::from_be_bytes(w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn enc(v: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        encode(v.iter().copied(), &mut out);
        assert_eq!(out.len(), encoded_len(v.iter().copied()));
        out
    }

    #[test]
    fn nul_bytes_round_trip() {
        let v = ["a\0b", "", "\0"];
        let e = enc(&v);
        assert!(matches(&e, v.iter().copied()));
        assert!(!matches(&e, ["a\0b", ""].iter().copied()));
        let back: Vec<_> = values(&e).collect();
        assert_eq!(back, v);
    }

    proptest! {
        #[test]
        fn encoding_round_trips_and_orders_like_tuples(
            a in proptest::collection::vec(".*", 0..4),
            b in proptest::collection::vec(".*", 0..4),
        ) {
            let ra: Vec<&str> = a.iter().map(String::as_str).collect();
            let rb: Vec<&str> = b.iter().map(String::as_str).collect();
            let (ea, eb) = (enc(&ra), enc(&rb));
            prop_assert!(matches(&ea, ra.iter().copied()));
            prop_assert_eq!(values(&ea).collect::<Vec<_>>(), ra.clone());
            prop_assert_eq!(ea.cmp(&eb), ra.cmp(&rb));
            prop_assert_eq!(prefix(&ea).cmp(&prefix(&eb)).then(ea.cmp(&eb)), ea.cmp(&eb));
            prop_assert_eq!(matches(&ea, rb.iter().copied()), ra == rb);
            if ra == rb {
                prop_assert_eq!(hash(3, ra.iter().copied()), hash(3, rb.iter().copied()));
            }
        }
    }
}
