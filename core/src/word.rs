//! Packed words: the region words that hold two 32-bit fields, one type per kind of
//! word with a named accessor per field. No other module shifts or masks them.
//!
//! | type          | high half       | low half        | where                          |
//! |---------------|-----------------|-----------------|--------------------------------|
//! | [`TaggedRef`] | top of a hash   | arena offset    | directory slot, family ref     |
//! | [`FamilyWord`]| record flags    | family index    | series record word 1           |
//! | [`CellWord`]  | pid             | first cell      | series record word 3           |
//! | [`Claim`]     | generation      | pid             | process table slot word 0      |
//! | [`OwnerId`]   | generation      | process slot    | series record word 2 (owner)   |
//! | [`Reserved`]  | lanes           | cells per lane  | header word 17                 |
//!
//! [`LaneOwner`] splits its word 22/42: pid, then start time (lane table entry).

/// `hi << 32 | lo`.
#[inline(always)]
const fn join(hi: u32, lo: u32) -> u64 {
    (hi as u64) << 32 | lo as u64
}

/// The high half of `w`.
#[inline(always)]
const fn high(w: u64) -> u32 {
    (w >> 32) as u32
}

/// The low half of `w`.
#[inline(always)]
const fn low(w: u64) -> u32 {
    w as u32
}

/// An arena offset tagged with the top half of a hash: a directory slot (the series'
/// hash) or a family table ref (the name's hash). Comparing tags skips most entries
/// without following the offset. Offsets fit in the low half: the arena is smaller
/// than 2^32 words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TaggedRef(pub u64);

impl TaggedRef {
    /// The ref to arena offset `offset`, tagged with `hash`.
    #[inline(always)]
    pub const fn new(hash: u64, offset: u64) -> TaggedRef {
        TaggedRef(join(high(hash), offset as u32))
    }

    /// Whether the tag is that of `hash`.
    #[inline(always)]
    pub const fn tag_matches(self, hash: u64) -> bool {
        high(self.0) == high(hash)
    }

    /// The arena offset.
    #[inline(always)]
    pub const fn offset(self) -> u64 {
        low(self.0) as u64
    }
}

/// Word 1 of a series record: its family index and flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FamilyWord(pub u64);

impl FamilyWord {
    /// The word for `family` with `flags`.
    #[inline(always)]
    pub const fn new(family: u32, flags: u32) -> FamilyWord {
        FamilyWord(join(flags, family))
    }

    /// The family index.
    #[inline(always)]
    pub const fn family(self) -> u32 {
        low(self.0)
    }

    /// The record flags.
    #[inline(always)]
    pub const fn flags(self) -> u32 {
        high(self.0)
    }
}

/// Word 3 of a series record: its first cell and the pid of the process that made it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CellWord(pub u64);

impl CellWord {
    /// The word for first cell `cell`, made by `pid`.
    #[inline(always)]
    pub const fn new(cell: u32, pid: u32) -> CellWord {
        CellWord(join(pid, cell))
    }

    /// The first cell.
    #[inline(always)]
    pub const fn cell(self) -> u32 {
        low(self.0)
    }

    /// The pid.
    #[inline(always)]
    pub const fn pid(self) -> u32 {
        high(self.0)
    }
}

/// Word 0 of a process table slot: how many times it was claimed, and the pid holding
/// it (0 for none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Claim(pub u64);

impl Claim {
    /// The word for `pid` in claim `generation`.
    #[inline]
    pub const fn new(generation: u32, pid: u32) -> Claim {
        Claim(join(generation, pid))
    }

    /// The claim count.
    #[inline]
    pub const fn generation(self) -> u32 {
        high(self.0)
    }

    /// The pid, 0 for none.
    #[inline]
    pub const fn pid(self) -> u32 {
        low(self.0)
    }
}

/// An owner id, as series records store it: the process table slot and the claim
/// generation of the process that owns the series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OwnerId(pub u64);

impl OwnerId {
    /// The owner holding `slot` in claim `generation`.
    #[inline]
    pub const fn new(generation: u32, slot: u32) -> OwnerId {
        OwnerId(join(generation, slot))
    }

    /// The claim generation.
    #[inline]
    pub const fn generation(self) -> u32 {
        high(self.0)
    }

    /// The process table slot.
    #[inline]
    pub const fn slot(self) -> u32 {
        low(self.0)
    }
}

/// Header word 17: how many lanes have their cells' file space reserved (every lane
/// ever claimed: the lanes in use), and up to which cell, the same in each of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Reserved(pub u64);

impl Reserved {
    /// The word for `lanes` lanes reserved up to cell `cells`.
    #[inline]
    pub const fn new(lanes: u32, cells: u32) -> Reserved {
        Reserved(join(lanes, cells))
    }

    /// Lanes reserved.
    #[inline]
    pub const fn lanes(self) -> u32 {
        high(self.0)
    }

    /// Cells per lane reserved.
    #[inline]
    pub const fn cells(self) -> u32 {
        low(self.0)
    }
}

/// A lane table entry: the process holding the lane, as its pid (top 22 bits) and its
/// start time in clock ticks since boot (low 42 bits, to tell a reused pid from the
/// original; 0 when unknown); 0 for a free lane.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LaneOwner(pub u64);

impl LaneOwner {
    const START_BITS: u32 = 42;

    /// The entry for process `pid` (below 2^22, the kernel's limit) started at
    /// `started` (kept modulo 2^42).
    #[inline]
    pub const fn new(pid: u32, started: u64) -> LaneOwner {
        LaneOwner((pid as u64) << Self::START_BITS | started & ((1 << Self::START_BITS) - 1))
    }

    /// The pid, 0 for a free lane.
    #[inline]
    pub const fn pid(self) -> u32 {
        (self.0 >> Self::START_BITS) as u32
    }

    /// The start time.
    #[inline]
    pub const fn started(self) -> u64 {
        self.0 & ((1 << Self::START_BITS) - 1)
    }
}
