"""The cyclic garbage collector, paused while a function initializes.

A cold start imports some 550 modules and builds SDK clients and their service
models: hundreds of thousands of objects that live as long as the process. The
collector, triggered every few hundred allocations, walks them again and again and
finds nothing to free (measured: 20-25 ms CPU of a 200 ms cold start,
docs/benchmarks.md). So on Lambda (the runtime sets AWS_LAMBDA_FUNCTION_NAME;
`sls invoke local` and the local cloud's workers too) `handlers/__init__.py` pauses it
before anything else is imported, and the handler's first invocation, which creates
the SDK clients, resumes it on its way out: what the cold start built is frozen (moved
where the collector never looks again; it stays for the life of the process anyway)
and collection goes on as usual. The price: cyclic garbage made during the cold start
is never freed, a bounded one-off. Elsewhere (tests, tools) nothing is paused.
"""

from __future__ import annotations

import functools
import gc
import os
from collections.abc import Callable

_paused = False


def pause() -> None:
    global _paused
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME") and gc.isenabled():
        gc.disable()
        _paused = True


def resume() -> None:
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()


def resume_gc_after_first_invocation[**P, R](handler: Callable[P, R]) -> Callable[P, R]:
    """The outermost decorator of every Lambda handler: its first invocation ends the cold start's pause."""

    @functools.wraps(handler)
    def invoke(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return handler(*args, **kwargs)
        finally:
            resume()

    return invoke
