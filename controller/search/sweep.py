"""``sweep``: the search as first published, implemented fairly.

1. Drive to the near end (enough level-3 drives to cross the whole travel; the motor
   stops silently at the end stop).
2. Sweep to the far end in level-3 steps, scoring one settled frame per step.
3. Take the best step, then refine around it: go one step of the previous level before
   it and climb far in level-2 steps until the measure has fallen on two samples in a
   row; the same in level-1 steps around the best level-2 position.
4. Drive back to the best level-1 position.

It waits for settled frames exactly as ``default`` does and uses the same measure; it does
not zoom, fit, average or compensate backlash: that is what ``default`` adds.  It cannot
return to its start (it lost it at the end stop), so on failure it stays where it is.

Transitions (state, outcome) -> state are the table ``TRANSITIONS``.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence

from controller.search._machine import LEVEL_SIZES, SearchMachine
from controller.search._types import Command, Drive, Failed


class S(enum.Enum):
    TO_END = "to_end"
    SWEEP = "sweep"
    REFINE = "refine"
    RETURN = "return"
    DONE = "done"
    FAILED = "failed"


TRANSITIONS: dict[tuple[S, str], S] = {
    (S.TO_END, "at_end"): S.SWEEP,
    (S.SWEEP, "step"): S.SWEEP,
    (S.SWEEP, "swept"): S.REFINE,
    (S.SWEEP, "flat"): S.FAILED,
    (S.REFINE, "climb"): S.REFINE,
    (S.REFINE, "next_level"): S.REFINE,
    (S.REFINE, "found"): S.RETURN,
    (S.RETURN, "arrived"): S.DONE,
}


class Sweep(SearchMachine):
    """The published end-to-end sweep.  ``travel`` is the lens's end-to-end travel in level-1 units."""

    name = "sweep"
    transitions = TRANSITIONS

    def __init__(
        self,
        *,
        travel: float = 800.0,
        level_sizes: Sequence[float] = LEVEL_SIZES,
        flat_ratio: float = 1.10,
        scale: int = 1,
    ) -> None:
        super().__init__(level_sizes=level_sizes)
        self.travel = travel
        self.flat_ratio = flat_ratio
        self._scale = scale
        self.state = S.TO_END
        self._steps = math.ceil(travel / self.levels[2])
        self._swept: list[tuple[float, float]] = []
        self._level = 3
        self._climb: list[tuple[float, float]] = []
        self._climb_end = 0.0
        self._best = (0.0, 0.0)

    def _begin(self, now: float) -> list[Command]:
        return self._go([Drive("near", 3, self._steps + 1)])

    def _fail(self, reason: str, detail: str, now: float | None = None) -> list[Command]:
        # The start was lost at the end stop: report where we are, without driving back.
        self._returning = True
        self._queue.clear()
        self.state = S.FAILED
        t = self._last_progress if now is None else now
        return self._go([], Failed(reason, detail, self.metrics(t)))

    def _on_sample(self, measure: float, now: float) -> list[Command]:
        if self.state is S.TO_END:
            self.pos = 0.0  # the near end stop
            self._to("at_end")
        if self.state is S.SWEEP:
            self._swept.append((self.pos, measure))
            if len(self._swept) <= self._steps:
                self._to("step")
                return self._go([Drive("far", 3, 1)])
            values = [m for _, m in self._swept]
            if max(values) <= self.flat_ratio * min(values):
                self._to("flat")
                return self._fail("flat", "the measure hardly changed over the whole travel", now)
            self._to("swept")
            best = max(self._swept, key=lambda s: s[1])
            return self._start_climb(2, best[0], self.levels[2])
        if self.state is S.REFINE:
            self._climb.append((self.pos, measure))
            best = max(self._climb, key=lambda s: s[1])
            after = [m for p, m in self._climb if p > best[0]]
            fallen = len(after) >= 2 and all(m < best[1] for m in after[-2:])
            if not fallen and self.pos + self.levels[self._level - 1] <= self._climb_end + 1e-9:
                self._to("climb")
                return self._go([Drive("far", self._level, 1)])
            if self._level == 2:
                self._to("next_level")
                return self._start_climb(1, best[0], self.levels[1])
            self._to("found")
            self._best = best
            return self._go(self._drives_to(best[0]))
        if self.state is S.RETURN:
            self._to("arrived")
            return self._finish(measure, "peak", now, best_measure=self._best[1])
        return []

    def _start_climb(self, level: int, center: float, half: float) -> list[Command]:
        """Climb far in ``level`` steps over [center - half, center + half]."""
        self._level = level
        self._climb = []
        self._climb_end = center + half
        return self._go(self._drives_to(center - half))
