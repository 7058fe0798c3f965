//! Who may use a registry file: mode of new files, directories anyone could replace a
//! file in, files of other users (real processes of another user, through `setpriv`),
//! sharing through a group, and read-only opening that changes nothing.
//!
//! Child processes are a copy of this test binary run with `METRICORE_CHILD` set; the
//! tests that need another user run only as root and say so when skipped.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use metricore::{Error, Format, GaugeMode, Kind, Options, Registry, Spec};

/// `nobody` and `nogroup`, the other user the tests run as.
const NOBODY: u32 = 65534;
/// `users`, the group shared by root and `nobody` in the group tests.
const SHARED_GROUP: u32 = 100;

fn options() -> Options {
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

/// The child's work; a no-op in a normal test run.
#[test]
fn child() {
    let Ok(role) = std::env::var("METRICORE_CHILD") else {
        return;
    };
    let path = PathBuf::from(std::env::var("METRICORE_FILE").unwrap());
    let mut o = options();
    o.group = std::env::var("METRICORE_GROUP")
        .ok()
        .map(|g| g.parse().unwrap());
    if let Ok(mode) = std::env::var("METRICORE_MODE") {
        o.file_mode = u32::from_str_radix(&mode, 8).unwrap();
    }
    let exit_on = |e: Error| -> ! {
        eprintln!("{e}");
        std::process::exit(3)
    };
    match role.as_str() {
        "record" => {
            let r = Registry::open_shared(&path, &o).unwrap_or_else(|e| exit_on(e));
            r.counter("shared", "Shared.").unwrap().inc_by(5);
        }
        "dump" => {
            let r = Registry::open_read_only(&path, &o).unwrap_or_else(|e| exit_on(e));
            print!("{}", r.render(Format::Prometheus));
        }
        "dead-gauge" => {
            let r = Registry::open_shared(&path, &o).unwrap();
            let g: metricore::GaugeVec = r
                .register(Spec::new("busy", "Busy.", Kind::Gauge(GaugeMode::LiveSum)))
                .unwrap()
                .try_into()
                .unwrap();
            g.with_labels(&[]).unwrap().set(1.0);
            // Exit without dropping the registry: the slot stays claimed by a dead pid.
            std::process::exit(0);
        }
        other => panic!("unknown role {other}"),
    }
}

/// A fresh directory under the temporary directory with `mode`.
fn dir(name: &str, mode: u32) -> PathBuf {
    let d = std::env::temp_dir().join(format!("metricore-access-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir(&d).unwrap();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(mode)).unwrap();
    d
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").unwrap().uid() == 0
}

/// Whether the tests that run processes as `nobody` can run; says why when not.
fn can_switch_users() -> bool {
    if !is_root() {
        eprintln!("skipped: switching to user nobody needs root");
        return false;
    }
    if Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("skipped: setpriv (util-linux) is not installed");
        return false;
    }
    true
}

/// Runs a copy of this binary as a child with `role` on `file`, as the caller or, with
/// `user`, as `nobody` (member of `SHARED_GROUP` when `in_group`).
fn run(role: &str, file: &Path, env: &[(&str, String)], user: Option<bool>) -> Output {
    let dir = file.parent().unwrap();
    let exe = dir.join("child-binary");
    if !exe.exists() {
        std::fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut cmd = match user {
        None => Command::new(&exe),
        Some(in_group) => {
            let mut c = Command::new("setpriv");
            c.args([format!("--reuid={NOBODY}"), format!("--regid={NOBODY}")]);
            if in_group {
                c.arg(format!("--groups={SHARED_GROUP}"));
            } else {
                c.arg("--clear-groups");
            }
            c.arg(&exe);
            c
        }
    };
    cmd.args(["child", "--exact", "--nocapture", "--test-threads=1", "-q"])
        .env("METRICORE_CHILD", role)
        .env("METRICORE_FILE", file);
    for (k, v) in env {
        cmd.env(k, v);
    }
    // Another test's child, forked while the copy above was open for writing, holds
    // the copy open until it runs its own program: until then the copy cannot run
    // (ETXTBSY, error 26), so it is tried again.
    for _ in 0..100 {
        match cmd.output() {
            Err(e) if e.raw_os_error() == Some(26) => {}
            Ok(o) if stderr(&o).contains("Text file busy") => {}
            done => return done.unwrap(),
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("{}: busy for 2 s", exe.display());
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn file_mode_is_permission_bits_set_whatever_the_umask() {
    let d = dir("mode", 0o755);
    let path = d.join("reg");
    for (mode, says) in [
        (0o4777, "setuid"),
        (0o2660, "permission bits"),
        (0o1600, "0o1600"),
        (0o666, "every user"),
        (0o660, "`group`"),
    ] {
        let o = Options {
            file_mode: mode,
            ..options()
        };
        let e = Registry::open_shared(&path, &o).err().unwrap();
        assert!(matches!(e, Error::InvalidOptions(_)), "{e}");
        assert!(e.to_string().contains(says), "{mode:o}: {e}");
        assert!(!path.exists());
    }
    // A umask that would leave no permission at all does not change the mode asked for.
    let out = Command::new("sh")
        .arg("-c")
        .arg("umask 0777 && exec \"$0\" \"$@\"")
        .arg(std::env::current_exe().unwrap())
        .args(["child", "--exact", "--nocapture", "--test-threads=1", "-q"])
        .env("METRICORE_CHILD", "record")
        .env("METRICORE_FILE", &path)
        .env("METRICORE_MODE", "640")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o7777, 0o640);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_directory_anyone_can_replace_files_in_is_refused() {
    let open = options();
    let d = dir("open-dir", 0o777);
    let e = Registry::open_shared(d.join("reg"), &open).err().unwrap();
    let msg = e.to_string();
    assert!(
        matches!(e, Error::UnsafeDirectory { mode: 0o777, .. }),
        "{msg}"
    );
    assert!(
        msg.contains(&d.display().to_string()) && msg.contains("0777"),
        "{msg}"
    );
    assert!(!d.join("reg").exists());
    // The sticky bit (as /tmp and /dev/shm have) makes it safe.
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let r = Registry::open_shared(d.join("reg"), &open).unwrap();
    r.counter("ok", "Ok.").unwrap().inc();
    // A file already there is refused too once the directory loses the sticky bit.
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
    assert!(matches!(
        Registry::open_existing(d.join("reg")),
        Err(Error::UnsafeDirectory { .. })
    ));
    assert!(matches!(
        Registry::open_read_only(d.join("reg"), &open),
        Err(Error::UnsafeDirectory { .. })
    ));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_group_writable_file_needs_its_group_named() {
    let d = dir("group-write", 0o755);
    let path = d.join("reg");
    drop(Registry::open_shared(&path, &options()).unwrap());
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o660)).unwrap();
    let e = Registry::open_shared(&path, &options()).err().unwrap();
    let msg = e.to_string();
    assert!(matches!(e, Error::Untrusted { mode: 0o660, .. }), "{msg}");
    assert!(
        msg.contains("writable by a group") && msg.contains("mode 0660"),
        "{msg}"
    );
    let gid = std::fs::metadata(&path).unwrap().gid();
    let named = Options {
        group: Some(gid),
        file_mode: 0o660,
        ..options()
    };
    Registry::open_shared(&path, &named).unwrap();
    // Writable by every user: refused whatever the options name.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    let e = Registry::open_shared(&path, &named).err().unwrap();
    assert!(e.to_string().contains("writable by every user"), "{e}");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn another_users_file_is_refused_with_its_owner_named() {
    if !can_switch_users() {
        return;
    }
    let d = dir("squat", 0o1777);
    let path = d.join("reg");
    // `nobody` creates the file first, in a directory every user may create files in.
    let made = run("record", &path, &[], Some(false));
    assert!(made.status.success(), "{}", stderr(&made));
    assert_eq!(std::fs::metadata(&path).unwrap().uid(), NOBODY);
    for e in [
        Registry::open_shared(&path, &options()).err().unwrap(),
        Registry::open_existing(&path).err().unwrap(),
        Registry::open_read_only(&path, &options()).err().unwrap(),
    ] {
        let msg = e.to_string();
        assert!(matches!(e, Error::Untrusted { uid: NOBODY, .. }), "{msg}");
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains("owned by another user"), "{msg}");
        assert!(msg.contains("owner uid 65534 (nobody)"), "{msg}");
        assert!(msg.contains("mode 0600"), "{msg}");
    }
    // Naming that owner trusts the file.
    let trusting = Options {
        owner: Some(NOBODY),
        ..options()
    };
    let r = Registry::open_read_only(&path, &trusting).unwrap();
    assert!(r.render(Format::Prometheus).contains("shared_total 5\n"));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn two_users_share_one_file_through_a_group() {
    if !can_switch_users() {
        return;
    }
    let d = dir("group", 0o1777);
    let group = [("METRICORE_GROUP", SHARED_GROUP.to_string())];
    let shared = Options {
        group: Some(SHARED_GROUP),
        file_mode: 0o660,
        ..options()
    };

    // Root creates the file for the group; nobody, a member, records into it.
    let path = d.join("by-root");
    let root = Registry::open_shared(&path, &shared).unwrap();
    let m = std::fs::metadata(&path).unwrap();
    assert_eq!(
        (m.uid(), m.gid(), m.mode() & 0o7777),
        (0, SHARED_GROUP, 0o660)
    );
    root.counter("shared", "Shared.").unwrap().inc();
    let out = run("record", &path, &group, Some(true));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(root.render(Format::Prometheus).contains("shared_total 6\n"));
    // Without naming the group, nobody does not trust root's group-writable file.
    let out = run("record", &path, &[], Some(true));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("writable by a group"),
        "{}",
        stderr(&out)
    );

    // Nobody creates the file for the group; root trusts it by the group alone.
    let path = d.join("by-nobody");
    let mode = [
        ("METRICORE_GROUP", SHARED_GROUP.to_string()),
        ("METRICORE_MODE", "660".to_string()),
    ];
    let out = run("record", &path, &mode, Some(true));
    assert!(out.status.success(), "{}", stderr(&out));
    let m = std::fs::metadata(&path).unwrap();
    assert_eq!(
        (m.uid(), m.gid(), m.mode() & 0o7777),
        (NOBODY, SHARED_GROUP, 0o660)
    );
    let e = Registry::open_shared(&path, &options()).err().unwrap();
    assert!(matches!(e, Error::Untrusted { uid: NOBODY, .. }), "{e}");
    let root = Registry::open_shared(&path, &shared).unwrap();
    root.counter("shared", "Shared.").unwrap().inc();
    assert!(root.render(Format::Prometheus).contains("shared_total 6\n"));
    std::fs::remove_dir_all(&d).unwrap();
}

/// Everything about a file that opening it for reading must leave as it was.
fn fingerprint(path: &Path) -> (Vec<u8>, i64, i64) {
    let m = std::fs::metadata(path).unwrap();
    (std::fs::read(path).unwrap(), m.mtime(), m.mtime_nsec())
}

#[test]
fn opening_read_only_changes_nothing_in_the_file() {
    let d = dir("read-only", 0o755);
    let path = d.join("reg");
    let r = Registry::open_shared(&path, &options()).unwrap();
    r.counter_vec("jobs", "Jobs.", &["kind"])
        .unwrap()
        .with_labels(&["a"])
        .unwrap()
        .inc_by(3);
    drop(r);
    // A process that exits without detaching leaves a live-only gauge a writer would
    // sweep, and a process slot a writer would reuse.
    let out = run("dead-gauge", &path, &[], None);
    assert!(out.status.success(), "{}", stderr(&out));
    std::thread::sleep(std::time::Duration::from_millis(20));
    let before = fingerprint(&path);

    let ro = Registry::open_read_only(&path, &options()).unwrap();
    let text = ro.render(Format::Prometheus);
    assert!(text.contains("jobs_total{kind=\"a\"} 3\n"), "{text}");
    assert!(
        !text.contains("busy 1"),
        "a dead process's gauge is left out: {text}"
    );
    let stats = ro.stats();
    assert_eq!(
        stats.processes.iter().filter(|(_, alive)| !alive).count(),
        1
    );
    assert!(ro.check().1.is_empty());
    let e = ro.counter("new", "New.").err().unwrap();
    assert!(matches!(e, Error::ReadOnly(_)), "{e}");
    drop(ro);
    assert!(
        fingerprint(&path) == before,
        "opening read-only changed the file"
    );

    // A writer does change it: it sweeps the dead process's gauge.
    drop(Registry::open_existing(&path).unwrap());
    assert!(fingerprint(&path).0 != before.0);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_file_the_reader_may_not_write_is_read() {
    if !can_switch_users() {
        return;
    }
    let d = dir("no-write", 0o1777);
    let path = d.join("reg");
    let out = run("record", &path, &[], Some(false));
    assert!(out.status.success(), "{}", stderr(&out));
    // Owned by nobody, who may only read it now.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
    let before = fingerprint(&path);
    let out = run("dump", &path, &[], Some(false));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("shared_total 5\n"));
    let out = run("record", &path, &[], Some(false));
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("Permission denied"),
        "{}",
        stderr(&out)
    );

    // Root's file, readable by a group: a member that names the group reads it.
    let path = d.join("root");
    let r = Registry::open_shared(
        &path,
        &Options {
            group: Some(SHARED_GROUP),
            file_mode: 0o640,
            ..options()
        },
    )
    .unwrap();
    r.counter("shared", "Shared.").unwrap().inc_by(7);
    let group = [("METRICORE_GROUP", SHARED_GROUP.to_string())];
    let out = run("dump", &path, &group, Some(true));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("shared_total 7\n"));
    assert!(fingerprint(&d.join("reg")) == before);
    std::fs::remove_dir_all(&d).unwrap();
}
