"""Pure planning for focus.home and focus.goto.  No IO, no clock.

- :func:`plan_goto` splits a move into level-3/2/1 drives (Canon) and makes the final
  approach from the near side with an overscan, as astronomy autofocus does against
  backlash: a move toward near first goes ``overscan`` past the target, then comes back.
- :class:`StillDetector` decides that the motor has reached the near end stop from a cheap
  signature of the frames that follow each drive: the JPEG's size (and a hash of its bytes).
  Nothing is decoded.  The noise floor (the median relative size difference of consecutive
  frames of the still scene; the median because exposure flicker makes single samples large)
  is measured first; the stop is declared after a minimum number of drives, once the frames
  of the last few drives differ by less than ``factor`` times that floor.  Erring late is
  harmless (Canon clips at the stop); erring early is not.
"""

from __future__ import annotations

import hashlib
import math
import statistics
from dataclasses import dataclass, field
from typing import Literal

Direction = Literal["near", "far"]
Drive = tuple[Direction, int]  # (direction, level)

DEFAULT_OVERSCAN = 20.0  # level-1 units past the target on a move toward near


def decompose(distance: float, sizes: tuple[float, float, float]) -> list[int]:
    """Levels (3, then 2, then 1) whose nominal sizes add up closest to ``distance`` >= 0.

    Greedy: as many level-3 drives as fit, then level 2, then the rest rounded to level 1;
    one more coarse drive is taken when it overshoots by at most half a level-1 step.
    """
    levels: list[int] = []
    rest = max(0.0, distance)
    for level in (3, 2):
        size = sizes[level - 1]
        n = int(rest // size)
        if rest - n * size > size - sizes[0] / 2:
            n += 1
        levels += [level] * n
        rest -= n * size
    levels += [1] * max(0, round(rest / sizes[0]))
    return levels


def coarse(distance: float, sizes: tuple[float, float, float]) -> list[int]:
    """Level-3 then level-2 drives covering at least ``distance`` (for the overscan leg)."""
    rest = max(0.0, distance)
    n3 = int(rest // sizes[2])
    rest -= n3 * sizes[2]
    n2 = math.ceil(rest / sizes[1] - 1e-9)
    return [3] * n3 + [2] * n2


def plan_goto(
    position: float,
    target: float,
    sizes: tuple[float, float, float],
    overscan: float = DEFAULT_OVERSCAN,
) -> list[Drive]:
    """The drives that take the motor from ``position`` to ``target`` (level-1 units).

    The last leg is always toward far; a move toward near overshoots by ``overscan``
    (never below 0, the end stop) and comes back.
    """
    drives: list[Drive] = []
    pos = position
    if target < pos - 0.5 * sizes[0]:
        low = max(0.0, target - overscan)
        near = coarse(pos - low, sizes)
        drives += [("near", level) for level in near]
        pos = max(0.0, pos - sum(sizes[lv - 1] for lv in near))
    drives += [("far", level) for level in decompose(target - pos, sizes)]
    return drives


def signature(jpeg: bytes) -> tuple[int, bytes]:
    """A frame's cheap signature: its length and an 8-byte hash."""
    return len(jpeg), hashlib.blake2b(jpeg, digest_size=8).digest()


def change(a: tuple[int, bytes], b: tuple[int, bytes]) -> float:
    """Relative change between two signatures: 0 for identical bytes, else |Δsize| / size."""
    if a == b:
        return 0.0
    return abs(a[0] - b[0]) / max(1, a[0], b[0])


@dataclass
class StillDetector:
    """Feed the noise frames, then one frame after each drive; :attr:`at_stop` says when done.

    The end stop is declared after at least ``min_drives`` drives, once the last
    ``needed + 1`` frames (one per drive) all lie within ``threshold`` of each other (their
    sizes' spread, relative), so a slow drift, each step below the threshold but all in one
    direction, does not pass for a stop.

    Why a minimum: a scene far out of focus, in low light or of low contrast hardly changes
    from one drive to the next, so "frames stopped changing" alone stops early there (the
    simulator's lowlight and lowcontrast scenes do, from mid travel).  ``min_drives`` = 20
    level-3 drives is 940 level-1 units, more than a whole lens (Magic Lantern measured 630 to
    824 end to end); Canon bodies clip at the stop, so overdriving costs only time.  The
    frames then confirm the stop, and keep the motor going on a lens with a longer travel.
    """

    needed: int = 3
    factor: float = 3.0
    min_change: float = 0.002
    min_drives: int = 20
    noise: list[float] = field(default_factory=list)
    changes: list[float] = field(default_factory=list)
    _last: tuple[int, bytes] | None = None
    _window: list[tuple[int, bytes]] = field(default_factory=list)

    def noise_frame(self, jpeg: bytes) -> None:
        """A frame of the scene with the motor at rest (before any drive)."""
        sig = signature(jpeg)
        if self._last is not None:
            self.noise.append(change(self._last, sig))
        self._last = sig
        self._window = [sig]

    @property
    def threshold(self) -> float:
        floor = statistics.median(self.noise) if self.noise else 0.0
        return max(self.min_change, self.factor * floor)

    def drive_frame(self, jpeg: bytes) -> bool:
        """The first settled frame after a drive; True once the end stop is reached."""
        sig = signature(jpeg)
        if self._last is not None:
            self.changes.append(change(self._last, sig))
        self._last = sig
        self._window = [*self._window, sig][-(self.needed + 1) :]
        return self.at_stop

    @property
    def at_stop(self) -> bool:
        w = self._window
        if len(self.changes) < self.min_drives or len(w) < self.needed + 1:
            return False
        if all(s == w[0] for s in w):
            return True
        sizes = [s[0] for s in w]
        return (max(sizes) - min(sizes)) / max(sizes) < self.threshold
