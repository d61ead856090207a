"""Carry the Functions invocation to the threads an invocation starts, so their logs stay correlated.

The Python worker tags each log record with the invocation id it finds in
`context.thread_local_storage` on the logging thread; it sets that only on the thread that calls
`main`. A line logged on a pool thread (the sweep settles blobs on one) would reach Application
Insights without its invocation unless the thread sets it too. Concurrent invocations in one
worker each have their own context, hence a context variable rather than a module global.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import azure.functions as func

_CURRENT: ContextVar[func.Context | None] = ContextVar("pipeline_bridge_invocation", default=None)


@contextmanager
def invocation(context: func.Context | None) -> Iterator[None]:
    """Make `context` the current invocation for the code (and the pools it starts) inside the block."""
    token = _CURRENT.set(context)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def thread_initializer() -> Callable[[], None]:
    """For `ThreadPoolExecutor(initializer=...)`: each new pool thread takes the current invocation's id."""
    context = _CURRENT.get()

    def bind() -> None:
        if context is not None:
            context.thread_local_storage.invocation_id = context.invocation_id

    return bind
