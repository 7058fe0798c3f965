"""pytest plugin of the prometheus_client suite run (run.py): with
METRICORE_SUITE_INSTALL=1 it makes ``prometheus_client`` resolve to metricore before
any test module is imported; it writes each test's outcome, and each test file that
could not be collected, to the JSON file METRICORE_SUITE_OUTCOMES names."""

import json
import os

if os.environ.get("METRICORE_SUITE_INSTALL") == "1":
    import metricore

    metricore.install_as_prometheus_client()

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
