//! Every raw-pointer access of the C API, in one place.
//!
//! The rest of the crate never dereferences a pointer it got from C: it asks this
//! module, which checks for NULL and relies for everything else on the contract the
//! header states for each function (pointers are NULL or point where they say, objects
//! come from this library and are not freed yet, arrays hold as many items as their
//! length says). The functions here that read or write through a pointer are `unsafe`:
//! each one's `# Safety` section says what its caller passes on from that contract.

use std::collections::BTreeMap;
use std::ffi::{c_char, c_void};
use std::sync::Mutex;

use metricore::MAX_LABELS;

use crate::status::{Fail, Status};

/// A string passed as a pointer and a length in bytes: UTF-8, not NUL-terminated,
/// borrowed for the duration of the call. `ptr` may be NULL when `len` is 0.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Str {
    /// The first byte.
    pub ptr: *const c_char,
    /// Length in bytes.
    pub len: usize,
}

impl Str {
    /// A `Str` viewing a Rust string, for values handed back to C.
    pub(crate) fn of(s: &str) -> Str {
        Str {
            ptr: s.as_ptr().cast(),
            len: s.len(),
        }
    }

    /// The bytes, or an error naming `what` when the pointer is NULL but the length is not 0.
    ///
    /// # Safety
    ///
    /// Unless `len` is 0 or `ptr` is NULL, `ptr` must point to `len` readable bytes
    /// (within one allocation, `len` at most `isize::MAX`) that nothing writes to for
    /// `'a`. The caller picks `'a` no longer than the C call that passed `self`.
    #[inline]
    pub(crate) unsafe fn bytes<'a>(self, what: impl Into<Arg>) -> Result<&'a [u8], Fail> {
        if self.len == 0 {
            return Ok(&[]);
        }
        if self.ptr.is_null() {
            return Err(dangling(what.into(), self.len));
        }
        // SAFETY: `ptr` is not NULL and `len` is not 0, so by this function's contract
        // `ptr` points to `len` readable bytes left unchanged for `'a`.
        Ok(unsafe { std::slice::from_raw_parts(self.ptr.cast::<u8>(), self.len) })
    }

    /// The string, checked to be UTF-8.
    ///
    /// # Safety
    ///
    /// As for [`Str::bytes`].
    #[inline]
    pub(crate) unsafe fn utf8<'a>(self, what: impl Into<Arg>) -> Result<&'a str, Fail> {
        let what = what.into();
        // SAFETY: this function's contract is that of `bytes`, which its caller keeps.
        let bytes = unsafe { self.bytes(what) }?;
        std::str::from_utf8(bytes).map_err(|e| not_utf8(what, e))
    }
}

/// Names an argument in messages: `name`, or `name[index]` for an array item.
#[derive(Clone, Copy)]
pub(crate) struct Arg(&'static str, Option<usize>);

impl Arg {
    /// Item `index` of the array argument `name`.
    pub(crate) fn item(name: &'static str, index: usize) -> Arg {
        Arg(name, Some(index))
    }
}

impl From<&'static str> for Arg {
    fn from(name: &'static str) -> Arg {
        Arg(name, None)
    }
}

impl std::fmt::Display for Arg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.1 {
            Some(i) => write!(f, "{}[{i}]", self.0),
            None => f.write_str(self.0),
        }
    }
}

#[cold]
fn dangling(what: Arg, len: usize) -> Fail {
    Fail::new(
        Status::NullPointer,
        format!("{what}: NULL pointer with length {len}"),
    )
}

#[cold]
fn not_utf8(what: Arg, e: std::str::Utf8Error) -> Fail {
    Fail::new(
        Status::InvalidUtf8,
        format!("{what} is not valid UTF-8: {e}"),
    )
}

/// The `len` items at `ptr`; NULL is allowed for an empty array.
///
/// # Safety
///
/// Unless `len` is 0 or `ptr` is NULL, `ptr` must be aligned and point to `len`
/// initialized items of `T` (within one allocation) that nothing writes to for `'a`.
/// The caller picks `'a` no longer than the C call that passed the array.
#[inline]
pub(crate) unsafe fn slice<'a, T>(ptr: *const T, len: usize, what: &str) -> Result<&'a [T], Fail> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(null_array(what, len));
    }
    // SAFETY: `ptr` is not NULL and `len` is not 0, so by this function's contract it
    // points to `len` initialized, aligned items left unchanged for `'a`.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

#[cold]
fn null_array(what: &str, len: usize) -> Fail {
    Fail::new(
        Status::NullPointer,
        format!("{what}: NULL array with length {len}"),
    )
}

/// Calls `f` with the `len` strings at `ptr`, checked to be UTF-8. Up to
/// [`MAX_LABELS`] strings are gathered on the stack, so label lookups do not allocate.
///
/// # Safety
///
/// `ptr` and `len` must be an array as [`slice`] requires, and each of its strings as
/// [`Str::bytes`] requires, all left unchanged until this returns.
#[inline]
pub(crate) unsafe fn with_strs<R>(
    ptr: *const Str,
    len: usize,
    what: &'static str,
    f: impl FnOnce(&[&str]) -> Result<R, Fail>,
) -> Result<R, Fail> {
    // SAFETY: this function's contract is `slice`'s for `ptr` and `len`; the slice is
    // used only until this returns.
    let raw = unsafe { slice(ptr, len, what) }?;
    // SAFETY: this function's contract is `Str::bytes`'s for each string of the array;
    // the strings are used only until this returns (by `f`, which cannot keep them).
    let item = |i: usize, s: &Str| unsafe { s.utf8(Arg::item(what, i)) };
    if raw.len() <= MAX_LABELS {
        let mut buf = [""; MAX_LABELS];
        for (i, s) in raw.iter().enumerate() {
            buf[i] = item(i, s)?;
        }
        f(&buf[..raw.len()])
    } else {
        let all = raw
            .iter()
            .enumerate()
            .map(|(i, s)| item(i, s))
            .collect::<Result<Vec<_>, _>>()?;
        f(&all)
    }
}

/// The object behind a pointer: one of this library's objects, or a caller's struct.
///
/// # Safety
///
/// `ptr` must be NULL or point to an initialized, aligned `T` that stays valid, and that
/// nothing mutates except through shared references, for `'a`: an object this library
/// handed out (from [`give`], or kept by a registry) and not freed before `'a` ends, or
/// a caller's struct that it leaves alone until `'a` ends (at most for the C call).
/// Objects of this library are shared between threads, so `T` must be `Sync` for them.
pub(crate) unsafe fn obj<'a, T>(ptr: *const T, what: &str) -> Result<&'a T, Fail> {
    // SAFETY: by this function's contract `ptr` is NULL, which `as_ref` checks, or
    // points to a `T` valid and only shared for `'a`.
    unsafe { ptr.as_ref() }.ok_or_else(|| Fail::null(what))
}

/// Hands an object to C; [`take`] gets it back.
pub(crate) fn give<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// Takes back an object from [`give`]; `None` for NULL.
///
/// # Safety
///
/// `ptr` must be NULL or a pointer that [`give`] returned for the same `T` and that
/// was not taken back before; no reference made from it (by [`obj`]) may be used
/// after this, on any thread.
pub(crate) unsafe fn take<T>(ptr: *mut T) -> Option<Box<T>> {
    // SAFETY: a non-NULL `ptr` came from `Box::into_raw` in `give` for this `T`, was
    // not taken back before, and is no longer used elsewhere: this function's contract.
    (!ptr.is_null()).then(|| unsafe { Box::from_raw(ptr) })
}

/// Writes `value` to the out parameter `out`; NULL is refused.
///
/// # Safety
///
/// `out` must be NULL or point to memory that is valid for writing one `T` and is
/// aligned for it. What it held is overwritten without being dropped.
pub(crate) unsafe fn put<T>(out: *mut T, value: T, what: &str) -> Result<(), Fail> {
    if out.is_null() {
        return Err(Fail::null(what));
    }
    // SAFETY: `out` is not NULL, so by this function's contract it is writable and
    // aligned for one `T`; `write` drops nothing, as the contract allows.
    unsafe { out.write(value) };
    Ok(())
}

/// The series behind a handle: a pointer from [`Series::keep`]; NULL is refused.
///
/// # Safety
///
/// `ptr` must be NULL or a pointer [`Series::keep`] returned, from a [`Series`] that is
/// not dropped before `'a` ends.
pub(crate) unsafe fn series<'a, T>(ptr: *const T) -> Result<&'a T, Fail> {
    // SAFETY: by this function's contract `ptr` is NULL, which `as_ref` checks, or
    // points into a `Box` that the `Series` keeps, unmoved and only shared, for `'a`.
    unsafe { ptr.as_ref() }.ok_or_else(|| Fail::null("handle"))
}

/// The series a family keeps for its handles, one per series id: each in a `Box` that
/// is never moved, and freed only when every handle handed out for it was given back
/// ([`Series::release`]) or with the family, so that the pointer handed to C stays
/// valid, and that every handle of one series shares. (B-trees, whose nodes are
/// pointed to at their start, so that memcheck can follow them from a forked child
/// that exits without freeing its parent's registries.)
pub(crate) struct Series<T>(Mutex<Kept<T>>);

/// What [`Series`] guards.
struct Kept<T> {
    /// By series id: the series, and how many handles to it are out.
    by_id: BTreeMap<u64, (Box<T>, u64)>,
    /// The series id of each kept series, by its address.
    by_address: BTreeMap<usize, u64>,
}

impl<T> Series<T> {
    /// No series yet.
    pub(crate) fn new() -> Series<T> {
        Series(Mutex::new(Kept {
            by_id: BTreeMap::new(),
            by_address: BTreeMap::new(),
        }))
    }

    /// A pointer to the series kept for `id`, keeping `value` (made by `make`) first if
    /// there is none yet, and counting one more handle out; it stays valid until as
    /// many [`release`](Series::release)s, or until `self` is dropped.
    pub(crate) fn keep(&self, id: u64, make: impl FnOnce() -> T) -> *const T {
        let mut kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let Kept { by_id, by_address } = &mut *kept;
        let (series, out) = by_id.entry(id).or_insert_with(|| {
            let series = Box::new(make());
            by_address.insert(&*series as *const T as usize, id);
            (series, 0)
        });
        *out += 1;
        &**series
    }

    /// Counts one handle to `series` given back, and frees the series when none is
    /// left out; `false` if `series` is not kept here (never read through).
    pub(crate) fn release(&self, series: *const T) -> bool {
        let mut kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let Some(&id) = kept.by_address.get(&(series as usize)) else {
            return false;
        };
        if let Some((_, out)) = kept.by_id.get_mut(&id) {
            *out -= 1;
            if *out == 0 {
                kept.by_id.remove(&id);
                kept.by_address.remove(&(series as usize));
            }
        }
        true
    }
}

/// Copies `text` into memory from `malloc`, NUL-terminated, for [`free_string`].
pub(crate) fn malloc_string(text: &[u8]) -> Result<*mut c_char, Fail> {
    // SAFETY: malloc has no preconditions; the result is checked for NULL.
    let p = unsafe { libc::malloc(text.len() + 1) }.cast::<u8>();
    if p.is_null() {
        return Err(Fail::new(
            Status::Full,
            format!("out of memory for {} bytes of text", text.len() + 1),
        ));
    }
    // SAFETY: `p` has room for `len + 1` bytes and cannot overlap `text`, which is borrowed.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), p, text.len());
        p.add(text.len()).write(0);
    }
    Ok(p.cast())
}

/// Frees a string from [`malloc_string`]; NULL is ignored.
///
/// # Safety
///
/// `s` must be NULL or a pointer [`malloc_string`] returned that was not freed before;
/// it must not be used after this.
pub(crate) unsafe fn free_string(s: *mut c_char) {
    // SAFETY: `s` is NULL, which `free` ignores, or came from `malloc` in
    // `malloc_string` and is freed only now: this function's contract.
    unsafe { libc::free(s.cast::<c_void>()) }
}

/// The opaque `void *` a C callback gets back.
#[derive(Clone, Copy)]
pub(crate) struct UserData(pub *mut c_void);

// SAFETY: the header requires callback data to be usable from any thread (callbacks run
// on whichever thread renders); this crate only passes the pointer back, never reads it.
unsafe impl Send for UserData {}
// SAFETY: as for `Send`.
unsafe impl Sync for UserData {}

/// The text a render callback appends to: the output being rendered.
pub struct Text<'a>(&'a mut String);

impl<'a> Text<'a> {
    /// Lends `out` to a callback as a [`Text`].
    pub(crate) fn lend(out: &'a mut String, f: impl FnOnce(*mut Text<'a>)) {
        let mut text = Text(out);
        f(&mut text)
    }

    /// The output behind a pointer from [`Text::lend`]; NULL is refused.
    ///
    /// # Safety
    ///
    /// `ptr` must be NULL or the pointer that [`Text::lend`] passes to its `f`, used
    /// while `f` runs (on that thread), and the result must not be used after `f`
    /// returns, nor while another `&mut` made from `ptr` is in use.
    pub(crate) unsafe fn from_ptr(ptr: *mut Text<'a>) -> Result<&'a mut String, Fail> {
        // SAFETY: by this function's contract `ptr` is NULL, which `as_mut` checks, or
        // the `Text` that `lend` keeps alive and lends to nothing else while `f` runs.
        unsafe { ptr.as_mut() }
            .map(|t| &mut *t.0)
            .ok_or_else(|| Fail::null("text"))
    }
}

/// Copies `bytes` and a NUL into the caller's buffer `buf` of `capacity` bytes, if
/// they fit; a NULL `buf` is refused.
///
/// # Safety
///
/// `buf` must be NULL or point to `capacity` writable bytes that do not overlap
/// `bytes`.
pub(crate) unsafe fn copy_out(buf: *mut c_char, capacity: usize, bytes: &[u8]) -> Result<(), Fail> {
    if bytes.len() >= capacity {
        return Err(Fail::new(
            Status::BufferTooSmall,
            format!(
                "the text takes {} bytes and its NUL one more; the buffer has {capacity}",
                bytes.len()
            ),
        ));
    }
    if buf.is_null() {
        return Err(Fail::null("buf"));
    }
    // SAFETY: `buf` is not NULL, so by this function's contract it has room for
    // `capacity` bytes, more than `bytes.len()`, and does not overlap `bytes`.
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf.cast::<u8>(), bytes.len());
        buf.add(bytes.len()).write(0);
    }
    Ok(())
}

/// Copies `values` to the caller's array `out`, which has room for all of them; NULL
/// is refused.
///
/// # Safety
///
/// `out` must be NULL or point to `values.len()` writable, aligned doubles that do not
/// overlap `values`.
pub(crate) unsafe fn copy_f64s(values: &[f64], out: *mut f64) -> Result<(), Fail> {
    if out.is_null() {
        return Err(Fail::null("out"));
    }
    // SAFETY: `out` is not NULL, so by this function's contract it has room for
    // `values.len()` aligned doubles and does not overlap `values`.
    unsafe { std::ptr::copy_nonoverlapping(values.as_ptr(), out, values.len()) };
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::Series;

    /// Counts its drops.
    struct Dropped(Arc<AtomicUsize>);

    impl Drop for Dropped {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn a_series_is_freed_when_every_handle_written_is_given_back() {
        let drops = Arc::new(AtomicUsize::new(0));
        let kept = Series::new();
        let make = || Dropped(drops.clone());
        let a = kept.keep(1, make);
        assert_eq!(kept.keep(1, make), a, "one object per series id");
        let b = kept.keep(2, make);
        assert!(kept.release(a));
        assert_eq!(
            drops.load(Ordering::Relaxed),
            0,
            "one handle to it is still out"
        );
        assert!(kept.release(a));
        assert_eq!(drops.load(Ordering::Relaxed), 1);
        assert!(!kept.release(a), "given back as often as written");
        // Churn: made and given back, the kept objects do not pile up.
        for id in 10..10_010 {
            let p = kept.keep(id, make);
            assert!(kept.release(p));
        }
        assert_eq!(drops.load(Ordering::Relaxed), 10_001);
        let inner = kept.0.lock().unwrap();
        assert_eq!((inner.by_id.len(), inner.by_address.len()), (1, 1));
        assert!(inner.by_address.contains_key(&(b as usize)));
    }
}
