"""``finetune``: a short fine autofocus around where the motor already is (sans-IO).

After ``focus.goto`` to a stored preset the lens is close to focus but not on it: dead
reckoning drifts (level-1 drives skip, travel differs by direction, backlash).  This search
absorbs that drift without the full search's coarse stage:

1. ``BEGIN``: the first frame tells the zoom; then magnified live view (``zoom``, centred
   on the region) when the camera has it.
2. ``SCAN``: drive near by ``window`` + one step (taking up the backlash with the first far
   step), then step far in level-2 drives, one sample per step, until the measure has
   fallen clearly past its best sample and at least ``min_samples`` were taken.  A best
   sample at the near edge shifts the window near (at most ``max_shifts`` times); a scan
   that keeps rising shifts it far.
3. ``FIT``: a parabola through log(measure) of the samples around the best one (a Gaussian
   peak); its centre must lie inside the samples.
4. ``APPROACH``: near past the centre by ``overscan``, then far by ``overscan``: the last
   move is towards far, as every scan move was, so backlash cancels.

``Done.position`` is the landing relative to where the run started, in level-1 units: the
*drift* of the preset.  Transitions (state, outcome) -> state are the table
:data:`TRANSITIONS`; any failure (or a cancel) restores the zoom and drives back to the
start, as every search built on :class:`~controller.search._machine.SearchMachine` does.

Errors: the constructor raises ``ValueError`` for a bad option.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence

import numpy as np

from controller.search._machine import LEVEL_SIZES, SearchMachine
from controller.search._machine import plan_drives as plan
from controller.search._types import Command, Drive, Move, Zoom

__all__ = ["LEVEL_SIZES", "TRANSITIONS", "FineTune", "S", "fit_log_parabola", "plan"]


class S(enum.Enum):
    BEGIN = "starting"
    SCAN = "fine"
    APPROACH = "approach"
    DONE = "done"
    FAILED = "failed"


TRANSITIONS: dict[tuple[S, str], S] = {
    (S.BEGIN, "begun"): S.SCAN,
    (S.SCAN, "step"): S.SCAN,
    (S.SCAN, "shift"): S.SCAN,
    (S.SCAN, "fitted"): S.APPROACH,
    (S.SCAN, "no_peak"): S.FAILED,
    (S.SCAN, "poor_fit"): S.FAILED,
    (S.APPROACH, "landed"): S.DONE,
}


def fit_log_parabola(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float] | None:
    """Centre and peak of a Gaussian through (x, y > 0), or None without a maximum."""
    if len(xs) < 3 or min(ys) <= 0:
        return None
    a, b, c = np.polyfit(np.asarray(xs, float), np.log(np.asarray(ys, float)), 2)
    if not a < 0:
        return None
    center = float(-b / (2 * a))
    return center, float(math.exp(c - b * b / (4 * a)))


class FineTune(SearchMachine):
    """The short fine search; frame gating, the move queue, cancel and the return to the
    start on failure are :class:`~controller.search._machine.SearchMachine`'s."""

    name = "finetune"
    transitions = TRANSITIONS

    def __init__(
        self,
        *,
        zoom_levels: Sequence[int] = (1,),
        roi_center: tuple[float, float] = (0.5, 0.5),
        zoom: int = 5,
        scale: int = 4,
        window: float = 19.2,
        step_parts: int = 1,
        min_samples: int = 5,
        frames_per_sample: int = 2,
        fall: float = 0.03,
        overscan: float = 12.8,
        max_shifts: int = 2,
        level_sizes: Sequence[float] = LEVEL_SIZES,
    ) -> None:
        if window <= 0 or step_parts < 1 or min_samples < 3 or frames_per_sample < 1:
            raise ValueError("window > 0, step_parts >= 1, min_samples >= 3, frames_per_sample >= 1")
        # one frame is enough to learn the zoom; the scan averages frames_per_sample
        super().__init__(level_sizes=level_sizes, frames_per_sample=1)
        self._scan_frames = frames_per_sample
        self.fine_zoom = zoom if zoom in zoom_levels else 1
        self.roi_center = roi_center
        self._scale = scale
        self.window = window
        self.step_parts = step_parts
        self.step = step_parts * self.levels[1]
        self.min_samples = min_samples
        self.fall = fall
        self.overscan = overscan
        self.max_shifts = max_shifts
        self.state = S.BEGIN
        self.scan: list[tuple[float, float]] = []  # (position, measure) of the current scan
        self.center: float | None = None
        self.shifts = 0
        self._scan_from = 0.0

    def _on_sample(self, measure: float, now: float) -> list[Command]:
        if self.state is S.BEGIN:  # the first frame told the zoom: the scan starts from there
            self._to("begun")
            self.frames_per_sample = self._scan_frames
            moves: list[Move] = []
            if self.fine_zoom != self.zoom:
                moves.append(Zoom(self.fine_zoom, self.roi_center))
            moves.extend(self._scan_moves(-self.window))
            return self._go(moves)
        if self.state is S.SCAN:
            return self._on_scan(measure, now)
        self._to("landed")
        return self._finish(measure, "fit", now, center=float(self.center or 0.0), shifts=float(self.shifts))

    def _fail(self, reason: str, detail: str, now: float | None = None) -> list[Command]:
        self.state = S.FAILED
        return super()._fail(reason, detail, now)

    # -- the search ----------------------------------------------------------------------------
    def _scan_moves(self, start: float) -> list[Move]:
        """Go near past ``start`` by one step, then far by one step: the first sample follows
        a far move, as every later one does."""
        self.scan = []
        self._scan_from = start
        return [*self._drives_to(start - self.step), Drive("far", 2, self.step_parts)]

    def _on_scan(self, m: float, now: float) -> list[Command]:
        self.scan.append((self.pos, m))
        pts = self.scan
        i_best = max(range(len(pts)), key=lambda i: pts[i][1])
        cut = pts[i_best][1] * (1.0 - self.fall)
        fallen = any(v < cut for _, v in pts[i_best + 1 :])
        if fallen and i_best == 0:  # the peak lies nearer than the window
            return self._shift(self._scan_from - 2 * self.window, now)
        if fallen and len(pts) >= self.min_samples:
            return self._fit(now)
        if self.pos - self._scan_from > 2 * self.window + 4 * self.window * self.max_shifts:
            self._to("no_peak")
            return self._fail("no_peak", "the measure kept rising across the fine window", now)
        self._to("step")
        return self._go([Drive("far", 2, self.step_parts)])

    def _shift(self, start: float, now: float) -> list[Command]:
        if self.shifts >= self.max_shifts:
            self._to("no_peak")
            return self._fail("no_peak", "the peak lies nearer than the fine window reaches", now)
        self.shifts += 1
        self._to("shift")
        return self._go(self._scan_moves(start))

    def _fit(self, now: float) -> list[Command]:
        pts = self.scan
        i_best = max(range(len(pts)), key=lambda i: pts[i][1])
        around = pts[max(0, i_best - 2) : i_best + 3]
        fit = fit_log_parabola([p for p, _ in around], [v for _, v in around])
        if fit is None or not (around[0][0] <= fit[0] <= around[-1][0]):
            self._to("poor_fit")
            return self._fail("poor_fit", "no peak fits the fine samples", now)
        self.center = fit[0]
        self._to("fitted")
        back = self.pos - self.center
        return self._go([*plan(-(back + self.overscan), self.levels), *plan(self.overscan, self.levels)])
