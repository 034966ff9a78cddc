"""How far a node's clock is from ours, estimated NTP-style over the command channel.

One round trip: note our clock ``t0``, ask the node for its ``clock`` (it answers ``tn``),
note ``t1``.  If the request and the reply took equally long, the node read its clock at
our ``(t0 + t1) / 2``, so ``offset = tn - (t0 + t1) / 2`` and node time = our time +
offset.  The error of that sample is at most ``(t1 - t0) / 2`` (all of the delay on one
side).  Of several round trips the one with the smallest round trip bounds the error best:
:func:`best_offset` takes it (the NTP clock filter's minimum-delay rule).

:func:`estimate` is the IO edge: ``rounds`` sequential ``clock`` calls on one link.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Sample:
    t0: float  # our clock when the request left
    tn: float  # the node's clock in its reply
    t1: float  # our clock when the reply arrived

    @property
    def rtt(self) -> float:
        return self.t1 - self.t0

    @property
    def offset(self) -> float:
        return self.tn - (self.t0 + self.t1) / 2


@dataclass(frozen=True, slots=True)
class Offset:
    """node time = our time + ``offset``; ``error`` bounds it (half the best round trip)."""

    offset: float
    rtt: float
    samples: int

    @property
    def error(self) -> float:
        return self.rtt / 2

    def to_node(self, t: float) -> float:
        return t + self.offset

    def from_node(self, tn: float) -> float:
        return tn - self.offset


def best_offset(samples: Sequence[Sample]) -> Offset:
    """The offset of the minimum-RTT sample.  Raises ValueError for no samples or a
    sample whose round trip is negative."""
    if not samples:
        raise ValueError("no clock samples")
    if any(s.rtt < 0 for s in samples):
        raise ValueError("a clock sample has a negative round trip")
    best = min(samples, key=lambda s: s.rtt)
    return Offset(best.offset, best.rtt, len(samples))


Call = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]


async def estimate(call: Call, rounds: int = 8, clock: Callable[[], float] = time.monotonic) -> Offset:
    """``rounds`` round trips of the node's ``clock`` command through ``call``; the best.

    Raises what ``call`` raises (tetherfocus.client.RemoteError)."""
    samples = []
    for _ in range(max(1, rounds)):
        t0 = clock()
        r = await call("clock", {})
        t1 = clock()
        samples.append(Sample(t0, float(r["t"]), t1))
    return best_offset(samples)
