"""Injectable clocks.

Everything in the simulated camera, the gphoto2 backend and the benchmarks reads time
through a :class:`Clock`, so the same code runs in real time inside a node process and in
virtual time inside a benchmark, where thousands of autofocus runs take minutes.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """A source of time in seconds, and a way to let it pass."""

    def now(self) -> float:
        """Seconds since an arbitrary epoch; monotonic."""
        ...

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` pass (a real sleep, or a virtual advance)."""
        ...


class RealClock:
    """Wall-clock time from :func:`time.monotonic`."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class VirtualClock:
    """Time that moves only when someone sleeps or calls :meth:`advance`.

    Thread-safe; deterministic.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._t = float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._t

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        """Move time forward; a negative or zero amount does nothing."""
        if seconds > 0:
            with self._lock:
                self._t += seconds
