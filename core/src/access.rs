//! Who may use a registry file: its owner, group and mode, the directory it lies in, and
//! the mode a new file gets.
//!
//! A file is trusted when the calling user owns it or the options name its owner
//! ([`Options::owner`](crate::Options::owner)) or its group
//! ([`Options::group`](crate::Options::group)). It must never be writable by every
//! user, and writable by its group only when the options name that group. Its directory
//! must not let every user replace it: a directory writable by all needs the sticky bit
//! (as `/tmp` and `/dev/shm` have).
//!
//! Several users share one file through a group: the creator names the group, which the
//! new file gets, and a mode such as `0o660`; every user names the same group.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::error::{Error, Result};

const WORLD_WRITE: u32 = 0o002;
const GROUP_WRITE: u32 = 0o020;
const STICKY: u32 = 0o1000;

/// Checks the mode for a new file: permission bits only (`0..=0o777`), never writable
/// by every user, writable by its group only when `group` names that group.
pub(crate) fn check_new_mode(mode: u32, group: Option<u32>) -> Result<()> {
    let problem = if mode > 0o777 {
        "only permission bits (0..=0o777) are allowed; setuid, setgid and sticky bits are refused"
    } else if mode & WORLD_WRITE != 0 {
        "it would let every user write the file"
    } else if mode & GROUP_WRITE != 0 && group.is_none() {
        "it lets the group write the file, so `group` must name that group"
    } else {
        return Ok(());
    };
    Err(Error::InvalidOptions(format!(
        "file_mode {mode:#o}: {problem}"
    )))
}

/// Refuses a path whose directory is writable by every user without the sticky bit.
pub(crate) fn check_dir(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    // A directory that cannot be looked at is reported as the file's error.
    let meta = std::fs::metadata(dir).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mode = meta.mode() & 0o7777;
    if mode & WORLD_WRITE != 0 && mode & STICKY == 0 {
        return Err(Error::UnsafeDirectory {
            dir: dir.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

/// Checks an opened file's owner and mode against the trusted `owner` and `group`.
pub(crate) fn check_file(
    path: &Path,
    meta: &Metadata,
    owner: Option<u32>,
    group: Option<u32>,
) -> Result<()> {
    let (uid, gid, mode) = (meta.uid(), meta.gid(), meta.mode() & 0o7777);
    let group_named = group == Some(gid);
    let reason = if mode & WORLD_WRITE != 0 {
        "writable by every user"
    } else if mode > 0o777 {
        "with setuid, setgid or sticky bits"
    } else if mode & GROUP_WRITE != 0 && !group_named {
        "writable by a group the options do not name"
    } else if uid != euid() && owner != Some(uid) && !group_named {
        "owned by another user"
    } else {
        return Ok(());
    };
    Err(Error::Untrusted {
        path: path.to_path_buf(),
        reason,
        uid,
        user: name_in("/etc/passwd", uid),
        gid,
        group_name: name_in("/etc/group", gid),
        mode,
    })
}

/// The effective user id of the calling process.
fn euid() -> u32 {
    // SAFETY: geteuid takes no arguments, touches no memory and cannot fail.
    unsafe { libc::geteuid() }
}

/// A user id from a user name in `/etc/passwd` or a number, for
/// [`Options::owner`](crate::Options::owner).
pub fn user_id(name: &str) -> Result<u32> {
    id_of("/etc/passwd", "user", name)
}

/// A group id from a group name in `/etc/group` or a number, for
/// [`Options::group`](crate::Options::group).
pub fn group_id(name: &str) -> Result<u32> {
    id_of("/etc/group", "group", name)
}

fn id_of(table: &str, what: &str, name: &str) -> Result<u32> {
    if let Ok(id) = name.parse() {
        return Ok(id);
    }
    entries(table)
        .find(|(n, _)| n == name)
        .map(|(_, id)| id)
        .ok_or_else(|| Error::InvalidOptions(format!("no {what} named {name:?} in {table}")))
}

fn name_in(table: &str, id: u32) -> Option<String> {
    entries(table).find(|&(_, i)| i == id).map(|(n, _)| n)
}

/// Names and ids of a `/etc/passwd` or `/etc/group` file (`name:x:id:...` lines).
fn entries(table: &str) -> impl Iterator<Item = (String, u32)> {
    let text = std::fs::read_to_string(table).unwrap_or_default();
    let rows: Vec<(String, u32)> = text
        .lines()
        .filter_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            Some((name.to_owned(), fields.nth(1)?.parse().ok()?))
        })
        .collect();
    rows.into_iter()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_modes_are_permission_bits_without_world_write() {
        assert!(check_new_mode(0o600, None).is_ok());
        assert!(check_new_mode(0o640, None).is_ok());
        assert!(check_new_mode(0o660, Some(100)).is_ok());
        let err = |m, g| check_new_mode(m, g).unwrap_err().to_string();
        assert!(
            err(0o4777, None).contains("setuid"),
            "{}",
            err(0o4777, None)
        );
        assert!(err(0o1600, None).contains("0o1600"));
        assert!(err(0o10000, None).contains("permission bits"));
        assert!(err(0o606, Some(1)).contains("every user"));
        assert!(err(0o660, None).contains("`group`"));
    }

    #[test]
    fn names_and_numbers_resolve() {
        assert_eq!(user_id("root").unwrap(), 0);
        assert_eq!(user_id("1234").unwrap(), 1234);
        assert_eq!(group_id("0").unwrap(), 0);
        let e = group_id("no-such-group-anywhere").unwrap_err().to_string();
        assert!(
            e.contains("no group named \"no-such-group-anywhere\""),
            "{e}"
        );
        assert_eq!(name_in("/etc/passwd", 0).as_deref(), Some("root"));
    }
}
