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

#[inline(always)]
fn load8(b: &[u8]) -> u64 {
    u64::from_le_bytes(b[..8].try_into().unwrap_or_default())
}

#[inline(always)]
fn load4(b: &[u8]) -> u64 {
    u32::from_le_bytes(b[..4].try_into().unwrap_or_default()) as u64
}

/// Hashes bytes, eight at a time; the last 1 to 7 bytes are read with overlapping
/// loads instead of being copied.
#[inline]
pub(crate) fn hash_bytes(mut h: u64, b: &[u8]) -> u64 {
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        h = mix(h, load8(c));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        h = mix(h, short_word(rest));
    }
    mix(h, b.len() as u64)
}

/// The 128-bit product of `a` and `b`, its halves folded into one word.
#[inline(always)]
fn fold_mul(a: u64, b: u64) -> u64 {
    let p = a as u128 * b as u128;
    p as u64 ^ (p >> 64) as u64
}

/// A value's bytes as two words and its length: up to 16 bytes are read with (possibly
/// overlapping) loads; longer values fold their leading 16-byte blocks into the first
/// word.
#[inline(always)]
fn value_words(b: &[u8]) -> (u64, u64) {
    let n = b.len();
    if n <= 8 {
        return (small(b), n as u64);
    }
    let mut a = 0;
    let mut i = 0;
    while n - i > 16 {
        a = fold_mul(a ^ load8(&b[i..]) ^ K, load8(&b[i + 8..]) ^ L);
        i += 16;
    }
    let (x, y) = if n - i > 8 {
        (load8(&b[i..]), load8(&b[n - 8..]))
    } else {
        (load8(&b[n - 8..]), 0)
    };
    (a ^ x, y.rotate_left(8) ^ n as u64)
}

/// Second multiplier of the series hash.
const L: u64 = 0xc2b2_ae3d_27d4_eb4f;

/// The hash of a series: its family and its label values. Each value is multiplied
/// out on its own, by a factor that depends on its position, and the products are
/// combined with `xor`, so the values of a lookup are hashed side by side rather than
/// one after another; one more product mixes the result.
#[inline]
pub(crate) fn hash<'a>(family: u32, values: impl Iterator<Item = &'a str>) -> u64 {
    hash_longest(family, values).0
}

/// [`hash`] of a series, and the length of its longest value, found in the same pass.
#[inline]
pub(crate) fn hash_longest<'a>(family: u32, values: impl Iterator<Item = &'a str>) -> (u64, usize) {
    let mut acc = (family as u64 + 1).wrapping_mul(K);
    let mut pos = L;
    let mut longest = 0;
    for v in values {
        let (a, b) = value_words(v.as_bytes());
        acc ^= fold_mul(a ^ pos, b ^ pos.rotate_left(32) ^ K);
        pos = pos.wrapping_add(K);
        longest = longest.max(v.len());
    }
    (fold_mul(acc ^ L, pos ^ K), longest)
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

/// Bytes 1 to 7 of a value as one word: overlapping 4-byte loads for 4 or more
/// bytes, first, middle and last byte below that.
#[inline(always)]
fn short_word(b: &[u8]) -> u64 {
    let n = b.len();
    if n >= 4 {
        load4(b) | load4(&b[n - 4..]) << 32
    } else {
        b[0] as u64 | (b[n / 2] as u64) << 8 | (b[n - 1] as u64) << 16
    }
}

/// Up to eight bytes as one word made of those bytes only, repeated where there are
/// fewer than eight (0 for none): equal words mean equal bytes for slices of one
/// length, and the word holds a zero byte exactly when the bytes do.
#[inline(always)]
fn small(b: &[u8]) -> u64 {
    let n = b.len();
    if n >= 4 {
        load4(b) | load4(&b[n - 4..]) << 32
    } else if n > 0 {
        // First, middle, last and first byte: 1 to 3 bytes, each of them present.
        let (x, y, z) = (b[0] as u64, b[n / 2] as u64, b[n - 1] as u64);
        (x | y << 8 | z << 16 | x << 24) * 0x1_0000_0001
    } else {
        0
    }
}

/// Up to eight bytes as one word of those bytes, for comparing slices of one length:
/// 4 to 8 bytes as two overlapping 4-byte loads, 1 to 3 as the first, middle and last
/// byte.
#[inline(always)]
fn short(b: &[u8]) -> u64 {
    let n = b.len();
    if n >= 4 {
        load4(b) | load4(&b[n - 4..]) << 32
    } else if n > 0 {
        b[0] as u64 | (b[n / 2] as u64) << 8 | (b[n - 1] as u64) << 16
    } else {
        0
    }
}

/// A value of up to 16 bytes as words: equal for two values exactly when their bytes are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Words {
    len: u64,
    first: u64,
    last: u64,
}

impl Words {
    /// The words of the empty value.
    pub const EMPTY: Words = Words {
        len: 0,
        first: 0,
        last: 0,
    };

    /// Whether these are the words of `b`: its length, then one or two words.
    #[inline(always)]
    pub fn of(&self, b: &[u8]) -> bool {
        let n = b.len();
        if n as u64 != self.len {
            return false;
        }
        if n <= 8 {
            short(b) == self.first
        } else {
            n <= 16 && load8(b) == self.first && load8(&b[n - 8..]) == self.last
        }
    }
}

/// The words of `b`, if it is at most 16 bytes long: up to 8 bytes in one word, longer
/// values as their first and last 8 bytes.
#[inline(always)]
pub(crate) fn words(b: &[u8]) -> Option<Words> {
    let n = b.len();
    let (first, last) = match n {
        0..=8 => (short(b), 0),
        9..=16 => (load8(b), load8(&b[n - 8..])),
        _ => return None,
    };
    Some(Words {
        len: n as u64,
        first,
        last,
    })
}

/// Whether a word holds a zero byte.
#[inline(always)]
fn has_zero(w: u64) -> bool {
    w.wrapping_sub(0x0101_0101_0101_0101) & !w & 0x8080_8080_8080_8080 != 0
}

/// Whether `stored` starts with `v` (which holds no NUL byte), comparing words, without
/// calls: `None` if `v` holds a NUL byte, whose stored form is escaped. 4 to 16 bytes
/// take two (overlapping) loads of each side, 1 to 3 bytes are compared one by one.
#[inline(always)]
fn starts_plain(stored: &[u8], v: &[u8]) -> Option<bool> {
    let n = v.len();
    let Some(s) = stored.get(..n) else {
        // The escaped form is longer still.
        return Some(false);
    };
    if n < 4 {
        // First, middle and last byte: every byte of 1 to 3.
        let Some(&x) = v.first() else {
            return Some(true);
        };
        let (y, z) = (v[n / 2], v[n - 1]);
        if x == 0 || y == 0 || z == 0 {
            return None;
        }
        return Some(x == s[0] && y == s[n / 2] && z == s[n - 1]);
    }
    if n <= 8 {
        let a = load4(v) | load4(&v[n - 4..]) << 32;
        if has_zero(a) {
            return None;
        }
        return Some(a == (load4(s) | load4(&s[n - 4..]) << 32));
    }
    if n <= 16 {
        let (a, b) = (load8(v), load8(&v[n - 8..]));
        if has_zero(a) || has_zero(b) {
            return None;
        }
        return Some(a == load8(s) && b == load8(&s[n - 8..]));
    }
    let mut i = 0;
    loop {
        let at = if i + 8 < n { i } else { n - 8 };
        let a = load8(&v[at..]);
        if has_zero(a) {
            return None;
        }
        if a != load8(&s[at..]) {
            return Some(false);
        }
        if at == n - 8 {
            return Some(true);
        }
        i += 8;
    }
}

/// Whether `stored` starts with the escaped form of `v`; returns what follows it.
fn strip_escaped<'s>(stored: &'s [u8], v: &[u8]) -> Option<&'s [u8]> {
    let mut it = stored.iter();
    for &b in v {
        if it.next() != Some(&b) || (b == 0 && it.next() != Some(&0xff)) {
            return None;
        }
    }
    Some(it.as_slice())
}

/// Whether `stored` is the key of `values`, without allocating. Not inlined: its loop
/// keeps its values in registers of its own rather than around a directory probe's.
#[inline(never)]
pub(crate) fn matches<'a>(stored: &[u8], values: impl Iterator<Item = &'a str>) -> bool {
    let mut rest = stored;
    for v in values {
        let v = v.as_bytes();
        rest = match starts_plain(rest, v) {
            Some(true) => &rest[v.len()..],
            Some(false) => return false,
            None => match strip_escaped(rest, v) {
                Some(r) => r,
                None => return false,
            },
        };
        // The terminator `00 01`, as one 2-byte load.
        match rest.split_first_chunk::<2>() {
            Some((&t, tail)) if u16::from_le_bytes(t) == 0x0100 => rest = tail,
            _ => return false,
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
        // A value ends at the first `00` not followed by `ff` (an escaped NUL).
        let mut from = 0;
        let mut escaped = false;
        let i = loop {
            match memchr::memchr(0, &rest[from..]) {
                Some(z) if rest.get(from + z + 1) == Some(&0xff) => {
                    escaped = true;
                    from += z + 2;
                }
                Some(z) => break from + z,
                None => break rest.len(),
            }
        };
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
            match std::str::from_utf8(raw) {
                Ok(s) => Cow::Borrowed(s),
                Err(_) => String::from_utf8_lossy(raw),
            }
        })
    })
}

/// The first sixteen bytes of a stored key as a big-endian number: comparing these
/// orders keys as their bytes do, as far as they go.
#[inline]
pub(crate) fn prefix(stored: &[u8]) -> u128 {
    let mut w = [0u8; 16];
    let n = stored.len().min(16);
    w[..n].copy_from_slice(&stored[..n]);
    u128::from_be_bytes(w)
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
    fn remembered_words_match_exactly_the_same_bytes() {
        // Every length up to 17, and values differing in one byte at every position
        // or only in length.
        let base = b"abcdefghijklmnopq";
        for n in 0..=base.len() {
            let v = &base[..n];
            let Some(w) = words(v) else {
                assert!(n > 16, "{n} bytes have words");
                continue;
            };
            assert!(w.of(v), "{n} bytes");
            for i in 0..n {
                let mut other = v.to_vec();
                other[i] ^= 0x20;
                assert!(!w.of(&other), "{n} bytes, byte {i} changed");
            }
            assert!(!w.of(&base[..n + 1]), "{n} bytes and one more");
            if n > 0 {
                assert!(!w.of(&v[..n - 1]), "{n} bytes and one fewer");
            }
        }
    }

    proptest! {
        #[test]
        fn remembered_words_are_equal_exactly_for_equal_bytes(
            a in proptest::collection::vec(any::<u8>(), 0..=16),
            b in proptest::collection::vec(any::<u8>(), 0..=16),
        ) {
            let (wa, wb) = (words(&a).unwrap(), words(&b).unwrap());
            prop_assert_eq!(wa.of(&b), a == b);
            prop_assert_eq!(wa == wb, a == b);
        }
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

    #[test]
    fn long_values_and_nul_bytes_in_the_fast_comparison() {
        let cases: [&[&str]; 4] = [
            &["0123456789abcdef", "x"],
            &["0123456789\0abcdef"],
            &["\0\0\0\0\0\0\0\0\0"],
            &["a\0\u{1}b"],
        ];
        for v in cases {
            let e = enc(v);
            assert!(matches(&e, v.iter().copied()), "{v:?}");
            let mut longer = v.to_vec();
            longer.push("");
            assert!(!matches(&e, longer.iter().copied()));
        }
        assert!(!matches(&enc(&["a", "b"]), ["a\0\u{1}b"].into_iter()));
        assert!(!matches(
            &enc(&["0123456789abcdeX"]),
            ["0123456789abcdef"].into_iter()
        ));
        assert_ne!(hash(0, ["abcd"].into_iter()), hash(0, ["abce"].into_iter()));
        assert_ne!(
            hash(0, ["ab", "c"].into_iter()),
            hash(0, ["a", "bc"].into_iter())
        );
    }

    #[test]
    fn values_of_every_length_match_with_and_without_a_nul_byte() {
        // Every length the word comparison treats apart (0, 1 to 3, 4 to 8, 9 to 16,
        // longer), a NUL byte at every position, and a byte changed at every position.
        let base = "abcdefghijklmnopqrst";
        for n in 0..=base.len() {
            let v = &base[..n];
            let e = enc(&[v, "x"]);
            assert!(matches(&e, [v, "x"].into_iter()), "{n} bytes");
            for i in 0..n {
                let mut nul = v.as_bytes().to_vec();
                nul[i] = 0;
                let nul = String::from_utf8(nul).unwrap();
                let mut other = v.as_bytes().to_vec();
                other[i] ^= 0x20;
                let other = String::from_utf8(other).unwrap();
                assert!(
                    !matches(&e, [nul.as_str(), "x"].into_iter()),
                    "{n}, NUL at {i}"
                );
                assert!(
                    !matches(&e, [other.as_str(), "x"].into_iter()),
                    "{n}, {i} changed"
                );
                let en = enc(&[&nul, "x"]);
                assert!(
                    matches(&en, [nul.as_str(), "x"].into_iter()),
                    "{n}, NUL at {i}"
                );
                assert!(!matches(&en, [v, "x"].into_iter()), "{n}, NUL at {i}");
            }
        }
    }

    #[test]
    fn hashes_of_similar_label_sets_spread_like_random_ones() {
        // Label sets that differ in a digit or two, as real ones do.
        const N: usize = 1 << 16;
        const SLOTS: u64 = 1 << 17;
        let statuses = [
            "200", "201", "204", "301", "400", "401", "403", "404", "429", "500",
        ];
        let mut low = std::collections::HashSet::new();
        let mut high = std::collections::HashSet::new();
        for i in 0..N {
            let (m, n) = (
                format!("model-{}", i / 1000),
                format!("namespace-{}", i / 10 % 100),
            );
            let h = hash(7, [m.as_str(), n.as_str(), statuses[i % 10]].into_iter());
            low.insert(h & (SLOTS - 1));
            high.insert(h >> 32);
        }
        // N keys thrown at random into SLOTS slots fill SLOTS * (1 - e^(-N/SLOTS)).
        let expected = SLOTS as f64 * (1.0 - (-(N as f64) / SLOTS as f64).exp());
        assert!(
            low.len() as f64 > 0.97 * expected,
            "{} of {expected}",
            low.len()
        );
        assert!(high.len() > N - 4, "{} distinct tags", high.len());
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
