//! Gives libmetricore.so the SONAME `libmetricore.so.MAJOR`: programs linked with it
//! load any later release of the same major version.

fn main() {
    let major = env!("CARGO_PKG_VERSION_MAJOR");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libmetricore.so.{major}");
}
