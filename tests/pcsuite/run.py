"""Runs the test suite of prometheus_client's source distribution (pinned below) with
``prometheus_client`` resolving to metricore, and judges the outcome.

The sdist is downloaded once into target/prometheus_client (not part of the
repository). The suite runs twice: with prometheus_client itself (the reference), then
with metricore (``metricore.install_as_prometheus_client()``). Every test that passes
with prometheus_client must pass with metricore, except those in excluded.txt (tests of
prometheus_client's private internals) and not-yet.txt (what metricore does not do
yet); every entry of either list gives its reason, and an entry whose tests pass is an
error, so the lists stay true. Prints passed, excluded, not yet and failing per file.

Usage: run.py [--record]   (--record rewrites not-yet.txt: drops the entries that
cover no failing test and adds the unlisted failures, with their failure message as
the reason, to be edited)
"""

import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections import defaultdict

VERSION = "0.26.0"
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CACHE = os.path.join(ROOT, "target", "prometheus_client")
PYTHON = os.path.join(ROOT, ".venv", "bin", "python")
# The excluded tests may be at most this share of the suite.
MAX_EXCLUDED = 0.05


def sdist() -> str:
    """The path of the sdist, downloaded if absent."""
    path = os.path.join(CACHE, f"prometheus_client-{VERSION}.tar.gz")
    if not os.path.exists(path):
        os.makedirs(CACHE, exist_ok=True)
        subprocess.run(
            [PYTHON, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--no-binary", ":all:",
             "--no-deps", "-d", CACHE, f"prometheus_client=={VERSION}"],
            check=True,
        )
    return path


def extract(archive: str) -> str:
    """A fresh copy of the sdist's tests/ (and nothing else of it); returns its parent."""
    suite = os.path.join(CACHE, f"suite-{VERSION}")
    shutil.rmtree(suite, ignore_errors=True)
    prefix = f"prometheus_client-{VERSION}/tests/"
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if m.name.startswith(prefix)]
        for m in members:
            m.name = m.name[len(f"prometheus_client-{VERSION}/"):]
        tar.extractall(suite, members=members, filter="data")
    return suite


def run(suite: str, name: str, install: bool) -> dict:
    """Runs the suite; returns the outcomes the plugin wrote."""
    out = os.path.join(CACHE, f"{name}.json")
    log = os.path.join(CACHE, f"{name}.log")
    env = dict(os.environ, METRICORE_SUITE_OUTCOMES=out, METRICORE_SUITE_INSTALL="1" if install else "0",
               PYTHONPATH=HERE)
    if os.path.exists(out):
        os.remove(out)
    with open(log, "w") as f:
        proc = subprocess.run(
            [PYTHON, "-m", "pytest", "-p", "outcomes", "-p", "no:cacheprovider", "-q", "-rN",
             "--continue-on-collection-errors", "tests"],
            cwd=suite, env=env, stdout=f, stderr=subprocess.STDOUT, timeout=900,
        )
    if not os.path.exists(out):
        sys.exit(f"the {name} run wrote no outcomes (exit {proc.returncode}); see {log}")
    with open(out) as f:
        return json.load(f)


def read_list(name: str) -> dict:
    """The entries of a list file: test id (or a file or class of tests) -> reason."""
    entries = {}
    with open(os.path.join(HERE, name)) as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            test, sep, reason = line.partition(" # ")
            if not sep or not reason.strip():
                sys.exit(f"{name}:{n}: an entry is 'TEST # REASON'")
            entries[test.strip()] = reason.strip()
    return entries


def listed(test: str, entries: dict):
    """The entry of ``entries`` that covers ``test``, or None."""
    for entry in entries:
        if test == entry or test.startswith(entry + "::"):
            return entry
    return None


def main() -> int:
    record = "--record" in sys.argv[1:]
    suite = extract(sdist())
    reference = run(suite, "reference", install=False)["tests"]
    ours = run(suite, "metricore", install=True)
    excluded, not_yet = read_list("excluded.txt"), read_list("not-yet.txt")
    judged = {}  # test -> (outcome, message), of the tests that pass with prometheus_client
    rows = defaultdict(lambda: defaultdict(int))
    for test, (ref, _) in sorted(reference.items()):
        rows[test.split("::")[0]]["tests"] += 1
        if ref != "passed":
            rows[test.split("::")[0]]["not judged"] += 1  # skipped, or failing with prometheus_client
            continue
        outcome, message = ours["tests"].get(test, ["not run", ""])
        if outcome == "not run":
            broken = ours["broken_files"].get(test.split("::")[0])
            message = f"file not imported: {broken}" if broken else "not run"
        judged[test] = (outcome, message)

    errors, unlisted, used, stale = [], [], set(), set()
    for test, (outcome, _) in judged.items():
        entry = listed(test, excluded) or listed(test, not_yet)
        used.add(entry)
        if outcome == "passed" and entry is not None:
            stale.add(entry)
            errors.append(f"{test} passes: remove {entry!r} from its list")
    for entry in list(excluded) + list(not_yet):
        # An entry for a test that failed with prometheus_client itself this time (a
        # flaky one) stays.
        if entry not in used and not any(listed(t, {entry: ""}) for t in reference):
            stale.add(entry)
            errors.append(f"list entry {entry!r} covers no test that passes with prometheus_client")
    for test, (outcome, message) in judged.items():
        row = rows[test.split("::")[0]]
        entry = listed(test, excluded) or listed(test, not_yet)
        if outcome == "passed":
            row["passed"] += 1
        elif entry in excluded:
            row["excluded"] += 1
        elif entry in not_yet:
            row["not yet"] += 1
        else:
            row["failing"] += 1
            errors.append(f"{test} {outcome}: {message}")
        if outcome != "passed" and (entry is None or entry in stale):
            unlisted.append((test, message))

    cols = ["tests", "passed", "excluded", "not yet", "failing", "not judged"]
    print(f"prometheus_client {VERSION} test suite on metricore")
    print(f"{'file':34}" + "".join(f"{c:>11}" for c in cols))
    total = defaultdict(int)
    for file, row in sorted(rows.items()):
        print(f"{file:34}" + "".join(f"{row[c]:>11}" for c in cols))
        for c in cols:
            total[c] += row[c]
    print(f"{'total':34}" + "".join(f"{total[c]:>11}" for c in cols))
    print(f"excluded.txt: {len(excluded)} entries, {total['excluded']} tests; "
          f"not-yet.txt: {len(not_yet)} entries, {total['not yet']} tests")
    if total["excluded"] > MAX_EXCLUDED * total["tests"]:
        errors.append(f"{total['excluded']} excluded tests: more than {MAX_EXCLUDED:.0%} of the suite")
    if record:
        path = os.path.join(HERE, "not-yet.txt")
        with open(path) as f:
            lines = [line for line in f if line.startswith("#") or line.split(" # ")[0].strip() not in stale]
        lines += [f"{test} # {message or 'fails'}\n" for test, message in unlisted if listed(test, excluded) is None]
        with open(path, "w") as f:
            f.writelines(lines)
        print(f"not-yet.txt: {len(stale)} entries dropped, {len(unlisted)} tests added")
        return 0
    for e in errors:
        print("ERROR:", e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
