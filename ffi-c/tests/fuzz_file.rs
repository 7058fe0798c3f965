//! Fuzzing of the shared file: a valid registry file is mutated (bytes, words, halves
//! of packed words, set to random or boundary values) in every area (header, family
//! table, directory, process table, arena records, descriptors and keys, cells; a
//! changed header sometimes with its checksum recomputed), and each mutated file is
//! opened, checked, recorded into (existing and new series), cleared and rendered
//! through the Rust API and the C API. Nothing may panic, abort or hang.
//!
//! The cases run in a child process (this test binary run again with `FUZZ_CHILD`
//! set), each under `catch_unwind` and a panic hook, so a panic is reported with its
//! case; an abort or a crash ends the child, and the parent reports the case that was
//! running and goes on in a new child; a case that makes no progress for
//! [`HANG`] is reported as a hang. Each case's mutations come from its seed (a
//! xorshift generator over the base seed and the case number) and are printed in the
//! form that `tests/fuzz_regressions.txt` keeps, which the `regressions` test replays.
//!
//! Environment: `FUZZ_CASES` (default 300), `FUZZ_SECONDS` (stop earlier),
//! `FUZZ_SEED` (base seed, default fixed).

use std::ffi::c_char;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use metricore::{Format, GaugeMode, Kind, Options, Registry, Spec};
use metricore_ffi as ffi;

/// A case that reports no progress for this long is a hang.
const HANG: Duration = Duration::from_secs(20);
const DEFAULT_CASES: u64 = 300;
const DEFAULT_SEED: u64 = 0x6d65_7472_6963_6f72;

// The template's layout, in words (as `metricore::region` computes it for `options`).
const HEADER: usize = 64;
const FAMILIES: usize = 16;
const SERIES: usize = 64;
const PROCS: usize = 8;
const ARENA: usize = 2048;
const CELLS: usize = 1024;
const FAM_OFF: usize = HEADER;
const DIR_OFF: usize = FAM_OFF + FAMILIES * 4;
const PROCS_OFF: usize = DIR_OFF + SERIES;
const ARENA_OFF: usize = PROCS_OFF + PROCS * 2;
const CELLS_OFF: usize = (ARENA_OFF + ARENA).div_ceil(512) * 512;

/// The templates' options: one or two shards (one, to find cells read past the end of
/// the mapping; two, to find cells read in the wrong shard).
fn options(shards: usize) -> Options {
    Options {
        shards: Some(shards as u32),
        cells_per_shard: CELLS as u32,
        series_capacity: SERIES as u32,
        family_capacity: FAMILIES as u32,
        process_capacity: PROCS as u32,
        arena_bytes: ARENA as u64 * 8,
        ..Options::default()
    }
}

/// One change to the file.
#[derive(Clone, Copy, Debug)]
enum Mutation {
    /// Word `.0` becomes `.1`.
    Word(usize, u64),
    /// The low half of word `.0` becomes `.1`.
    Low(usize, u32),
    /// The high half of word `.0` becomes `.1`.
    High(usize, u32),
    /// Byte `.0` of the file becomes `.1`.
    Byte(usize, u8),
    /// The header checksum is made to match the header, as a hostile writer would.
    Seal,
    /// Not a change: the case starts from the template with this many shards (2 when
    /// a case has none of these).
    Shards(usize),
}

impl Mutation {
    fn apply(self, file: &mut [u8]) {
        let word = |file: &mut [u8], i: usize, f: &dyn Fn(u64) -> u64| {
            if let Some(b) = file.get_mut(i * 8..i * 8 + 8) {
                let w = f(u64::from_le_bytes(b.try_into().unwrap()));
                b.copy_from_slice(&w.to_le_bytes());
            }
        };
        match self {
            Mutation::Word(i, v) => word(file, i, &|_| v),
            Mutation::Low(i, v) => word(file, i, &|w| w & !0xffff_ffff | v as u64),
            Mutation::High(i, v) => word(file, i, &|w| w & 0xffff_ffff | (v as u64) << 32),
            Mutation::Byte(at, v) => {
                if let Some(b) = file.get_mut(at) {
                    *b = v;
                }
            }
            Mutation::Seal => {
                // As `metricore::region` computes it: words 0 to 10 but 2 (the state).
                let sum = (0..11)
                    .filter(|&i| i != 2)
                    .fold(0xcbf2_9ce4_8422_2325, |h, i| {
                        let w = u64::from_le_bytes(file[i * 8..i * 8 + 8].try_into().unwrap());
                        (u64::rotate_left(h, 5) ^ w).wrapping_mul(0x9e37_79b9_7f4a_7c15)
                    });
                word(file, 11, &|_| sum);
            }
            Mutation::Shards(_) => {}
        }
    }

    fn describe(self) -> String {
        match self {
            Mutation::Word(i, v) => format!("w {i} {v:#x}"),
            Mutation::Low(i, v) => format!("lo {i} {v:#x}"),
            Mutation::High(i, v) => format!("hi {i} {v:#x}"),
            Mutation::Byte(i, v) => format!("b {i} {v:#x}"),
            Mutation::Seal => "seal 0 0".into(),
            Mutation::Shards(n) => format!("shards {n} 0"),
        }
    }

    fn parse(s: &str) -> Option<Mutation> {
        let mut it = s.split_whitespace();
        let (op, at, v) = (it.next()?, it.next()?.parse().ok()?, it.next()?);
        let v = u64::from_str_radix(v.trim_start_matches("0x"), 16).ok()?;
        Some(match op {
            "w" => Mutation::Word(at, v),
            "lo" => Mutation::Low(at, v as u32),
            "hi" => Mutation::High(at, v as u32),
            "b" => Mutation::Byte(at, v as u8),
            "seal" => Mutation::Seal,
            "shards" => Mutation::Shards(at),
            _ => return None,
        })
    }
}

/// xorshift64*, seeded through splitmix64.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Rng((z ^ (z >> 31)) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn range(&mut self, from: usize, to: usize) -> usize {
        from + self.below(to - from)
    }
}

/// Values that sit on a boundary of some range in the file.
fn interesting(rng: &mut Rng, current: u64, total: usize) -> u64 {
    let list = [
        0,
        1,
        2,
        u64::MAX,
        u64::MAX - 1,
        1 << 40,
        1 << 60,
        1 << 32,
        (1 << 32) - 1,
        1 << 31,
        i64::MAX as u64,
        255,
        256,
        ARENA as u64 - 1,
        ARENA as u64,
        ARENA as u64 + 1,
        CELLS as u64 - 1,
        CELLS as u64,
        CELLS as u64 + 1,
        SERIES as u64,
        FAMILIES as u64,
        FAMILIES as u64 + 1,
        total as u64,
        current.wrapping_add(1),
        current.wrapping_sub(1),
        current ^ 1 << rng.below(64),
        rng.next(),
    ];
    list[rng.below(list.len())]
}

/// The mutations of case `seed`, on one of `templates` (by shards, 1 and 2).
fn mutations(seed: u64, templates: &[Vec<u8>; 2]) -> Vec<Mutation> {
    let mut rng = Rng::new(seed);
    let shards = 1 + rng.below(2);
    let file = &templates[shards - 1];
    let total = file.len() / 8;
    let word = |i: usize| u64::from_le_bytes(file[i * 8..i * 8 + 8].try_into().unwrap());
    let arena_used = (word(24) as usize).clamp(2, ARENA);
    let cells_used = (word(16) as usize).clamp(257, CELLS);
    let mut out = Vec::new();
    if shards == 1 {
        out.push(Mutation::Shards(1));
    }
    for _ in 0..1 + rng.below(3) {
        // The area: words [from, to).
        let (from, to) = match rng.below(7) {
            0 => (0, HEADER),
            // The header words outside the checksum: bump pointers and counters.
            1 => [(16, 17), (24, 25), (32, 35)][rng.below(3)],
            2 => (FAM_OFF, DIR_OFF),
            3 => (DIR_OFF, PROCS_OFF),
            4 => (PROCS_OFF, ARENA_OFF),
            5 => (ARENA_OFF + 1, ARENA_OFF + arena_used),
            _ => {
                let shard = CELLS_OFF + rng.below(shards) * CELLS;
                (shard, shard + cells_used)
            }
        };
        match rng.below(4) {
            0 => {
                for _ in 0..1 + rng.below(4) {
                    let at = rng.range(from * 8, to * 8);
                    let v = if rng.below(2) == 0 {
                        rng.next() as u8
                    } else {
                        [0, 1, 0x7f, 0x80, 0xff][rng.below(5)]
                    };
                    out.push(Mutation::Byte(at, v));
                }
            }
            1 => {
                let at = rng.range(from, to);
                for i in at..(at + 1 + rng.below(8)).min(to) {
                    out.push(Mutation::Word(i, interesting(&mut rng, word(i), total)));
                }
            }
            2 => {
                let at = rng.range(from, to);
                out.push(Mutation::Low(
                    at,
                    interesting(&mut rng, word(at), total) as u32,
                ));
            }
            _ => {
                let at = rng.range(from, to);
                out.push(Mutation::High(
                    at,
                    interesting(&mut rng, word(at), total) as u32,
                ));
            }
        }
    }
    // Sometimes the checksum is made to match a changed header.
    if out.iter().any(|m| matches!(m, Mutation::Word(i, _) | Mutation::Low(i, _) | Mutation::High(i, _) if *i < 11))
        && rng.below(2) == 0
    {
        out.push(Mutation::Seal);
    }
    out
}

/// Makes the valid file every case starts from, with a series of every kind, a key
/// with a NUL byte, a scope, a float cell, info pairs and a used overflow series.
/// The registry is returned so that its process stays attached while cases run.
fn template(path: &Path, shards: usize) -> (Registry, Vec<u8>) {
    let r = Registry::open_shared(path, &options(shards)).unwrap();
    let req = r
        .counter_vec("req", "Requests.", &["model", "code"])
        .unwrap();
    req.with_labels(&["gpt", "200"]).unwrap().inc_by(5);
    req.with_labels(&["a\0b", "500"]).unwrap().inc();
    req.with_labels(&["gpt", "404"])
        .unwrap()
        .inc_by_f64(0.5)
        .unwrap();
    let lat = r
        .histogram_vec("lat", "Latency.", &["m"], &[0.1, 1.0])
        .unwrap();
    lat.with_labels(&["x"])
        .unwrap()
        .observe_with_exemplar(0.5, &[("trace_id", "t1")])
        .unwrap();
    req.with_labels(&["gpt", "200"])
        .unwrap()
        .inc_with_exemplar(&[("trace_id", "t2")])
        .unwrap();
    let busy: metricore::GaugeVec = r
        .register(Spec::new("busy", "Busy.", Kind::Gauge(GaugeMode::LiveSum)))
        .unwrap()
        .try_into()
        .unwrap();
    busy.with_labels(&[]).unwrap().set(3.0);
    r.gauge("temp", "Temperature.").unwrap().set(21.5);
    r.info_vec("build", "Build.", &["version"])
        .unwrap()
        .set(&["1.0"], &[("commit", "abc")])
        .unwrap();
    r.state_set_vec("st", "State.", &["x"], &["on", "off"])
        .unwrap()
        .with_labels(&["y"])
        .unwrap()
        .set("off")
        .unwrap();
    r.summary("size", "Sizes.").unwrap().observe(2.0).unwrap();
    let small: metricore::CounterVec = r
        .register(
            Spec::new("small", "Limited.", Kind::Counter)
                .labels(&["k"])
                .limit(2),
        )
        .unwrap()
        .try_into()
        .unwrap();
    for k in ["a", "b", "c"] {
        small.with_labels(&[k]).unwrap().inc();
    }
    r.scope("ns", "prod")
        .unwrap()
        .counter_vec("scoped", "Scoped.", &["op"])
        .unwrap()
        .with_labels(&["get"])
        .unwrap()
        .inc();
    // A removed series leaves a tombstone in the directory.
    req.with_labels(&["old", "1"]).unwrap().inc();
    req.remove(&["old", "1"]).unwrap();
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(
        bytes.len(),
        (CELLS_OFF + shards * CELLS) * 8,
        "the template has the expected layout"
    );
    (r, bytes)
}

/// What every case does with its file through the Rust API.
fn rust_ops(path: &Path) {
    let Ok(r) = Registry::open_existing(path) else {
        return;
    };
    let _ = r.stats();
    let _ = r.check();
    let _ = r.render(Format::Prometheus);
    if let Ok(req) = r.counter_vec("req", "Requests.", &["model", "code"]) {
        for v in [
            ["gpt", "200"],
            ["a\0b", "500"],
            ["gpt", "404"],
            ["new", "1"],
        ] {
            if let Ok(c) = req.with_labels(&v) {
                c.inc();
                let _ = c.inc_by_f64(0.25);
                let _ = c.inc_with_exemplar(&[("trace_id", "t3")]);
                let _ = c.get();
            }
        }
        let _ = req.remove(&["gpt", "200"]);
    }
    if let Ok(lat) = r.histogram_vec("lat", "Latency.", &["m"], &[0.1, 1.0]) {
        for v in ["x", "z"] {
            if let Ok(h) = lat.with_labels(&[v]) {
                let _ = h.observe(0.7);
                let _ = h.observe_with_exemplar(0.05, &[("trace_id", "t4")]);
            }
        }
    }
    if let Ok(f) = r.register(Spec::new("busy", "Busy.", Kind::Gauge(GaugeMode::LiveSum))) {
        if let Ok(g) = metricore::GaugeVec::try_from(f) {
            if let Ok(g) = g.with_labels(&[]) {
                g.inc();
                let _ = g.get();
            }
        }
    }
    if let Ok(i) = r.info_vec("build", "Build.", &["version"]) {
        let _ = i.set(&["1.0"], &[("commit", "def")]);
    }
    if let Ok(s) = r.state_set_vec("st", "State.", &["x"], &["on", "off"]) {
        if let Ok(s) = s.with_labels(&["y"]) {
            let _ = s.set("on");
            let _ = s.get();
        }
    }
    if let Ok(s) = r.summary("size", "Sizes.") {
        let _ = s.observe(1.0);
    }
    if let Ok(small) = r.counter_vec("small", "Limited.", &["k"]) {
        for k in ["a", "d", "e"] {
            if let Ok(c) = small.with_labels(&[k]) {
                c.inc();
            }
        }
        small.clear();
        let _ = small.with_labels(&["f"]).map(|c| c.inc());
    }
    if let Ok(s) = r.scope("ns", "prod") {
        if let Ok(c) = s.counter_vec("scoped", "Scoped.", &["op"]) {
            let _ = c.with_labels(&["put"]).map(|c| c.inc());
            c.clear();
        }
    }
    if let Ok(c) = r.counter_vec("fresh", "New family.", &["k"]) {
        let _ = c.with_labels(&["v"]).map(|c| c.inc());
    }
    let _ = r.render(Format::Prometheus);
    let _ = r.render(Format::OpenMetrics);
    let _ = r.stats();
    let _ = r.check();
}

fn s(v: &str) -> ffi::Str {
    ffi::Str {
        ptr: v.as_ptr().cast(),
        len: v.len(),
    }
}

/// What every case does with its file through the C API; `false` if a call reported
/// an internal error (a caught panic).
fn c_ops(path: &Path) -> bool {
    let path = path.to_str().unwrap();
    let mut ok = true;
    let mut check = |st: ffi::Status| ok &= st != ffi::Status::Internal;
    let mut reg: *mut ffi::Registry = std::ptr::null_mut();
    // SAFETY: every pointer below is NULL, a live object these calls made, or points
    // to a local that outlives the call; strings point to live `&str`s.
    unsafe {
        let st = ffi::metricore_registry_open_existing(s(path), &mut reg);
        check(st);
        if st != ffi::Status::Ok {
            return ok;
        }
        let labels = [s("model"), s("code")];
        let mut fam: *mut ffi::CounterFamily = std::ptr::null_mut();
        let st = ffi::metricore_counter_family_new(
            reg,
            s("req"),
            s("Requests."),
            labels.as_ptr(),
            2,
            std::ptr::null(),
            &mut fam,
        );
        check(st);
        if st == ffi::Status::Ok {
            for v in [["gpt", "200"], ["c-new", "2"]] {
                let values = [s(v[0]), s(v[1])];
                let mut h: ffi::CounterHandle = std::ptr::null();
                let st = ffi::metricore_counter_family_labels(fam, values.as_ptr(), 2, &mut h);
                check(st);
                if st == ffi::Status::Ok {
                    check(ffi::metricore_counter_inc(h));
                    check(ffi::metricore_counter_inc_by_f64(h, 1.5));
                }
            }
            check(ffi::metricore_counter_family_clear(fam));
        }
        let mut stats = std::mem::zeroed::<ffi::Stats>();
        check(ffi::metricore_registry_stats(reg, &mut stats));
        for format in [0, 1] {
            let mut text: *mut c_char = std::ptr::null_mut();
            let mut len = 0usize;
            check(ffi::metricore_registry_render_alloc(
                reg, format, &mut text, &mut len,
            ));
            ffi::metricore_string_free(text);
        }
        check(ffi::metricore_registry_free(reg));
    }
    ok
}

/// Panics seen by the hook, caught or not.
static PANICS: AtomicUsize = AtomicUsize::new(0);

/// Runs one case on a fresh copy of its template; `Err` with what went wrong.
fn run_case(dir: &Path, templates: &[Vec<u8>; 2], muts: &[Mutation]) -> Result<(), String> {
    let shards = match muts.first() {
        Some(Mutation::Shards(1)) => 1,
        _ => 2,
    };
    let mut file = templates[shards - 1].clone();
    for m in muts {
        m.apply(&mut file);
    }
    let path = dir.join("case.metricore");
    std::fs::write(&path, &file).unwrap();
    let before = PANICS.load(Ordering::Relaxed);
    let caught = std::panic::catch_unwind(|| {
        rust_ops(&path);
        c_ops(&path)
    });
    let _ = std::fs::remove_file(&path);
    let panics = PANICS.load(Ordering::Relaxed) - before;
    match caught {
        Err(_) => Err("panicked".into()),
        Ok(false) => Err("a C call reported an internal error".into()),
        Ok(true) if panics > 0 => Err(format!("{panics} panic(s) caught inside")),
        Ok(true) => Ok(()),
    }
}

/// The seed of case `n` of a run with base seed `seed`.
fn case_seed(seed: u64, n: u64) -> u64 {
    seed ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

fn describe(muts: &[Mutation]) -> String {
    muts.iter()
        .map(|m| m.describe())
        .collect::<Vec<_>>()
        .join("; ")
}

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => v.parse().ok(),
    }
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("metricore-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The cases of a child: `FUZZ_CHILD=random` runs cases `FUZZ_FROM..FUZZ_TO` of seed
/// `FUZZ_SEED` until `FUZZ_DEADLINE_MS`; `FUZZ_CHILD=replay` runs the regression file.
/// Prints `start N` before each case, `fail N <what>` after a failed one, `done N` at
/// the end. A no-op in a normal test run.
#[test]
fn child() {
    let Ok(mode) = std::env::var("FUZZ_CHILD") else {
        return;
    };
    // The test harness has started a line ("test child ... ").
    println!();
    std::panic::set_hook(Box::new(|info| {
        PANICS.fetch_add(1, Ordering::Relaxed);
        // Where in the library: its frames, innermost first.
        let trace = std::backtrace::Backtrace::force_capture().to_string();
        let frames: Vec<&str> = trace
            .lines()
            .map(str::trim)
            .filter(|l| {
                l.contains("metricore") && !l.starts_with("at ") && !l.contains("fuzz_file")
            })
            .filter_map(|l| l.split_once(": ").map(|(_, f)| f))
            .take(4)
            .collect();
        println!(
            "panic {} in {}",
            info.to_string().replace('\n', " "),
            frames.join(" < ")
        );
    }));
    let dir = tempdir(&format!("fuzz-child-{mode}"));
    let (_one, one) = template(&dir.join("one.metricore"), 1);
    let (_two, two) = template(&dir.join("two.metricore"), 2);
    let templates = [one, two];
    let (from, to) = (env_u64("FUZZ_FROM").unwrap(), env_u64("FUZZ_TO").unwrap());
    let cases: Box<dyn Iterator<Item = (u64, Vec<Mutation>)>> = if mode == "replay" {
        let all = regressions().into_iter().enumerate();
        Box::new(all.map(|(i, m)| (i as u64, m)).skip(from as usize))
    } else {
        let seed = env_u64("FUZZ_SEED").unwrap();
        let t = &templates;
        Box::new((from..to).map(move |n| (n, mutations(case_seed(seed, n), t))))
    };
    let deadline = env_u64("FUZZ_DEADLINE_MS");
    let epoch_ms = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
    };
    let mut last = 0;
    for (n, muts) in cases {
        if deadline.is_some_and(|d| epoch_ms() > d) {
            break;
        }
        println!("start {n} {}", describe(&muts));
        if let Err(what) = run_case(&dir, &templates, &muts) {
            println!("fail {n} {what}");
        }
        last = n + 1;
    }
    println!("done {last}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The regression cases: one line each, `name: mutation; mutation; ...`.
fn regressions() -> Vec<Vec<Mutation>> {
    include_str!("fuzz_regressions.txt")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (_, muts) = l.split_once(':').expect("`name: mutations`");
            muts.split(';')
                .map(|m| Mutation::parse(m).unwrap_or_else(|| panic!("bad mutation {m:?}")))
                .collect()
        })
        .collect()
}

/// A failed case: its number, mutations and what happened.
struct Failure {
    case: u64,
    mutations: String,
    what: String,
}

/// Runs cases in children from `from` until `to` or the deadline, restarting after a
/// child that died; returns the cases run and the failures.
fn drive(
    mode: &str,
    seed: u64,
    mut from: u64,
    to: u64,
    deadline_ms: Option<u64>,
) -> (u64, Vec<Failure>) {
    let mut failures = Vec::new();
    let mut run = 0;
    while from < to {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args(["child", "--exact", "--nocapture", "--test-threads=1"])
            .env("FUZZ_CHILD", mode)
            .env("FUZZ_SEED", seed.to_string())
            .env("FUZZ_FROM", from.to_string())
            .env("FUZZ_TO", to.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(d) = deadline_ms {
            cmd.env("FUZZ_DEADLINE_MS", d.to_string());
        }
        let mut child = cmd.spawn().unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                if tx.send(line.unwrap_or_default()).is_err() {
                    break;
                }
            }
        });
        let mut current: Option<(u64, String)> = None;
        let mut panics = String::new();
        let mut done = None;
        loop {
            match rx.recv_timeout(HANG) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix("start ") {
                        let (n, m) = rest.split_once(' ').unwrap_or((rest, ""));
                        current = Some((n.parse().unwrap(), m.to_owned()));
                        panics.clear();
                        run += 1;
                    } else if let Some(rest) = line.strip_prefix("fail ") {
                        let (n, what) = rest.split_once(' ').unwrap_or((rest, ""));
                        let (case, mutations) = current.clone().unwrap_or_default();
                        assert_eq!(n.parse::<u64>().ok(), Some(case));
                        failures.push(Failure {
                            case,
                            mutations,
                            what: format!("{what}{panics}"),
                        });
                    } else if let Some(p) = line.strip_prefix("panic ") {
                        panics.push_str("\n    ");
                        panics.push_str(p);
                    } else if let Some(n) = line.strip_prefix("done ") {
                        done = n.parse::<u64>().ok();
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = child.kill();
                    break;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        let status = child.wait().unwrap();
        match (done, current) {
            (Some(_), _) if status.success() => break,
            (_, Some((case, mutations))) => {
                failures.push(Failure {
                    case,
                    mutations,
                    what: format!("the process died or hung ({status}){panics}"),
                });
                from = case + 1;
            }
            (_, None) => panic!("the fuzz child failed before its first case: {status}"),
        }
    }
    (run, failures)
}

/// The failures, each with a line to add to `fuzz_regressions.txt`; `seed` is `None`
/// for the regression cases themselves.
fn report(failures: &[Failure], seed: Option<u64>) -> String {
    failures
        .iter()
        .map(|f| {
            let name = match seed {
                Some(seed) => format!("case {} of FUZZ_SEED={seed:#x}", f.case),
                None => format!("regression case {}", f.case + 1),
            };
            format!(
                "{name}: {}\n  seed-{:x}-{}: {}",
                f.what,
                seed.unwrap_or(0),
                f.case,
                f.mutations
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn mutated_files_never_panic_abort_or_hang() {
    if std::env::var("FUZZ_CHILD").is_ok() {
        return;
    }
    let cases = env_u64("FUZZ_CASES").unwrap_or(DEFAULT_CASES);
    let seed = env_u64("FUZZ_SEED").unwrap_or(DEFAULT_SEED);
    let deadline = env_u64("FUZZ_SECONDS").map(|s| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
            + s * 1000
    });
    let start = Instant::now();
    let (run, failures) = drive("random", seed, 0, cases, deadline);
    println!(
        "fuzz_file: {run} cases in {:.1} s (FUZZ_SEED={seed:#x}), {} failed",
        start.elapsed().as_secs_f64(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", report(&failures, Some(seed)));
    assert!(run > 0, "no case ran");
}

#[test]
fn regressions_never_panic_abort_or_hang() {
    if std::env::var("FUZZ_CHILD").is_ok() {
        return;
    }
    let n = regressions().len() as u64;
    let (run, failures) = drive("replay", 0, 0, n, None);
    assert!(failures.is_empty(), "{}", report(&failures, None));
    assert_eq!(run, n, "every regression case ran");
}
