//! Every raw-pointer access of the C API, in one place.
//!
//! The rest of the crate never dereferences a pointer it got from C: it asks this
//! module, which checks for NULL and relies for everything else on the contract the
//! header states for each function (pointers are NULL or point where they say, objects
//! come from this library and are not freed yet, arrays hold as many items as their
//! length says).

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
    #[inline]
    pub(crate) fn bytes<'a>(self, what: impl Into<Arg>) -> Result<&'a [u8], Fail> {
        if self.len == 0 {
            return Ok(&[]);
        }
        if self.ptr.is_null() {
            return Err(dangling(what.into(), self.len));
        }
        // SAFETY: the header requires `ptr` to point to `len` readable bytes that stay
        // unchanged for the call; the slice does not outlive the call.
        Ok(unsafe { std::slice::from_raw_parts(self.ptr.cast::<u8>(), self.len) })
    }

    /// The string, checked to be UTF-8.
    #[inline]
    pub(crate) fn utf8<'a>(self, what: impl Into<Arg>) -> Result<&'a str, Fail> {
        let what = what.into();
        std::str::from_utf8(self.bytes(what)?).map_err(|e| not_utf8(what, e))
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
#[inline]
pub(crate) fn slice<'a, T>(ptr: *const T, len: usize, what: &str) -> Result<&'a [T], Fail> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(null_array(what, len));
    }
    // SAFETY: the header requires a non-NULL array to hold `len` initialized items that
    // stay unchanged for the call; the slice does not outlive the call.
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
#[inline]
pub(crate) fn with_strs<R>(
    ptr: *const Str,
    len: usize,
    what: &'static str,
    f: impl FnOnce(&[&str]) -> Result<R, Fail>,
) -> Result<R, Fail> {
    let raw = slice(ptr, len, what)?;
    let item = |i: usize, s: &Str| s.utf8(Arg::item(what, i));
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

/// The object behind a pointer this library handed out.
pub(crate) fn obj<'a, T>(ptr: *const T, what: &str) -> Result<&'a T, Fail> {
    // SAFETY: the header requires such pointers to be NULL or valid for the call: the
    // library's own objects come from it and are not freed yet (they are only ever
    // shared, `&T`, and are `Sync`), option structs are the caller's, read during the
    // call only.
    unsafe { ptr.as_ref() }.ok_or_else(|| Fail::null(what))
}

/// Hands an object to C; [`take`] gets it back.
pub(crate) fn give<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// Takes back an object from [`give`]; `None` for NULL.
pub(crate) fn take<T>(ptr: *mut T) -> Option<Box<T>> {
    // SAFETY: the header requires the pointer to be NULL or to come from this library's
    // matching constructor (which made it with `give`), not freed before, and no longer
    // used by any other thread.
    (!ptr.is_null()).then(|| unsafe { Box::from_raw(ptr) })
}

/// Writes `value` to the out parameter `out`.
pub(crate) fn put<T>(out: *mut T, value: T, what: &str) -> Result<(), Fail> {
    if out.is_null() {
        return Err(Fail::null(what));
    }
    // SAFETY: the header requires a non-NULL out parameter to point to writable,
    // suitably aligned memory for one `T`; `T` is plain data (no destructor to skip).
    unsafe { out.write(value) };
    Ok(())
}

/// The series behind a handle: the pointer the handle was made with by [`Series::keep`].
pub(crate) fn series<'a, T>(ptr: *const T) -> Result<&'a T, Fail> {
    // SAFETY: the header requires a handle to be zeroed (NULL) or made by this library
    // and used only while its registry is not freed; the series it points to lives in a
    // `Box` that the registry's family keeps until then.
    unsafe { ptr.as_ref() }.ok_or_else(|| Fail::null("handle"))
}

/// The series a family keeps for its handles, one per series id: each in a `Box` that
/// is never moved or freed before the family, so that the pointer handed to C stays
/// valid, and that every handle of one series shares. (A B-tree, whose nodes are
/// pointed to at their start, so that memcheck can follow them from a forked child
/// that exits without freeing its parent's registries.)
pub(crate) struct Series<T>(Mutex<BTreeMap<u64, Box<T>>>);

impl<T> Series<T> {
    /// No series yet.
    pub(crate) fn new() -> Series<T> {
        Series(Mutex::new(BTreeMap::new()))
    }

    /// A pointer to the series kept for `id`, keeping `value` (made by `make`) first if
    /// there is none yet; it stays valid until `self` is dropped.
    pub(crate) fn keep(&self, id: u64, make: impl FnOnce() -> T) -> *const T {
        let mut kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let series: &T = kept.entry(id).or_insert_with(|| Box::new(make()));
        series
    }
}

/// Copies `text` into memory from `malloc`, NUL-terminated, for [`free_string`].
pub(crate) fn malloc_string(text: &str) -> Result<*mut c_char, Fail> {
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
pub(crate) fn free_string(s: *mut c_char) {
    // SAFETY: the header requires `s` to be NULL or a string this library allocated
    // with `malloc` and not freed before.
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

    /// The output behind a pointer from [`Text::lend`].
    pub(crate) fn from_ptr(ptr: *mut Text<'a>) -> Result<&'a mut String, Fail> {
        // SAFETY: the header allows the pointer only inside the callback it was passed
        // to, while `lend` keeps the `Text` alive and lends it to nothing else.
        unsafe { ptr.as_mut() }
            .map(|t| &mut *t.0)
            .ok_or_else(|| Fail::null("text"))
    }
}

/// Copies `bytes` and a NUL into the caller's buffer `buf` of `capacity` bytes, if
/// they fit.
pub(crate) fn copy_out(buf: *mut c_char, capacity: usize, bytes: &[u8]) -> Result<(), Fail> {
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
    // SAFETY: the header requires `buf` to have room for `capacity` bytes, which is more
    // than `bytes.len()`; `bytes` is Rust memory, so the two do not overlap.
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf.cast::<u8>(), bytes.len());
        buf.add(bytes.len()).write(0);
    }
    Ok(())
}

/// Copies `values` to the caller's array `out`, which has room for all of them.
pub(crate) fn copy_f64s(values: &[f64], out: *mut f64) -> Result<(), Fail> {
    if out.is_null() {
        return Err(Fail::null("out"));
    }
    // SAFETY: the header requires `out` to have room for as many doubles as asked for,
    // which is `values.len()`; `values` is Rust memory, so the two do not overlap.
    unsafe { std::ptr::copy_nonoverlapping(values.as_ptr(), out, values.len()) };
    Ok(())
}
