"""The coarse bracket of ``default``: where is the peak, roughly, without a full sweep.

:class:`CoarseClimb` is fed one averaged sample at a time (nominal position and
measure) and answers with a :class:`Decision`: climb on to a target, the peak is
bracketed (or predicted) at a centre, an end stop was met, or the search must fail.
It holds no commands and no clock; ``default`` turns decisions into drives.

- Hill-climb in jumps of ``step`` (several level-3 drives in one command), ``prefer``'s
  way while no sample is lower on either side; once the rise flattens out, jump one
  level-3 drive only, to overshoot the top less.
- Bracketed: significantly lower samples on both sides of the best one.  The centre is
  a Gaussian fit through the best and up to two neighbours each side.
- Predicted: climbing, the last three samples rise ever more slowly and the Gaussian
  through them puts the top less than half a jump ahead: no need to pass it.
- A move after which nothing changed is probed once more in the same direction.  Twice
  unchanged is an end stop (Canon motors clip silently; the ledger is put back to where
  the motor sat); unchanged at both ends means a featureless region (``flat``).
- Highest at an end stop, or still rising after the whole travel: ``no_peak``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from controller.search import fits
from controller.search._types import Direction


def sign(d: Direction) -> float:
    return 1.0 if d == "far" else -1.0


@dataclass(frozen=True, slots=True)
class Decision:
    """``outcome`` is one of: climb, bracketed, predicted, end_stop, flat, no_peak.

    ``target``: where to climb to; ``center``: the coarse estimate of the peak;
    ``stop_at``: the position the motor is really at after an end stop (ledger fix).
    """

    outcome: str
    target: float = 0.0
    center: float = 0.0
    stop_at: float | None = None
    detail: str = ""


class CoarseClimb:
    """The coarse bracket as a small pure machine; see the module docstring."""

    def __init__(
        self,
        *,
        step: float,
        small_step: float,
        travel: float,
        significance: float,
        top_rise: float,
        same_tolerance: float,
        flat_ratio: float,
        predict: bool,
        first_step: float | None = None,
        first_noise: float = 0.0,
        prefer: Direction = "far",
    ) -> None:
        self.prefer = prefer  # the way to climb while no sample is lower on either side
        self.first_step = step if first_step is None else first_step
        self.first_noise = first_noise  # frame noise from which the first probe is a full step
        self.step = step
        self.small_step = small_step
        self.travel = travel
        self.significance = significance
        self.top_rise = top_rise
        self.same_tolerance = same_tolerance
        self.flat_ratio = flat_ratio
        self.predict = predict
        self.samples: list[tuple[float, float]] = []  # in the order taken
        self.stops: set[Direction] = set()
        self.stop_at: dict[Direction, float] = {}  # where each end stop met is, on the ledger
        self.moved: Direction | None = None  # direction of the move before this sample
        self.probing: Direction | None = None

    def add(self, pos: float, measure: float, noise: float) -> Decision:
        moved = self.moved
        if self.samples and moved is not None:
            prev_m = self.samples[-1][1]
            if abs(measure - prev_m) <= max(self.same_tolerance, 3.0 * noise) * prev_m:
                if self.probing == moved:
                    self.samples.pop()  # the probe's sample duplicates the one before it
                    return self._end_stop(moved, self.samples[-1][0])
                # A stop, or two samples either side of the peak: look once more.
                self.probing = moved
                self.samples.append((pos, measure))
                return Decision("climb", target=pos + sign(moved) * self.step)
            self.probing = None
        self.samples.append((pos, measure))
        pts = sorted(self.samples)
        best_pos, best_m = max(pts, key=lambda p: p[1])
        cut = best_m * (1.0 - max(self.significance, 4.0 * noise))
        lower_near = any(p < best_pos and m < cut for p, m in pts)
        lower_far = any(p > best_pos and m < cut for p, m in pts)
        if lower_near and lower_far:
            return Decision("bracketed", center=self._center(pts, best_pos))
        lo, hi = pts[0][0], pts[-1][0]
        if hi - lo >= self.travel:
            values = [m for _, m in pts]
            if max(values) <= self.flat_ratio * min(values):
                return Decision("flat", detail="the measure hardly changed over the whole travel")
            return Decision("no_peak", detail="the measure kept rising up to the end of the travel")
        go: Direction = "near" if lower_far else "far" if lower_near else self.prefer
        if go in self.stops:
            return Decision("no_peak", detail="the measure is highest at an end of the travel")
        top = self._predict_top(go)
        if top is not None:
            return Decision("predicted", center=top)
        step = self.step if len(self.samples) > 1 or noise >= self.first_noise else self.first_step
        if len(self.samples) >= 2 and self.samples[-1][1] > self.samples[-2][1]:
            if self.samples[-1][1] < self.top_rise * self.samples[-2][1]:
                step = min(step, self.small_step)  # flattening out: near the top
        return Decision("climb", target=hi + step if go == "far" else lo - step)

    def _end_stop(self, direction: Direction, stop_at: float) -> Decision:
        self.stops.add(direction)
        self.stop_at[direction] = stop_at
        self.probing = None
        if len(self.stops) == 2:
            return Decision("flat", stop_at=stop_at, detail="the measure does not change with focus")
        pts = sorted(self.samples)
        best_pos, best_m = max(pts, key=lambda p: p[1])
        if best_pos == stop_at and any(m < best_m * (1.0 - self.significance) for _, m in pts):
            return Decision(
                "no_peak", stop_at=stop_at, detail="the measure is highest at an end of the travel"
            )
        target = pts[0][0] - self.step if direction == "far" else pts[-1][0] + self.step
        return Decision("end_stop", target=target, stop_at=stop_at)

    @staticmethod
    def _center(pts: list[tuple[float, float]], best_pos: float) -> float:
        i = [p for p, _ in pts].index(best_pos)
        around = pts[max(0, i - 2) : i + 3]
        if len(around) >= 3:
            fit = fits.fit_peak([p for p, _ in around], [m for _, m in around], max_reject=0)
            if fit is not None and around[0][0] <= fit.center <= around[-1][0]:
                return fit.center
        return best_pos

    def _predict_top(self, direction: Direction) -> float | None:
        if not self.predict or len(self.samples) < 3 or self.probing is not None:
            return None
        sgn = sign(direction)
        last = self.samples[-3:]
        xs = [p for p, _ in last]
        ys = [m for _, m in last]
        if not all(sgn * (b - a) > 0 for a, b in itertools.pairwise(xs)):
            return None
        if not ys[0] < ys[1] < ys[2] or ys[2] > self.top_rise * ys[1]:
            return None  # not rising, or still rising steeply: the top is not in sight
        fit = fits.fit_peak(xs, ys, models=("gaussian",), max_reject=0)
        if fit is None or not 0.0 < sgn * (fit.center - xs[-1]) < self.step / 2:
            return None
        return fit.center
