"""Pure planning for focus.home and focus.goto.  No IO, no clock.

- :func:`plan_goto` splits a move into level-3/2/1 drives (Canon) and makes the final
  approach from the near side with an overscan, as astronomy autofocus does against
  backlash: a move toward near first goes ``overscan`` past the target, then comes back.
- :class:`StillDetector` decides that the motor has reached the near end stop from a cheap
  signature of the frames that follow each drive: the JPEG's size (and a hash of its bytes).
  Nothing is decoded.  The noise floor (how much the size of consecutive frames of a still
  scene varies) is measured first; after a drive the frame counts as "unchanged" when its
  size differs from the previous drive's frame by less than ``factor`` times that floor
  (at least ``min_change``).  ``needed`` consecutive unchanged drives mean the end stop.
"""

from __future__ import annotations

import hashlib
import math
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
    """Feed the noise frames, then one frame after each drive; :attr:`at_stop` says when done."""

    needed: int = 2
    factor: float = 3.0
    min_change: float = 0.002
    noise: list[float] = field(default_factory=list)
    _last: tuple[int, bytes] | None = None
    _still: int = 0
    changes: list[float] = field(default_factory=list)

    def noise_frame(self, jpeg: bytes) -> None:
        """A frame of the scene with the motor at rest (before any drive)."""
        sig = signature(jpeg)
        if self._last is not None:
            self.noise.append(change(self._last, sig))
        self._last = sig

    @property
    def threshold(self) -> float:
        floor = max(self.noise) if self.noise else 0.0
        return max(self.min_change, self.factor * floor)

    def drive_frame(self, jpeg: bytes) -> bool:
        """The first settled frame after a drive; True once the end stop is reached."""
        sig = signature(jpeg)
        if self._last is not None:
            c = change(self._last, sig)
            self.changes.append(c)
            self._still = self._still + 1 if c < self.threshold else 0
        self._last = sig
        return self.at_stop

    @property
    def at_stop(self) -> bool:
        return self._still >= self.needed
