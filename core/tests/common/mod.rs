//! Helpers the multi-process test files share: a fresh temporary directory, and this
//! test binary started again as a child that runs its `child` test in a given role.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A new, empty directory under the system's temporary directory.
pub fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("metricore-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Starts this test binary's `child` test with `METRICORE_CHILD=role` and
/// `METRICORE_FILE=path`.
pub fn spawn(role: &str, path: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["child", "--exact", "--nocapture", "--test-threads=1"])
        .env("METRICORE_CHILD", role)
        .env("METRICORE_FILE", path)
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}
