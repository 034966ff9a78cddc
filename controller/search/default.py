"""``default``: bracket coarsely, scan finely under magnification, fit, approach closed-loop.

Stages (transitions (state, outcome) -> state are the table ``TRANSITIONS``):

1. ``COARSE``: live view at 1x, region decoded at a reduced scale (``coarse_scale``) so
   the focus curve is hundreds of steps wide and its slope shows from anywhere in the
   travel.  Hill-climb in jumps of ``coarse_parts`` level-3 drives (one command) until the
   measure is significantly lower on both sides of the best sample; no full sweep.  Fit
   the samples around the best.  A measure that stays flat over the whole travel fails
   with ``flat``; one that keeps rising to the end with ``no_peak``.
2. ``FINE``: magnified live view (``fine_zoom``, centred on the region) at full decode
   scale, where one level-1 step changes the blur by more than half a pixel.  Scan from
   ``fine_window`` beyond the coarse estimate back across it, in ``fine_step_level``
   steps, all in one direction (so backlash is taken up once, before the first sample),
   until the measure has clearly fallen on two samples past the best.  The window moves
   on if the peak is not in it.  Fit the curve (hyperbola / Lorentzian / Gaussian, with
   outliers rejected); a fit without a peak inside the scan, or that misses the samples
   by far more than the noise, fails with ``poor_fit``.
3. ``TAKEUP``: go to the near side of the peak and make the last move towards far
   (reversing through the backlash if needed), landing ``guard`` short of the fitted peak.
   The frame there is a position reading: on the near flank of the fitted curve, its
   measure says how far the peak still is.  This closes the loop on the image instead of
   trusting dead reckoning (level-1 drives jitter and skip; travel differs by direction).
4. ``FINAL``: drive far by that distance; check the measure against the fitted peak.  If
   it falls short by more than ``accept`` steps' worth, creep far again (never reversing).

The final approach is therefore always towards far, from the near side.  Each sample
averages 1-3 frames depending on the measured frame-to-frame noise.  Any failure
restores the zoom, drives back to the start and reports the reason.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

from controller.search import fits
from controller.search._machine import LEVEL_SIZES, SearchMachine, plan_drives
from controller.search._types import Command, Direction, Drive, Move, Zoom


class S(enum.Enum):
    COARSE = "coarse"
    FINE = "fine"
    TAKEUP = "takeup"
    FINAL = "final"
    DONE = "done"
    FAILED = "failed"


TRANSITIONS: dict[tuple[S, str], S] = {
    (S.COARSE, "climb"): S.COARSE,
    (S.COARSE, "bracketed"): S.FINE,
    (S.COARSE, "flat"): S.FAILED,
    (S.COARSE, "no_peak"): S.FAILED,
    (S.FINE, "scan"): S.FINE,
    (S.FINE, "shift"): S.FINE,
    (S.FINE, "fitted"): S.TAKEUP,
    (S.FINE, "poor_fit"): S.FAILED,
    (S.FINE, "no_peak"): S.FAILED,
    (S.TAKEUP, "located"): S.FINAL,
    (S.TAKEUP, "there"): S.DONE,
    (S.FINAL, "creep"): S.FINAL,
    (S.FINAL, "good"): S.DONE,
    (S.FINAL, "best_effort"): S.DONE,
}


def _sign(d: Direction) -> float:
    return 1.0 if d == "far" else -1.0


class Default(SearchMachine):
    """The project's best search.  ``zoom_levels``: what the camera offers ((1,): no zoom)."""

    name = "default"

    def __init__(
        self,
        *,
        zoom_levels: Sequence[int] = (1,),
        roi_center: tuple[float, float] = (0.5, 0.5),
        fine_zoom: int | None = None,
        travel: float = 800.0,
        level_sizes: Sequence[float] = LEVEL_SIZES,
        coarse_scale: int = 8,
        coarse_parts: int = 2,
        fine_step_level: int = 2,
        fine_window: float = 20.0,
        guard: float = 6.4,
        accept: float = 1.0,
        significance: float = 0.04,
        fine_significance: float = 0.10,
        flat_ratio: float = 1.10,
        poor_fit_rms: float = 0.15,
        max_creeps: int = 2,
        max_shifts: int = 2,
    ) -> None:
        super().__init__(level_sizes=level_sizes, frames_per_sample=2)
        zooms = sorted(z for z in zoom_levels if z > 1)
        if fine_zoom is None:
            fine_zoom = 5 if 5 in zooms else (zooms[-1] if zooms else 1)
        elif fine_zoom != 1 and fine_zoom not in zooms:
            raise ValueError(f"fine_zoom {fine_zoom} is not offered by the camera ({list(zoom_levels)})")
        self.fine_zoom = fine_zoom
        self.roi_center = roi_center
        self.travel = travel
        self.coarse_scale = coarse_scale
        self.coarse_step = coarse_parts * self.levels[2]
        self.fine_level = fine_step_level
        self.fine_step = self.levels[fine_step_level - 1]
        self.fine_window = fine_window
        self.guard = guard
        self.accept = accept
        self.significance = significance
        self.fine_significance = fine_significance
        self.flat_ratio = flat_ratio
        self.poor_fit_rms = poor_fit_rms
        self.max_creeps = max_creeps
        self.max_shifts = max_shifts
        self.state = S.COARSE
        self._scale = coarse_scale
        self._coarse: list[tuple[float, float]] = []
        self._fine: list[tuple[float, float]] = []
        self._scan_dir: Direction = "near"
        self._scan_end = 0.0
        self._shifts = 0
        self._creeps = 0
        self.fit: fits.Fit | None = None
        self.coarse_center: float | None = None

    # -- small helpers ---------------------------------------------------------------------
    @property
    def phase(self) -> str:
        return self.state.value

    @property
    def position(self) -> float:
        return self.pos

    def _to(self, outcome: str) -> None:
        self.state = TRANSITIONS[(self.state, outcome)]

    def _adapt_frames(self) -> None:
        n = self.noise
        self.frames_per_sample = 1 if n < 0.025 else 2 if n < 0.05 else 3

    def _onto(self, target: float, direction: Direction) -> list[Drive]:
        """Drives to ``target`` whose last motion is towards ``direction`` (a take-up step if needed)."""
        delta = target - self.pos
        if delta * _sign(direction) >= self.fine_step / 2:
            return plan_drives(delta, self.levels, self.fine_level)
        back = plan_drives(delta - _sign(direction) * self.fine_step, self.levels, self.fine_level)
        return [*back, Drive(direction, self.fine_level, 1)]

    def _on_sample(self, measure: float, now: float) -> list[Command]:
        self._adapt_frames()
        if self.state is S.COARSE:
            return self._on_coarse(measure, now)
        if self.state is S.FINE:
            return self._on_fine(measure, now)
        if self.state is S.TAKEUP:
            return self._on_takeup(measure, now)
        if self.state is S.FINAL:
            return self._on_final(measure, now)
        return []

    # -- 1: coarse bracket -----------------------------------------------------------------
    def _on_coarse(self, measure: float, now: float) -> list[Command]:
        self._coarse.append((self.pos, measure))
        pts = sorted(self._coarse)
        best_pos, best_m = max(pts, key=lambda p: p[1])
        cut = best_m * (1.0 - max(self.significance, 4.0 * self.noise))
        lower_near = any(p < best_pos and m < cut for p, m in pts)
        lower_far = any(p > best_pos and m < cut for p, m in pts)
        if lower_near and lower_far:
            self._to("bracketed")
            return self._begin_fine(pts, best_pos)
        lo, hi = pts[0][0], pts[-1][0]
        if hi - lo >= self.travel:
            values = [m for _, m in pts]
            if max(values) <= self.flat_ratio * min(values):
                self._to("flat")
                return self._fail("flat", "the measure hardly changed over the whole travel", now)
            self._to("no_peak")
            return self._fail("no_peak", "the measure kept rising up to the end of the travel", now)
        self._to("climb")
        target = hi + self.coarse_step if not lower_far else lo - self.coarse_step
        return self._go(plan_drives(target - self.pos, self.levels, 3))

    def _begin_fine(self, pts: list[tuple[float, float]], best_pos: float) -> list[Command]:
        i = [p for p, _ in pts].index(best_pos)
        around = pts[max(0, i - 2) : i + 3]
        center = best_pos
        if len(around) >= 3:
            fit = fits.fit_peak([p for p, _ in around], [m for _, m in around], max_reject=0)
            if fit is not None and around[0][0] <= fit.center <= around[-1][0]:
                center = fit.center
        self.coarse_center = center
        self._scan_dir = "near" if self.pos > center else "far"
        start = center - _sign(self._scan_dir) * self.fine_window
        return self._start_scan(start, first=True)

    def _start_scan(self, start: float, *, first: bool = False) -> list[Command]:
        self._scale = 1
        self._fine = []
        self._scan_end = start + _sign(self._scan_dir) * 2 * self.fine_window
        moves: list[Move] = []
        if first and self.fine_zoom != self.zoom:
            moves.append(Zoom(self.fine_zoom, self.roi_center))
        moves.extend(self._onto(start, self._scan_dir))
        return self._go(moves)

    # -- 2: fine scan ----------------------------------------------------------------------
    def _on_fine(self, measure: float, now: float) -> list[Command]:
        self._fine.append((self.pos, measure))
        pts = self._fine
        i_best = max(range(len(pts)), key=lambda i: pts[i][1])
        best_m = pts[i_best][1]
        cut = best_m * (1.0 - max(self.fine_significance, 4.0 * self.noise))
        fallen = len(pts) - 1 - i_best >= 2 and all(m < cut for _, m in pts[-2:])
        sgn = _sign(self._scan_dir)
        if fallen and i_best == 0:  # the peak lies behind where the scan started
            return self._shift(pts[0][0] + sgn * (self.fine_step - 2 * self.fine_window), now)
        if fallen:
            return self._fit_fine(now)
        if (self._scan_end - self.pos) * sgn >= self.fine_step / 2:
            self._to("scan")
            return self._go([Drive(self._scan_dir, self.fine_level, 1)])
        if i_best >= len(pts) - 2:  # still rising at the end of the window: carry on
            if self._shifts >= self.max_shifts:
                self._to("no_peak")
                return self._fail("no_peak", "the fine scan found no peak near the coarse one", now)
            self._shifts += 1
            self._scan_end += sgn * 2 * self.fine_window
            self._to("shift")
            return self._go([Drive(self._scan_dir, self.fine_level, 1)])
        return self._fit_fine(now)

    def _shift(self, start: float, now: float) -> list[Command]:
        if self._shifts >= self.max_shifts:
            self._to("no_peak")
            return self._fail("no_peak", "the fine scan found no peak near the coarse one", now)
        self._shifts += 1
        self._to("shift")
        return self._start_scan(start)

    def _fit_fine(self, now: float) -> list[Command]:
        xs = [p for p, _ in self._fine]
        ys = [m for _, m in self._fine]
        fit = fits.fit_peak(
            xs, ys, noise=max(self.noise, 0.01), models=("hyperbola", "lorentzian", "gaussian")
        )
        if fit is None or not (min(xs) < fit.center < max(xs)):
            self._to("poor_fit")
            return self._fail("poor_fit", "no curve with a peak inside the fine scan fits the samples", now)
        if fit.rms > max(self.poor_fit_rms, 4.0 * self.noise):
            self._to("poor_fit")
            return self._fail("poor_fit", f"the best fit ({fit.model}) misses by {fit.rms:.0%} RMS", now)
        self.fit = fit
        self._to("fitted")
        land = fit.center - self.guard
        if self._scan_dir == "near":  # we are past the peak on the near side: reverse once
            leg = max(self.fine_step, round((land - self.pos) / self.fine_step) * self.fine_step)
            return self._go(plan_drives(leg, self.levels, self.fine_level))
        # Past it on the far side: go near beyond the landing point, then take up towards far.
        return self._go(self._onto(land, "far"))

    # -- 3 and 4: closed-loop approach -------------------------------------------------------
    def _on_takeup(self, measure: float, now: float) -> list[Command]:
        assert self.fit is not None
        d = self.fit.offset_for(measure)
        if d < 0.5:
            self._to("there")
            return self._done(measure, now)
        self._to("located")
        return self._go(plan_drives(d, self.levels, 1))

    def _on_final(self, measure: float, now: float) -> list[Command]:
        assert self.fit is not None
        fit = self.fit
        good = measure >= fit.predict(fit.center + self.accept) * (1.0 - 2.0 * self.noise)
        if good:
            self._to("good")
            return self._done(measure, now)
        if self._creeps >= self.max_creeps:
            self._to("best_effort")
            return self._done(measure, now, verified=False)
        self._creeps += 1
        self._to("creep")
        steps = max(1, round(fit.offset_for(measure)))
        return self._go([Drive("far", 1, steps)])

    def _done(self, measure: float, now: float, verified: bool = True) -> list[Command]:
        assert self.fit is not None
        return self._finish(
            measure,
            "fit" if verified else "fit_unverified",
            now,
            fit_rms=self.fit.rms,
            fit_width=self.fit.width,
            expected=self.fit.peak,
            creeps=float(self._creeps),
            shifts=float(self._shifts),
        )
