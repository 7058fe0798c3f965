//! Status codes, the thread-local error message, and the guard every entry point runs
//! its body in.

use std::cell::RefCell;
use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use metricore::Error;

/// What a function returns: `METRICORE_STATUS_OK` (0) on success, another code on
/// failure, with a message from `metricore_last_error()`.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Success.
    Ok = 0,
    /// A required pointer argument, or a handle, was NULL (or a string or array with a
    /// non-zero length had a NULL pointer).
    NullPointer = 1,
    /// A string argument was not valid UTF-8.
    InvalidUtf8 = 2,
    /// A family got a number of label values other than its number of label names.
    LabelCount = 3,
    /// The caller's buffer cannot hold the result; the needed length was written.
    BufferTooSmall = 4,
    /// The registry (or the registry a scope or family belongs to) was closed.
    Closed = 5,
    /// An argument is out of its range (an unknown format code, or a label value
    /// longer than the registry's limit, for two).
    InvalidArgument = 6,
    /// A metric name, label name or unit breaks the naming rules.
    InvalidName = 7,
    /// A label name appears twice in one family, or is reserved for its kind.
    DuplicateLabel = 8,
    /// A family has more label names (scope labels included) than allowed (16).
    TooManyLabels = 9,
    /// The name is already registered with another kind, labels, unit, buckets or states.
    Conflict = 10,
    /// A family was used as a kind it is not.
    WrongKind = 11,
    /// A custom family names a type that does not exist.
    UnknownType = 12,
    /// A value was refused: a negative, NaN or infinite counter increment, or NaN observed.
    InvalidValue = 13,
    /// Histogram bounds are not finite, strictly increasing and 1 to 128.
    InvalidBuckets = 14,
    /// A state set got no states, a duplicate, or an unknown state.
    InvalidState = 15,
    /// Registry options (or a gauge mode name) that cannot be used.
    InvalidOptions = 16,
    /// The registry has no room left (or memory ran out).
    Full = 17,
    /// An I/O error on a shared registry file.
    Io = 18,
    /// The registry path is a symbolic link, which is refused.
    Symlink = 19,
    /// The file is not a metricore registry.
    NotARegistry = 20,
    /// The file was written with another layout version.
    Version = 21,
    /// The file's header or contents do not add up.
    Corrupt = 22,
    /// An internal error (a Rust panic, caught before it reached the caller).
    Internal = 23,
    /// The HTTP server cannot listen on the address (in use, not local, ...).
    Listen = 24,
    /// The HTTP server's thread or runtime could not start, or an HTTP request failed.
    Http = 25,
    /// The file's owner or mode is not one the options trust, or its directory lets
    /// every user replace it (writable by all without the sticky bit).
    Untrusted = 26,
}

/// A failure on its way to C: a status and its message.
pub(crate) struct Fail {
    status: Status,
    message: String,
}

impl Fail {
    /// A failure with `status` and `message`.
    #[cold]
    pub(crate) fn new(status: Status, message: String) -> Fail {
        Fail { status, message }
    }

    /// A NULL argument named `what`.
    #[cold]
    pub(crate) fn null(what: &str) -> Fail {
        Fail::new(Status::NullPointer, format!("{what} is NULL"))
    }

    /// A use of a closed registry.
    #[cold]
    pub(crate) fn closed() -> Fail {
        Fail::new(Status::Closed, "the registry was closed".into())
    }

    /// Stores the message for `metricore_last_error` and returns the status.
    #[cold]
    fn report(self) -> Status {
        let message = CString::new(self.message.replace('\0', "\\0")).unwrap_or_default();
        // During thread teardown the slot may be gone; the status still says what failed.
        let _ = LAST_ERROR.try_with(|m| *m.borrow_mut() = message);
        self.status
    }
}

impl From<Error> for Fail {
    #[cold]
    fn from(e: Error) -> Fail {
        let status = match &e {
            Error::InvalidMetricName(_) | Error::InvalidLabelName(_) => Status::InvalidName,
            Error::DuplicateLabel { .. } => Status::DuplicateLabel,
            Error::TooManyLabels { .. } => Status::TooManyLabels,
            Error::LabelCount { .. } => Status::LabelCount,
            Error::Conflict { .. } => Status::Conflict,
            Error::WrongKind { .. } => Status::WrongKind,
            Error::UnknownType { .. } => Status::UnknownType,
            Error::InvalidIncrement(_) | Error::InvalidObservation(_) => Status::InvalidValue,
            Error::InvalidBuckets(_) => Status::InvalidBuckets,
            Error::InvalidState { .. } => Status::InvalidState,
            Error::InvalidOptions(_) | Error::InvalidExpiry { .. } => Status::InvalidOptions,
            Error::RegistryFull(_) => Status::Full,
            Error::LabelValueTooLong { .. } | Error::ExemplarTooLong(_) => Status::InvalidArgument,
            Error::Io { .. } | Error::NoSpace { .. } => Status::Io,
            Error::Symlink(_) => Status::Symlink,
            Error::NotARegistry { .. } => Status::NotARegistry,
            Error::Version { .. } => Status::Version,
            Error::Corrupt { .. } => Status::Corrupt,
            Error::Listen { .. } => Status::Listen,
            Error::Runtime(_) | Error::Push { .. } => Status::Http,
            Error::Untrusted { .. } | Error::UnsafeDirectory { .. } => Status::Untrusted,
            // A kind of error newer than this list: the message still says what failed.
            _ => Status::Internal,
        };
        Fail::new(status, e.to_string())
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Runs an entry point's body: catches panics so none unwinds into C, and turns a
/// failure into its status code, keeping its message for `metricore_last_error`.
#[inline(always)]
pub(crate) fn guard(body: impl FnOnce() -> Result<(), Fail>) -> Status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => Status::Ok,
        Ok(Err(fail)) => fail.report(),
        Err(panic) => panicked(panic),
    }
}

#[cold]
fn panicked(panic: Box<dyn std::any::Any + Send>) -> Status {
    let what = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("unknown panic");
    Fail::new(Status::Internal, format!("internal error: {what}")).report()
}

/// The message of the last failed call on the calling thread, as `metricore_last_error`
/// gives it, for Rust code that calls this API.
pub fn last_error() -> String {
    LAST_ERROR
        .try_with(|m| m.borrow().to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The message of the last failed call on the calling thread, NUL-terminated; an empty
/// string if no call on this thread has failed yet.
///
/// The string belongs to the library and stays valid until the next failed call on
/// the same thread. Successful calls leave it unchanged.
#[no_mangle]
pub extern "C" fn metricore_last_error() -> *const c_char {
    LAST_ERROR
        .try_with(|m| m.borrow().as_ptr())
        .unwrap_or(c"".as_ptr())
}
