"""Dead reckoning of the focus motor, and the node's estimate of when it has settled.

Canon bodies give no completion signal and no position read-back: a ``manualfocusdrive``
returns at once and the motor moves for a while afterwards.  This pure model (no IO, time
is an argument) is what the node stamps on every frame header:

- ``move_id``: the id of the last accepted move (focus drive, goto, home or zoom change);
- ``settled``: whether, by the documented level durations plus a margin, the last move is
  over;
- ``position``: dead-reckoned position in level-1 units from the near end stop, ``None``
  until the motor has been homed;
- ``travel``: how far the motor had moved at the moment a frame shows, since the moves
  before ``move_id`` left it (nominal level-1 units, far positive), from the same timing:
  a frame read while the motor moves can be placed on the focus curve (:meth:`travel`).

The benchmarks reuse it so virtual-time runs see exactly the headers a node would publish.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Direction = Literal["near", "far"]


@dataclass(frozen=True, slots=True)
class MotionModel:
    """Documented motor timing (Canon, public measurements; see docs/protocol.md)."""

    level_sizes: tuple[float, float, float] = (1.0, 6.4, 47.0)
    latency_s: float = 0.030
    level_durations_s: tuple[float, float, float] = (0.050, 0.080, 0.250)
    margin_s: float = 0.060
    zoom_settle_s: float = 0.300
    # A frame shows the lens as it stood about this long before it is read: the exposure
    # and the body's processing (the simulator's default; a body's may differ by a frame).
    frame_lag_s: float = 0.040

    def drive_duration(self, level: int) -> float:
        return self.level_durations_s[level - 1]

    def steps_duration(self, steps: int) -> float:
        """Nikon integer steps: scale the level-1 duration by the distance, at least one level-1 time."""
        return max(self.level_durations_s[0], abs(steps) * self.level_durations_s[0] / 4.0)


class MoveTracker:
    """Counts accepted moves and predicts when the motor is at rest.  Not thread-safe."""

    def __init__(self, model: MotionModel | None = None) -> None:
        self.model = model or MotionModel()
        self.move_id = 0
        self.position: float | None = None
        self._pending = 0
        self._motor_free_at = 0.0
        self._settle_at = 0.0
        # The planned motion, nominal and relative (no end stops: not homed, the node does
        # not know them): (start time, end time, from, to), the recent ones only.
        self._rest = 0.0  # where the parts issued so far leave the motor
        self._base = 0.0  # where the moves before the current one leave it
        self._segments: list[tuple[float, float, float, float]] = []
        self._view_from = float("-inf")  # frames show a settled zoom from here

    @property
    def homed(self) -> bool:
        return self.position is not None

    def accept(self, now: float, parts: int = 1) -> int:
        """A move of ``parts`` camera calls was accepted; returns its new move id."""
        self.move_id += 1
        self._pending = max(0, parts)
        self._settle_at = max(self._settle_at, now)
        self._base = self._rest
        return self.move_id

    def _plan(self, start: float, duration: float, delta: float) -> None:
        self._segments = [g for g in self._segments if g[1] > start - 5.0][-16:]
        self._segments.append((start, start + duration, self._rest, self._rest + delta))
        self._rest += delta

    def travel(self, t: float) -> float | None:
        """How far the motor had moved, by the model, at the moment a frame read at ``t``
        shows (``frame_lag_s`` before), since the moves before the current one left it:
        negative while those are still under way.  None while a zoom change settles (the
        frame may show the old view)."""
        shown = t - self.model.frame_lag_s
        if shown < self._view_from:
            return None
        at = self._rest
        for t0, t1, p0, p1 in self._segments:
            if shown < t0:
                at = p0
                break
            if shown < t1:
                at = p0 + (shown - t0) / (t1 - t0) * (p1 - p0)
                break
        return at - self._base

    def drive_issued(self, direction: Direction, level: int, now: float) -> None:
        """One drive reached the camera at ``now``."""
        m = self.model
        start = max(now + m.latency_s, self._motor_free_at)
        self._motor_free_at = start + m.drive_duration(level)
        # Not before a zoom's settle time: a drive right after a zoom leaves it standing.
        self._settle_at = max(self._settle_at, self._motor_free_at + m.margin_s)
        self._pending = max(0, self._pending - 1)
        sign = -1.0 if direction == "near" else 1.0
        self._plan(start, m.drive_duration(level), sign * m.level_sizes[level - 1])
        if self.position is not None:
            self.position = max(0.0, self.position + sign * m.level_sizes[level - 1])

    def steps_issued(self, steps: int, now: float) -> None:
        m = self.model
        start = max(now + m.latency_s, self._motor_free_at)
        self._motor_free_at = start + m.steps_duration(steps)
        self._settle_at = max(self._settle_at, self._motor_free_at + m.margin_s)
        self._pending = max(0, self._pending - 1)
        self._plan(start, m.steps_duration(steps), float(steps))
        if self.position is not None:
            self.position = max(0.0, self.position + steps)

    def zoom_issued(self, now: float) -> None:
        self._settle_at = max(self._settle_at, now + self.model.zoom_settle_s)
        self._view_from = max(self._view_from, now + self.model.zoom_settle_s)
        self._pending = max(0, self._pending - 1)

    def part_failed(self) -> None:
        """A camera call of the accepted move failed; stop waiting for it."""
        self._pending = max(0, self._pending - 1)

    def home(self, now: float) -> None:
        """The motor is at the near end stop: position 0."""
        self.position = 0.0
        self._settle_at = max(self._settle_at, now)

    def sync(self, position: float) -> None:
        """The motor is known to be at ``position`` (level-1 units from the near stop)."""
        self.position = max(0.0, position)

    def unhome(self) -> None:
        """Position knowledge is lost (camera replugged, skipped steps suspected)."""
        self.position = None

    def settled(self, now: float) -> bool:
        return self._pending == 0 and now >= self._settle_at

    def settle_due(self, now: float) -> float | None:
        """When the motor will count as settled, if that is still ahead of ``now`` and known:
        every part of the last move has been issued.  None when it is settled already, or
        while parts are still to go (their time is not known yet)."""
        if self._pending or now >= self._settle_at:
            return None
        return self._settle_at

    @property
    def settle_at(self) -> float:
        return self._settle_at
