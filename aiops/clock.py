"""The clock every deadline is measured on (README "Layout"): one place to read the time, so
that a test can move time on instead of sleeping and racing a loaded machine.

`now()` is `time.monotonic()` unless replaced: a deadline computed from it (the request's
budget, a model call's end, a socket operation's limit) is compared with it again.
"""

from __future__ import annotations

import time
from collections.abc import Callable

_source: Callable[[], float] = time.monotonic


def now() -> float:
    """Seconds on the deadline clock (monotonic; only differences mean anything)."""
    return _source()


def use(source: Callable[[], float]) -> Callable[[], float]:
    """Read the time from `source` from now on; returns the source it replaces."""
    global _source
    previous, _source = _source, source
    return previous
