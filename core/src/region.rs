//! The region: one contiguous mapping that holds the header, the family table, the
//! series directory, the process table, the string arena and the sharded cells.
//!
//! Anonymous memory backs an in-process registry; a file mapping (`MAP_SHARED`) backs a
//! shared one. Both are viewed as a slice of `AtomicU64` words and every access is
//! atomic, so processes that map the same file see each other's writes. Sizes are set
//! once, at creation, and recorded in the header; a file is only used after its header
//! has been checked and its layout recomputed from the capacities it records. A file's
//! space is reserved (`fallocate`) before it is written: the header and tables at
//! creation, the arena and cells in chunks as the bump pointers pass the reserved marks,
//! so a full filesystem refuses an allocation instead of faulting a store.
//!
//! Layout, in 8-byte words:
//!
//! ```text
//! header   80 words: identity and capacities (0..12), then bump pointers and
//!          self-metric counters, each on its own cache line, and the heads of the
//!          free lists of records and exemplar slots
//! families family_capacity x FAMILY_WORDS (4) words
//! dir      series_capacity slots (one word each)
//! procs    process_capacity x PROC_WORDS (2) words
//! lanes    shards words: the lane table (`lanes::table`)
//! quiet    shards x 8 words: each lane's quiescence word, on its own cache line
//! free     SINK_CELLS words: heads of the lists of freed cells, one per run length
//! marks    shards x cells_per_shard / 512 words (rounded up): one bit per cache line
//!          of cells, set once a cell of the line was written
//! arena    arena_words (records, family descriptors, label strings)
//! cells    shards x cells_per_shard words, page aligned: cell c of lane s is at
//!          cells + s * cells_per_shard + c
//! ```
//!
//! `shards` is the lane capacity; only the lanes in use (header word 17) are reserved
//! and read, and of them only the cache lines marked written (see [`Region::written`]).

#[cfg(not(loom))]
use std::path::Path;
use std::path::PathBuf;

#[cfg(not(loom))]
use crate::access;
use crate::error::{Error, Result};
use crate::lanes::table::{Claimed, Table};
use crate::lanes::{self, Map, Watch};
use crate::sync::{AtomicU64, Backoff, Ordering};
use crate::word::{LaneOwner, Reserved};

/// `b"METRICO1"` read as a little-endian word.
const MAGIC: u64 = u64::from_le_bytes(*b"METRICO1");
/// Bumped whenever the layout of the file changes.
pub(crate) const VERSION: u64 = 8;

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
/// Directory slots a lookup probes: one more than the farthest from its home slot a
/// series was ever put (on the read-mostly line of the capacities).
pub(crate) const H_PROBES: usize = 12;
const H_NEXT_CELL: usize = 16;
/// Lanes in use and cells per lane whose file space is reserved ([`Reserved`]).
const H_CELLS_RESERVED: usize = 17;
/// Set (never cleared) once a thread shares lanes by CPU: readers then read every lane
/// in use whole, since a sharer that dies between an add and its mark is not the
/// lane's holder.
const H_LANES_SHARED: usize = 18;
const H_NEXT_ARENA: usize = 24;
/// Arena words whose file space is reserved.
const H_ARENA_RESERVED: usize = 25;
/// Records taken from the free lists of records (never taken down): a series made
/// there changes no bump pointer, so readers that keep what they read watch this.
const H_REUSED: usize = 26;
/// Self-metric counters, on their own cache line.
pub(crate) const H_ERRORS: usize = 32;
pub(crate) const H_OVERFLOWS: usize = 33;
pub(crate) const H_SERIES_LIVE: usize = 34;
/// Reservations of file space the filesystem refused (full): each one a series or
/// family that went to the overflow series or was refused as "registry full".
pub(crate) const H_NO_SPACE: usize = 35;
/// Processes that found the process table full: their per-process gauge series went
/// to the shared series (`metricore_processes_without_slot_total`).
pub(crate) const H_PROCS_FULL: usize = 36;
/// Directory slots of removed series not yet reused (`metricore_directory_tombstones`);
/// taken down with saturating arithmetic.
pub(crate) const H_TOMBSTONES: usize = 37;
/// Recordings through handles of removed series, dropped
/// (`metricore_stale_recordings_total`).
pub(crate) const H_STALE: usize = 38;
/// Head of the list of removed series records whose cells await reclamation (arena
/// offset, 0 for none; linked through the records' cell words).
pub(crate) const H_RETIRED: usize = 39;
/// Mappings of this file's predecessors that broke under a process (file truncated)
/// before it moved here (`metricore_region_faults_total`).
pub(crate) const H_REGION_FAULTS: usize = 40;
/// Integer increments that went to a predecessor file after it was replaced
/// (`metricore_lost_recordings_total`).
pub(crate) const H_LOST: usize = 41;
/// In a replaced file: the sum of its integer cells already counted as lost.
#[cfg(not(loom))]
pub(crate) const H_ACCOUNTED: usize = 42;
/// Exemplars not stored: their slot was being written by another writer, or no space
/// for the series' slots could be had (`metricore_exemplars_dropped_total`).
pub(crate) const H_EXEMPLARS_DROPPED: usize = 44;
/// Removed series whose cells await reclamation (`metricore_series_reclaimable`).
pub(crate) const H_RETIRED_COUNT: usize = 43;
/// Series removed because they were not written for their family's idle time
/// (`metricore_series_expired_total`).
pub(crate) const H_EXPIRED: usize = 45;
/// Cells (per lane) on the free lists (`metricore_cells_free`).
pub(crate) const H_FREE_CELLS: usize = 46;
/// Set (never cleared) once a process could not register for global memory barriers:
/// cells are never reused from then on.
const H_NO_BARRIER: usize = 47;
/// Heads of the free lists of records, one per size class ([`RECORD_CLASSES`]).
const H_FREE_RECORDS: usize = 48;
/// Size classes of reused records, by the words of their key: exact below 12 words,
/// then 16, 32, 64 and 128 words (see `directory::key_class`).
pub(crate) const RECORD_CLASSES: usize = 16;
/// Heads of the free lists of exemplar slots, one per number of slots.
const H_FREE_EXEMPLARS: usize = 64;
/// The most exemplar slots a series' slots may have to be reused (a histogram of 15
/// buckets and `+Inf`).
pub(crate) const EXEMPLAR_CLASSES: usize = 16;
const HEADER_WORDS: usize = 80;
const STATE_READY: u64 = 1;

/// Cells reserved at the start of every lane as a sink: a series that can get no
/// cells of its own (region full, even for the overflow series) records there, unseen.
pub(crate) const SINK_CELLS: u64 = 256;

/// Words per entry of the family table.
pub(crate) const FAMILY_WORDS: usize = 4;
/// Words per slot of the process table.
pub(crate) const PROC_WORDS: usize = 2;

const PAGE_WORDS: usize = 4096 / 8;
/// Words per lane of the quiescence area: one cache line.
pub(crate) const QUIET_WORDS: usize = 8;
/// In a lane's quiescence line: nonzero once threads that share lanes by CPU may write
/// the lane, so that its holder adds atomically too (until then it is the lane's only
/// writer, and adds with a plain load and store).
pub(crate) const QUIET_ATOMIC: usize = 2;
/// How long a reclamation waits for the recordings in flight to finish before it gives
/// up (and leaves the removed series' cells for a later one).
#[cfg(not(loom))]
const QUIESCE_WAIT: std::time::Duration = std::time::Duration::from_millis(50);
/// Cells per cache line, and per bit of the marks.
const LINE_CELLS: usize = 8;
/// Arena words reserved at a time in a file: 64 KiB.
const ARENA_CHUNK: u64 = 8192;
/// Cells per lane reserved at a time in a file: 32 KiB of every lane in use.
const CELL_CHUNK: u64 = 4096;
/// Arena words are fewer than this, so an offset leaves bit 31 free (the directory's
/// mark of a record not yet published).
pub(crate) const ARENA_LIMIT: u64 = 1 << 31;

/// Capacities and file mode for a new region (existing files keep their own), and whom
/// to trust with an existing file (see [`access`](crate::access)).
#[derive(Clone, Debug)]
pub struct Options {
    /// Lanes (cell slabs, one per recording thread) the region can hold, rounded up
    /// to a power of two; only lanes in use take memory. `None`: twice the CPUs of this
    /// machine, so that a thread per CPU and as many others (a main thread, a pool)
    /// each have one. Past them, threads share lanes by CPU.
    pub shards: Option<u32>,
    /// Cells per shard (one per counter or gauge, buckets + 2 per histogram).
    pub cells_per_shard: u32,
    /// Series the directory can hold; rounded up to a power of two.
    pub series_capacity: u32,
    /// Families the registry can hold; rounded up to a power of two.
    pub family_capacity: u32,
    /// Processes that can be attached at once.
    pub process_capacity: u32,
    /// Bytes for series keys, label strings and family descriptors. One family may
    /// take at most a quarter of them for its series.
    pub arena_bytes: u64,
    /// Permission bits of a new file, set whatever the umask: `0..=0o777`, never
    /// writable by every user, writable by the group only with [`group`](Self::group).
    pub file_mode: u32,
    /// Longest label value accepted, in bytes (1 to 65,536); longer values are refused
    /// with [`Error::LabelValueTooLong`]. Applies to this process, not to the file.
    pub max_label_value_bytes: u32,
    /// A user besides the caller trusted to own an existing file (a user id).
    pub owner: Option<u32>,
    /// A group trusted to own and write the file (a group id): a new file gets this
    /// group, and an existing file of this group is used whoever owns it.
    pub group: Option<u32>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            shards: None,
            cells_per_shard: 1 << 18,
            series_capacity: 1 << 16,
            family_capacity: 4096,
            process_capacity: 1024,
            arena_bytes: 16 << 20,
            file_mode: 0o600,
            max_label_value_bytes: 4096,
            owner: None,
            group: None,
        }
    }
}

/// The largest [`Options::max_label_value_bytes`].
const MAX_LABEL_VALUE_BYTES: u32 = 1 << 16;

/// `o.max_label_value_bytes`, checked.
fn label_value_limit(o: &Options) -> Result<usize> {
    if (1..=MAX_LABEL_VALUE_BYTES).contains(&o.max_label_value_bytes) {
        Ok(o.max_label_value_bytes as usize)
    } else {
        Err(Error::InvalidOptions(format!(
            "max_label_value_bytes is {}, must be 1..={MAX_LABEL_VALUE_BYTES}",
            o.max_label_value_bytes
        )))
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
    pub lanes_off: usize,
    pub quiet_off: usize,
    pub free_off: usize,
    pub marks_off: usize,
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
            && (16..ARENA_LIMIT).contains(&arena);
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
        let lanes_off = procs_off + procs * PROC_WORDS;
        let quiet_off = (lanes_off + shards).next_multiple_of(QUIET_WORDS);
        let free_off = quiet_off + shards * QUIET_WORDS;
        let marks_off = free_off + SINK_CELLS as usize;
        let lines = shards.checked_mul(cells)?.div_ceil(LINE_CELLS);
        let arena_off = marks_off + lines.div_ceil(64);
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
            lanes_off,
            quiet_off,
            free_off,
            marks_off,
            arena_off,
            cells_off,
            total_words,
        })
    }

    fn from_options(o: &Options) -> Result<Layout> {
        label_value_limit(o)?;
        let shards = match o.shards {
            Some(n) => n.max(1) as u64,
            None => 2 * std::thread::available_parallelism().map_or(1, |n| n.get()) as u64,
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
                 arena_bytes 128 bytes..16 GiB, and the region at most 8 TiB"
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
    /// The file behind a shared mapping, where space is reserved as the region grows.
    #[cfg(not(loom))]
    file: Option<std::fs::File>,
    #[cfg(loom)]
    words: Box<[AtomicU64]>,
}

#[cfg(not(loom))]
impl Memory {
    /// A file mapping, registered in the fault table so that truncating the file
    /// breaks the region instead of killing the process.
    fn file(map: memmap2::MmapRaw, file: std::fs::File) -> std::io::Result<Memory> {
        let fault = crate::fault::Registration::new(map.as_ptr(), map.len()).ok_or_else(|| {
            std::io::Error::other(format!(
                "more than {} registry files mapped in this process",
                crate::fault::MAX_MAPPINGS
            ))
        })?;
        Ok(Memory {
            fault: Some(fault),
            map,
            file: Some(file),
        })
    }
}

/// A mapped region. Shared between threads behind an `Arc`; every word is atomic.
pub(crate) struct Region {
    mem: Memory,
    pub layout: Layout,
    /// The lane each thread of this process records into here.
    pub lanes: Map,
    /// Which lane holders are gone, for readers.
    holders: Watch,
    /// The file behind a shared region, for messages and `inspect`.
    pub path: Option<PathBuf>,
    /// This process's limit on the length of a label value, in bytes.
    pub max_label_value: usize,
    /// False for a file mapped read-only: nothing may store to its words.
    pub writable: bool,
    /// The device and inode of that file, to notice it being replaced.
    #[cfg_attr(loom, allow(dead_code))]
    pub file_id: Option<(u64, u64)>,
}

impl Region {
    /// Whether cell `first` and the `n` cells from it (read from a record) lie inside a
    /// lane, past the sink. `first` itself must be inside even when `n` is 0 (an info
    /// series made once every cell was taken gets the end of the lane).
    #[inline]
    pub(crate) fn cells_inside(&self, first: u32, n: usize) -> bool {
        let cells = self.layout.cells_per_shard;
        first as u64 >= SINK_CELLS && (first as usize) < cells && first as usize + n <= cells
    }

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
                file: None,
            }
        };
        #[cfg(loom)]
        let mem = Memory {
            words: (0..layout.total_words).map(|_| AtomicU64::new(0)).collect(),
        };
        let region = Region {
            mem,
            layout,
            lanes: Map::new(),
            holders: Watch::new(),
            path: None,
            max_label_value: options.max_label_value_bytes as usize,
            writable: true,
            file_id: None,
        };
        // Anonymous memory needs no reservation.
        region.init_header(layout.cells_per_shard as u64, layout.arena_words as u64);
        Ok(region)
    }

    /// Opens the registry file at `path`, creating it with `options` if it is absent.
    ///
    /// Creation writes a complete file under a temporary name and links it into place,
    /// so two processes that create the file at once both end up with the one file
    /// that won the link. File space for the header, the tables and the sink is
    /// reserved first ([`Error::NoSpace`] when the filesystem cannot give it); the
    /// arena and the cells are reserved in chunks as they are used.
    #[cfg(not(loom))]
    pub fn open_shared(path: &Path, options: &Options) -> Result<Region> {
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        access::check_new_mode(options.file_mode, options.group)?;
        access::check_dir(path)?;
        loop {
            match std::fs::symlink_metadata(path) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(Error::Symlink(path.to_path_buf()))
                }
                Ok(_) => return Region::open_existing(path, options, true),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(e)),
            }
            let layout = Layout::from_options(options)?;
            let tmp = temp_name(path);
            let file = open_file(&tmp, true, true, options.file_mode).map_err(io)?;
            let created = Region::create(path, &tmp, file, layout, options);
            let _ = std::fs::remove_file(&tmp);
            match created {
                Ok(region) => return Ok(region),
                // Another process linked its file first: use that one.
                Err(Error::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::AlreadyExists =>
                {
                    continue
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Sizes, reserves and initializes the new file `tmp`, then links it to `path`.
    #[cfg(not(loom))]
    fn create(
        path: &Path,
        tmp: &Path,
        file: std::fs::File,
        layout: Layout,
        options: &Options,
    ) -> Result<Region> {
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        if options.group.is_some() {
            std::os::unix::fs::fchown(&file, None, options.group).map_err(io)?;
        }
        // The mode asked for, not narrowed or widened by the umask.
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(options.file_mode))
                .map_err(io)?;
        }
        file.set_len(layout.bytes() as u64).map_err(io)?;
        // The header and tables, then the sink of lane 0, the lane of unsharded
        // cells: written before any reservation can fail later, so they must have
        // their space now. Other lanes get theirs when first claimed.
        let sink = layout.cells_off + SINK_CELLS as usize;
        for (from, to) in [(0, layout.arena_off), (layout.cells_off, sink)] {
            fallocate(&file, from, to).map_err(|source| Error::NoSpace {
                path: path.to_path_buf(),
                bytes: ((layout.arena_off + SINK_CELLS as usize) * 8) as u64,
                source,
            })?;
        }
        let map = memmap2::MmapOptions::new()
            .len(layout.bytes())
            .map_raw(&file)
            .map_err(io)?;
        let id = file_id(&file.metadata().map_err(io)?);
        let region = Region {
            mem: Memory::file(map, file).map_err(io)?,
            layout,
            lanes: Map::new(),
            holders: Watch::new(),
            path: Some(path.to_path_buf()),
            max_label_value: options.max_label_value_bytes as usize,
            writable: true,
            file_id: Some(id),
        };
        region.init_header(SINK_CELLS, 0);
        std::fs::hard_link(tmp, path).map_err(io)?;
        Ok(region)
    }

    /// Opens an existing registry file, refusing anything that is not one and a file
    /// or directory `options` do not trust ([`access`](crate::access)). Read-only
    /// (`writable` false), the file is opened and mapped for reading only.
    #[cfg(not(loom))]
    pub fn open_existing(path: &Path, options: &Options, writable: bool) -> Result<Region> {
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        access::check_dir(path)?;
        let file = open_file(path, false, writable, 0).map_err(|e| {
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
        access::check_file(path, &meta, options.owner, options.group)?;
        let len = meta.len();
        if len < (HEADER_WORDS * 8) as u64 {
            return Err(not_a_registry(format!(
                "{len} bytes, shorter than a header"
            )));
        }
        let mut map = memmap2::MmapOptions::new();
        map.len(len as usize);
        let map = if writable {
            map.map_raw(&file)
        } else {
            map.map_raw_read_only(&file)
        }
        .map_err(io)?;
        let mut region = Region {
            mem: Memory::file(map, file).map_err(io)?,
            layout: Layout::new(1, SINK_CELLS + 1, 2, 2, 1, 16).expect("minimal layout"),
            lanes: Map::new(),
            holders: Watch::new(),
            path: Some(path.to_path_buf()),
            max_label_value: label_value_limit(options)?,
            writable,
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

    /// Writes the header of a new region whose file has space reserved for
    /// `cells_reserved` cells of lane 0 and `arena_reserved` arena words.
    fn init_header(&self, cells_reserved: u64, arena_reserved: u64) {
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
            (H_CELLS_RESERVED, Reserved::new(1, cells_reserved as u32).0),
            // Arena offset 0 means "none" everywhere, so allocation starts at 1.
            (H_NEXT_ARENA, 1),
            (H_ARENA_RESERVED, arena_reserved),
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
            // (byte copies into unpublished arena space are in `write_bytes`). A read-only
            // mapping (`writable` false) is only loaded from: the registry that holds it
            // never attaches, sweeps or registers, so nothing stores to it, and plain
            // 8-byte atomic loads of read-only memory are allowed.
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

    /// Bump-allocates from a header pointer, never below `first` (a pointer a hostile
    /// write moved back into reserved space) nor past `limit`. Before the pointer
    /// moves to `end`, `ensure(start, end)` makes sure the words up to `end` have file
    /// space; if it cannot, nothing is allocated and the refusal is counted in
    /// [`H_NO_SPACE`].
    fn bump(
        &self,
        at: usize,
        n: u64,
        (first, limit): (u64, u64),
        ensure: impl Fn(u64, u64) -> std::io::Result<()>,
    ) -> Option<u64> {
        let next = self.word(at);
        let backoff = Backoff::new();
        let mut cur = next.load(Ordering::Relaxed);
        loop {
            let start = cur.max(first);
            let end = start.checked_add(n).filter(|&e| e <= limit)?;
            if ensure(start, end).is_err() {
                self.count(H_NO_SPACE);
                return None;
            }
            match next.compare_exchange_weak(cur, end, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return Some(start),
                Err(v) => {
                    cur = v;
                    backoff.spin();
                }
            }
        }
    }

    /// Allocates `n` zeroed words of arena; returns the arena-relative offset. Before
    /// the pointer passes the reserved mark (word 25), file space up to the next
    /// chunk is reserved.
    pub fn alloc_arena(&self, n: usize) -> Option<u64> {
        let l = &self.layout;
        let limit = l.arena_words as u64;
        self.bump(H_NEXT_ARENA, n as u64, (1, limit), |start, end| {
            // The mark is outside the checksum: one past the layout is not believed,
            // and space from the allocation on is reserved again.
            let mark = self.word(H_ARENA_RESERVED);
            let reserved = match mark.load(Ordering::Acquire) {
                m if m <= limit => m,
                _ => start,
            };
            if end > reserved {
                let to = end
                    .div_ceil(ARENA_CHUNK)
                    .saturating_mul(ARENA_CHUNK)
                    .min(limit);
                self.reserve(l.arena_off + reserved as usize, l.arena_off + to as usize)?;
                mark.fetch_max(to, Ordering::Release);
            }
            Ok(())
        })
    }

    /// Allocates `n` consecutive zeroed cells, the same in every lane; returns the first
    /// cell index. Freed cells of that many come first (see [`Region::free_cells`]),
    /// then fresh ones; file space is reserved in the lanes in use only.
    pub fn alloc_cells(&self, n: usize) -> Option<u32> {
        if let Some(c) = self.pop_free(n) {
            return Some(c);
        }
        let limit = self.layout.cells_per_shard as u64;
        self.bump(H_NEXT_CELL, n as u64, (SINK_CELLS, limit), |start, end| {
            self.lane_table()
                .grow(start, end, CELL_CHUNK, |lanes, from, to| {
                    self.reserve_lanes(lanes, from, to)
                })
        })
        .map(|c| c as u32)
    }

    /// The head of the free list of runs of `n` cells, for `n` in 1..=[`SINK_CELLS`].
    fn free_head(&self, n: usize) -> Option<&AtomicU64> {
        (1..=SINK_CELLS as usize)
            .contains(&n)
            .then(|| self.word(self.layout.free_off + n - 1))
    }

    /// Takes a freed run of `n` cells, if there is one. A head is a tag (high half,
    /// bumped by every pop, so a head popped and pushed again in between fails the CAS)
    /// and the first cell + 1 (low half, 0 for an empty list); a run's link to the next
    /// is kept in its first cell of lane 0, zeroed once the run is taken.
    fn pop_free(&self, n: usize) -> Option<u32> {
        let head = self.free_head(n)?;
        let backoff = Backoff::new();
        let mut cur = head.load(Ordering::Acquire);
        loop {
            let first = (cur as u32).checked_sub(1)?;
            if !self.cells_inside(first, n) {
                return None; // a head only a hostile write leaves: the list is lost
            }
            let next = self.cell(0, first).load(Ordering::Relaxed) as u32;
            let new = ((cur >> 32) + 1) << 32 | next as u64;
            match head.compare_exchange_weak(cur, new, Ordering::Acquire, Ordering::Acquire) {
                Ok(_) => {
                    self.cell(0, first).store(0, Ordering::Relaxed);
                    saturating_sub(self.word(H_FREE_CELLS), n as u64);
                    return Some(first);
                }
                Err(v) => {
                    cur = v;
                    backoff.spin();
                }
            }
        }
    }

    /// Gives back the `n` cells from `first`, which no recording can reach any more
    /// (after [`Region::quiesce`]): zeroes them in every lane in use and puts them on
    /// the free list of runs of `n`. Lanes past those in use were never written.
    pub fn free_cells(&self, first: u32, n: usize) {
        let Some(head) = self.free_head(n) else {
            return;
        };
        if !self.cells_inside(first, n) || first as u64 + n as u64 > self.cell_use().0 {
            return;
        }
        for lane in 0..self.lanes_in_use() {
            for c in self.lane_cells(lane, first, first + n as u32) {
                c.store(0, Ordering::Relaxed);
            }
        }
        let link = self.cell(0, first);
        let backoff = Backoff::new();
        let mut cur = head.load(Ordering::Relaxed);
        loop {
            link.store(cur as u32 as u64, Ordering::Relaxed);
            let new = (cur >> 32) << 32 | (first as u64 + 1);
            match head.compare_exchange_weak(cur, new, Ordering::Release, Ordering::Relaxed) {
                Ok(_) => break,
                Err(v) => {
                    cur = v;
                    backoff.spin();
                }
            }
        }
        self.word(H_FREE_CELLS)
            .fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Puts the removed series record at arena offset `off` on the list of records
    /// whose cells await reclamation, linked through the record word `link` (a word of
    /// the record the caller made dead, so that no handle's check passes).
    pub fn retire(&self, off: u64, link: &AtomicU64) {
        let head = self.word(H_RETIRED);
        let mut cur = head.load(Ordering::Relaxed);
        let backoff = Backoff::new();
        loop {
            link.store(cur & 0xffff_ffff, Ordering::Relaxed);
            match head.compare_exchange_weak(cur, off, Ordering::Release, Ordering::Relaxed) {
                Ok(_) => break,
                Err(v) => {
                    cur = v;
                    backoff.spin();
                }
            }
        }
        self.count(H_RETIRED_COUNT);
    }

    /// Takes the whole list of retired records: the arena offset of the first, 0 for
    /// none.
    pub fn take_retired(&self) -> u64 {
        if self.word(H_RETIRED).load(Ordering::Relaxed) == 0 {
            return 0;
        }
        self.word(H_RETIRED).swap(0, Ordering::Acquire)
    }

    /// Records retired and not yet reclaimed.
    pub fn retired(&self) -> u64 {
        self.word(H_RETIRED_COUNT).load(Ordering::Relaxed)
    }

    /// Puts the record at arena offset `off`, whose cells were reclaimed, on the free
    /// list of size class `class`, linked through its dead word `link` (low half).
    pub fn free_record(&self, class: usize, off: u64, link: &AtomicU64) {
        if class < RECORD_CLASSES {
            self.push_arena(H_FREE_RECORDS + class, off, link);
        }
    }

    /// Takes a record of size class `class` off its free list: its arena offset.
    /// `link` gives the word of a record that links it to the next (`None` for an
    /// offset outside the arena: a head only a hostile write leaves, and the list is
    /// lost). The caller checks the record before it uses it.
    pub fn take_record<'a>(
        &'a self,
        class: usize,
        link: impl Fn(u64) -> Option<&'a AtomicU64>,
    ) -> Option<u64> {
        if class >= RECORD_CLASSES {
            return None;
        }
        let off = self.pop_arena(H_FREE_RECORDS + class, link)?;
        self.count(H_REUSED);
        Some(off)
    }

    /// Puts the exemplar slots of a reclaimed series, `n` of them at arena offset
    /// `off`, on the free list of `n` slots, linked through their first word `link`.
    pub fn free_exemplars(&self, n: usize, off: u64, link: &AtomicU64) {
        if (1..=EXEMPLAR_CLASSES).contains(&n) {
            self.push_arena(H_FREE_EXEMPLARS + n - 1, off, link);
        }
    }

    /// Takes `n` exemplar slots off their free list: their arena offset. `link` gives
    /// their first word, as for [`Region::take_record`]; the caller zeroes them.
    pub fn take_exemplars<'a>(
        &'a self,
        n: usize,
        link: impl Fn(u64) -> Option<&'a AtomicU64>,
    ) -> Option<u64> {
        if !(1..=EXEMPLAR_CLASSES).contains(&n) {
            return None;
        }
        self.pop_arena(H_FREE_EXEMPLARS + n - 1, link)
    }

    /// Pushes arena offset `off` on the free list whose head is header word `head`,
    /// linked through `link` (low half). A head is a tag (high half, bumped by every
    /// pop, so a head popped and pushed again in between fails the CAS) and the offset
    /// of the first item (low half, 0 for an empty list).
    fn push_arena(&self, head: usize, off: u64, link: &AtomicU64) {
        let head = self.word(head);
        let backoff = Backoff::new();
        let mut cur = head.load(Ordering::Relaxed);
        loop {
            link.store(cur & 0xffff_ffff, Ordering::Relaxed);
            let new = (cur >> 32) << 32 | off;
            match head.compare_exchange_weak(cur, new, Ordering::Release, Ordering::Relaxed) {
                Ok(_) => return,
                Err(v) => {
                    cur = v;
                    backoff.spin();
                }
            }
        }
    }

    /// Pops the first item of the free list whose head is header word `head` (see
    /// [`Region::push_arena`]); `link` gives the word an item links through.
    fn pop_arena<'a>(
        &'a self,
        head: usize,
        link: impl Fn(u64) -> Option<&'a AtomicU64>,
    ) -> Option<u64> {
        let head = self.word(head);
        let backoff = Backoff::new();
        let mut cur = head.load(Ordering::Acquire);
        loop {
            let off = cur & 0xffff_ffff;
            if off == 0 {
                return None;
            }
            let next = link(off)?.load(Ordering::Relaxed) & 0xffff_ffff;
            let new = ((cur >> 32) + 1) << 32 | next;
            match head.compare_exchange_weak(cur, new, Ordering::Acquire, Ordering::Acquire) {
                Ok(_) => return Some(off),
                Err(v) => {
                    cur = v;
                    backoff.spin();
                }
            }
        }
    }

    /// Records taken from the free lists so far.
    pub fn reused(&self) -> u64 {
        self.word(H_REUSED).load(Ordering::Relaxed)
    }

    /// The first lane's quiescence word; lane `s`'s is [`QUIET_WORDS`] `* s` words on.
    /// Recordings set it odd around their check and write (see `Cells::enter`).
    #[inline]
    pub fn quiet_base(&self) -> *const AtomicU64 {
        self.word(self.layout.quiet_off) as *const AtomicU64
    }

    /// Waits until every recording that may have passed its handle's check before this
    /// call has finished its write; `false` when that cannot be known (a process could
    /// not register for memory barriers, or a recording stayed in flight too long),
    /// and then nothing retired may be reused yet.
    ///
    /// A recording sets its lane's quiescence word to 1 (odd), checks its series' cell
    /// word, writes, and sets the word to 2 (even); plain stores, made visible by a global memory
    /// barrier here (`membarrier`), which every thread of every process that records
    /// in the region passes (they registered before their first recording). Whoever is
    /// in flight afterwards either loaded the dead cell word, or was seen odd and is
    /// waited for; a lane whose holder is gone is not. Threads that share lanes by CPU
    /// count their writes in flight in the line's second word instead, which is waited
    /// for until seen at 0 (whoever was counted has left by then).
    pub fn quiesce(&self) -> bool {
        if !self.writable || self.word(H_NO_BARRIER).load(Ordering::SeqCst) != 0 {
            return false;
        }
        global_barrier() && self.wait_quiet(true)
    }

    /// The waiting part of [`Region::quiesce`], after its barrier: waits until every
    /// lane seen inside a write has left it (or its holder is gone), and with
    /// `sharers` until every lane's count of writes by threads sharing it was seen at
    /// 0; `false` if that took too long.
    fn wait_quiet(&self, sharers: bool) -> bool {
        let n = self.lanes_in_use();
        let quiet = |lane: usize| self.word(self.layout.quiet_off + lane * QUIET_WORDS);
        let owner = |lane: usize| self.lane_table().owners[lane].load(Ordering::Acquire);
        // A lane given back (owner 0) or taken by another thread (a new owner) was left
        // between recordings, or by a holder that is gone.
        let mut waiting: Vec<(usize, u64, u64)> = (0..n)
            .map(|lane| (lane, quiet(lane).load(Ordering::Acquire), owner(lane)))
            .filter(|&(_, q, o)| q & 1 == 1 && o != 0)
            .collect();
        let counts = |lane: usize| self.word(self.layout.quiet_off + lane * QUIET_WORDS + 1);
        let mut shared: Vec<usize> = if sharers {
            (0..n).collect()
        } else {
            Vec::new()
        };
        #[cfg(not(loom))]
        let start = std::time::Instant::now();
        let backoff = Backoff::new();
        loop {
            shared.retain(|&lane| counts(lane).load(Ordering::Acquire) != 0);
            // Seen even once, the lane left every write it was in at the barrier.
            waiting.retain(|&(lane, _, o)| {
                quiet(lane).load(Ordering::Acquire) & 1 == 1 && owner(lane) == o
            });
            if waiting.is_empty() && shared.is_empty() {
                break;
            }
            let owners: Vec<u64> = waiting.iter().map(|w| w.2).collect();
            let gone = self.holders.gone(&owners);
            let mut i = 0;
            waiting.retain(|_| {
                i += 1;
                !gone[i - 1]
            });
            #[cfg(not(loom))]
            if start.elapsed() > QUIESCE_WAIT {
                return false;
            }
            backoff.spin();
            #[cfg(not(loom))]
            std::thread::yield_now();
        }
        true
    }

    /// The lane table and the reservation word.
    fn lane_table(&self) -> Table<'_> {
        let l = &self.layout;
        Table {
            owners: &self.words()[l.lanes_off..l.lanes_off + l.shards],
            reserved: self.word(H_CELLS_RESERVED),
            cells: l.cells_per_shard as u64,
        }
    }

    /// Reserves cells `from..to` of each lane in `lanes`.
    fn reserve_lanes(
        &self,
        lanes: std::ops::Range<usize>,
        from: u64,
        to: u64,
    ) -> std::io::Result<()> {
        let l = &self.layout;
        lanes.into_iter().try_for_each(|s| {
            let at = l.cells_off + s * l.cells_per_shard;
            self.reserve(at + from as usize, at + to as usize)
        })
    }

    /// Lanes in use (1 to the capacity): every lane below has been claimed once and
    /// has file space for the cells handed out. Readers read only these.
    pub fn lanes_in_use(&self) -> usize {
        self.lane_table().in_use()
    }

    /// A lane for a thread of process `me` (see [`Table::claim`]), whose holders
    /// `alive` tells running from gone, as a map entry's lane: its own, or, when none
    /// can be had, [`lanes::SHARED`] and a mask for sharing the lanes in use by CPU
    /// (which makes readers read every lane whole from then on).
    pub fn claim_lane(&self, me: LaneOwner, alive: impl Fn(LaneOwner) -> bool) -> u32 {
        if self.writable && !register_barrier() {
            // Before this thread's first add: no reclamation can count on this
            // process's threads passing a barrier, so cells are never reused.
            self.word(H_NO_BARRIER).store(1, Ordering::SeqCst);
            crate::sync::fence(Ordering::SeqCst);
        }
        if self.writable {
            let reserve = |lanes, from, to| self.reserve_lanes(lanes, from, to);
            let repair = |lane| self.repair_marks(lane);
            match self.lane_table().claim(me, alive, repair, reserve) {
                Claimed::Own(lane) => return lane as u32,
                Claimed::NoSpace => self.count(H_NO_SPACE),
                Claimed::Full => {}
            }
            // Before this thread's first add: readers read every lane whole from now.
            let shared = self.word(H_LANES_SHARED);
            if shared.load(Ordering::Relaxed) == 0 {
                shared.store(1, Ordering::Release);
            }
            self.make_lanes_atomic();
        }
        // The largest power of two of lanes in use, all of them reserved.
        let shared = 1u32 << self.lanes_in_use().ilog2();
        lanes::SHARED | (shared - 1)
    }

    /// Before the calling thread's first add in a lane shared by CPU: has every lane's
    /// holder add atomically from now on, and waits until the plain adds begun before
    /// have ended, so that no add of either is lost (as [`Region::quiesce`] waits,
    /// but not for other sharers, which add atomically). Without a global barrier, a
    /// holder's flag read that missed the store shows as a write in flight once every
    /// store buffer has drained, which takes far less than the pause here.
    fn make_lanes_atomic(&self) {
        let l = &self.layout;
        for lane in 0..l.shards {
            let flag = self.word(l.quiet_off + lane * QUIET_WORDS + QUIET_ATOMIC);
            if flag.load(Ordering::Relaxed) == 0 {
                flag.store(1, Ordering::SeqCst);
            }
        }
        let barrier = self.word(H_NO_BARRIER).load(Ordering::SeqCst) == 0 && global_barrier();
        #[cfg(not(loom))]
        if !barrier {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        #[cfg(loom)]
        let _ = barrier;
        self.wait_quiet(false);
    }

    /// Gives `lane` back to the table if `me` holds it.
    pub fn release_lane(&self, lane: usize, me: LaneOwner) {
        if self.writable {
            self.lane_table().release(lane, me);
        }
    }

    /// Reserves file space for words `from..to` of a shared region (a system call, on
    /// the allocation path only); anonymous memory needs none.
    fn reserve(&self, from: usize, to: usize) -> std::io::Result<()> {
        #[cfg(not(loom))]
        if let Some(file) = &self.mem.file {
            // A broken region's file was truncated: growing it back would only hand
            // zeros to whoever opens it next.
            if self.is_broken() {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            return fallocate(file, from, to);
        }
        let _ = (from, to);
        Ok(())
    }

    /// Directory slots a lookup probes from a series' home slot: every series lies
    /// within them ([`H_PROBES`], clamped to the directory).
    #[inline]
    pub fn probes(&self) -> usize {
        let p = self.word(H_PROBES).load(Ordering::Relaxed);
        (p as usize).clamp(1, self.layout.series)
    }

    /// Arena words in use and in all.
    pub fn arena_use(&self) -> (u64, u64) {
        let used = self.word(H_NEXT_ARENA).load(Ordering::Relaxed);
        (
            used.min(self.layout.arena_words as u64),
            self.layout.arena_words as u64,
        )
    }

    /// Cells per lane in use and in all. Cells at or past the first number were never
    /// handed out: reading them would make a file allocate them.
    pub fn cell_use(&self) -> (u64, u64) {
        let used = self.word(H_NEXT_CELL).load(Ordering::Relaxed);
        (
            used.min(self.layout.cells_per_shard as u64),
            self.layout.cells_per_shard as u64,
        )
    }

    /// What is wrong with the header's bump pointers: outside the space they allocate
    /// from, as only a hostile write leaves them (allocation clamps them either way).
    pub fn pointer_problems(&self) -> Vec<String> {
        let l = &self.layout;
        [
            ("next free cell", H_NEXT_CELL, SINK_CELLS, l.cells_per_shard),
            ("next free arena word", H_NEXT_ARENA, 1, l.arena_words),
        ]
        .into_iter()
        .filter_map(|(what, at, first, limit)| {
            let v = self.word(at).load(Ordering::Relaxed);
            (!(first..=limit as u64).contains(&v))
                .then(|| format!("header: {what} {v} is outside {first}..={limit}"))
        })
        .collect()
    }

    /// Region bytes in use (header, tables, used arena and used cells) and in all.
    pub fn bytes_use(&self) -> (u64, u64) {
        let l = &self.layout;
        let (arena, _) = self.arena_use();
        let (cells, _) = self.cell_use();
        let fixed = l.arena_off as u64;
        let used = (fixed + arena + cells * self.lanes_in_use() as u64) * 8;
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
            // bytes lie inside it. Arena bytes are written before the word that
            // publishes them is stored with Release and loaded by the caller with
            // Acquire. The one exception is the key of a reclaimed series record,
            // written again when the record is reused: a reader still holding the old
            // record may read bytes while they change, takes them as untrusted bytes
            // (compared, or decoded lossily: any byte is valid), and lookups and plans
            // drop what they read when the record's generation changed (`directory`).
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

    /// The cell word for `cell` in lane `lane`.
    #[inline]
    pub fn cell(&self, lane: usize, cell: u32) -> &AtomicU64 {
        let l = &self.layout;
        self.word(l.cells_off + lane * l.cells_per_shard + cell as usize)
    }

    /// Cells `from..to` of lane `lane`, for reading a lane in memory order.
    pub fn lane_cells(&self, lane: usize, from: u32, to: u32) -> &[AtomicU64] {
        let at = self.layout.cells_off + lane * self.layout.cells_per_shard;
        &self.words()[at + from as usize..at + to as usize]
    }

    /// Marks the cache line of `cell`, a cell word of this region, written: called
    /// (cold) by a recording that found the cell at 0, after its add. Marks are never
    /// cleared, so a cell zeroed and used again keeps its line marked.
    pub fn mark_written(&self, cell: &AtomicU64) {
        let l = &self.layout;
        let at = (cell as *const AtomicU64 as usize).wrapping_sub(self.words().as_ptr() as usize)
            / std::mem::size_of::<AtomicU64>();
        if let Some(off) = at
            .checked_sub(l.cells_off)
            .filter(|&o| o < l.shards * l.cells_per_shard)
        {
            self.mark_line(off / LINE_CELLS);
        }
    }

    /// Sets the mark of cache line `line` of the cells area (lane by lane, from 0).
    fn mark_line(&self, line: usize) {
        let (word, bit) = self.line_mark(line);
        if word.load(Ordering::Relaxed) & bit == 0 {
            word.fetch_or(bit, Ordering::Release);
        }
    }

    /// The word and bit of the mark of cache line `line` (below the layout's lines).
    fn line_mark(&self, line: usize) -> (&AtomicU64, u64) {
        (
            self.word(self.layout.marks_off + line / 64),
            1 << (line % 64),
        )
    }

    /// Whether cell `cell` of lane `lane` is on a line marked written.
    #[cfg_attr(loom, allow(dead_code))]
    pub fn is_written(&self, lane: usize, cell: u32) -> bool {
        let l = &self.layout;
        if lane >= l.shards || cell as usize >= l.cells_per_shard {
            return false;
        }
        let (word, bit) = self.line_mark((lane * l.cells_per_shard + cell as usize) / LINE_CELLS);
        word.load(Ordering::Acquire) & bit != 0
    }

    /// The cells below `used` of `lane` that may hold a recording, into `out` as
    /// sorted, disjoint ranges: the cache lines marked written, or the whole lane when
    /// `whole` (see [`lanes_read_whole`](Self::lanes_read_whole)). A cell added to
    /// but not yet marked reads as not recorded yet.
    pub fn written(&self, lane: usize, used: usize, whole: bool, out: &mut Vec<(usize, usize)>) {
        out.clear();
        let l = &self.layout;
        let used = used.min(l.cells_per_shard);
        if lane >= l.shards || used == 0 {
            return;
        }
        if whole {
            out.push((0, used));
            return;
        }
        let base = lane * l.cells_per_shard;
        let end = (base + used).div_ceil(LINE_CELLS);
        let mut line = base / LINE_CELLS;
        while line < end {
            let bits = self.line_mark(line).0.load(Ordering::Acquire) >> (line % 64);
            if bits == 0 {
                line = (line / 64 + 1) * 64;
                continue;
            }
            line += bits.trailing_zeros() as usize;
            if line >= end {
                break;
            }
            let from = (line * LINE_CELLS).max(base) - base;
            let to = ((line + 1) * LINE_CELLS).min(base + used) - base;
            match out.last_mut() {
                Some((_, t)) if *t == from => *t = to,
                _ => out.push((from, to)),
            }
            line += 1;
        }
    }

    /// Marks the lines of `lane` that hold a cell other than 0, below the cells handed
    /// out: the lane's holder is gone, and may have died between an add and its mark.
    fn repair_marks(&self, lane: usize) {
        let l = &self.layout;
        let (used, base) = (self.cell_use().0 as usize, lane * l.cells_per_shard);
        let mut c = 0;
        while c < used {
            if self.cell(lane, c as u32).load(Ordering::Relaxed) == 0 {
                c += 1;
                continue;
            }
            let line = (base + c) / LINE_CELLS;
            self.mark_line(line);
            c = (line + 1) * LINE_CELLS - base;
        }
    }

    /// For each lane in use, whether readers read it whole rather than by its marks:
    /// when its holder is gone (it may have died between an add and its mark), and
    /// every lane once a thread has shared lanes by CPU. Read before the marks: a
    /// lane taken from a gone holder had its marks repaired before it was taken.
    pub fn lanes_read_whole(&self) -> Vec<bool> {
        let n = self.lanes_in_use();
        if self.word(H_LANES_SHARED).load(Ordering::Acquire) != 0 {
            return vec![true; n];
        }
        let owners: Vec<u64> = self.lane_table().owners[..n]
            .iter()
            .map(|w| w.load(Ordering::Acquire))
            .collect();
        self.holders.gone(&owners)
    }

    /// The sum of a cell over the lanes in use, as integers; wide enough not to wrap.
    pub fn cell_sum(&self, cell: u32) -> u128 {
        (0..self.lanes_in_use()).fold(0u128, |s, lane| {
            s + self.cell(lane, cell).load(Ordering::Relaxed) as u128
        })
    }

    /// Sets a cell to 0 in every lane in use (lanes past them were never written).
    pub fn zero_cell(&self, cell: u32) {
        for lane in 0..self.lanes_in_use() {
            self.cell(lane, cell).store(0, Ordering::Relaxed);
        }
    }

    /// The sum of a cell over the lanes in use, as `f64` bit patterns.
    pub fn cell_sum_f64(&self, cell: u32) -> f64 {
        (0..self.lanes_in_use())
            .map(|lane| f64::from_bits(self.cell(lane, cell).load(Ordering::Relaxed)))
            .sum()
    }
}

/// The small region the loom models share.
#[cfg(all(test, loom))]
impl Region {
    /// One lane, 4 series slots, 2 families and `arena_bytes` of arena.
    pub(crate) fn for_models(arena_bytes: u64) -> std::sync::Arc<Region> {
        std::sync::Arc::new(
            Region::anonymous(&Options {
                shards: Some(1),
                cells_per_shard: 264,
                series_capacity: 4,
                family_capacity: 2,
                process_capacity: 1,
                arena_bytes,
                ..Options::default()
            })
            .unwrap(),
        )
    }
}

impl lanes::Holder for Region {
    fn release(&self, slot: usize, key: u32) {
        let entry = self.lanes.entry(slot);
        let cur = entry.load(Ordering::Acquire);
        let (k, lane) = lanes::split(cur);
        if k != key
            || entry
                .compare_exchange(cur, 0, Ordering::AcqRel, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        if let Some(lane) = lanes::own_lane(lane as u32) {
            self.release_lane(lane, lanes::me());
        }
    }
}

impl Drop for Region {
    /// Gives back the lanes this process's threads hold here: nothing records here
    /// any more.
    fn drop(&mut self) {
        let mut held = self.lanes.own_lanes().peekable();
        if held.peek().is_none() {
            return;
        }
        let me = lanes::me();
        let table = self.lane_table();
        for lane in held {
            if self.writable {
                table.release(lane, me);
            }
        }
    }
}

/// Registers this process for global expedited memory barriers (once per process);
/// `false` if the kernel offers none.
#[cfg(not(loom))]
fn register_barrier() -> bool {
    static REGISTERED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *REGISTERED.get_or_init(|| {
        // SAFETY: membarrier takes no pointers; QUERY returns a bit mask or -1.
        let cmds = unsafe { libc::syscall(libc::SYS_membarrier, libc::MEMBARRIER_CMD_QUERY, 0, 0) };
        cmds >= 0
            && cmds & libc::MEMBARRIER_CMD_GLOBAL_EXPEDITED as libc::c_long != 0
            // SAFETY: as above; registration only marks this process.
            && unsafe {
                libc::syscall(
                    libc::SYS_membarrier,
                    libc::MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED,
                    0,
                    0,
                )
            } == 0
    })
}

#[cfg(loom)]
fn register_barrier() -> bool {
    true
}

/// A memory barrier in every running thread of every registered process (and this
/// one); `false` if the kernel refused it.
#[cfg(not(loom))]
fn global_barrier() -> bool {
    // SAFETY: membarrier takes no pointers.
    register_barrier()
        && unsafe {
            libc::syscall(
                libc::SYS_membarrier,
                libc::MEMBARRIER_CMD_GLOBAL_EXPEDITED,
                0,
                0,
            )
        } == 0
}

/// Under loom a sequentially consistent fence here and one in each recording stand for
/// the kernel's barrier.
#[cfg(loom)]
fn global_barrier() -> bool {
    crate::sync::fence(Ordering::SeqCst);
    true
}

/// Gives words `from..to` of `file` disk or memory blocks, so that storing to them
/// through the mapping cannot fault. A filesystem that cannot reserve space
/// (`EOPNOTSUPP`) is accepted as it is: there a full filesystem can still fault.
#[cfg(not(loom))]
fn fallocate(file: &std::fs::File, from: usize, to: usize) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    if to <= from {
        return Ok(());
    }
    let (off, len) = ((from * 8) as libc::off_t, ((to - from) * 8) as libc::off_t);
    loop {
        // SAFETY: a system call on a descriptor `file` keeps open; no memory is passed.
        // Mode 0 inside the file's size only allocates blocks and changes no data.
        if unsafe { libc::fallocate(file.as_raw_fd(), 0, off, len) } == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EOPNOTSUPP) => return Ok(()),
            _ => return Err(e),
        }
    }
}

/// Takes `n` off a count kept in the region, stopping at 0: a count that a killed
/// process left too low (or that a hostile write changed) never wraps around. A series
/// removed between being published and being counted by its creator can find the
/// count at 0; the count then ends one high.
pub(crate) fn saturating_sub(count: &AtomicU64, n: u64) {
    let _ = count.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
        Some(v.saturating_sub(n))
    });
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
fn open_file(path: &Path, create: bool, write: bool, mode: u32) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut o = std::fs::OpenOptions::new();
    o.read(true)
        .write(write)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
    if create {
        o.create_new(true).mode(mode);
    }
    o.open(path)
}

#[cfg(all(test, not(loom)))]
pub(crate) mod tests {
    use super::*;

    fn small() -> Options {
        Options {
            shards: Some(2),
            cells_per_shard: 1024,
            series_capacity: 64,
            family_capacity: 16,
            process_capacity: 8,
            arena_bytes: 1 << 16,
            ..Options::default()
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
        // Pointers moved back into reserved space (offset 0, the sink) start past it.
        r.word(H_NEXT_ARENA).store(0, Ordering::Relaxed);
        assert_eq!(r.alloc_arena(2), Some(1));
        r.word(H_NEXT_CELL).store(3, Ordering::Relaxed);
        assert_eq!(r.alloc_cells(1), Some(SINK_CELLS as u32));
        // Pointers moved past the end allocate nothing.
        r.word(H_NEXT_CELL).store(u64::MAX, Ordering::Relaxed);
        assert!(r.alloc_cells(1).is_none());
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
        let err = |p: &Path| {
            Region::open_existing(p, &small(), true)
                .err()
                .unwrap()
                .to_string()
        };

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
            Region::open_existing(&link, &small(), true),
            Err(Error::Symlink(_))
        ));
    }

    #[test]
    fn shared_files_reserve_space_as_they_grow() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempdir();
        let path = dir.join("reg");
        let options = Options {
            arena_bytes: 1 << 20,
            ..small()
        };
        let r = Region::open_shared(&path, &options).unwrap();
        let blocks = || std::fs::metadata(&path).unwrap().blocks() * 512;
        let l = r.layout;
        let at_creation = blocks();
        assert!(at_creation >= (l.arena_off * 8) as u64, "{at_creation}");
        assert!(at_creation < l.bytes() as u64, "sparse beyond the tables");
        let mark = |w: usize| r.word(w).load(Ordering::Relaxed);
        assert_eq!(
            (mark(H_ARENA_RESERVED), mark(H_CELLS_RESERVED)),
            (0, Reserved::new(1, SINK_CELLS as u32).0)
        );
        r.alloc_arena(ARENA_CHUNK as usize + 1).unwrap();
        assert_eq!(mark(H_ARENA_RESERVED), 2 * ARENA_CHUNK);
        assert!(blocks() >= at_creation + 2 * ARENA_CHUNK * 8 - 4096);
        r.alloc_cells(10).unwrap();
        assert_eq!(
            mark(H_CELLS_RESERVED),
            Reserved::new(1, CELL_CHUNK.min(l.cells_per_shard as u64) as u32).0
        );
        // A mark past the layout is not believed: allocation reserves again.
        r.word(H_ARENA_RESERVED).store(u64::MAX, Ordering::Relaxed);
        let before = blocks();
        r.alloc_arena(ARENA_CHUNK as usize).unwrap();
        assert!(blocks() > before);
        assert_eq!(r.counter(H_NO_SPACE), 0);
    }

    #[test]
    fn lanes_get_file_space_when_first_claimed_and_are_taken_back_from_the_dead() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempdir();
        let path = dir.join("reg");
        let options = Options {
            shards: Some(4),
            cells_per_shard: 2 * CELL_CHUNK as u32,
            ..small()
        };
        let r = Region::open_shared(&path, &options).unwrap();
        let blocks = || std::fs::metadata(&path).unwrap().blocks() * 512;
        let lane_bytes = CELL_CHUNK * 8;
        r.alloc_cells(10).unwrap();
        let (a, b, c, dead) = (
            LaneOwner::new(1, 1),
            LaneOwner::new(2, 2),
            LaneOwner::new(3, 3),
            LaneOwner::new(4, 4),
        );
        let alive = |o: LaneOwner| o != dead;
        let one_lane = blocks();
        assert_eq!((r.claim_lane(a, alive), r.lanes_in_use()), (0, 1));
        assert_eq!(blocks(), one_lane, "lane 0 has its space already");
        assert_eq!((r.claim_lane(b, alive), r.lanes_in_use()), (1, 2));
        assert!(
            blocks() >= one_lane + lane_bytes,
            "lane 1 got its first chunk"
        );
        // Allocation past the chunk reserves in the two lanes in use, not in the others.
        let two_lanes = blocks();
        r.alloc_cells(CELL_CHUNK as usize).unwrap();
        assert!(blocks() >= two_lanes + 2 * lane_bytes);
        assert!(blocks() < two_lanes + 3 * lane_bytes);
        // Lane 1's holder died: the next claim takes it before a new lane.
        r.word(r.layout.lanes_off + 1)
            .store(dead.0, Ordering::Relaxed);
        assert_eq!((r.claim_lane(c, alive), r.lanes_in_use()), (1, 2));
        assert_eq!((r.claim_lane(b, alive), r.lanes_in_use()), (2, 3));
        assert_eq!((r.claim_lane(b, alive), r.lanes_in_use()), (3, 4));
        // Every lane held: share the four by CPU, and readers read them whole.
        assert_eq!(r.word(H_LANES_SHARED).load(Ordering::Relaxed), 0);
        assert_eq!(r.claim_lane(c, alive), lanes::SHARED | 3);
        assert_eq!(r.lanes_read_whole(), [true; 4]);
        r.release_lane(2, a);
        assert_eq!(r.claim_lane(c, alive), lanes::SHARED | 3, "not a's to give");
        r.release_lane(2, b);
        assert_eq!(r.claim_lane(c, alive), 2);
        assert_eq!(r.counter(H_NO_SPACE), 0);
        // A count of lanes past the table is not believed.
        r.word(H_CELLS_RESERVED)
            .store(Reserved::new(99, 0).0, Ordering::Relaxed);
        assert_eq!(r.lanes_in_use(), 4);
    }

    #[test]
    fn written_lines_are_found_by_their_marks_and_marks_stay() {
        // 1,020 cells per lane: lane 1 starts inside a cache line of lane 0's end.
        let r = Region::anonymous(&Options {
            cells_per_shard: 1020,
            ..small()
        })
        .unwrap();
        let mut out = Vec::new();
        let spans = |lane, whole, out: &mut Vec<(usize, usize)>| {
            r.written(lane, 1020, whole, out);
            out.clone()
        };
        assert_eq!(spans(1, false, &mut out), []);
        assert_eq!(spans(1, true, &mut out), [(0, 1020)]);
        r.mark_written(r.cell(1, 300));
        r.mark_written(r.cell(1, 301));
        assert_eq!(spans(1, false, &mut out), [(300, 308)]);
        r.mark_written(r.cell(1, 308));
        r.mark_written(r.cell(1, 900));
        assert_eq!(spans(1, false, &mut out), [(300, 316), (900, 908)]);
        r.written(1, 904, false, &mut out);
        assert_eq!(out, [(300, 316), (900, 904)], "not past the cells used");
        // The line that holds the end of lane 0 and the start of lane 1.
        r.mark_written(r.cell(1, 0));
        assert_eq!(spans(0, false, &mut out), [(1016, 1020)]);
        assert_eq!(spans(1, false, &mut out)[0], (0, 4));
        assert!(r.is_written(0, 1019) && !r.is_written(0, 1015));
        // A cell zeroed for reuse keeps its line marked.
        r.cell(1, 300).store(0, Ordering::Relaxed);
        assert!(r.is_written(1, 300));
        // Not a cell of this region: nothing is marked.
        r.mark_written(r.word(H_ERRORS));
        assert_eq!(spans(0, false, &mut out), [(1016, 1020)]);
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
