"""Finding a firing's run by its run key, page by page, through the submitter (token, timeouts, retries).

Kind-agnostic: the kind's `RunLookup` builds each page's request and reads each answer. A lookup that
cannot finish (the service fails, a page cannot be read, too many pages) raises `LookupFailedError`:
nothing can be concluded, so the firing stays uncertain and is looked up again later.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from .submitter import SubmitError, SubmitResult
from .targets import PipelineRequest
from .targets.spec import LookupWindow, RunLookup

MAX_PAGES = 200  # 100,000 runs at 500 a page: a window that holds more is not a window
CLOCK_MARGIN = timedelta(minutes=5)  # the service's clock and ours may disagree by this much
Send = Callable[[PipelineRequest], SubmitResult]


class LookupFailedError(RuntimeError):
    """The lookup could not say whether the run exists."""


def lookup_window(first_attempt: datetime, now: datetime) -> LookupWindow:
    """From the firing's first attempt to now, widened by the clock margin at both ends."""
    return LookupWindow(first_attempt - CLOCK_MARGIN, now + CLOCK_MARGIN)


def find_runs(lookup: RunLookup, request: PipelineRequest, window: LookupWindow, send: Send) -> list[str]:
    """The ids of the runs in the window that carry `request`'s run key (normally none or one)."""
    page: PipelineRequest | None = lookup.first(request, window)
    found: list[str] = []
    for _ in range(MAX_PAGES):
        if page is None:
            return list(dict.fromkeys(found))
        try:
            result = lookup.read(request, page, send(page).answer, window)
        except SubmitError as error:
            raise LookupFailedError(f"the lookup request failed: {error}") from None
        except (ValueError, KeyError, TypeError) as error:
            raise LookupFailedError(f"the lookup answer could not be read: {error}") from None
        found.extend(result.run_ids)
        page = result.next
    raise LookupFailedError(f"more than {MAX_PAGES} pages of runs in the lookup window; nothing concluded")
