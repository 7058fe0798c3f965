//! `prometheus_client`'s per-process files (`counter_PID.db`, `gauge_MODE_PID.db`, ...),
//! read and merged into families as its multiprocess collector merges them, for
//! services that move from `prometheus_client` and still have such files.
//!
//! A file starts with the bytes in use (a little-endian 32-bit integer) and 4 bytes of
//! padding. Each entry that follows is a little-endian 32-bit key length, the key
//! (UTF-8 JSON: `[family name, sample name, {label: value}, help]`) padded with 1 to 8
//! bytes to a multiple of 8 (counting the length), then the value and the time of its
//! last change, two little-endian `f64`. Everything read is checked against the file's
//! length.

use std::collections::HashMap;
use std::hash::Hash;
use std::path::Path;

use crate::error::{Error, Result};
use crate::expose::write_f64;
use crate::expose::{Numbers, ParsedFamily, ParsedSample};

/// One entry of a file: its key, value and time.
#[derive(Debug)]
struct Entry {
    key: String,
    value: f64,
    timestamp: f64,
}

/// The entries of a file's bytes; `Err` with the reason when they do not add up.
fn entries(data: &[u8]) -> std::result::Result<Vec<Entry>, String> {
    let u32_at = |at: usize| -> Option<usize> {
        let b = data.get(at..at + 4)?;
        Some(u32::from_le_bytes(b.try_into().ok()?) as usize)
    };
    let f64_at = |at: usize| -> Option<f64> {
        let b = data.get(at..at + 8)?;
        Some(f64::from_le_bytes(b.try_into().ok()?))
    };
    let Some(used) = u32_at(0) else {
        return Ok(Vec::new()); // an empty file: nothing written yet
    };
    if used > data.len() {
        return Err(format!("{used} bytes in use, the file has {}", data.len()));
    }
    let mut out = Vec::new();
    let mut at = 8;
    while at < used {
        let n = u32_at(at).ok_or("an entry's key length lies past the end")?;
        let key_at = at + 4;
        let padded = n + (8 - (n + 4) % 8);
        let value_at = key_at + padded;
        if value_at + 16 > used {
            return Err(format!("the entry at byte {at} runs past the bytes in use"));
        }
        let key = std::str::from_utf8(&data[key_at..key_at + n])
            .map_err(|_| format!("the key at byte {key_at} is not UTF-8"))?;
        let (value, timestamp) = f64_at(value_at)
            .zip(f64_at(value_at + 8))
            .unwrap_or_default();
        out.push(Entry {
            key: key.to_owned(),
            value,
            timestamp,
        });
        at = value_at + 16;
    }
    Ok(out)
}

/// A key: family name, sample name, labels (sorted by name) and help.
type Key = (String, String, Vec<(String, String)>, String);

/// Reads a key, `[family, sample, {label: value, ...}, help]` in JSON.
fn parse_key(text: &str) -> Option<Key> {
    let mut p = Json {
        s: text.as_bytes(),
        at: 0,
    };
    p.expect(b'[')?;
    let family = p.string()?;
    p.expect(b',')?;
    let sample = p.string()?;
    p.expect(b',')?;
    p.expect(b'{')?;
    let mut labels = Vec::new();
    if !p.take(b'}') {
        loop {
            let name = p.string()?;
            p.expect(b':')?;
            labels.push((name, p.string()?));
            if p.take(b'}') {
                break;
            }
            p.expect(b',')?;
        }
    }
    p.expect(b',')?;
    let help = p.string()?;
    p.expect(b']')?;
    p.skip_space();
    if p.at != p.s.len() {
        return None;
    }
    labels.sort();
    Some((family, sample, labels, help))
}

/// The few JSON forms a key has: strings, an array and an object of strings.
struct Json<'a> {
    s: &'a [u8],
    at: usize,
}

impl Json<'_> {
    fn skip_space(&mut self) {
        while self.s.get(self.at).is_some_and(u8::is_ascii_whitespace) {
            self.at += 1;
        }
    }

    /// Takes `c` (after any space) if it comes next.
    fn take(&mut self, c: u8) -> bool {
        self.skip_space();
        let next = self.s.get(self.at) == Some(&c);
        self.at += next as usize;
        next
    }

    fn expect(&mut self, c: u8) -> Option<()> {
        self.take(c).then_some(())
    }

    fn hex4(&mut self) -> Option<u32> {
        let h = self.s.get(self.at..self.at + 4)?;
        self.at += 4;
        u32::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()
    }

    fn string(&mut self) -> Option<String> {
        self.expect(b'"')?;
        let mut out = Vec::new();
        loop {
            let c = *self.s.get(self.at)?;
            self.at += 1;
            match c {
                b'"' => return String::from_utf8(out).ok(),
                b'\\' => {
                    let e = *self.s.get(self.at)?;
                    self.at += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xd800..0xdc00).contains(&hi) {
                                if self.s.get(self.at..self.at + 2) != Some(b"\\u") {
                                    return None;
                                }
                                self.at += 2;
                                let lo = self.hex4()?;
                                if !(0xdc00..0xe000).contains(&lo) {
                                    return None;
                                }
                                0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)
                            } else {
                                hi
                            };
                            char::from_u32(code)?
                        }
                        _ => return None,
                    };
                    let mut buf = [0; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                c => out.push(c),
            }
        }
    }
}

/// A map that keeps its keys in the order they were first inserted.
struct Ordered<K, V> {
    index: HashMap<K, usize>,
    items: Vec<(K, V)>,
}

impl<K: Hash + Eq + Clone, V> Ordered<K, V> {
    fn new() -> Self {
        Ordered {
            index: HashMap::new(),
            items: Vec::new(),
        }
    }

    /// The value of `key`, if present.
    fn get(&self, key: &K) -> Option<&V> {
        self.index.get(key).map(|&i| &self.items[i].1)
    }

    /// The value of `key`, inserted as `make()` gives it if absent.
    fn entry(&mut self, key: &K, make: impl FnOnce() -> V) -> &mut V {
        let i = match self.index.get(key) {
            Some(&i) => i,
            None => {
                self.index.insert(key.clone(), self.items.len());
                self.items.push((key.clone(), make()));
                self.items.len() - 1
            }
        };
        &mut self.items[i].1
    }
}

/// Labels as pairs, in order.
type Labels = Vec<(String, String)>;

/// One family being merged: its kind (from the file name), the gauge mode of the last
/// file it was seen in, and its samples before they are combined.
struct Family {
    help: String,
    kind: String,
    mode: String,
    /// Sample name, labels (with `pid` for gauges), value, time.
    samples: Vec<(String, Labels, f64, f64)>,
}

/// Reads `prometheus_client`'s per-process files `files` and merges them as its
/// `MultiProcessCollector.merge` does: counters, summaries and histograms summed over
/// the files, gauges combined by the mode their file name gives (`all` and `liveall`
/// keep one sample per process, labelled `pid`), histogram buckets made cumulative with
/// a `_count` when `accumulate`, left per bucket otherwise. A missing file of a `live*`
/// gauge mode is skipped (its process was marked dead meanwhile); any other missing or
/// unreadable file is an error, as is a file whose contents do not add up.
pub fn merge(files: &[impl AsRef<Path>], accumulate: bool) -> Result<Vec<ParsedFamily>> {
    let mut families: Ordered<String, Family> = Ordered::new();
    let mut keys: HashMap<String, Key> = HashMap::new();
    for path in files {
        let path = path.as_ref();
        let base = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let base = base.unwrap_or_default();
        let parts: Vec<&str> = base.split('_').collect();
        let kind = parts[0];
        let data = match std::fs::read(path) {
            Ok(d) => d,
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound
                    && kind == "gauge"
                    && parts.get(1).is_some_and(|m| m.starts_with("live")) =>
            {
                continue
            }
            Err(source) => {
                return Err(Error::Io {
                    path: path.to_owned(),
                    source,
                })
            }
        };
        let corrupt = |reason: String| Error::Corrupt {
            path: path.to_owned(),
            reason: format!("as a prometheus_client file: {reason}"),
        };
        for e in entries(&data).map_err(corrupt)? {
            if !keys.contains_key(&e.key) {
                let key = parse_key(&e.key)
                    .ok_or_else(|| corrupt(format!("unreadable key {:?}", e.key)))?;
                keys.insert(e.key.clone(), key);
            }
            let (name, sample, labels, help) = &keys[&e.key];
            let f = families.entry(name, || Family {
                help: help.clone(),
                kind: kind.to_owned(),
                mode: String::new(),
                samples: Vec::new(),
            });
            let mut labels = labels.clone();
            if kind == "gauge" {
                let pid = parts
                    .get(2)
                    .map_or("", |p| p.strip_suffix(".db").unwrap_or(p));
                f.mode = parts.get(1).unwrap_or(&"").to_string();
                labels.push(("pid".to_owned(), pid.to_owned()));
            }
            f.samples
                .push((sample.clone(), labels, e.value, e.timestamp));
        }
    }
    Ok(families
        .items
        .into_iter()
        .map(|(name, f)| combine(name, f, accumulate))
        .collect())
}

/// The samples of one label set: by sample name and labels, value and time.
type Group = Ordered<(String, Labels), (f64, f64)>;

/// Combines the samples of a family read from several files into one sample per name
/// and labels, grouped by labels in the order they were first seen.
fn combine(name: String, f: Family, accumulate: bool) -> ParsedFamily {
    let mode = f.mode.strip_prefix("live").unwrap_or(&f.mode);
    let gauge = f.kind == "gauge";
    let per_process = gauge && !matches!(mode, "min" | "max" | "sum" | "mostrecent");
    let mut groups: Ordered<Labels, Group> = Ordered::new();
    let mut buckets: Ordered<Labels, Vec<(f64, f64)>> = Ordered::new();
    for (sample, mut labels, value, timestamp) in f.samples {
        if gauge && !per_process {
            labels.retain(|(n, _)| n != "pid");
        }
        if f.kind == "histogram" {
            if let Some(i) = labels.iter().position(|(n, _)| n == "le") {
                let le: f64 = labels[i].1.parse().unwrap_or(f64::NAN);
                labels.retain(|(n, _)| n != "le");
                let b = buckets.entry(&labels, Vec::new);
                match b.iter_mut().find(|(bound, _)| bound.total_cmp(&le).is_eq()) {
                    Some((_, v)) => *v += value,
                    None => b.push((le, value)),
                }
                continue;
            }
        }
        let group = groups.entry(&labels, Ordered::new);
        let key = (sample, labels);
        match (gauge, mode) {
            (true, "min" | "max") => {
                let cur = group.entry(&key, || (value, timestamp));
                if (mode == "min" && value < cur.0) || (mode == "max" && value > cur.0) {
                    cur.0 = value;
                }
            }
            // A sample whose times are all 0 or less is left out, as prometheus_client
            // leaves it.
            (true, "mostrecent") => {
                if group.get(&key).map_or(0.0, |cur| cur.1) < timestamp {
                    *group.entry(&key, || (0.0, 0.0)) = (value, timestamp);
                }
            }
            (true, "sum") | (false, _) => group.entry(&key, || (0.0, 0.0)).0 += value,
            (true, _) => *group.entry(&key, || (0.0, 0.0)) = (value, timestamp),
        }
    }
    for (labels, mut bounds) in buckets.items {
        bounds.sort_by(|a, b| a.0.total_cmp(&b.0));
        let group = groups.entry(&labels, Ordered::new);
        let mut acc = 0.0;
        for (bound, value) in bounds {
            let mut le = String::new();
            write_f64(bound, Numbers::Python, &mut le);
            let mut with_le = labels.clone();
            with_le.push(("le".to_owned(), le));
            acc += value;
            let v = if accumulate { acc } else { value };
            group
                .entry(&(format!("{name}_bucket"), with_le), || (0.0, 0.0))
                .0 = v;
        }
        if accumulate {
            group
                .entry(&(format!("{name}_count"), labels.clone()), || (0.0, 0.0))
                .0 = acc;
        }
    }
    let samples = groups
        .items
        .into_iter()
        .flat_map(|(_, g)| g.items)
        .map(|((name, labels), (value, _))| ParsedSample {
            name,
            labels,
            value,
            timestamp: None,
            exemplar: None,
        })
        .collect();
    ParsedFamily {
        name,
        help: f.help,
        kind: f.kind,
        unit: String::new(),
        samples,
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// A file of `entries` in the format described above.
    fn file(entries: &[(&str, f64, f64)]) -> Vec<u8> {
        let mut b = vec![0; 8];
        for (key, value, timestamp) in entries {
            let n = key.len();
            b.extend_from_slice(&(n as u32).to_le_bytes());
            b.extend_from_slice(key.as_bytes());
            b.resize(b.len() + 8 - (n + 4) % 8, b' ');
            b.extend_from_slice(&value.to_le_bytes());
            b.extend_from_slice(&timestamp.to_le_bytes());
        }
        let used = b.len() as u32;
        b[..4].copy_from_slice(&used.to_le_bytes());
        b.resize(b.len() + 64, 0); // room not yet used
        b
    }

    #[test]
    fn entries_are_read_whatever_their_padding_and_bad_lengths_are_refused() {
        // Keys of 4 and 12 bytes take 8 bytes of padding, one of 5 bytes 7.
        let b = file(&[
            ("abcd", 1.0, 2.0),
            ("abcde", 3.0, 4.0),
            ("abcdefghijkl", 5.0, 6.0),
        ]);
        let got: Vec<(String, f64, f64)> = entries(&b)
            .unwrap()
            .into_iter()
            .map(|e| (e.key, e.value, e.timestamp))
            .collect();
        assert_eq!(
            got,
            [
                ("abcd".into(), 1.0, 2.0),
                ("abcde".into(), 3.0, 4.0),
                ("abcdefghijkl".into(), 5.0, 6.0)
            ]
        );
        assert!(entries(&[]).unwrap().is_empty());
        let mut past = b.clone();
        past[..4].copy_from_slice(&(b.len() as u32 + 1).to_le_bytes());
        assert!(entries(&past).unwrap_err().contains("bytes in use"));
        let mut long = b.clone();
        long[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(entries(&long).unwrap_err().contains("runs past"));
        let mut cut = b;
        cut[..4].copy_from_slice(&30u32.to_le_bytes());
        assert!(entries(&cut).unwrap_err().contains("runs past"));
    }

    #[test]
    fn keys_are_read_with_json_escapes_and_sorted_labels() {
        let key = r#"["c", "c_total", {"z": "1", "a": "q\"\\\n\u00e9\ud83d\ude00"}, "He\tlp"]"#;
        let (family, sample, labels, help) = parse_key(key).unwrap();
        assert_eq!((family.as_str(), sample.as_str()), ("c", "c_total"));
        assert_eq!(
            labels,
            [("a".into(), "q\"\\\né😀".into()), ("z".into(), "1".into())]
        );
        assert_eq!(help, "He\tlp");
        assert!(parse_key(r#"["c", "c_total", {}, "h"]"#).is_some());
        for bad in [
            r#"["c", "c_total", {}, "h"] x"#,
            r#"["c", "c_total", {"a": 1}, "h"]"#,
            r#"["c", "c_total", {}, "\ud83d"]"#,
            r#"["c", "c_total", {}"#,
        ] {
            assert!(parse_key(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn files_merge_by_kind_and_gauge_mode() {
        let dir = std::env::temp_dir().join(format!("metricore-pcfiles-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, entries: &[(&str, f64, f64)]| {
            let path = dir.join(name);
            std::fs::write(&path, file(entries)).unwrap();
            path
        };
        let c = r#"["c", "c_total", {"k": "v"}, "C."]"#;
        let g = r#"["g", "g", {}, "G."]"#;
        let files = [
            write("counter_1.db", &[(c, 2.0, 0.0)]),
            write("counter_2.db", &[(c, 3.5, 0.0)]),
            write("gauge_max_1.db", &[(g, 4.0, 0.0)]),
            write("gauge_max_2.db", &[(g, 9.0, 0.0)]),
            write(
                "gauge_liveall_3.db",
                &[(r#"["w", "w", {}, "W."]"#, 1.0, 0.0)],
            ),
            dir.join("gauge_livesum_4.db"), // gone: skipped
        ];
        let got = merge(&files, true).unwrap();
        type Samples = Vec<(String, Labels, f64)>;
        let summary: Vec<(String, String, Samples)> = got
            .into_iter()
            .map(|f| {
                let s = f.samples.into_iter().map(|s| (s.name, s.labels, s.value));
                (f.name, f.kind, s.collect())
            })
            .collect();
        let pair = |n: &str, v: &str| (n.to_owned(), v.to_owned());
        assert_eq!(
            summary,
            [
                (
                    "c".into(),
                    "counter".into(),
                    vec![("c_total".into(), vec![pair("k", "v")], 5.5)]
                ),
                ("g".into(), "gauge".into(), vec![("g".into(), vec![], 9.0)]),
                (
                    "w".into(),
                    "gauge".into(),
                    vec![("w".into(), vec![pair("pid", "3")], 1.0)]
                ),
            ]
        );
        let missing = merge(&[dir.join("counter_5.db")], true).unwrap_err();
        assert!(matches!(missing, Error::Io { .. }), "{missing}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
