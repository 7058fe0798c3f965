"""Turns a context-manager factory into a decorator for plain and async functions."""

import functools
import inspect


def wrap(func, make):
    """Returns ``func`` wrapped so that each call runs inside ``with make():``."""
    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def tracked_async(*args, **kwargs):
            with make():
                return await func(*args, **kwargs)

        return tracked_async

    @functools.wraps(func)
    def tracked(*args, **kwargs):
        with make():
            return func(*args, **kwargs)

    return tracked
