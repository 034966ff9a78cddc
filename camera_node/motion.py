"""Dead reckoning of the focus motor, and the node's estimate of when it has settled.

Canon bodies give no completion signal and no position read-back: a ``manualfocusdrive``
returns at once and the motor moves for a while afterwards.  This pure model (no IO, time
is an argument) is what the node stamps on every frame header:

- ``move_id``: the id of the last accepted move (focus drive, goto, home or zoom change);
- ``settled``: whether, by the documented level durations plus a margin, the last move is
  over;
- ``position``: dead-reckoned position in level-1 units from the near end stop, ``None``
  until the motor has been homed.

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

    @property
    def homed(self) -> bool:
        return self.position is not None

    def accept(self, now: float, parts: int = 1) -> int:
        """A move of ``parts`` camera calls was accepted; returns its new move id."""
        self.move_id += 1
        self._pending = max(0, parts)
        self._settle_at = max(self._settle_at, now)
        return self.move_id

    def drive_issued(self, direction: Direction, level: int, now: float) -> None:
        """One drive reached the camera at ``now``."""
        m = self.model
        start = max(now + m.latency_s, self._motor_free_at)
        self._motor_free_at = start + m.drive_duration(level)
        # Not before a zoom's settle time: a drive right after a zoom leaves it standing.
        self._settle_at = max(self._settle_at, self._motor_free_at + m.margin_s)
        self._pending = max(0, self._pending - 1)
        if self.position is not None:
            sign = -1.0 if direction == "near" else 1.0
            self.position = max(0.0, self.position + sign * m.level_sizes[level - 1])

    def steps_issued(self, steps: int, now: float) -> None:
        m = self.model
        start = max(now + m.latency_s, self._motor_free_at)
        self._motor_free_at = start + m.steps_duration(steps)
        self._settle_at = max(self._settle_at, self._motor_free_at + m.margin_s)
        self._pending = max(0, self._pending - 1)
        if self.position is not None:
            self.position = max(0.0, self.position + steps)

    def zoom_issued(self, now: float) -> None:
        self._settle_at = max(self._settle_at, now + self.model.zoom_settle_s)
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
