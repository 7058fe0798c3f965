"""Fixtures shared by the tests."""

import os
import sys

import pytest

import metricore

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


@pytest.fixture(autouse=True)
def created_series(request):
    """``_created`` samples off, so that expected text is exact, unless the test's module
    sets ``CREATED = True``; on again afterwards (the default)."""
    on = getattr(request.module, "CREATED", False)
    (metricore.enable_created_metrics if on else metricore.disable_created_metrics)()
    yield
    metricore.enable_created_metrics()


@pytest.fixture
def registry():
    """A fresh in-process registry."""
    return metricore.CollectorRegistry()


@pytest.fixture
def shared_path(tmp_path):
    """A path for a shared registry file, removed after the test."""
    path = tmp_path / "registry.metricore"
    yield str(path)
    if path.exists():
        path.unlink()


def families(text):
    """The families of exposition text, by name, without metricore's own."""
    from prometheus_client.parser import text_string_to_metric_families

    return {f.name: f for f in text_string_to_metric_families(text) if not f.name.startswith("metricore_")}


def sample_values(family):
    """A family's samples as {(name, sorted labels): value}."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for s in family.samples}
