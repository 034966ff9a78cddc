"""The focus motor: relative drives, with the imperfections of real Canon lenses.

Positions are in level-1 units on ``[0, range]``, 0 being the near end stop.  A drive
returns at once; the motor starts after a latency and then moves for a while, so frames
taken meanwhile show intermediate positions.  Drives queue behind one another.  Motion
clips silently at both end stops (Canon); a Nikon-style step drive reports the limit.

Nothing here reports the true position to a client: only :mod:`camera_node.sim.truth` and
tests may call :meth:`Motor.position`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from camera_node.sim.scene import MotorParams

Direction = Literal["near", "far"]
HISTORY_S = 1.0  # how long a move is kept after it ends, for positions asked for late


@dataclass(frozen=True, slots=True)
class Move:
    """One planned movement: from ``p0`` at ``t0`` to ``p1`` at ``t1`` (linear in between)."""

    t0: float
    t1: float
    p0: float
    p1: float


@dataclass(frozen=True, slots=True)
class DriveResult:
    moved: float  # signed travel actually planned (after skip, backlash and clipping)
    hit_limit: bool


class Motor:
    """A focus motor driven through an injected time source (``now`` passed in)."""

    def __init__(self, params: MotorParams, rng: np.random.Generator) -> None:
        self.p = params
        self._rng = rng
        start = params.range / 2 if params.start is None else params.start
        self._rest = float(start)  # position once every planned move is done
        self._moves: list[Move] = []
        self._last_dir: Direction | None = None
        self._slack = 0.0  # dead band still to cross since the last reversal
        self._busy_until = float("-inf")
        self.drives = 0
        self.skips = 0

    # -- truth ----------------------------------------------------------------------------
    def position(self, t: float) -> float:
        """The true position at time ``t`` (for rendering and truth only).  Times a little
        before the last one asked for are answered too (a frame shows the lens ``lag_s``
        before its moment): moves are kept for ``HISTORY_S`` after they end."""
        self._prune(t - HISTORY_S)
        for m in self._moves:
            if t < m.t0:
                return m.p0
            if t < m.t1:
                a = (t - m.t0) / (m.t1 - m.t0)
                return m.p0 + a * (m.p1 - m.p0)
        return self._rest

    def busy_until(self) -> float:
        """When the last planned move ends (clock seconds)."""
        return self._busy_until

    def set_position(self, position: float) -> None:
        """Teleport (tests and benchmarks only); forgets pending moves and direction."""
        self._rest = float(np.clip(position, 0.0, self.p.range))
        self._moves.clear()
        self._last_dir = None
        self._slack = 0.0
        self._busy_until = float("-inf")

    def displace(self, now: float, delta: float) -> None:
        """Put the motor ``delta`` steps away from where it rests, keeping the gear's state
        (the way it last moved, the slack left): as if focus had drifted by ``-delta`` while
        the motor held (tests and benchmarks only).  Moves still under way finish first."""
        self._prune(now)
        if self._moves:
            raise ValueError("the motor is still moving")
        self._rest = float(np.clip(self._rest + delta, 0.0, self.p.range))

    # -- drives ---------------------------------------------------------------------------
    def drive_level(self, now: float, direction: Direction, level: int) -> DriveResult:
        """One Canon drive of level 1, 2 or 3.  Clips silently at the end stops."""
        if level not in (1, 2, 3):
            raise ValueError(f"level must be 1, 2 or 3, not {level}")
        self.drives += 1
        if level == 1 and self._rng.random() < self.p.skip_probability:
            self.skips += 1
            return DriveResult(0.0, False)
        size = self.p.step_sizes[level - 1] * self._noise()
        return self._plan(now, direction, size, self.p.level_durations_s[level - 1])

    def drive_steps(self, now: float, steps: int) -> DriveResult:
        """One Nikon-style drive of ``steps`` level-1 units (negative: near)."""
        self.drives += 1
        if steps == 0:
            return DriveResult(0.0, False)
        direction: Direction = "near" if steps < 0 else "far"
        size = abs(steps) * self._noise()
        durations = self.p.level_durations_s
        duration = durations[0] + abs(steps) / self.p.step_sizes[2] * durations[2]
        return self._plan(now, direction, size, duration)

    def _noise(self) -> float:
        return max(0.0, 1.0 + self.p.jitter * float(self._rng.standard_normal()))

    def _plan(self, now: float, direction: Direction, size: float, duration: float) -> DriveResult:
        # Travel differs slightly by direction: far moves are (1 + a/2), near (1 - a/2).
        half = self.p.asymmetry / 2
        size *= 1 + half if direction == "far" else 1 - half
        if self._last_dir is not None and direction != self._last_dir:
            # A reversal: the gear crosses its dead band first (what is left of it, if the
            # last reversal had not got all the way across).
            self._slack = max(0.0, self.p.backlash - self._slack)
        self._last_dir = direction
        taken = min(size, self._slack)  # a move shorter than the slack leaves the rest for the next
        size -= taken
        self._slack -= taken
        start_p = self._rest
        sign = 1.0 if direction == "far" else -1.0
        target = start_p + sign * size
        end_p = min(max(target, 0.0), self.p.range)
        hit = target != end_p or (size == 0 and end_p in (0.0, self.p.range))
        t0 = max(now + self.p.latency_s, self.busy_until())
        if end_p != start_p:
            # The motor turns at its speed throughout: the lens stands while the gear takes
            # up the slack, then moves (and stops early at an end stop).
            speed = (size + taken) / max(duration, 1e-9)
            t0 += taken / speed
            t1 = t0 + abs(end_p - start_p) / speed
            self._moves.append(Move(t0, t1, start_p, end_p))
            self._busy_until = t1
        self._rest = end_p
        return DriveResult(end_p - start_p, hit)

    def at_limit(self, direction: Direction) -> bool:
        return self._rest <= 0.0 if direction == "near" else self._rest >= self.p.range

    def _prune(self, t: float) -> None:
        while self._moves and self._moves[0].t1 <= t:
            self._moves.pop(0)
