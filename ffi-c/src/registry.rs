//! Registries and scopes: opening, closing, rendering, statistics and callbacks.

use std::any::Any;
use std::ffi::{c_char, c_void};
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use metricore::{Format, Spec};

use crate::raw::{self, Str, Text, UserData};
use crate::status::{guard, Fail, Status};

/// Capacities and file mode for a new registry, and whom to trust with an existing
/// file. A field left 0 (or empty) takes its default, so
/// a zeroed struct (or a NULL pointer where options are taken) means all defaults;
/// `metricore_options_init` fills in the defaults explicitly. A shared file that
/// exists already keeps the capacities it was created with.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Options {
    /// Lanes (one per recording thread), rounded up to a power of two; 0: twice the CPUs
    /// of this machine.
    pub shards: u32,
    /// Cells per shard: one per counter, gauge or summary series (two for a summary or
    /// a per-process gauge), bucket count + 2 per histogram series.
    pub cells_per_shard: u32,
    /// Series the registry can hold, rounded up to a power of two.
    pub series_capacity: u32,
    /// Families the registry can hold, rounded up to a power of two.
    pub family_capacity: u32,
    /// Processes that can have a shared registry open at once.
    pub process_capacity: u32,
    /// Permission bits of a newly created file (such as 0600), 0..=0777, set whatever
    /// the umask; never writable by every user, writable by the group only with `group`.
    pub file_mode: u32,
    /// Bytes for label strings, series keys and family descriptions.
    pub arena_bytes: u64,
    /// A user (name or uid) besides the caller trusted to own an existing file; empty:
    /// none.
    pub owner: Str,
    /// A group (name or gid) trusted to own and write the file, given to a new file;
    /// empty: none. Users sharing one file through a group all name it.
    pub group: Str,
}

impl Options {
    fn from_core(o: &metricore::Options) -> Options {
        Options {
            shards: o.shards.unwrap_or(0),
            cells_per_shard: o.cells_per_shard,
            series_capacity: o.series_capacity,
            family_capacity: o.family_capacity,
            process_capacity: o.process_capacity,
            file_mode: o.file_mode,
            arena_bytes: o.arena_bytes,
            // The defaults trust no one but the caller.
            owner: Str::of(""),
            group: Str::of(""),
        }
    }

    /// The core options for `ptr`: defaults for NULL and for each zero field.
    ///
    /// # Safety
    ///
    /// `ptr` must be NULL or point to a readable `Options` left alone during this call.
    unsafe fn to_core(ptr: *const Options) -> Result<metricore::Options, Fail> {
        let mut o = metricore::Options::default();
        if ptr.is_null() {
            return Ok(o);
        }
        // SAFETY: `ptr` is a readable `Options` left alone during this call (this
        // function's contract); `c` is not kept past it.
        let c = unsafe { raw::obj(ptr, "options") }?;
        let pick = |v: u32, d: u32| if v == 0 { d } else { v };
        o.shards = (c.shards != 0).then_some(c.shards);
        o.cells_per_shard = pick(c.cells_per_shard, o.cells_per_shard);
        o.series_capacity = pick(c.series_capacity, o.series_capacity);
        o.family_capacity = pick(c.family_capacity, o.family_capacity);
        o.process_capacity = pick(c.process_capacity, o.process_capacity);
        o.file_mode = pick(c.file_mode, o.file_mode);
        if c.arena_bytes != 0 {
            o.arena_bytes = c.arena_bytes;
        }
        // SAFETY: the strings of a readable `Options` are valid for this call (this
        // function's contract), and the ids made from them are not borrowed.
        let (owner, group) = unsafe { (c.owner.utf8("owner")?, c.group.utf8("group")?) };
        if !owner.is_empty() {
            o.owner = Some(metricore::access::user_id(owner)?);
        }
        if !group.is_empty() {
            o.group = Some(metricore::access::group_id(group)?);
        }
        Ok(o)
    }
}

/// Occupancy and health of a registry, as `metricore_registry_stats` reports it.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Stats {
    /// When the registry's memory (or file) was created, in ns since the Unix epoch.
    pub created_unix_ns: u64,
    /// Per-CPU shards.
    pub shards: u64,
    /// Live series.
    pub series: u64,
    /// Series the registry can hold.
    pub series_capacity: u64,
    /// Cells per shard in use.
    pub cells_used: u64,
    /// Cells per shard in all.
    pub cells_total: u64,
    /// Bytes of the string arena in use.
    pub arena_bytes_used: u64,
    /// Bytes of the string arena in all.
    pub arena_bytes_total: u64,
    /// Bytes of the whole region in use.
    pub region_bytes_used: u64,
    /// Bytes of the whole region in all.
    pub region_bytes_total: u64,
    /// Lookups sent to a family's overflow series (past its series limit, or full).
    pub overflows: u64,
    /// Refused recordings (bad increments, NaN observations, wrong label counts...).
    pub errors: u64,
    /// Registered families.
    pub families: u64,
    /// Processes attached to the registry.
    pub processes: u64,
    /// Of those, the ones still running.
    pub processes_alive: u64,
}

/// The exposition formats.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormatCode {
    /// Prometheus text format 0.0.4.
    Prometheus = 0,
    /// OpenMetrics text format 1.0.0.
    OpenMetrics = 1,
    /// Length-delimited `io.prometheus.client.MetricFamily` protobuf messages.
    Protobuf = 2,
}

impl FormatCode {
    fn of(format: Format) -> FormatCode {
        match format {
            Format::Prometheus => FormatCode::Prometheus,
            Format::OpenMetrics => FormatCode::OpenMetrics,
            Format::Protobuf => FormatCode::Protobuf,
        }
    }
}

/// The whole registry in `format`: text, or protobuf bytes.
fn render(registry: &metricore::Registry, format: Format) -> Vec<u8> {
    let mut out = Vec::new();
    metricore::registry::render_bytes(
        std::slice::from_ref(registry),
        format,
        &metricore::Filter::all(),
        &mut out,
    );
    out
}

fn format(code: u32) -> Result<Format, Fail> {
    match code {
        c if c == FormatCode::Prometheus as u32 => Ok(Format::Prometheus),
        c if c == FormatCode::OpenMetrics as u32 => Ok(Format::OpenMetrics),
        c if c == FormatCode::Protobuf as u32 => Ok(Format::Protobuf),
        _ => Err(Fail::new(
            Status::InvalidArgument,
            format!("unknown format {code}: expected METRICORE_FORMAT_PROMETHEUS (0), METRICORE_FORMAT_OPEN_METRICS (1) or METRICORE_FORMAT_PROTOBUF (2)"),
        )),
    }
}

/// Whether a registry, and each registry above it, is still open.
pub(crate) struct Node {
    open: AtomicBool,
    parent: Option<Arc<Node>>,
}

impl Node {
    /// `Ok` while this registry and the ones above it are open.
    pub(crate) fn check(&self) -> Result<(), Fail> {
        let mut node = Some(self);
        while let Some(n) = node {
            if !n.open.load(Ordering::Acquire) {
                return Err(Fail::closed());
            }
            node = n.parent.as_deref();
        }
        Ok(())
    }
}

/// A registry, or a scope of one. Owns the families made through it, which own their
/// series.
pub struct Registry {
    node: Arc<Node>,
    core: metricore::Registry,
    families: Mutex<Vec<Arc<dyn Any + Send + Sync>>>,
}

impl Registry {
    fn new(core: metricore::Registry, parent: Option<Arc<Node>>) -> *mut Registry {
        raw::give(Registry {
            node: Arc::new(Node {
                open: AtomicBool::new(true),
                parent,
            }),
            core,
            families: Mutex::new(Vec::new()),
        })
    }

    /// Hands `core` to C as a registry object, as `metricore_registry_new` does: the
    /// caller frees it with `metricore_registry_free`. For Rust code, such as another
    /// language's binding, that opens registries with the `metricore` crate and
    /// records through this API.
    pub fn from_core(core: metricore::Registry) -> *mut Registry {
        Registry::new(core, None)
    }

    /// The core registry.
    pub(crate) fn core(&self) -> metricore::Registry {
        self.core.clone()
    }

    /// The open registry behind `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` must be NULL or a live registry object (from [`Registry::new`], not yet
    /// passed to `metricore_registry_free`) that is not freed before `'a` ends.
    pub(crate) unsafe fn open<'a>(ptr: *const Registry) -> Result<&'a Registry, Fail> {
        // SAFETY: `ptr` is NULL or a registry object that stays allocated, and is only
        // shared, for `'a` (this function's contract); `Registry` is `Sync`.
        let r = unsafe { raw::obj(ptr, "registry") }?;
        r.node.check()?;
        Ok(r)
    }

    /// Registers `spec` and keeps the family made from it by `make`, returning a
    /// pointer to it that lives as long as this registry object.
    pub(crate) fn register<F: Send + Sync + 'static>(
        &self,
        spec: Spec,
        make: impl FnOnce(Arc<Node>, metricore::Family) -> Result<F, Fail>,
    ) -> Result<*mut F, Fail> {
        let family = Arc::new(make(self.node.clone(), self.core.register(spec)?)?);
        let ptr = Arc::as_ptr(&family).cast_mut();
        self.families
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(family);
        Ok(ptr)
    }
}

/// Makes a registry object of what `open` opens and hands it to `*out`; `out` is
/// checked first, so that nothing is opened or created for a NULL `out`.
///
/// # Safety
///
/// `out` must be NULL or point to writable memory for one pointer.
unsafe fn give(
    out: *mut *mut Registry,
    open: impl FnOnce() -> metricore::Result<metricore::Registry>,
    parent: Option<Arc<Node>>,
) -> Result<(), Fail> {
    if out.is_null() {
        return Err(Fail::null("out"));
    }
    // SAFETY: `out` is not NULL, so writable for one pointer (this function's contract).
    unsafe { raw::put(out, Registry::new(open()?, parent), "out") }
}

/// The file name in `p`, which must not be empty.
///
/// # Safety
///
/// `p` must be a string as [`Str::bytes`] requires, for `'a`.
unsafe fn path<'a>(p: Str) -> Result<&'a std::path::Path, Fail> {
    // SAFETY: `p` is a valid string for `'a` (this function's contract).
    let bytes = unsafe { p.bytes("path") }?;
    if bytes.is_empty() {
        return Err(Fail::new(Status::InvalidArgument, "path is empty".into()));
    }
    Ok(std::path::Path::new(std::ffi::OsStr::from_bytes(bytes)))
}

/// Writes the default options (those of a NULL options pointer) into `*out`.
///
/// # Safety
///
/// `out` is NULL or points to writable memory for one `metricore_options`.
#[no_mangle]
pub unsafe extern "C" fn metricore_options_init(out: *mut Options) -> Status {
    guard(|| {
        let defaults = Options::from_core(&metricore::Options::default());
        // SAFETY: `out` is NULL or writable for one `metricore_options` (the caller's
        // contract above).
        unsafe { raw::put(out, defaults, "out") }
    })
}

/// Creates a registry in this process's memory (sparse: capacity that is never used
/// costs address space, not memory).
///
/// `options` may be NULL for the defaults. On success `*out` is a new registry, owned
/// by the caller, who frees it with `metricore_registry_free`.
///
/// # Safety
///
/// - `options` is NULL or points to a readable `metricore_options`.
/// - `out` is NULL or points to writable memory for one pointer.
#[no_mangle]
pub unsafe extern "C" fn metricore_registry_new(
    options: *const Options,
    out: *mut *mut Registry,
) -> Status {
    guard(|| {
        // SAFETY: `options` is NULL or readable, and `out` NULL or writable (the
        // caller's contract above).
        unsafe {
            let o = Options::to_core(options)?;
            give(out, || metricore::Registry::with_options(&o), None)
        }
    })
}

/// Opens the shared registry file at `path` (a file name in bytes, such as
/// `/dev/shm/app.metricore`), creating it with `options` (NULL for the defaults) if it
/// does not exist. Every process that opens the file records into the same cells.
///
/// On success `*out` is a new registry, owned by the caller, who frees it with
/// `metricore_registry_free`; freeing it does not remove the file.
///
/// # Safety
///
/// - `path` is a valid string.
/// - `options` is NULL or points to a readable `metricore_options`.
/// - `out` is NULL or points to writable memory for one pointer.
#[no_mangle]
pub unsafe extern "C" fn metricore_registry_open_shared(
    path: Str,
    options: *const Options,
    out: *mut *mut Registry,
) -> Status {
    guard(|| {
        // SAFETY: `path` is a valid string, `options` NULL or readable, and `out` NULL
        // or writable (the caller's contract above).
        unsafe {
            let p = self::path(path)?;
            let o = Options::to_core(options)?;
            give(out, || metricore::Registry::open_shared(p, &o), None)
        }
    })
}

/// Opens the existing shared registry file at `path`; never creates one. A file that
/// is not a registry, has another layout version or is corrupt is refused with
/// `METRICORE_STATUS_NOT_A_REGISTRY`, `_VERSION` or `_CORRUPT`; a file of another
/// user, or writable by its group or by all, with `_UNTRUSTED` (only the caller is
/// trusted here; `metricore_registry_open_shared` takes `owner` and `group`).
///
/// On success `*out` is a new registry, owned by the caller, who frees it with
/// `metricore_registry_free`.
///
/// # Safety
///
/// - `path` is a valid string.
/// - `out` is NULL or points to writable memory for one pointer.
#[no_mangle]
pub unsafe extern "C" fn metricore_registry_open_existing(
    path: Str,
    out: *mut *mut Registry,
) -> Status {
    guard(|| {
        // SAFETY: `path` is a valid string and `out` NULL or writable (the caller's
        // contract above).
        unsafe {
            let p = self::path(path)?;
            give(out, || metricore::Registry::open_existing(p), None)
        }
    })
}

/// Makes a scope of `registry`: a registry whose families all carry the label
/// `name="value"` before their own labels (and before those of the scopes it is made
/// from). Scopes share their registry's memory; rendering any of them renders all.
///
/// On success `*out` is a new registry object, owned by the caller, who frees it with
/// `metricore_registry_free` (before or after its parent). Closing or freeing the
/// parent closes the scope.
///
/// # Safety
///
/// - `registry` is NULL or a live registry object.
/// - `name` and `value` are valid strings.
/// - `out` is NULL or points to writable memory for one pointer.
#[no_mangle]
pub unsafe extern "C" fn metricore_registry_scope(
    registry: *const Registry,
    name: Str,
    value: Str,
    out: *mut *mut Registry,
) -> Status {
    guard(|| {
        // SAFETY: `registry` is NULL or live, `name` and `value` valid strings, and
        // `out` NULL or writable (the caller's contract above).
        unsafe {
            let r = Registry::open(registry)?;
            let (name, value) = (name.utf8("scope name")?, value.utf8("scope value")?);
            give(out, || r.core.scope(name, value), Some(r.node.clone()))
        }
    })
}

/// Closes `registry`: from now on every call that takes it, one of its scopes or one
/// of their families returns `METRICORE_STATUS_CLOSED`. The objects themselves stay
/// allocated until freed; handles keep recording into memory that stays mapped until
/// then, but nothing renders it through this registry any more. Closing twice is fine.
///
/// # Safety
///
/// `registry` is NULL or a live registry object (closed or not).
#[no_mangle]
pub unsafe extern "C" fn metricore_registry_close(registry: *const Registry) -> Status {
    guard(|| {
        // SAFETY: `registry` is NULL or a live registry object (the caller's contract
        // above), whether closed or not.
        unsafe { raw::obj(registry, "registry") }?
            .node
            .open
            .store(false, Ordering::Release);
        Ok(())
    })
}

/// Closes and frees `registry` (a registry or a scope): its families and every handle
/// resolved through them become invalid. The memory (or file mapping) is released once
/// the registry and all scopes sharing it are freed. NULL is ignored.
///
/// No other thread may be using the registry, its families or their handles, and the
/// pointer must not be used again.
///
/// # Safety
///
/// - `registry` is NULL or a live registry object (closed or not), not freed before.
/// - No other thread uses `registry`, a family made through it or a handle of such a
///   family during this call, and none of them is used after it. (Scopes made from
///   `registry` are registry objects of their own and stay usable, closed.)
#[no_mangle]
pub unsafe extern "C" fn metricore_registry_free(registry: *mut Registry) -> Status {
    guard(|| {
        // SAFETY: `registry` is NULL or came from `give` in `Registry::new`, was not
        // freed before, and nothing uses it, its families or their handles now or later
        // (the caller's contract above).
        if let Some(r) = unsafe { raw::take(registry) } {
            r.node.open.store(false, Ordering::Release);
        }
        Ok(())
    })
}

/// Renders the whole registry (all scopes, all processes) in `format` into the caller's
/// buffer `buf` of `capacity` bytes, followed by a NUL byte, and writes the length of
/// the text (without the NUL) to `*len`.
///
/// If the text and its NUL do not fit, nothing is written to `buf`, `*len` still
/// receives the text's length, and the status is `METRICORE_STATUS_BUFFER_TOO_SMALL`:
/// call again with at least `*len + 1` bytes (a little more, as values may grow in
/// between). `buf` may be NULL when `capacity` is 0, to ask for the length. The text is
/// UTF-8 and may contain NUL bytes where label values do; `METRICORE_FORMAT_PROTOBUF`
/// writes binary protobuf messages.
///
/// # Safety
///
/// - `registry` is NULL or a live registry object.
/// - `buf` is NULL or points to `capacity` writable bytes.
/// - `len` is NULL or points to writable memory for one `size_t`, outside `buf`.
#[no_mangle]
pub unsafe extern "C" fn metricore_registry_render(
    registry: *const Registry,
    format: u32,
    buf: *mut c_char,
    capacity: usize,
    len: *mut usize,
) -> Status {
    guard(|| {
        // SAFETY: `registry` is NULL or a live registry object (the caller's contract
        // above).
        let r = unsafe { Registry::open(registry) }?;
        let format = self::format(format)?;
        if len.is_null() {
            return Err(Fail::null("len"));
        }
        let text = render(&r.core, format);
        // SAFETY: `len` is writable for one `size_t`, `buf` NULL or writable for
        // `capacity` bytes, and the two apart (the caller's contract above); `text` is
        // Rust memory, apart from both.
        unsafe {
            raw::put(len, text.len(), "len")?;
            raw::copy_out(buf, capacity, &text)
        }
    })
}

/// Renders the whole registry in `format` into a new NUL-terminated string owned by
/// the caller, who frees it with `metricore_string_free`. `*out` receives the string
/// and, when `len` is not NULL, `*len` its length without the NUL (for
/// `METRICORE_FORMAT_PROTOBUF`, binary bytes that may hold NULs: use `*len`).
///
/// # Safety
///
/// - `registry` is NULL or a live registry object.
/// - `out` is NULL or points to writable memory for one pointer.
/// - `len` is NULL or points to writable memory for one `size_t`.
#[no_mangle]
pub unsafe extern "C" fn metricore_registry_render_alloc(
    registry: *const Registry,
    format: u32,
    out: *mut *mut c_char,
    len: *mut usize,
) -> Status {
    guard(|| {
        // SAFETY: `registry` is NULL or a live registry object (the caller's contract
        // above).
        let r = unsafe { Registry::open(registry) }?;
        let format = self::format(format)?;
        if out.is_null() {
            return Err(Fail::null("out"));
        }
        let text = render(&r.core, format);
        if !len.is_null() {
            // SAFETY: `len` is not NULL, so writable for one `size_t` (the caller's
            // contract above).
            unsafe { raw::put(len, text.len(), "len") }?;
        }
        let string = raw::malloc_string(&text)?;
        // SAFETY: `out` is writable for one pointer (the caller's contract above).
        unsafe { raw::put(out, string, "out") }
    })
}

/// Frees a string returned by `metricore_registry_render_alloc`. NULL is ignored.
///
/// # Safety
///
/// `s` is NULL or a string that `metricore_registry_render_alloc` returned and that
/// was not freed before; it is not used after this call.
#[no_mangle]
pub unsafe extern "C" fn metricore_string_free(s: *mut c_char) {
    // SAFETY: `s` is NULL or came from `malloc_string` in
    // `metricore_registry_render_alloc`, not freed before and not used after (the
    // caller's contract above).
    unsafe { raw::free_string(s) }
}

/// Checks that the registry's shared file is still the one at its path and intact; if
/// it was removed, replaced or truncated, moves the registry to the file now at the
/// path (creating it for a registry opened with `metricore_registry_open_shared`).
/// Writes the registry's generation, which goes up with each move, to `*generation`
/// (if not NULL): compare it to drop handles cached before a move, which keep
/// recording into the old file. A background thread does the check every 500 ms; this
/// is for processes that also want it at a time of their choosing. Does nothing for an
/// in-process registry (generation 0).
///
/// # Safety
///
/// - `registry` is NULL or a live registry object.
/// - `generation` is NULL or points to writable memory for one `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn metricore_registry_follow_file(
    registry: *const Registry,
    generation: *mut u64,
) -> Status {
    guard(|| {
        // SAFETY: `registry` is NULL or a live registry object (the caller's contract
        // above).
        let core = &unsafe { Registry::open(registry) }?.core;
        core.follow_file();
        if generation.is_null() {
            return Ok(());
        }
        // SAFETY: `generation` is writable for one `uint64_t` (the caller's contract
        // above).
        unsafe { raw::put(generation, core.generation(), "generation") }
    })
}

/// Writes the registry's occupancy and health into `*out`.
///
/// # Safety
///
/// - `registry` is NULL or a live registry object.
/// - `out` is NULL or points to writable memory for one `metricore_stats`.
#[no_mangle]
pub unsafe extern "C" fn metricore_registry_stats(
    registry: *const Registry,
    out: *mut Stats,
) -> Status {
    guard(|| {
        // SAFETY: `registry` is NULL or a live registry object (the caller's contract
        // above).
        let s = unsafe { Registry::open(registry) }?.core.stats();
        let stats = Stats {
            created_unix_ns: s.created_unix_ns,
            shards: s.shards as u64,
            series: s.series,
            series_capacity: s.series_capacity as u64,
            cells_used: s.cells.0,
            cells_total: s.cells.1,
            arena_bytes_used: s.arena_bytes.0,
            arena_bytes_total: s.arena_bytes.1,
            region_bytes_used: s.region_bytes.0,
            region_bytes_total: s.region_bytes.1,
            overflows: s.overflows,
            errors: s.errors,
            families: s.families.len() as u64,
            processes: s.processes.len() as u64,
            processes_alive: s.processes.iter().filter(|(_, alive)| *alive).count() as u64,
        };
        // SAFETY: `out` is NULL or writable for one `metricore_stats` (the caller's
        // contract above).
        unsafe { raw::put(out, stats, "out") }
    })
}

/// Has `callback(user)` run before every rendering of the registry (by any of its
/// scopes), to refresh values such as gauges. Callbacks run in the order added, on
/// the thread that renders, and stay registered until the registry and all its scopes
/// are freed; `user` must stay valid and usable from any thread until then. A callback
/// must not throw or `longjmp` out.
///
/// # Safety
///
/// - `registry` is NULL or a live registry object.
/// - `callback`, if not NULL, is a function that may be called as
///   `callback(user)` from any thread, also from several at once, until the registry
///   and all its scopes are freed; it must return normally (no exception, no
///   `longjmp`) and must not free the registry, its scopes or families.
#[no_mangle]
pub unsafe extern "C" fn metricore_registry_on_collect(
    registry: *const Registry,
    callback: Option<unsafe extern "C" fn(user: *mut c_void)>,
    user: *mut c_void,
) -> Status {
    guard(|| {
        // SAFETY: `registry` is NULL or a live registry object (the caller's contract
        // above).
        let r = unsafe { Registry::open(registry) }?;
        let callback = callback.ok_or_else(|| Fail::null("callback"))?;
        let user = UserData(user);
        r.core.on_collect(move || {
            let user = user;
            // SAFETY: the caller of `metricore_registry_on_collect` guaranteed that
            // `callback(user)` may run on any thread until the registry and its scopes
            // are freed, which they are not while they render.
            unsafe { callback(user.0) }
        });
        Ok(())
    })
}

/// Has `callback(user, format, text)` append its own exposition text to every
/// rendering, in the format being rendered (a `metricore_format` code), by calling
/// `metricore_text_append(text, ...)`; `text` is valid only during the callback.
/// The text is appended as given, after the registry's families (before the
/// OpenMetrics `# EOF`). Lifetime and threading as for `metricore_registry_on_collect`.
///
/// # Safety
///
/// - `registry` is NULL or a live registry object.
/// - `callback`, if not NULL, is a function that may be called as
///   `callback(user, format, text)` as `metricore_registry_on_collect` says for its
///   callback; it may use `text` only during that call, on that thread.
#[no_mangle]
pub unsafe extern "C" fn metricore_registry_on_render(
    registry: *const Registry,
    callback: Option<unsafe extern "C" fn(user: *mut c_void, format: u32, text: *mut Text<'_>)>,
    user: *mut c_void,
) -> Status {
    guard(|| {
        // SAFETY: `registry` is NULL or a live registry object (the caller's contract
        // above).
        let r = unsafe { Registry::open(registry) }?;
        let callback = callback.ok_or_else(|| Fail::null("callback"))?;
        let user = UserData(user);
        r.core.on_render(move |format, out| {
            let user = user;
            Text::lend(out, |text| {
                // SAFETY: the caller of `metricore_registry_on_render` guaranteed that
                // `callback` may run on any thread until the registry and its scopes are
                // freed (they are not while they render), and uses `text` during the
                // call only, while `lend` keeps it alive.
                unsafe { callback(user.0, FormatCode::of(format) as u32, text) }
            })
        });
        Ok(())
    })
}

/// Appends `s` (UTF-8) to the text being rendered; only valid inside a callback given
/// to `metricore_registry_on_render`, with the `text` it received.
///
/// # Safety
///
/// - `text` is NULL or the `text` that a callback given to
///   `metricore_registry_on_render` received, used during that callback, on its thread.
/// - `s` is a valid string.
#[no_mangle]
pub unsafe extern "C" fn metricore_text_append(text: *mut Text<'_>, s: Str) -> Status {
    guard(|| {
        // SAFETY: `s` is a valid string and `text` NULL or the pointer `Text::lend`
        // passed to a callback that is running on this thread (the caller's contract
        // above); neither outlives this call.
        unsafe {
            let s = s.utf8("text")?;
            Text::from_ptr(text)?.push_str(s);
        }
        Ok(())
    })
}

/// Writes to `*out` the format a scraper asks for with the HTTP `Accept` header
/// `accept`: `METRICORE_FORMAT_PROTOBUF` when it asks for the protobuf format first (as
/// Prometheus does with native histograms on), `METRICORE_FORMAT_OPEN_METRICS` when it
/// accepts OpenMetrics 1.0.0, `METRICORE_FORMAT_PROMETHEUS` otherwise (also for an empty
/// header).
///
/// # Safety
///
/// - `accept` is a valid string.
/// - `out` is NULL or points to writable memory for one `uint32_t`.
#[no_mangle]
pub unsafe extern "C" fn metricore_format_from_accept(accept: Str, out: *mut u32) -> Status {
    guard(|| {
        // SAFETY: `accept` is a valid string (the caller's contract above).
        let code = FormatCode::of(Format::from_accept(unsafe { accept.utf8("accept") }?));
        // SAFETY: `out` is NULL or writable for one `uint32_t` (the caller's contract
        // above).
        unsafe { raw::put(out, code as u32, "out") }
    })
}

/// Writes to `*out` the HTTP `Content-Type` of `format`, as a string owned by the
/// library that stays valid for the life of the process.
///
/// # Safety
///
/// `out` is NULL or points to writable memory for one `metricore_str`.
#[no_mangle]
pub unsafe extern "C" fn metricore_format_content_type(format: u32, out: *mut Str) -> Status {
    guard(|| {
        let ct = self::format(format)?.content_type();
        // SAFETY: `out` is NULL or writable for one `metricore_str` (the caller's
        // contract above).
        unsafe { raw::put(out, Str::of(ct), "out") }
    })
}
