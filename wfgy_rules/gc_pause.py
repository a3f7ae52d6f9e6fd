"""Pausing the cyclic garbage collector around bulk work.

Loading thousands of rules or judging a fleet of bundles builds many small objects that
form no reference cycles; the collector would rescan them over and over for nothing.
`paused()` turns it off for the block and then freezes what survived out of later scans.
Objects without cycles are still freed as usual by reference counting.

Speed-up: changes no result, only when memory is scanned; the bench suite (``bench/run.py``)
measures it, and every test of loading and judging runs through it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.freeze()
            gc.enable()
