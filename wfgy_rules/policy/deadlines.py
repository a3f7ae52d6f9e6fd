"""Time limits on evaluation: a whole rule, a regular expression's search inside it.

``with watchdog(seconds) as watch:`` guards a block in which ``watch.start()`` marks the
beginning of each bounded step (the engine calls it once per rule, which costs one clock
read); a step still running ``seconds`` after its start gets `TimeUp` raised inside it.
``with deadline(seconds) as watch:`` is a watchdog started at once (a regex search).
Watchdogs nest: `Watch.expired` tells a handler whether its own limit is the one that
passed, so an inner handler lets an outer limit's `TimeUp` through.

The clock is one ``SIGALRM`` interval timer, armed when the outermost watchdog opens and
checking every `PERIOD` seconds (and exactly at the nearest limit), so a step is stopped
within `PERIOD` of its limit. It applies on the main thread (where the engine runs) when no
one else uses that signal; elsewhere blocks run unbounded in time (the size bounds of
`wfgy_rules.jsonvalues` still apply).
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

DEFAULT_RULE_SECONDS = 10.0
PERIOD = 0.25


class TimeUp(Exception):
    """A limit passed inside the guarded block."""


class Watch:
    """One limit: ``start()`` (re)starts it; ``expired()`` whether it has passed."""

    __slots__ = ("seconds", "end")

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.end = math.inf

    def start(self) -> None:
        self.end = time.monotonic() + self.seconds

    def expired(self) -> bool:
        return time.monotonic() >= self.end


_watches: list[Watch] = []  # open watchdogs, innermost last
_previous_handler = None


def rule_seconds() -> float:
    """How long one rule may take to evaluate: ``WFGY_RULE_TIMEOUT`` (seconds), default 10."""
    try:
        seconds = float(os.environ.get("WFGY_RULE_TIMEOUT", ""))
    except ValueError:
        return DEFAULT_RULE_SECONDS
    return seconds if seconds > 0 else DEFAULT_RULE_SECONDS


@contextmanager
def watchdog(seconds: float) -> Iterator[Watch]:
    """Guard the block: a started `Watch` that passes its limit raises `TimeUp` inside it."""
    watch = Watch(seconds)
    if not _usable():
        yield watch
        return
    global _previous_handler
    if not _watches:
        _previous_handler = signal.signal(signal.SIGALRM, _fire)
    _watches.append(watch)
    _arm()
    try:
        yield watch
    finally:
        _watches.remove(watch)
        if _watches:
            _arm()
        else:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, _previous_handler)


@contextmanager
def deadline(seconds: float) -> Iterator[Watch]:
    """A watchdog started at once, with the timer set to fire exactly at its limit."""
    with watchdog(seconds) as watch:
        watch.start()
        if watch in _watches:
            _arm()
        yield watch


def _usable() -> bool:
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        return False
    if _watches:
        return True
    handler = signal.getsignal(signal.SIGALRM)
    return handler in (signal.SIG_DFL, signal.SIG_IGN) and not signal.getitimer(signal.ITIMER_REAL)[0]


def _arm() -> None:
    nearest = min(watch.end for watch in _watches) - time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, max(min(nearest, PERIOD), 1e-4), PERIOD)


def _fire(signum, frame) -> None:
    if any(watch.expired() for watch in _watches):
        raise TimeUp
