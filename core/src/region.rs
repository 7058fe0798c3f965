//! The region: one contiguous mapping that holds the header, the family table, the
//! series directory, the process table, the string arena and the sharded cells.
//!
//! Anonymous memory backs an in-process registry; a file mapping (`MAP_SHARED`) backs a
//! shared one. Both are viewed as a slice of `AtomicU64` words and every access is
//! atomic, so processes that map the same file see each other's writes. Sizes are set
//! once, at creation, and recorded in the header; a file is only used after its header
//! has been checked and its layout recomputed from the capacities it records.
//!
//! Layout, in 8-byte words:
//!
//! ```text
//! header   64 words: identity and capacities (0..12), then bump pointers and
//!          self-metric counters, each on its own cache line
//! families family_capacity x FAMILY_WORDS (4) words
//! dir      series_capacity slots (one word each)
//! procs    process_capacity x PROC_WORDS (2) words
//! arena    arena_words (records, family descriptors, label strings)
//! cells    shards x cells_per_shard words, page aligned: cell c of shard s is at
//!          cells + s * cells_per_shard + c
//! ```

#[cfg(not(loom))]
use std::path::Path;
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::sync::{AtomicU64, Backoff, Ordering};

/// `b"METRICO1"` read as a little-endian word.
const MAGIC: u64 = u64::from_le_bytes(*b"METRICO1");
/// Bumped whenever the layout of the file changes.
pub(crate) const VERSION: u64 = 1;

const H_MAGIC: usize = 0;
const H_VERSION: usize = 1;
const H_STATE: usize = 2;
const H_SHARDS: usize = 3;
const H_CELLS: usize = 4;
const H_SERIES: usize = 5;
const H_FAMILIES: usize = 6;
const H_PROCS: usize = 7;
const H_ARENA: usize = 8;
const H_TOTAL: usize = 9;
const H_CREATED: usize = 10;
const H_CHECKSUM: usize = 11;
const H_NEXT_CELL: usize = 16;
const H_NEXT_ARENA: usize = 24;
/// Self-metric counters, on their own cache line.
pub(crate) const H_ERRORS: usize = 32;
pub(crate) const H_OVERFLOWS: usize = 33;
pub(crate) const H_SERIES_LIVE: usize = 34;
/// Mappings of this file's predecessors that broke under a process (file truncated)
/// before it moved here (`metricore_region_faults_total`).
pub(crate) const H_REGION_FAULTS: usize = 40;
/// Integer increments that went to a predecessor file after it was replaced
/// (`metricore_lost_recordings_total`).
pub(crate) const H_LOST: usize = 41;
/// In a replaced file: the sum of its integer cells already counted as lost.
#[cfg(not(loom))]
pub(crate) const H_ACCOUNTED: usize = 42;
const HEADER_WORDS: usize = 64;
const STATE_READY: u64 = 1;

/// Cells reserved at the start of every shard as a sink: a series that can get no
/// cells of its own (region full, even for the overflow series) records there, unseen.
pub(crate) const SINK_CELLS: u64 = 256;

/// Words per entry of the family table.
pub(crate) const FAMILY_WORDS: usize = 4;
/// Words per slot of the process table.
pub(crate) const PROC_WORDS: usize = 2;

const PAGE_WORDS: usize = 4096 / 8;

/// Capacities and file mode for a new region. Existing files keep their own.
#[derive(Clone, Debug)]
pub struct Options {
    /// Number of per-CPU shards, rounded up to a power of two. `None`: the CPUs of
    /// this machine.
    pub shards: Option<u32>,
    /// Cells per shard (one per counter or gauge, buckets + 2 per histogram).
    pub cells_per_shard: u32,
    /// Series the directory can hold; rounded up to a power of two.
    pub series_capacity: u32,
    /// Families the registry can hold; rounded up to a power of two.
    pub family_capacity: u32,
    /// Processes that can be attached at once.
    pub process_capacity: u32,
    /// Bytes for series keys, label strings and family descriptors.
    pub arena_bytes: u64,
    /// Permission bits of a new file.
    pub file_mode: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            shards: None,
            cells_per_shard: 1 << 20,
            series_capacity: 1 << 18,
            family_capacity: 4096,
            process_capacity: 1024,
            arena_bytes: 64 << 20,
            file_mode: 0o600,
        }
    }
}

/// Word offsets and capacities of a region, all derived from the header's capacities.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    pub shards: usize,
    pub cells_per_shard: usize,
    pub series: usize,
    pub families: usize,
    pub procs: usize,
    pub arena_words: usize,
    pub families_off: usize,
    pub dir_off: usize,
    pub procs_off: usize,
    pub arena_off: usize,
    pub cells_off: usize,
    pub total_words: usize,
}

impl Layout {
    fn new(
        shards: u64,
        cells: u64,
        series: u64,
        families: u64,
        procs: u64,
        arena: u64,
    ) -> Option<Layout> {
        let ok = shards.is_power_of_two()
            && shards <= 4096
            && series.is_power_of_two()
            && families.is_power_of_two()
            && cells > SINK_CELLS
            && cells <= u32::MAX as u64
            && series <= 1 << 30
            && families <= 1 << 20
            && (1..=1 << 20).contains(&procs)
            && (16..u32::MAX as u64).contains(&arena);
        if !ok {
            return None;
        }
        let (shards, cells, series, families, procs, arena) = (
            shards as usize,
            cells as usize,
            series as usize,
            families as usize,
            procs as usize,
            arena as usize,
        );
        let families_off = HEADER_WORDS;
        let dir_off = families_off + families * FAMILY_WORDS;
        let procs_off = dir_off + series;
        let arena_off = procs_off + procs * PROC_WORDS;
        let cells_off = (arena_off + arena).div_ceil(PAGE_WORDS) * PAGE_WORDS;
        let total_words = cells_off.checked_add(shards.checked_mul(cells)?)?;
        (total_words <= 1 << 40).then_some(Layout {
            shards,
            cells_per_shard: cells,
            series,
            families,
            procs,
            arena_words: arena,
            families_off,
            dir_off,
            procs_off,
            arena_off,
            cells_off,
            total_words,
        })
    }

    fn from_options(o: &Options) -> Result<Layout> {
        let shards = match o.shards {
            Some(n) => n.max(1) as u64,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()) as u64,
        }
        .next_power_of_two();
        Layout::new(
            shards,
            o.cells_per_shard as u64,
            (o.series_capacity.max(2) as u64).next_power_of_two(),
            (o.family_capacity.max(2) as u64).next_power_of_two(),
            o.process_capacity as u64,
            o.arena_bytes.div_ceil(8),
        )
        .ok_or_else(|| {
            Error::InvalidOptions(format!(
                "{o:?}: cells_per_shard must exceed {SINK_CELLS}, process_capacity must be 1..=2^20, \
                 arena_bytes 128 bytes..32 GiB, and the region at most 8 TiB"
            ))
        })
    }

    fn bytes(&self) -> usize {
        self.total_words * 8
    }
}

/// The memory a region's words live in.
struct Memory {
    /// The mapping's entry in the fault table, for file mappings; cleared (on drop)
    /// before the mapping is unmapped.
    #[cfg(not(loom))]
    fault: Option<crate::fault::Registration>,
    #[cfg(not(loom))]
    map: memmap2::MmapRaw,
    #[cfg(loom)]
    words: Box<[AtomicU64]>,
}

#[cfg(not(loom))]
impl Memory {
    /// A file mapping, registered in the fault table so that truncating the file
    /// breaks the region instead of killing the process.
    fn file(map: memmap2::MmapRaw) -> std::io::Result<Memory> {
        let fault = crate::fault::Registration::new(map.as_ptr(), map.len()).ok_or_else(|| {
            std::io::Error::other(format!(
                "more than {} registry files mapped in this process",
                crate::fault::MAX_MAPPINGS
            ))
        })?;
        Ok(Memory {
            fault: Some(fault),
            map,
        })
    }
}

/// A mapped region. Shared between threads behind an `Arc`; every word is atomic.
pub(crate) struct Region {
    mem: Memory,
    pub layout: Layout,
    /// The file behind a shared region, for messages and `inspect`.
    pub path: Option<PathBuf>,
    /// The device and inode of that file, to notice it being replaced.
    #[cfg_attr(loom, allow(dead_code))]
    pub file_id: Option<(u64, u64)>,
}

impl Region {
    /// A region in anonymous memory, private to this process.
    pub fn anonymous(options: &Options) -> Result<Region> {
        let layout = Layout::from_options(options)?;
        #[cfg(not(loom))]
        let mem = {
            let map = memmap2::MmapOptions::new()
                .len(layout.bytes())
                .map_anon()
                .map_err(|source| Error::Io {
                    path: PathBuf::from("<anonymous>"),
                    source,
                })?;
            Memory {
                fault: None,
                map: map.into(),
            }
        };
        #[cfg(loom)]
        let mem = Memory {
            words: (0..layout.total_words).map(|_| AtomicU64::new(0)).collect(),
        };
        let region = Region {
            mem,
            layout,
            path: None,
            file_id: None,
        };
        region.init_header();
        Ok(region)
    }

    /// Opens the registry file at `path`, creating it with `options` if it is absent.
    ///
    /// Creation writes a complete file under a temporary name and links it into place,
    /// so two processes that create the file at once both end up with the one file
    /// that won the link.
    #[cfg(not(loom))]
    pub fn open_shared(path: &Path, options: &Options) -> Result<Region> {
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        loop {
            match std::fs::symlink_metadata(path) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(Error::Symlink(path.to_path_buf()))
                }
                Ok(_) => return Region::open_existing(path),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(e)),
            }
            let layout = Layout::from_options(options)?;
            let tmp = temp_name(path);
            let file = open_file(&tmp, true, options.file_mode).map_err(io)?;
            let created = (|| -> std::io::Result<Region> {
                file.set_len(layout.bytes() as u64)?;
                let map = memmap2::MmapOptions::new()
                    .len(layout.bytes())
                    .map_raw(&file)?;
                let region = Region {
                    mem: Memory::file(map)?,
                    layout,
                    path: Some(path.to_path_buf()),
                    file_id: Some(file_id(&file.metadata()?)),
                };
                region.init_header();
                std::fs::hard_link(&tmp, path)?;
                Ok(region)
            })();
            let _ = std::fs::remove_file(&tmp);
            match created {
                Ok(region) => return Ok(region),
                // Another process linked its file first: use that one.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io(e)),
            }
        }
    }

    /// Opens an existing registry file, refusing anything that is not one.
    #[cfg(not(loom))]
    pub fn open_existing(path: &Path) -> Result<Region> {
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = open_file(path, false, 0).map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                Error::Symlink(path.to_path_buf())
            } else {
                io(e)
            }
        })?;
        let meta = file.metadata().map_err(io)?;
        let not_a_registry = |reason: String| Error::NotARegistry {
            path: path.to_path_buf(),
            reason,
        };
        if !meta.is_file() {
            return Err(not_a_registry("not a regular file".into()));
        }
        let len = meta.len();
        if len < (HEADER_WORDS * 8) as u64 {
            return Err(not_a_registry(format!(
                "{len} bytes, shorter than a header"
            )));
        }
        let map = memmap2::MmapOptions::new()
            .len(len as usize)
            .map_raw(&file)
            .map_err(io)?;
        let mut region = Region {
            mem: Memory::file(map).map_err(io)?,
            layout: Layout::new(1, SINK_CELLS + 1, 2, 2, 1, 16).expect("minimal layout"),
            path: Some(path.to_path_buf()),
            file_id: Some(file_id(&meta)),
        };
        region.layout = region.check_header(len)?;
        Ok(region)
    }

    /// Checks the header of a mapped file and returns the layout it describes.
    #[cfg(not(loom))]
    fn check_header(&self, file_len: u64) -> Result<Layout> {
        let path = self.path.clone().unwrap_or_default();
        let w = |i: usize| self.word(i).load(Ordering::Acquire);
        if w(H_MAGIC) != MAGIC {
            return Err(Error::NotARegistry {
                path,
                reason: "bad magic number".into(),
            });
        }
        if w(H_VERSION) != VERSION {
            return Err(Error::Version {
                path,
                found: w(H_VERSION),
                expected: VERSION,
            });
        }
        let corrupt = |reason: String| Error::Corrupt {
            path: path.clone(),
            reason,
        };
        if w(H_STATE) != STATE_READY {
            return Err(corrupt("its creation never finished".into()));
        }
        if w(H_CHECKSUM) != self.header_checksum() {
            return Err(corrupt("header checksum does not match".into()));
        }
        let layout = Layout::new(
            w(H_SHARDS),
            w(H_CELLS),
            w(H_SERIES),
            w(H_FAMILIES),
            w(H_PROCS),
            w(H_ARENA),
        )
        .ok_or_else(|| corrupt("header capacities are out of range".into()))?;
        if w(H_TOTAL) != layout.bytes() as u64 {
            return Err(corrupt(format!(
                "header says {} bytes, its capacities make {}",
                w(H_TOTAL),
                layout.bytes()
            )));
        }
        if file_len < layout.bytes() as u64 {
            return Err(corrupt(format!(
                "truncated: {file_len} bytes, the header needs {}",
                layout.bytes()
            )));
        }
        Ok(layout)
    }

    fn header_checksum(&self) -> u64 {
        (H_MAGIC..H_CHECKSUM)
            .filter(|&i| i != H_STATE)
            .fold(0xcbf2_9ce4_8422_2325, |h, i| {
                crate::key::mix(h, self.word(i).load(Ordering::Relaxed))
            })
    }

    fn init_header(&self) {
        let l = &self.layout;
        let created = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let fields = [
            (H_MAGIC, MAGIC),
            (H_VERSION, VERSION),
            (H_SHARDS, l.shards as u64),
            (H_CELLS, l.cells_per_shard as u64),
            (H_SERIES, l.series as u64),
            (H_FAMILIES, l.families as u64),
            (H_PROCS, l.procs as u64),
            (H_ARENA, l.arena_words as u64),
            (H_TOTAL, l.bytes() as u64),
            (H_CREATED, created),
            (H_NEXT_CELL, SINK_CELLS),
            // Arena offset 0 means "none" everywhere, so allocation starts at 1.
            (H_NEXT_ARENA, 1),
        ];
        for (i, v) in fields {
            self.word(i).store(v, Ordering::Relaxed);
        }
        self.word(H_CHECKSUM)
            .store(self.header_checksum(), Ordering::Relaxed);
        self.word(H_STATE).store(STATE_READY, Ordering::Release);
    }

    /// All words of the region.
    #[inline]
    pub fn words(&self) -> &[AtomicU64] {
        #[cfg(not(loom))]
        {
            // SAFETY: the mapping is page aligned, at least `layout.total_words * 8` bytes
            // long (checked at open) and lives as long as `self`. `AtomicU64` has the size
            // and alignment of `u64`, and every access to the words goes through atomics
            // (byte copies into unpublished arena space are in `write_bytes`).
            unsafe {
                std::slice::from_raw_parts(
                    self.mem.map.as_ptr() as *const AtomicU64,
                    self.layout.total_words,
                )
            }
        }
        #[cfg(loom)]
        {
            &self.mem.words
        }
    }

    /// One word by absolute index. Indices come from the layout, never from the file.
    #[inline]
    pub fn word(&self, i: usize) -> &AtomicU64 {
        &self.words()[i]
    }

    /// Whether the file behind the region was truncated under it: its mapping is now
    /// private memory, so what is recorded here is seen by no other process.
    pub fn is_broken(&self) -> bool {
        #[cfg(not(loom))]
        {
            self.mem.fault.as_ref().is_some_and(|f| f.broken())
        }
        #[cfg(loom)]
        {
            false
        }
    }

    /// Header creation time in nanoseconds since the epoch.
    pub fn created_ns(&self) -> u64 {
        self.word(H_CREATED).load(Ordering::Relaxed)
    }

    /// Adds one to a self-metric counter in the header.
    pub fn count(&self, which: usize) {
        self.word(which).fetch_add(1, Ordering::Relaxed);
    }

    /// Reads a self-metric counter in the header.
    pub fn counter(&self, which: usize) -> u64 {
        self.word(which).load(Ordering::Relaxed)
    }

    /// Bump-allocates from a header pointer, never past `limit`.
    fn bump(&self, at: usize, n: u64, limit: u64) -> Option<u64> {
        let next = self.word(at);
        let backoff = Backoff::new();
        let mut cur = next.load(Ordering::Relaxed);
        loop {
            let end = cur.checked_add(n).filter(|&e| e <= limit)?;
            match next.compare_exchange_weak(cur, end, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return Some(cur),
                Err(v) => {
                    cur = v;
                    backoff.spin();
                }
            }
        }
    }

    /// Allocates `n` zeroed words of arena; returns the arena-relative offset.
    pub fn alloc_arena(&self, n: usize) -> Option<u64> {
        self.bump(H_NEXT_ARENA, n as u64, self.layout.arena_words as u64)
    }

    /// Allocates `n` consecutive cells in every shard; returns the first cell index.
    pub fn alloc_cells(&self, n: usize) -> Option<u32> {
        self.bump(H_NEXT_CELL, n as u64, self.layout.cells_per_shard as u64)
            .map(|c| c as u32)
    }

    /// Arena words in use and in all.
    pub fn arena_use(&self) -> (u64, u64) {
        let used = self.word(H_NEXT_ARENA).load(Ordering::Relaxed);
        (
            used.min(self.layout.arena_words as u64),
            self.layout.arena_words as u64,
        )
    }

    /// Cells per shard in use and in all.
    pub fn cell_use(&self) -> (u64, u64) {
        let used = self.word(H_NEXT_CELL).load(Ordering::Relaxed);
        (
            used.min(self.layout.cells_per_shard as u64),
            self.layout.cells_per_shard as u64,
        )
    }

    /// Region bytes in use (header, tables, used arena and used cells) and in all.
    pub fn bytes_use(&self) -> (u64, u64) {
        let l = &self.layout;
        let (arena, _) = self.arena_use();
        let (cells, _) = self.cell_use();
        let fixed = l.arena_off as u64;
        let used = (fixed + arena + cells * l.shards as u64) * 8;
        (used, l.bytes() as u64)
    }

    /// The absolute word index of arena offset `off`, if `[off, off + n)` is inside the
    /// arena. Offsets read from the region go through here before use.
    #[inline]
    pub fn arena_span(&self, off: u64, n: u64) -> Option<usize> {
        let end = off.checked_add(n)?;
        (off > 0 && end <= self.layout.arena_words as u64)
            .then(|| self.layout.arena_off + off as usize)
    }

    /// The `N` arena words from offset `off`, if they are inside the arena.
    #[inline]
    pub fn arena_array<const N: usize>(&self, off: u64) -> Option<&[AtomicU64; N]> {
        let at = self.arena_span(off, N as u64)?;
        self.words().get(at..at + N)?.try_into().ok()
    }

    /// Copies `bytes` into arena words starting at absolute word `at`. The words must be
    /// freshly allocated and not yet published to other threads or processes.
    pub fn write_bytes(&self, at: usize, bytes: &[u8]) {
        for (i, chunk) in bytes.chunks(8).enumerate() {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.word(at + i)
                .store(u64::from_le_bytes(w), Ordering::Relaxed);
        }
    }

    /// Calls `f` with `len` bytes stored from absolute word `at`. The caller has checked
    /// the span with [`arena_span`](Self::arena_span).
    #[inline]
    pub fn with_bytes<R>(&self, at: usize, len: usize, f: impl FnOnce(&[u8]) -> R) -> R {
        let words = &self.words()[at..at + len.div_ceil(8)];
        #[cfg(not(loom))]
        {
            // SAFETY: `words` is a bounds-checked subslice of the mapping, so the `len`
            // bytes lie inside it. Arena bytes are written once, before the word that
            // publishes them is stored with Release and loaded by the caller with
            // Acquire, and never written again, so nothing writes them while they are
            // read.
            let bytes = unsafe { std::slice::from_raw_parts(words.as_ptr() as *const u8, len) };
            f(bytes)
        }
        #[cfg(loom)]
        {
            let mut v: Vec<u8> = words
                .iter()
                .flat_map(|w| w.load(Ordering::Relaxed).to_le_bytes())
                .collect();
            v.truncate(len);
            f(&v)
        }
    }

    /// The cell word for `cell` in `shard`.
    #[inline]
    pub fn cell(&self, shard: usize, cell: u32) -> &AtomicU64 {
        let l = &self.layout;
        self.word(l.cells_off + shard * l.cells_per_shard + cell as usize)
    }

    /// The sum of a cell over all shards, as integers.
    pub fn cell_sum(&self, cell: u32) -> u64 {
        (0..self.layout.shards).fold(0u64, |s, sh| {
            s.wrapping_add(self.cell(sh, cell).load(Ordering::Relaxed))
        })
    }

    /// The sum of a cell over all shards, as `f64` bit patterns.
    pub fn cell_sum_f64(&self, cell: u32) -> f64 {
        (0..self.layout.shards)
            .map(|sh| f64::from_bits(self.cell(sh, cell).load(Ordering::Relaxed)))
            .sum()
    }
}

/// A file's device and inode.
#[cfg(not(loom))]
pub(crate) fn file_id(meta: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

#[cfg(not(loom))]
fn temp_name(path: &Path) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let name = path
        .file_name()
        .map_or_else(Default::default, |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.{}.{nanos}.tmp", std::process::id()))
}

#[cfg(not(loom))]
fn open_file(path: &Path, create: bool, mode: u32) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut o = std::fs::OpenOptions::new();
    o.read(true)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
    if create {
        o.create_new(true).mode(mode);
    }
    o.open(path)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn small() -> Options {
        Options {
            shards: Some(2),
            cells_per_shard: 1024,
            series_capacity: 64,
            family_capacity: 16,
            process_capacity: 8,
            arena_bytes: 1 << 16,
            file_mode: 0o600,
        }
    }

    #[test]
    fn bump_allocation_stops_at_capacity() {
        let r = Region::anonymous(&small()).unwrap();
        let first = r.alloc_cells(10).unwrap();
        assert_eq!(first as u64, SINK_CELLS);
        assert_eq!(r.alloc_cells(10).unwrap(), first + 10);
        assert!(r.alloc_cells(2000).is_none());
        assert!(r.alloc_arena(1).unwrap() >= 1);
        assert!(r.alloc_arena(1 << 20).is_none());
    }

    #[test]
    fn bytes_round_trip_and_spans_are_checked() {
        let r = Region::anonymous(&small()).unwrap();
        let off = r.alloc_arena(3).unwrap();
        let at = r.arena_span(off, 3).unwrap();
        r.write_bytes(at, b"hello, region!");
        assert_eq!(r.with_bytes(at, 14, |b| b.to_vec()), b"hello, region!");
        assert!(r.arena_span(0, 1).is_none());
        assert!(r.arena_span(u64::MAX - 1, 4).is_none());
        assert!(r.arena_span(r.layout.arena_words as u64, 1).is_none());
    }

    #[test]
    fn shared_file_is_created_once_and_checked_on_open() {
        let dir = tempdir();
        let path = dir.join("reg");
        let a = Region::open_shared(&path, &small()).unwrap();
        a.cell(1, 300).store(7, Ordering::Relaxed);
        let b = Region::open_shared(&path, &Options::default()).unwrap();
        assert_eq!(
            b.layout, a.layout,
            "an existing file keeps its own capacities"
        );
        assert_eq!(b.cell(1, 300).load(Ordering::Relaxed), 7);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn foreign_truncated_and_corrupt_files_are_refused() {
        let dir = tempdir();
        let path = dir.join("reg");
        drop(Region::open_shared(&path, &small()).unwrap());
        let bytes = std::fs::read(&path).unwrap();

        let write = |b: &[u8]| std::fs::write(&path, b).unwrap();
        let err = |p: &Path| Region::open_existing(p).err().unwrap().to_string();

        write(b"short");
        assert!(
            err(&path).contains("shorter than a header"),
            "{}",
            err(&path)
        );
        write(&vec![7u8; 8192]);
        assert!(err(&path).contains("bad magic"));
        let mut v = bytes.clone();
        v[8] = 9;
        write(&v);
        assert!(err(&path).contains("layout version 9"), "{}", err(&path));
        let mut v = bytes.clone();
        v[3 * 8] = 4; // shard count changed without the checksum
        write(&v);
        assert!(err(&path).contains("checksum"), "{}", err(&path));
        write(&bytes[..bytes.len() - 4096]);
        assert!(err(&path).contains("truncated"), "{}", err(&path));

        let link = dir.join("link");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert!(matches!(
            Region::open_shared(&link, &small()),
            Err(Error::Symlink(_))
        ));
        assert!(matches!(
            Region::open_existing(&link),
            Err(Error::Symlink(_))
        ));
    }

    #[test]
    fn a_file_truncated_under_its_mapping_breaks_the_region_without_a_signal() {
        let dir = tempdir();
        let path = dir.join("reg");
        let r = Region::open_shared(&path, &small()).unwrap();
        let other = Region::open_shared(&dir.join("other"), &small()).unwrap();
        r.cell(1, 300).store(7, Ordering::Relaxed);
        assert!(!r.is_broken());
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(4096)
            .unwrap();
        // The cells are past the file's end now: this access faults, and runs again on
        // private memory.
        assert_eq!(r.cell(1, 300).load(Ordering::Relaxed), 0);
        r.cell(1, 300).fetch_add(2, Ordering::Relaxed);
        assert_eq!(r.cell(1, 300).load(Ordering::Relaxed), 2);
        assert!(r.is_broken());
        assert!(
            !other.is_broken(),
            "only the truncated file's mapping is replaced"
        );
        drop(r);
        // A slot given back is used again, and the new mapping is intact.
        let again = Region::open_shared(&dir.join("third"), &small()).unwrap();
        again.cell(1, 300).store(5, Ordering::Relaxed);
        assert!(!again.is_broken());
    }

    pub(crate) fn tempdir() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "metricore-test-{}-{:?}-{}",
            std::process::id(),
            std::thread::current().id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
