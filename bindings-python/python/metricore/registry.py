"""Registries: where metrics live (this process's memory, or a file that several
processes share) and the custom collectors rendered with them."""

import os
import threading
from abc import ABC, abstractmethod
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Union

from . import _metricore
from .metrics_core import Metric

_METRIC_TYPES = (
    _metricore.Counter,
    _metricore.Gauge,
    _metricore.Histogram,
    _metricore.Summary,
    _metricore.Info,
    _metricore.Enum,
)


class DuplicateTimeseries(ValueError):
    """A metric or collector whose sample names are already taken in the registry."""


class Collector(ABC):
    """A custom collector: ``collect()`` yields metric families at each scrape."""

    @abstractmethod
    def collect(self) -> Iterable[Metric]:
        """The families to render now."""

    def describe(self) -> Iterable[Metric]:
        """The families this collector yields, without samples (optional)."""
        return []


class CollectorRegistry(_metricore.RegistryCore):
    """A registry of metrics and custom collectors.

    Metrics register themselves when created (``registry=`` of their constructor);
    ``register`` adds custom collectors, and metrics made with ``registry=None``. With
    ``target_info``, the registry carries a ``target_info`` metric with those labels;
    with ``self_metrics``, metricore's own (``metricore_*``: series, region use,
    refused recordings, overflows). A collector whose ``describe()`` names no
    families is left out of ``restricted_registry`` views unless
    ``support_collectors_without_names``.
    """

    def __init__(
        self,
        auto_describe: bool = False,
        target_info: Optional[Dict[str, str]] = None,
        support_collectors_without_names: bool = False,
        *,
        self_metrics: bool = False,
    ):
        self._auto_describe = auto_describe
        self._without_names = support_collectors_without_names
        # Guards the sample names claimed by collectors.
        self._lock = threading.Lock()
        self._claimed: Dict[int, List[str]] = {}
        self._target_info: Optional[object] = None
        self._self_metrics = False
        self.self_metrics = self_metrics
        self.set_target_info(target_info)

    def set_target_info(self, labels: Optional[Dict[str, str]]) -> None:
        """Sets the labels of the registry's ``target_info`` metric; empty or ``None``
        removes it. ``DuplicateTimeseries`` if a metric ``target`` of its own is
        there."""
        if self._target_info is not None:
            self.unregister(self._target_info)
            self._target_info = None
            self._target_labels: Optional[Dict[str, str]] = None
        if labels:
            info = _metricore.Info("target", "Target metadata", registry=self)
            info.info(labels)
            self._target_info = info
            self._target_labels = dict(labels)

    def get_target_info(self) -> Optional[Dict[str, str]]:
        """The labels of the registry's ``target_info`` metric, or ``None``."""
        return getattr(self, "_target_labels", None)

    @property
    def self_metrics(self) -> bool:
        """Whether collections carry metricore's own metrics (``metricore_*``); set it
        to change that."""
        return self._self_metrics

    @self_metrics.setter
    def self_metrics(self, on: bool) -> None:
        self._self_metrics = bool(on)
        self._set_self_metrics(self._self_metrics)

    def register(self, collector: object) -> None:
        """Adds a custom collector (an object with a ``collect()`` method)."""
        if isinstance(collector, _METRIC_TYPES):
            if collector._registry is self:
                raise ValueError(f"metric {collector._name!r} is already registered in this registry")
            try:
                self._attach(collector._registry)
            except ValueError as e:
                raise type(e)(f"metric {collector._name!r}: {e}") from None
            return
        names = self._collector_names(collector)
        with self._lock:
            self._claim(names)
            try:
                self._add_collector(collector)
            except BaseException:
                self._release(names)
                raise
            self._claimed[id(collector)] = names

    def _collector_names(self, collector: object) -> List[str]:
        """The sample names a collector's families claim: those ``describe()`` gives
        (or ``collect()``, with ``auto_describe``)."""
        describe = getattr(collector, "describe", None)
        if describe is not None:
            families = describe()
        elif self._auto_describe:
            families = collector.collect()  # type: ignore[attr-defined]
        else:
            return []
        return [n for f in families for n in _metricore._sample_names(f.name, f.type)]

    def unregister(self, collector: object) -> None:
        """Removes a custom collector, or the series of a metric of this registry (the
        metric's definition stays, so it can be created again with the same one)."""
        if isinstance(collector, _METRIC_TYPES):
            if collector._registry is self:
                collector._discard()
                self._remove_function(collector)
                self._release(_metricore._sample_names(collector._name, collector._type))
            elif not self._detach(collector._registry):
                raise KeyError(collector)
            return
        if isinstance(collector, ProcessCollector) and collector._own and collector._registry is self:
            self._remove_process_metrics()
            return
        with self._lock:
            if not self._remove_collector(collector):
                raise KeyError(collector)
            self._release(self._claimed.pop(id(collector), []))

    def collect(self) -> Iterator[Metric]:
        """Every family of the registry with samples, then what its custom collectors
        yield, as they yield it."""
        yield from self._collect()
        for collector in self._collectors():
            yield from collector.collect()

    def _collectors_selected(self, names: Iterable[str]) -> List[object]:
        """The custom collectors whose described families have one of the sample
        ``names``, and those that describe none if collectors without names are
        supported."""
        with self._lock:
            claimed = dict(self._claimed)
        wanted = set(names)
        chosen = []
        for collector in self._collectors():
            own = claimed.get(id(collector), [])
            if (own and wanted.intersection(own)) or (not own and self._without_names):
                chosen.append(collector)
        return chosen

    def get_sample_value(self, name: str, labels: Optional[Dict[str, str]] = None) -> Optional[float]:
        """The value of the sample ``name`` with exactly these labels, or ``None``."""
        want = labels or {}
        for family in self.collect():
            for sample in family.samples:
                if sample.name == name and sample.labels == want:
                    return sample.value
        return None

    def restricted_registry(self, names: Iterable[str]) -> "RestrictedRegistry":
        """A view of this registry that renders only the families ``names`` select:
        a family's name, the name on its ``# TYPE`` line, or one of its sample names
        (``requests_total`` selects the counter ``requests``), the family rendered
        whole."""
        return RestrictedRegistry(self, names)

    @property
    def shared_path(self) -> Optional[str]:
        """The shared file behind this registry, or ``None`` when in this process."""
        path = self._shared_path
        return None if path is None else os.fspath(path)


class RestrictedRegistry:
    """A registry's families that some names select (``restricted_registry``), for
    ``generate_latest`` and the exposition functions."""

    def __init__(self, registry: CollectorRegistry, names: Iterable[str]):
        self._registry = registry
        self._names: List[str] = [str(n) for n in names]

    def _render(self, format: int = 0, escaping: str = "underscores") -> bytes:
        return self._registry._render(format, self._names, escaping=escaping)

    def collect(self) -> Iterator[Metric]:
        """The selected families with only the samples named, as
        ``prometheus_client`` gives them; a custom collector runs only if it
        describes a family named (or describes none, where the registry supports
        collectors without names)."""
        names = set(self._names)
        families: List[Metric] = self._registry._collect(self._names)
        for collector in self._registry._collectors_selected(names):
            families.extend(collector.collect())
        for family in families:
            samples = [s for s in family.samples if s.name in names]
            if samples:
                kept = Metric(family.name, family.documentation, family.type, family.unit)
                kept.samples = samples
                yield kept

    def get_sample_value(self, name: str, labels: Optional[Dict[str, str]] = None) -> Optional[float]:
        """The value of the sample ``name`` with exactly these labels, or ``None``."""
        return CollectorRegistry.get_sample_value(self, name, labels)  # type: ignore[arg-type]


# The default of an argument `registry` that may be given as None.
_DEFAULT: CollectorRegistry = object()  # type: ignore[assignment]


class ProcessCollector:
    """The ``process_*`` metrics of a process (CPU time, memory, start time, open and
    most file descriptors), read by the core from ``/proc`` at each collection, in
    ``registry``'s collections (the default registry unless given; none with
    ``None``) until ``registry.unregister(collector)``.

    By default it reports this process, in this process's collections (the default
    registry has them, ``PROCESS_COLLECTOR``, while it lives in this process; moving
    it to a shared file drops them, since the file stands for the whole service, and
    this adds them back when they are wanted anyway). ``pid`` (a function giving the
    pid, called at each collection), ``proc`` (where ``/proc`` is) and ``namespace``
    (put before ``process_``) report another process; ``_ticks`` and ``_pagesize`` are
    the units its ``/proc`` counts in."""

    def __init__(
        self,
        namespace: str = "",
        pid: Optional[Callable[[], object]] = None,
        proc: str = "/proc",
        registry: Optional[CollectorRegistry] = _DEFAULT,  # type: ignore[assignment]
    ):
        given = REGISTRY if registry is _DEFAULT else registry
        self._namespace = namespace
        self._pid = pid
        self._proc = proc
        ticks, pagesize = _metricore._process_units()
        self._ticks = ticks or 100.0
        self._pagesize = pagesize or 4096.0
        self._own = not namespace and pid is None and os.path.abspath(proc) == "/proc"
        self._registry = given
        if given is not None:
            if self._own:
                given._add_process_metrics()
            else:
                given.register(self)

    def collect(self) -> Iterator[Metric]:
        """The process's metrics now (none when its ``/proc`` entry is not there)."""
        pid = "self" if self._pid is None else str(self._pid()).strip()
        prefix = self._namespace + "_" if self._namespace else ""
        readings = _metricore._process_readings(self._proc, pid, float(self._ticks), float(self._pagesize))
        for name, help, unit, typ, value in readings:
            family = Metric(prefix + name, help, typ, unit)
            family.add_sample(prefix + name + ("_total" if typ == "counter" else ""), {}, value)
            yield family


REGISTRY = CollectorRegistry()
"""The default registry: metrics created without ``registry=`` go here. In this
process's memory it also reports this process's ``process_*`` metrics, as
``prometheus_client``'s does; ``use_shared`` (or ``METRICORE_REGISTRY``) drops them."""
PROCESS_COLLECTOR = ProcessCollector()
"""The default registry's process metrics (``REGISTRY.unregister(PROCESS_COLLECTOR)``
removes them)."""
_metricore._set_default_registry(REGISTRY)


def use_shared(
    path: Union[str, "os.PathLike[str]"],
    registry: CollectorRegistry = REGISTRY,
    *,
    owner: Union[str, int, None] = None,
    group: Union[str, int, None] = None,
    file_mode: Optional[int] = None,
) -> None:
    """Puts ``registry`` (the default one unless given) in the shared file at ``path``,
    created if absent, so that every process using the same file records into the
    same metrics and any of them renders the totals. Call it before creating metrics;
    the environment variable ``METRICORE_REGISTRY`` does it for the default registry
    at import (with ``METRICORE_OWNER``, ``METRICORE_GROUP`` and ``METRICORE_FILE_MODE``,
    in octal, for the keywords).

    Only a file of this process's user is used, unless ``owner`` (a user name or uid)
    or ``group`` (a group name or gid) is named: users sharing one file through a
    group all pass that ``group``, and the one that creates it ``file_mode=0o660``.
    ``file_mode`` is the mode of a new file (default ``0o600``). Raises ``OSError``
    (with the path; ``PermissionError`` for a file or directory that is not trusted)
    when the file cannot be used."""
    registry._use_shared(
        os.fspath(path),
        None if owner is None else str(owner),
        None if group is None else str(group),
        file_mode,
    )


def _collect_family(registry: CollectorRegistry, name: str) -> list:
    """The families named ``name`` in ``registry``, with samples (``metric.collect()``)."""
    return [f for f in _metricore.RegistryCore._collect(registry) if f.name == name]


def _describe_family(registry: CollectorRegistry, name: str) -> list:
    """The families named ``name`` without samples (``metric.describe()``)."""
    families = _collect_family(registry, name)
    for f in families:
        f.samples = []
    return families
