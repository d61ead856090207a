"""Carry the Functions invocation to the threads an invocation uses, so their logs stay correlated.

The Python worker tags each log record with the invocation id it finds in
`context.thread_local_storage` on the logging thread; it sets that only on the thread that calls
`main`. A line logged on a pool thread (the sweep settles blobs on one, tokens are fetched on another)
would reach Application Insights without its invocation unless the thread sets it too. Concurrent
invocations in one worker each have their own context, hence a context variable rather than a module
global. A pool that lives for one invocation (the sweep's) binds its threads once; a pool shared by
every invocation of the process (token fetches) binds each call, and unbinds it after.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import ParamSpec, TypeVar

import azure.functions as func

_CURRENT: ContextVar[func.Context | None] = ContextVar("pipeline_bridge_invocation", default=None)
P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def invocation(context: func.Context | None) -> Iterator[None]:
    """Make `context` the current invocation for the code (and the pools it starts) inside the block."""
    token = _CURRENT.set(context)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def thread_initializer() -> Callable[[], None]:
    """For `ThreadPoolExecutor(initializer=...)`: each new pool thread takes the current invocation, so its lines
    carry the invocation's id and the work it hands on (a token fetch) can bind it in turn."""
    context = _CURRENT.get()

    def bind() -> None:
        if context is not None:
            _CURRENT.set(context)
            context.thread_local_storage.invocation_id = context.invocation_id

    return bind


def bound_to_invocation(function: Callable[P, R]) -> Callable[P, R]:
    """`function`, to run on a thread other invocations use too: for that call only, the thread carries the
    current invocation's id (what it carried before is restored after, so nothing leaks to the next call)."""
    context = _CURRENT.get()
    if context is None:
        return function

    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        local = context.thread_local_storage
        before = getattr(local, "invocation_id", None)
        local.invocation_id = context.invocation_id
        try:
            return function(*args, **kwargs)
        finally:
            local.invocation_id = before

    return call
