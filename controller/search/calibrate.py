"""``calibrate``: measure a lens's direction asymmetry, from the image.

Canon lenses travel further one way than the other (an EF-S 17-55 took 709 level-1 steps
end to end one way and 739 the other), and there is no read-back to count it.  A search
that knows the asymmetry counts each way by its own travel (rig.toml's ``asymmetry``,
:class:`._machine.Levels`); this machine measures it, starting at focus (run ``default``
first; the region must have a focus peak).

It magnifies like ``default``'s fine stage (5x, decoded at 1/4), then makes ``trials``
round trips, by turns beyond focus's far side and its near side.  A far trip goes far to
``distance`` beyond the high end of the scan (the last fitted centre ± its half
``window``) and back near to it; a near trip goes near to ``distance`` below the low end
and back far to the high end.  Each ends moving near at the high end, scans near through
the peak in pairs of level-2 drives (``samples`` samples of ``frames`` frames) and fits it.
So the motor stays within ``distance`` and the window of focus (126 steps by default).
Only level-2 drives move: their jitter per step travelled is a third of level 3's.

Why the fitted centre moves: a far drive of nominal size f travels (1 + a/2) f and a near
drive of n travels (1 - a/2) n, so for every nominal step travelled either way the ledger
falls a/2 behind the motor.  Each round trip's reversals take the slack and give it back,
so the slack cancels; the asymmetry does not.  The peak, fixed on the lens, appears in the
ledger a/2 steps lower for every step travelled: ``a = -2 (c_last - c_first) / (T_last -
T_first)``, with T the steps travelled when the motor passes each centre
(:func:`estimate`).  The jitter of the drives adds up as a random walk (level 2: 5 % of
6.4 steps a drive), so the error falls as one over the square root of the travel: seven
trips of 100 steps, about 0.006 on the simulated lens.

An end stop met on one side shortens that side's legs silently (Canon) and shifts the
centre the other way.  Trips to the two sides then disagree (:func:`estimate_increments`,
by more than ``side_tolerance``), and the run fails rather than report it; so it does
when the peak leaves the scan or jumps further than a 20 % asymmetry could move it.
(Round trips that went both ways at once would meet a stop on every trip alike, and
report a wrong value with confidence.)

Done is reported at the last fitted centre (approached far, by the prior slack) with
``asymmetry`` and ``asymmetry_se`` in the metrics; Failed (``flat``, ``poor_fit``) when a
scan finds no peak, after driving back to the start.
"""

from __future__ import annotations

import enum
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from controller.search import fits
from controller.search._machine import LEVEL_SIZES, MAX_ASYMMETRY, SearchMachine
from controller.search._types import Command, Direction, Drive, Move, Zoom

TRIALS, DISTANCE = 7, 100.0  # the defaults: the CLI's and the controller command's too


class S(enum.Enum):
    LOOK = "look"  # the first frame: which zoom the camera shows
    TRIP = "trip"  # a round trip's far and near legs, then the scan's first sample
    SCAN = "scan"
    DONE = "done"
    FAILED = "failed"


TRANSITIONS: dict[tuple[S, str], S] = {
    (S.LOOK, "looked"): S.TRIP,
    (S.TRIP, "sampled"): S.SCAN,
    (S.SCAN, "step"): S.SCAN,
    (S.SCAN, "fitted"): S.TRIP,
    (S.SCAN, "measured"): S.DONE,
    (S.SCAN, "flat"): S.FAILED,
    (S.SCAN, "poor_fit"): S.FAILED,
}


@dataclass(frozen=True, slots=True)
class Estimate:
    """A direction asymmetry and its standard error (``se`` is nan with one increment)."""

    asymmetry: float
    se: float
    travel: float  # nominal steps travelled between the first and the last centre


def estimate(centres: Sequence[tuple[float, float]]) -> Estimate:
    """The asymmetry from ``(travel, centre)`` pairs: the steps travelled when the motor
    passed each fitted centre, and that centre on the ledger (see the module docstring).

    The estimate is the end-to-end one; its standard error comes from the scatter of the
    increments, each weighted by its travel (a random walk's variance grows with it).
    Raises ValueError with fewer than two pairs or no travel between them.
    """
    if len(centres) < 2:
        raise ValueError("the asymmetry needs at least two fitted centres")
    t0, c0 = centres[0]
    t1, c1 = centres[-1]
    travel = t1 - t0
    if not travel > 0:
        raise ValueError("the asymmetry needs travel between the centres")
    a = -2.0 * (c1 - c0) / travel
    incs = [
        (tb - ta, -2.0 * (cb - ca) / (tb - ta))
        for (ta, ca), (tb, cb) in itertools.pairwise(centres)
        if tb > ta
    ]
    if len(incs) < 2:
        return Estimate(a, math.nan, travel)
    w = sum(dt for dt, _ in incs)
    var = sum(dt * (ai - a) ** 2 for dt, ai in incs) / ((len(incs) - 1) * w)
    return Estimate(a, math.sqrt(var), travel)


def estimate_increments(centres: Sequence[tuple[float, float]], parity: int) -> float | None:
    """The asymmetry from the increments that end at centres ``parity``, ``parity`` + 2, ...
    after the first (0: after the trips to the far side, 1: to the near side; trip k goes
    far for even k); None when there is none."""
    pairs = [(centres[k - 1], centres[k]) for k in range(1, len(centres)) if (k % 2) == parity]
    travel = sum(b[0] - a[0] for a, b in pairs)
    if not pairs or not travel > 0:
        return None
    return -2.0 * sum(b[1] - a[1] for a, b in pairs) / travel


_END_STOP = (
    "(an end stop on the way, or too little detail to fit the peak?): choose a detailed, well-lit"
    " subject focused nearer mid-travel, or give a shorter distance"
)
MAX_COUNT = 50  # drives in one focus.drive command (protocol/commands.py)


def _parts(direction: Direction, count: int) -> list[Drive]:
    """``count`` level-2 drives ``direction``, in commands of at most :data:`MAX_COUNT`."""
    return [Drive(direction, 2, min(MAX_COUNT, count - i)) for i in range(0, count, MAX_COUNT)]


class Calibrate(SearchMachine):
    """See the module docstring.  ``zoom_levels`` and ``roi_center`` as for ``default``."""

    name = "calibrate"
    transitions = TRANSITIONS

    def __init__(
        self,
        *,
        zoom_levels: Sequence[int] = (1,),
        roi_center: tuple[float, float] = (0.5, 0.5),
        level_sizes: Sequence[float] = LEVEL_SIZES,
        trials: int = TRIALS,
        distance: float = DISTANCE,
        samples: int = 5,
        frames: int = 3,
        backlash: float = 4.0,
        min_contrast: float = 0.03,
        side_tolerance: float = 0.035,
    ) -> None:
        super().__init__(level_sizes=level_sizes, frames_per_sample=frames)
        if trials < 2:
            raise ValueError(f"trials must be at least 2, not {trials}")
        if samples < 4:
            raise ValueError(f"samples must be at least 4 (a fit of 3 cannot be judged), not {samples}")
        step = self.levels[1]
        if not distance >= 2 * step:
            raise ValueError(f"distance must be at least two level-2 steps ({2 * step:g}), not {distance}")
        zooms = sorted(z for z in zoom_levels if z > 1)
        self.zoom_to = 5 if 5 in zooms else (zooms[-1] if zooms else 1)
        self.roi_center = roi_center
        self.trials = trials
        self.distance = distance
        self.scan_samples = samples
        self.backlash = backlash
        self.min_contrast = min_contrast
        self.side_tolerance = side_tolerance
        self.pair = 2 * step  # one scan step: two level-2 drives
        self.window = self.pair * (samples - 1) / 2  # the scan's half span
        self.state = S.LOOK
        self.travel = 0.0  # nominal steps driven, either way
        self.center = 0.0  # where the peak is thought to be (the start: focus)
        self.centres: list[tuple[float, float]] = []  # (travel at the centre, centre)
        self._scan: list[tuple[float, float]] = []  # (position, measure)
        self._travel_at_start = 0.0  # travel when the scan's first sample was taken
        self._scan_start = 0.0
        self._last_peak = 0.0

    def _go_counted(self, moves: Sequence[Move]) -> list[Command]:
        self.travel += sum(m.count * self.levels[m.level - 1] for m in moves if isinstance(m, Drive))
        return self._go(moves)

    def _trip(self) -> list[Drive]:
        """One round trip to ``distance`` beyond the scan's far end or its near end, by turns,
        ending at the scan's far end moving near.  The scan is centred where the peak is
        expected after the trip: the last centre, moved by the asymmetry measured so far
        over the trip's travel (a fit of a peak off the scan's centre leans towards it)."""
        step = self.levels[1]
        d = max(1, round(self.distance / step))
        a = estimate(self.centres).asymmetry if len(self.centres) >= 2 else 0.0
        center = self.center
        for _ in range(2):  # the travel depends on where the scan lies, a little
            moves = self._legs(center, d)
            travel = sum(m.count * step for m in moves) + self.window
            center = self.center - a / 2 * travel
        self._scan = []
        return self._legs(center, d)

    def _legs(self, center: float, d: int) -> list[Drive]:
        step = self.levels[1]
        high = center + self.window  # where the scan starts
        if self._side() == "far":
            n_far = max(1, round((high - self.pos) / step) + d)
            return [*_parts("far", n_far), *_parts("near", d)]
        n_near = max(1, round((self.pos - (center - self.window)) / step) + d)
        n_far = max(1, round((high - (self.pos - n_near * step)) / step))
        return [*_parts("near", n_near), *_parts("far", n_far)]

    def _side(self) -> Direction:
        """The side of focus the next trip goes to: far first, then by turns."""
        return "far" if len(self.centres) % 2 == 0 else "near"

    def _on_sample(self, measure: float, now: float) -> list[Command]:
        if self.state is S.LOOK:
            self._to("looked")
            zoom: list[Move] = [Zoom(self.zoom_to, self.roi_center)] if self.zoom_to != self.zoom else []
            self._scale = 4 if self.zoom_to >= 5 else 1
            return self._go_counted([*zoom, *self._trip()])
        if self.state is S.TRIP:
            self._to("sampled")
            self._travel_at_start, self._scan_start = self.travel, self.pos
        self._scan.append((self.pos, measure))
        if len(self._scan) < self.scan_samples:
            self._to("step")
            return self._go_counted([Drive("near", 2, 2)])
        return self._fit(now)

    def _fit(self, now: float) -> list[Command]:
        xs = [p for p, _ in self._scan]
        ys = [m for _, m in self._scan]
        if max(ys) < (1.0 + self.min_contrast) * min(ys):
            self._to("flat")
            return self._fail(
                "flat", "the measure hardly changes across the scan: focus the region first", now
            )
        fit = fits.fit_peak(xs, ys, noise=max(self.noise, 1e-4))
        if fit is None or not min(xs) <= fit.center <= max(xs):
            self._to("poor_fit")
            if self.centres:  # it was there on the trip before
                return self._fail("poor_fit", f"the peak left the scan between trips {_END_STOP}", now)
            return self._fail(
                "poor_fit", f"no peak inside the first scan: was the region in focus? {_END_STOP}", now
            )
        if self.centres:
            # No lens is 20 % asymmetric: a larger shift is an end stop met on the way.
            t_prev, c_prev = self.centres[-1]
            if abs(fit.center - c_prev) > MAX_ASYMMETRY / 2 * (self.travel - t_prev):
                self._to("poor_fit")
                return self._fail("poor_fit", f"the peak moved too far between trips {_END_STOP}", now)
        self.center = fit.center
        self._last_peak = fit.peak
        # The motor passed the centre this far into the scan (it scans near, from its start).
        self.centres.append((self._travel_at_start + (self._scan_start - fit.center), fit.center))
        if len(self.centres) < self.trials:
            self._to("fitted")
            return self._go_counted(self._trip())
        est = estimate(self.centres)
        # Trips to either side must agree: an end stop met on one side shortens that side's
        # legs and shifts its trips' centres the other way.
        per_side = [
            estimate_increments(self.centres, side) for side in (0, 1)
        ]  # increments after far trips, after near trips
        if None not in per_side:
            a_far, a_near = per_side
            assert a_far is not None and a_near is not None
            if abs(a_far - a_near) > self.side_tolerance:
                self._to("poor_fit")
                detail = (
                    f"trips beyond focus's far side read {a_far:+.3f} and its near side {a_near:+.3f}"
                    f" {_END_STOP}"
                )
                return self._fail("poor_fit", detail, now)
        self._to("measured")
        # Onto the last centre from below, far, the prior slack added (a calibration, not a
        # focus result: run focus again for a precise landing).
        back = [Drive("far", 2, max(1, round((self.center - self.pos + self.backlash) / self.levels[1])))]
        return self._finish(
            self._last_peak,
            "calibrated",
            now,
            moves=back,
            asymmetry=est.asymmetry,
            asymmetry_se=est.se,
            calibration_travel=est.travel,
            trials=float(len(self.centres)),
        )
