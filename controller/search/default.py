"""``default``: bracket coarsely, scan finely under magnification, fit, approach backlash-free.

Stages (transitions (state, outcome) -> state are the table ``TRANSITIONS``):

1. ``COARSE``: live view at 1x, region decoded at a reduced scale (``coarse_scale``) so
   the focus curve is hundreds of steps wide and its slope shows from anywhere in the
   travel.  Hill-climb in jumps of ``coarse_parts`` level-3 drives (one command each)
   until the peak is bracketed or predicted; no full sweep.  End stops, flat regions and
   peaks beyond the travel are recognised (``flat``, ``no_peak``).  See :mod:`.coarse`.
2. ``FINE``: magnified live view (``fine_zoom``, centred on the region), region decoded
   at ``fine_scale`` (fine enough to resolve a few steps, coarse enough that the sensor's
   micro-texture does not outweigh the region's own detail; 1/4 of 5x is about the 1x
   view's detail at 1.25 times its size).  Scan from ``fine_window`` before the coarse
   estimate (or from where the climb stopped, if that is inside the window and the last
   move was far) towards far in steps of ``fine_parts`` level-2 drives.  The
   first sample follows a far move, so every sample follows motion in the same direction
   (the backlash is taken up before the first one).  Stop once the measure has fallen
   past the best sample; move the window if the peak is not in it.  Fit the curve
   (Gaussian / Lorentzian / hyperbola, outliers rejected); a fit without a peak inside
   the scan, or that misses the samples by far more than the noise, fails ``poor_fit``.
3. ``APPROACH``: from the far side of the peak drive near past it by ``overscan``, then
   far by ``overscan``, landing on the near flank a little short of the fitted centre.
   Both moves reverse direction, so the slack taken up by one is given back by the other
   and the last move is towards far, as every scan move was.  The frame there is a
   position reading: on the near flank its measure says, through the fitted curve, how
   far the centre still is (corrected by how the fit misreads the scan's own samples on
   that flank).  This closes the loop on the image rather than trusting dead reckoning
   (level-1 drives jitter and skip; travel differs by direction).
4. ``CHECK``: drive far by the reading (no reversal, so no backlash, and in the units of
   the scan) and score the landing frame against the fit.  Only if the reading came out
   much longer than planned (the backlash exceeded the overscan, so slack remained and
   the last drive fell short) and the landing frame still reads more than ``accept``
   steps short, creep far once by that reading.

Each sample averages 1-3 frames: three until the frame-to-frame noise of the current
view and scale is known, then as that noise requires.  Every significance test (a rise,
a fall, a peak) is relative to that noise.  Any failure restores the zoom, drives back to
the start and reports the reason.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Sequence

from controller.search import fits
from controller.search._machine import LEVEL_SIZES, SearchMachine, plan_drives
from controller.search._types import Command, Drive, Move, Zoom
from controller.search.coarse import CoarseClimb


class S(enum.Enum):
    COARSE = "coarse"
    FINE = "fine"
    APPROACH = "approach"
    CHECK = "check"
    DONE = "done"
    FAILED = "failed"


TRANSITIONS: dict[tuple[S, str], S] = {
    (S.COARSE, "climb"): S.COARSE,
    (S.COARSE, "end_stop"): S.COARSE,
    (S.COARSE, "bracketed"): S.FINE,
    (S.COARSE, "predicted"): S.FINE,
    (S.COARSE, "flat"): S.FAILED,
    (S.COARSE, "no_peak"): S.FAILED,
    (S.FINE, "scan"): S.FINE,
    (S.FINE, "shift"): S.FINE,
    (S.FINE, "fitted"): S.APPROACH,
    (S.FINE, "poor_fit"): S.FAILED,
    (S.FINE, "no_peak"): S.FAILED,
    (S.APPROACH, "read"): S.CHECK,
    (S.CHECK, "landed"): S.DONE,
}


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
        fine_scale: int | None = None,
        fine_parts: int = 2,
        fine_window: float = 19.2,
        min_fine_samples: int = 4,
        overscan: float = 6.4,
        significance: float = 0.04,
        top_rise: float = 1.25,
        predict: bool = True,
        drift: float = 0.05,
        fine_significance: float = 0.02,
        same_tolerance: float = 0.005,
        flat_ratio: float = 1.10,
        poor_fit_rms: float = 0.15,
        min_contrast: float = 0.03,
        guard_widths: float = 0.5,
        accept: float = 1.5,
        slack_margin: float = 3.0,
        max_shifts: int = 2,
    ) -> None:
        super().__init__(level_sizes=level_sizes, frames_per_sample=3)
        zooms = sorted(z for z in zoom_levels if z > 1)
        if fine_zoom is None:
            fine_zoom = 5 if 5 in zooms else (zooms[-1] if zooms else 1)
        elif fine_zoom != 1 and fine_zoom not in zooms:
            raise ValueError(f"fine_zoom {fine_zoom} is not offered by the camera ({list(zoom_levels)})")
        self.fine_zoom = fine_zoom
        self.roi_center = roi_center
        self.coarse_scale = coarse_scale
        # 1/4 of a 5x view sees about the 1x view's detail, 1.25 times larger; without
        # magnification, decode at full scale.
        self.fine_scale = fine_scale if fine_scale is not None else (4 if fine_zoom >= 5 else 1)
        self.fine_parts = fine_parts
        self.fine_step = fine_parts * self.levels[1]
        self.fine_window = fine_window
        self.min_fine_samples = min_fine_samples
        self.overscan = overscan
        self.drift = drift
        self.fine_significance = fine_significance
        self.poor_fit_rms = poor_fit_rms
        self.min_contrast = min_contrast
        self.guard_widths = guard_widths
        self.accept = accept
        self.slack_margin = slack_margin
        self.reading = 0.0
        self._guard = 0.0
        self._slack = False
        self._crept = False
        self.max_shifts = max_shifts
        self.state = S.COARSE
        self._scale = coarse_scale
        self.climb = CoarseClimb(
            step=coarse_parts * self.levels[2],
            small_step=self.levels[2],
            travel=travel,
            significance=significance,
            top_rise=top_rise,
            same_tolerance=same_tolerance,
            flat_ratio=flat_ratio,
            predict=predict,
        )
        self._fine: list[tuple[float, float]] = []
        self._scan_end = 0.0
        self._shifts = 0
        self.coarse_center: float | None = None
        self.fit: fits.Fit | None = None
        self._t_coarse = 0.0
        self._t_fine = 0.0

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
        """Three frames until the noise of this view and scale is known, then 1-3 by noise."""
        n = self.noise
        if not self.noise_known:
            self.frames_per_sample = 3
        else:
            self.frames_per_sample = 1 if n < 0.01 else 2 if n < 0.03 else 3

    def _on_sample(self, measure: float, now: float) -> list[Command]:
        if self.state is S.COARSE:
            out = self._on_coarse(measure, now)
        elif self.state is S.FINE:
            out = self._on_fine(measure, now)
        elif self.state in (S.APPROACH, S.CHECK):
            out = self._on_landing(measure, now)
        else:
            out = []
        self._adapt_frames()
        return out

    # -- 1: coarse bracket (decisions from :mod:`.coarse`) ------------------------------------
    def _on_coarse(self, measure: float, now: float) -> list[Command]:
        d = self.climb.add(self.pos, measure, self.noise)
        if d.outcome in ("bracketed", "predicted"):
            self._to(d.outcome)
            self._t_coarse = now - self.t_start
            return self._fine_from(d.center)
        if d.outcome == "flat":
            # Unchanged both ways: more likely a featureless region than two end stops, so
            # the way back is every drive sent, undone.
            self.pos = self.commanded
            self._to("flat")
            return self._fail("flat", d.detail, now)
        if d.outcome == "no_peak":
            self._to("no_peak")
            return self._fail("no_peak", d.detail, now)
        if d.stop_at is not None:
            self.pos = d.stop_at  # the probes did not move it: keep the ledger honest
        self._to("climb")
        drives = plan_drives(d.target - self.pos, self.levels, 3)
        self.climb.moved = drives[0].direction if drives else None
        return self._go(drives)

    def _fine_from(self, center: float) -> list[Command]:
        self.coarse_center = center
        start = center - self.fine_window - self.fine_step / 2
        if self.last_dir == "far" and start < self.pos <= center:
            start = self.pos  # already in the window, last moved far: scan from here
        elif start < self.pos:
            start -= self.drift * (self.pos - start)  # ledger drift over the way back
        return self._start_scan(start, first=True)

    # -- 2: fine scan, always towards far ----------------------------------------------------
    def _start_scan(self, start: float, *, first: bool = False) -> list[Command]:
        self._scale = self.fine_scale
        self._fine = []
        self._scan_end = start + 2 * self.fine_window
        moves: list[Move] = []
        if first and self.fine_zoom != self.zoom:
            moves.append(Zoom(self.fine_zoom, self.roi_center))
        delta = start - self.pos
        if delta == 0.0 and self.last_dir == "far":
            pass  # sample right here: the last motion was far
        elif delta >= self.fine_step / 2:  # a far move longer than any backlash takes it up itself
            moves.extend(plan_drives(delta, self.levels, 2))
        else:  # overshoot towards near, then take the slack up with the first far step
            moves.extend(plan_drives(delta - self.fine_step, self.levels, 2))
            moves.append(self._step())
        return self._go(moves)

    def _step(self) -> Drive:
        return Drive("far", 2, self.fine_parts)

    def _on_fine(self, measure: float, now: float) -> list[Command]:
        self._fine.append((self.pos, measure))
        pts = self._fine
        i_best = max(range(len(pts)), key=lambda i: pts[i][1])
        cut = pts[i_best][1] * (1.0 - max(self.fine_significance, 4.0 * self.noise))
        low_after = any(m < cut for _, m in pts[i_best + 1 :])
        if low_after and i_best > 0 and len(pts) >= self.min_fine_samples:
            return self._fit_fine(now)
        if low_after and i_best == 0:  # the peak lies before where the scan started
            return self._shift(pts[0][0] - 2 * self.fine_window, now)
        if self.pos + self.fine_step / 2 <= self._scan_end or low_after:
            self._to("scan")
            return self._go([self._step()])
        if self._shifts >= self.max_shifts + 2:  # still rising at the end of the window
            self._to("no_peak")
            return self._fail("no_peak", "the fine scan found no peak near the coarse one", now)
        self._shifts += 1
        self._scan_end += 2 * self.fine_window
        self._to("shift")
        return self._go([self._step()])

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
        models = ("hyperbola", "lorentzian", "gaussian") if len(xs) >= 5 else ("lorentzian", "gaussian")
        fit = fits.fit_peak(xs, ys, noise=max(self.noise, 0.005), models=models)
        inner = 0.25 * self.fine_step
        if fit is None or not (xs[0] + inner < fit.center < xs[-1] - inner):
            if fit is not None and len(xs) < 2 * self.min_fine_samples and fit.center > xs[-1] - inner:
                self._to("scan")  # the centre is at the far edge of the scan: one more step
                return self._go([self._step()])
            self._to("poor_fit")
            return self._fail("poor_fit", "no curve with a peak inside the fine scan fits the samples", now)
        if fit.rms > max(self.poor_fit_rms, 4.0 * self.noise):
            self._to("poor_fit")
            return self._fail("poor_fit", f"the best fit ({fit.model}) misses by {fit.rms:.0%} RMS", now)
        contrast = 1.0 - min(ys) / max(ys)
        if contrast < max(self.min_contrast, 6.0 * max(self.noise, fit.rms)):
            self._to("poor_fit")
            return self._fail(
                "poor_fit", f"the peak ({contrast:.0%} over the scan) is not clear of the noise", now
            )
        self.fit = fit
        self._to("fitted")
        self._t_fine = now - self.t_start
        # Land ``guard`` short of the centre, on the near flank, with the last move far.
        guard = min(max(self.levels[1], self.guard_widths * fit.width), 3 * self.levels[1])
        self._guard = guard
        return self._go(self._double_reversal(self.pos - fit.center + guard))

    def _double_reversal(self, back: float) -> list[Drive]:
        """Near by ``back`` + overscan, then far by the overscan: the second reversal gives
        back the slack the first took up.  Level-1 parts (slow: one None toggle each) go
        into whichever leg needs fewer of them."""
        l2 = self.levels[1]
        over = max(l2, round(self.overscan / l2) * l2)
        rest = (back + over) % l2
        if rest <= l2 / 2:
            near, far = back + over, over
        else:
            near, far = back + over + (l2 - rest), over + (l2 - rest)
        return [*plan_drives(-near, self.levels, 1), *plan_drives(far, self.levels, 1)]

    # -- 3 and 4: landing check ------------------------------------------------------------
    def _read(self, measure: float) -> float:
        """How far short of the fitted centre a frame of ``measure`` on the near flank is.

        The fitted curve gives a distance; where the scan has samples on the near flank
        around that point, the model's own misreading of those samples (position it gives
        for their measure minus where they were taken) is interpolated and taken off, so
        the reading leans on the data rather than on the model's shape."""
        assert self.fit is not None
        fit = self.fit
        d = fit.offset_for(measure)
        flank = sorted(
            (fit.offset_for(m), fit.center - x) for x, m in self._fine if x < fit.center and m < fit.peak
        )
        if not flank:
            return d
        errs = [(model, model - true) for model, true in flank]
        if d <= errs[0][0]:
            return d - errs[0][1]
        if d >= errs[-1][0]:
            return d - errs[-1][1]
        for (m0, e0), (m1, e1) in itertools.pairwise(errs):
            if m0 <= d <= m1:
                w = 0.0 if m1 == m0 else (d - m0) / (m1 - m0)
                return d - (e0 + w * (e1 - e0))
        return d

    def _on_landing(self, measure: float, now: float) -> list[Command]:
        assert self.fit is not None
        d = self._read(measure)
        if self.state is S.APPROACH:
            # This frame is a position reading: on the near flank of the fitted curve, its
            # measure says how far the centre still is.  The drive there continues towards
            # far, so no backlash enters, and it is in the units the scan was made in.
            self._to("read")
            self.reading = d
            # Much shorter than planned: the overscan did not take up all the slack.
            self._slack = d > self._guard + max(self.slack_margin, 0.15 * self.fit.width)
            return self._go(plan_drives(d, self.levels, 1))
        if self._slack and d > self.accept and not self._crept:
            # The rest of the slack went into the last drive: it fell short by that much.
            self._crept = True
            return self._go(plan_drives(d, self.levels, 1))
        self._to("landed")
        return self._finish(
            measure,
            "fit",
            now,
            fit_rms=self.fit.rms,
            fit_width=self.fit.width,
            expected=self.fit.peak,
            reading=self.reading,
            landing_offset=d,
            coarse_error=self.fit.center - (self.coarse_center or 0.0),
            shifts=float(self._shifts),
            coarse_seconds=self._t_coarse,
            fine_seconds=self._t_fine - self._t_coarse,
            approach_seconds=now - self.t_start - self._t_fine,
            coarse_samples=float(len(self.climb.samples)),
            fine_samples=float(len(self._fine)),
        )
