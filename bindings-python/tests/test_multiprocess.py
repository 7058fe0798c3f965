"""Several processes recording into one shared file: exact totals, gauge modes, and a
worker killed while its in-progress gauge is raised."""

import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile

import pytest
import workers

import metricore


def open_shared(path):
    r = metricore.CollectorRegistry()
    metricore.use_shared(path, registry=r)
    return r


def test_four_spawned_workers_exact_totals(shared_path, monkeypatch):
    monkeypatch.setenv("METRICORE_REGISTRY", shared_path)
    ctx = multiprocessing.get_context("spawn")
    # One task per process: each makes its metrics once, as a worker does.
    with ctx.Pool(4, maxtasksperchild=1) as pool:
        pids = pool.map_async(workers.record, range(4), chunksize=1).get(timeout=120)
    assert len(set(pids)) == 4
    r = open_shared(shared_path)
    n = workers.N
    assert r.get_sample_value("jobs_total") == 4 * n
    for w in range(4):
        for parity in ("even", "odd"):
            assert r.get_sample_value("jobs_by_worker_total", {"worker": str(w), "parity": parity}) == n / 2
    assert r.get_sample_value("job_size_count") == 4 * n
    assert r.get_sample_value("job_size_bucket", {"le": "1.0"}) == 4 * n * 2 / 20
    assert r.get_sample_value("job_size_sum") == 4 * sum(i % 20 for i in range(n))
    # The workers have exited: their per-process gauge series, of every mode, were
    # removed when this process opened the file (no live process, no sample).
    assert not r.get_sample_value("workers_seen")
    for pid in pids:
        assert r.get_sample_value("worker_pid", {"pid": str(pid)}) is None


def test_forked_workers_share_the_parent_registry(shared_path):
    r = open_shared(shared_path)
    c = metricore.Counter("forked", "Forked.", ["kind"], registry=r)
    child = c.labels("x")
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_inc_many, args=(child, 10000)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert r.get_sample_value("forked_total", {"kind": "x"}) == 40000


def _inc_many(child, n):
    for _ in range(n):
        child.inc()


def test_killed_worker_does_not_leave_livesum_raised(shared_path):
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    p = ctx.Process(target=workers.hold_inprogress, args=(shared_path, ready))
    p.start()
    try:
        assert ready.wait(timeout=60)
        r = open_shared(shared_path)
        assert r.get_sample_value("busy") == 1
        p.kill()
        p.join(timeout=30)
        assert p.exitcode == -9
        assert not r.get_sample_value("busy"), "the dead worker's gauge is dropped"
        g = metricore.Gauge("busy", "Requests in progress.", registry=r, multiprocess_mode="livesum")
        g.inc(2)
        assert r.get_sample_value("busy") == 2
    finally:
        if p.is_alive():
            p.kill()
            p.join(timeout=30)


def test_environment_variable_selects_the_shared_file(shared_path):
    code = (
        "import metricore; "
        "metricore.Counter('from_env', 'E.').inc(5); "
        "print(metricore.REGISTRY.shared_path)"
    )
    env = dict(os.environ, METRICORE_REGISTRY=shared_path)
    for _ in range(2):
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == shared_path
    assert open_shared(shared_path).get_sample_value("from_env_total") == 10


def test_bad_environment_variable_fails_the_import_with_the_path(tmp_path):
    bad = tmp_path / "garbage"
    bad.write_bytes(b"\0" * 64)
    env = dict(os.environ, METRICORE_REGISTRY=str(bad))
    out = subprocess.run([sys.executable, "-c", "import metricore"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "OSError" in out.stderr and str(bad) in out.stderr


def test_untrusted_files_and_modes_are_refused(tmp_path):
    path = str(tmp_path / "trust.metricore")
    with pytest.raises(ValueError, match="permission bits"):
        metricore.use_shared(path, registry=metricore.CollectorRegistry(), file_mode=0o4777)
    with pytest.raises(ValueError, match="no group named"):
        metricore.use_shared(path, registry=metricore.CollectorRegistry(), group="no-such-group-anywhere")
    assert not os.path.exists(path)
    r = metricore.CollectorRegistry()
    metricore.use_shared(path, registry=r, group=os.getgid(), file_mode=0o660)
    metricore.Counter("trusted", "T.", registry=r).inc()
    st = os.stat(path)
    assert (st.st_mode & 0o7777, st.st_gid) == (0o660, os.getgid())
    # Group-writable: only a registry that names the group uses it.
    with pytest.raises(PermissionError) as e:
        metricore.use_shared(path, registry=metricore.CollectorRegistry())
    assert e.value.filename == path and "writable by a group" in str(e.value)
    r = metricore.CollectorRegistry()
    metricore.use_shared(path, registry=r, group=str(os.getgid()))
    assert r.get_sample_value("trusted_total") == 1


def _as_nobody(args, env):
    cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--groups=100", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)


def test_two_users_share_one_file_through_a_group():
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("running a process as user nobody needs root and setpriv")
    probe = _as_nobody([sys.executable, "-c", "import metricore"], dict(os.environ))
    if probe.returncode != 0:
        pytest.skip(f"user nobody cannot import metricore from this checkout: {probe.stderr[-200:]}")
    d = tempfile.mkdtemp(prefix="metricore-group-")
    try:
        os.chmod(d, 0o1777)
        path = os.path.join(d, "shared.metricore")
        r = metricore.CollectorRegistry()
        metricore.use_shared(path, registry=r, group="users", file_mode=0o660)
        metricore.Counter("jobs", "J.", registry=r).inc()
        code = "import metricore; metricore.Counter('jobs', 'J.').inc(5)"
        env = dict(os.environ, METRICORE_REGISTRY=path)
        out = _as_nobody([sys.executable, "-c", code], env)
        assert out.returncode != 0 and "PermissionError" in out.stderr and "writable by a group" in out.stderr
        out = _as_nobody([sys.executable, "-c", code], dict(env, METRICORE_GROUP="users"))
        assert out.returncode == 0, out.stderr
        assert r.get_sample_value("jobs_total") == 6
        # The other way round: nobody creates the file for the group, root names it.
        other = os.path.join(d, "by-nobody.metricore")
        env = dict(os.environ, METRICORE_REGISTRY=other, METRICORE_GROUP="100", METRICORE_FILE_MODE="660")
        out = _as_nobody([sys.executable, "-c", code], env)
        assert out.returncode == 0, out.stderr
        assert os.stat(other).st_uid == 65534
        with pytest.raises(PermissionError, match=r"owner uid 65534 \(nobody\)"):
            metricore.use_shared(other, registry=metricore.CollectorRegistry())
        r = metricore.CollectorRegistry()
        metricore.use_shared(other, registry=r, group="users")
        assert r.get_sample_value("jobs_total") == 5
    finally:
        shutil.rmtree(d)
