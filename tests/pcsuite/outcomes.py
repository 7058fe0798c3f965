"""pytest plugin of the prometheus_client suite run (run.py): with
METRICORE_SUITE_INSTALL=1 it makes ``prometheus_client`` resolve to metricore before
any test module is imported; it writes each test's outcome, and each test file that
could not be collected, to the JSON file METRICORE_SUITE_OUTCOMES names.

Some test files import private internals of prometheus_client at their top
(``mmap_dict``, ``exposition._bake_output``),
which metricore does not have. So that the rest of such a file runs, they are given
here as stand-ins that raise ``NotImplementedError`` when used: a test that uses one
fails, and is listed in excluded.txt or not-yet.txt."""

import json
import os
import sys
import types


class _Missing(types.ModuleType):
    """A private module of prometheus_client: every attribute raises when called."""

    def __getattr__(self, name):
        return _missing(f"{self.__name__}.{name}")


def _missing(name):
    def call(*args, **kwargs):
        raise NotImplementedError(f"{name}: a private internal of prometheus_client, not in metricore")

    return call


if os.environ.get("METRICORE_SUITE_INSTALL") == "1":
    import metricore
    import metricore.exposition

    metricore.install_as_prometheus_client()
    metricore.mmap_dict = _Missing("prometheus_client.mmap_dict")
    sys.modules["prometheus_client.mmap_dict"] = metricore.mmap_dict
    metricore.exposition._bake_output = _missing("prometheus_client.exposition._bake_output")

_outcomes = {}
_broken_files = {}


def pytest_collectreport(report):
    if report.failed:
        _broken_files[report.nodeid] = " ".join(str(report.longrepr).strip().splitlines()[-1:])


def _message(report):
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr)
    return " ".join(text.split())[:160]


def pytest_runtest_logreport(report):
    if report.failed:
        _outcomes[report.nodeid] = ["failed", _message(report)]
    elif report.skipped:
        _outcomes.setdefault(report.nodeid, ["skipped", _message(report)])
    elif report.when == "call":
        _outcomes.setdefault(report.nodeid, ["passed", ""])


def pytest_sessionfinish(session):
    with open(os.environ["METRICORE_SUITE_OUTCOMES"], "w") as f:
        json.dump({"tests": _outcomes, "broken_files": _broken_files}, f, indent=1, sort_keys=True)
