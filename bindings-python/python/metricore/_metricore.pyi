"""Types of the native module: metric classes, the registry core, trackers, the HTTP
server."""

from os import PathLike
from types import TracebackType
from typing import Any, Callable, Iterable, List, Optional, Sequence, Tuple, Type, TypeVar, Union

_F = TypeVar("_F", bound=Callable[..., Any])
_M = TypeVar("_M")

_Number = Union[int, float]
_Registry = Optional["RegistryCore"]
_ExceptionTypes = Union[Type[BaseException], Tuple[Type[BaseException], ...]]

class RegistryCore:
    """The native part of a CollectorRegistry."""

    def __init__(self, *args: Any, **kwargs: Any) -> None: ...
    def _use_shared(
        self,
        path: Union[str, "PathLike[str]"],
        owner: Optional[str] = None,
        group: Optional[str] = None,
        file_mode: Optional[int] = None,
    ) -> None: ...
    @property
    def _shared_path(self) -> Optional["PathLike[str]"]: ...
    def _render(self, openmetrics: bool = False, names: Optional[List[str]] = None) -> bytes: ...
    def _set_self_metrics(self, on: bool) -> None: ...
    def _add_collector(self, collector: object) -> None: ...
    def _remove_collector(self, collector: object) -> bool: ...
    def _remove_function(self, owner: object) -> None: ...
    def _add_process_metrics(self) -> None: ...
    def _attach(self, other: "RegistryCore") -> None: ...
    def _detach(self, other: "RegistryCore") -> bool: ...

class Tracker:
    """A context manager and decorator recording into one series."""

    def __enter__(self) -> "Tracker": ...
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> bool: ...
    def __call__(self, func: _F) -> _F: ...
    def _fresh(self) -> "Tracker": ...

class ValueView:
    """The value of one series."""

    def get(self) -> float: ...

class _Metric:
    """What every metric class has."""

    def labels(self: _M, *values: object, **labels: object) -> _M: ...
    def remove(self, *values: object) -> None: ...
    def clear(self) -> None: ...
    def collect(self) -> List[Any]: ...
    def describe(self) -> List[Any]: ...
    def _discard(self) -> None: ...
    @property
    def _name(self) -> str: ...
    @property
    def _documentation(self) -> str: ...
    @property
    def _labelnames(self) -> List[str]: ...
    @property
    def _labelvalues(self) -> Optional[List[str]]: ...
    @property
    def _type(self) -> str: ...
    @property
    def _unit(self) -> str: ...
    @property
    def _registry(self) -> RegistryCore: ...

class Counter(_Metric):
    """A counter: goes only up."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Iterable[str] = (),
        namespace: str = "",
        subsystem: str = "",
        unit: str = "",
        registry: _Registry = ...,
    ) -> None: ...
    def inc(self, amount: _Number = 1, exemplar: Optional[dict] = None) -> None: ...
    def count_exceptions(self, exception: _ExceptionTypes = Exception) -> Tracker: ...
    @property
    def _value(self) -> ValueView: ...

class Gauge(_Metric):
    """A gauge: goes up and down, or is set."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Iterable[str] = (),
        namespace: str = "",
        subsystem: str = "",
        unit: str = "",
        registry: _Registry = ...,
        multiprocess_mode: str = "all",
    ) -> None: ...
    def inc(self, amount: _Number = 1) -> None: ...
    def dec(self, amount: _Number = 1) -> None: ...
    def set(self, value: _Number) -> None: ...
    def set_to_current_time(self) -> None: ...
    def track_inprogress(self) -> Tracker: ...
    def time(self) -> Tracker: ...
    def set_function(self, f: Callable[[], _Number]) -> None: ...
    @property
    def _value(self) -> ValueView: ...

class Histogram(_Metric):
    """A histogram: counts observations into fixed buckets."""

    DEFAULT_BUCKETS: List[float]
    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Iterable[str] = (),
        namespace: str = "",
        subsystem: str = "",
        unit: str = "",
        registry: _Registry = ...,
        buckets: Sequence[_Number] = ...,
    ) -> None: ...
    def observe(self, amount: _Number, exemplar: Optional[dict] = None) -> None: ...
    def time(self) -> Tracker: ...

class Summary(_Metric):
    """A summary: counts and sums observations."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Iterable[str] = (),
        namespace: str = "",
        subsystem: str = "",
        unit: str = "",
        registry: _Registry = ...,
    ) -> None: ...
    def observe(self, amount: _Number) -> None: ...
    def time(self) -> Tracker: ...

class Info(_Metric):
    """An info metric: a set of labels with the value 1."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Iterable[str] = (),
        namespace: str = "",
        subsystem: str = "",
        unit: str = "",
        registry: _Registry = ...,
    ) -> None: ...
    def info(self, val: dict) -> None: ...

class Enum(_Metric):
    """An enum: which one of a fixed list of states is current."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Iterable[str] = (),
        namespace: str = "",
        subsystem: str = "",
        unit: str = "",
        registry: _Registry = ...,
        states: Sequence[str] = ...,
    ) -> None: ...
    def state(self, state: str) -> None: ...

class HttpServer:
    """A running /metrics endpoint."""

    @staticmethod
    def start(
        registry: RegistryCore,
        addr: str,
        port: int,
        certfile: Optional[str] = None,
        keyfile: Optional[str] = None,
        client_cafile: Optional[str] = None,
        client_capath: Optional[str] = None,
        client_auth_required: bool = False,
    ) -> "HttpServer": ...
    @property
    def server_address(self) -> Tuple[str, int]: ...
    @property
    def server_port(self) -> int: ...
    def shutdown(self) -> None: ...
    def server_close(self) -> None: ...
    def is_alive(self) -> bool: ...
    def join(self, timeout: Optional[float] = None) -> None: ...

def _set_default_registry(registry: RegistryCore) -> None: ...
def _negotiate(accept: str) -> Tuple[bool, str]: ...
def _query_names(query: str) -> Optional[List[str]]: ...
