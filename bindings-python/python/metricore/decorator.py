"""``getargspec``, as ``prometheus_client.decorator`` has it: the decorators of
``time()``, ``count_exceptions()`` and ``track_inprogress()`` keep the signature of
the function they wrap, which this reads."""

import inspect
from typing import Callable, List, NamedTuple, Optional, Tuple


class ArgSpec(NamedTuple):
    """Positional argument names, ``*args`` and ``**kwargs`` names, defaults."""

    args: List[str]
    varargs: Optional[str]
    varkw: Optional[str]
    defaults: Optional[Tuple]


def getargspec(f: Callable) -> ArgSpec:
    """The argument spec of ``f`` (of the function it wraps, for a decorated one)."""
    args, varargs, varkw, defaults = [], None, None, []
    for p in inspect.signature(f).parameters.values():
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            args.append(p.name)
            if p.default is not p.empty:
                defaults.append(p.default)
        elif p.kind == p.VAR_POSITIONAL:
            varargs = p.name
        elif p.kind == p.VAR_KEYWORD:
            varkw = p.name
    return ArgSpec(args, varargs, varkw, tuple(defaults) or None)
