//! The library's version: as macros in the header (for the compiler; the string
//! `METRICORE_VERSION` is made from these three in `cbindgen.toml`) and from
//! `metricore_version` (the library actually loaded).

use std::ffi::{c_char, CStr};

/// The major version of the header (`METRICORE_VERSION_MAJOR`).
pub const METRICORE_VERSION_MAJOR: u32 = 0;
/// The minor version of the header (`METRICORE_VERSION_MINOR`).
pub const METRICORE_VERSION_MINOR: u32 = 1;
/// The patch version of the header (`METRICORE_VERSION_PATCH`).
pub const METRICORE_VERSION_PATCH: u32 = 0;

/// The crate's version, NUL-terminated.
const VERSION: &CStr =
    match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(version) => version,
        Err(_) => panic!("the package version contains a NUL byte"),
    };

/// The version of the library, "MAJOR.MINOR.PATCH", NUL-terminated: equal to
/// `METRICORE_VERSION` when the header and the library loaded at run time are of one
/// release.
///
/// The string belongs to the library and is never freed.
#[no_mangle]
pub extern "C" fn metricore_version() -> *const c_char {
    VERSION.as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The constants, written out for cbindgen, are the package's version.
    #[test]
    fn constants_are_the_package_version() {
        assert_eq!(
            METRICORE_VERSION_MAJOR.to_string(),
            env!("CARGO_PKG_VERSION_MAJOR")
        );
        assert_eq!(
            METRICORE_VERSION_MINOR.to_string(),
            env!("CARGO_PKG_VERSION_MINOR")
        );
        assert_eq!(
            METRICORE_VERSION_PATCH.to_string(),
            env!("CARGO_PKG_VERSION_PATCH")
        );
    }

    /// The function returns the version those constants make, NUL-terminated.
    #[test]
    fn version_function() {
        // SAFETY: the pointer is to a static NUL-terminated string.
        let got = unsafe { CStr::from_ptr(metricore_version()) };
        let want = format!(
            "{METRICORE_VERSION_MAJOR}.{METRICORE_VERSION_MINOR}.{METRICORE_VERSION_PATCH}"
        );
        assert_eq!(got.to_str().unwrap(), want);
    }
}
