"""The coarse climb with the motor moving: one sample per frame, placed along the drive.

Once the coarse climb of ``default`` knows which way the measure rises, it can drive on
that way in level-3 drives sent back to back, so the motor never stops, and score every
frame on the way: the node places each along the drive (the header's ``travel``).  A
frame every 40 ms at level-3 speed is one every 7.5 steps, where the stepwise climb takes
a settled sample every 94 steps or so, each after the motor has stopped.

:class:`Glide` is fed those frames (ledger position and measure, in the order taken) and
answers:

- ``on``: no top yet;
- ``top``: the measure has fallen significantly below the glide's best frame on
  ``confirm`` frames in a row beyond it, with a significantly lower sample behind it too
  (the climb's settled samples count): the peak is bracketed.  ``center`` is a Gaussian
  through the frames within ``fit_reach`` of the best, or the best frame's place;
- ``stall``: the glide has gone ``limit`` steps without a top, or the frames of the last
  ``flat_reach`` steps, in thirds, differ by no more than the noise (an end stop: Canon
  motors clip silently, and the frames go on showing the lens where it stopped; thirds,
  so that the two sides of a broad top do not look alike).  The stepwise climb
  takes over from a settled sample.

Frames may come at two decode scales (``default`` alternates them): :meth:`Glide.add`
takes the coarse ones, which decide all of the above, and :meth:`Glide.add_sharp` the
finer ones, whose curve is several times narrower near the top.  They answer ``top``
sooner, where the coarse frames have levelled off (:meth:`Glide.level`: a region that
spans depth can show a small part's top finer while the coarse measure still climbs to
the rest's) and they rise or fall ``sharp_contrast`` (their own noise is not known).
:meth:`Glide.past_best` says when no more drives should go out: the top is near.

It holds no commands and no clock (``default`` sends the drives), and never sleeps.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from controller.search import fits
from controller.search._types import Direction


@dataclass(frozen=True, slots=True)
class GlideStep:
    """``outcome``: ``on``, ``top`` or ``stall``; ``center``: the peak, for ``top``."""

    outcome: str
    center: float = 0.0
    detail: str = ""
    stop_at: float | None = None  # ``stall`` at an end stop: where the frames stopped changing


class Glide:
    """See the module docstring.  ``before``: the settled samples so far (position, measure)."""

    def __init__(
        self,
        direction: Direction,
        *,
        noise: float,
        significance: float,
        before: Sequence[tuple[float, float]] = (),
        limit: float = 800.0,
        confirm: int = 2,
        fit_reach: float = 30.0,
        flat_reach: float = 94.0,
        level_reach: float = 30.0,
        level_rise: float = 0.02,
        sharp_contrast: float = 0.2,
    ) -> None:
        self.sgn = 1.0 if direction == "far" else -1.0
        self.noise = noise
        self.significance = significance
        self.before = list(before)
        self.limit = limit
        self.confirm = confirm
        self.fit_reach = fit_reach
        self.flat_reach = flat_reach
        self.level_reach = level_reach
        self.level_rise = level_rise
        self.sharp_contrast = sharp_contrast
        self.samples: list[tuple[float, float]] = []  # the frames, in the order taken
        self.sharp: list[tuple[float, float]] = []  # the frames decoded finer, in order

    def add(self, pos: float, measure: float) -> GlideStep:
        """A frame decoded at the coarse scale: see the module."""
        self.samples.append((pos, measure))
        sgn = self.sgn
        # The top is a frame of the glide: a settled sample before it, averaged and placed
        # by a ledger the slack of the glide's reversal may shift, is only a side of it.
        best_p = self._fallen_from(self.samples, self.before)
        if best_p is not None:
            return GlideStep("top", center=self._center(self.samples, best_p))
        start = self.samples[0][0]
        if sgn * (pos - start) >= self.limit:
            return GlideStep("stall", detail="no top over the whole travel")
        recent = [m for p, m in self.samples if sgn * (pos - p) <= self.flat_reach]
        if sgn * (pos - start) >= self.flat_reach and len(recent) >= 6:
            third = len(recent) // 3
            parts = (recent[:third], recent[third:-third], recent[-third:])
            means = [sum(p) / len(p) for p in parts]
            if max(means) - min(means) <= self.noise * max(means):
                return GlideStep("stall", detail="the measure stopped changing", stop_at=self._still_from())
        return GlideStep("on")

    def _still_from(self) -> float:
        """The first frame of the last run of frames that read alike, within three times
        the noise of their mean: about where the lens stopped (the ledger goes on counting
        drives that move nothing)."""
        level = sum(m for _, m in self.samples[-4:]) / len(self.samples[-4:])
        first = self.samples[-1][0]
        for p, m in reversed(self.samples):
            if abs(m - level) > 3.0 * self.noise * level:
                break
            first = p
        return first

    def add_sharp(self, pos: float, measure: float) -> GlideStep:
        """A frame decoded finer: ``top`` once these frames fall past a top (as the coarse
        ones must, module) where the coarse frames have levelled off (:meth:`level`); a
        finer decode narrows the curve, so its top shows sooner.  The coarse frames guard
        it: a region that spans depth can show a small part's top finer while the coarse
        measure still climbs to the rest's."""
        self.sharp.append((pos, measure))
        # Half as many frames as the coarse ones, and a steeper fall past the top: one frame
        # twice as far down will do too.
        best_p = self._fallen_from(self.sharp, ())
        if best_p is None:
            best_p = self._fallen_from(self.sharp, (), confirm=1, depth=2.0)
        if best_p is None and self.sharp[0][1] >= max(m for _, m in self.sharp):
            # Falling from its first frame: the top lies behind, where the coarse climb
            # left off (its samples said the measure rose this way).
            best_p = self._fallen_from(self.sharp, (), behind=False)
        if best_p is not None and self._clear() and self.level():
            return GlideStep("top", center=self._center(self.sharp, best_p))
        return GlideStep("on")

    def _clear(self) -> bool:
        """The finer frames' best stands ``sharp_contrast`` above their lowest: their own
        noise is not known, and in a faint region it is several times the coarse frames'."""
        values = [m for _, m in self.sharp]
        return min(values) <= (1.0 - self.sharp_contrast) * max(values)

    def past_best(self) -> bool:
        """The last finer frame is below an earlier one where the coarse frames have
        levelled off: at or past the top, or noise."""
        s = self.sharp
        return len(s) >= 2 and s[-1][1] < max(m for _, m in s[:-1]) and self._clear() and self.level()

    def fell_unrisen(self, fall: float = 0.5, *, sharp: bool = False) -> bool:
        """The frames (``sharp``: the finer ones) have fallen to ``fall`` of their best
        without rising to it (no frame before it significantly lower): the top lies behind
        the first frame, or among the first ones (a glide whose first frames came late, as
        a magnified one's do).  The finer ones only where the coarse frames have levelled
        off (:meth:`level`), as for a top: a small part at another depth may have fallen
        while the region's measure still climbs."""
        s = self.sharp if sharp else self.samples
        if len(s) < 3:
            return False
        best = max(m for _, m in s)
        if s[-1][1] >= fall * best or self.rose(max(self.significance, 4.0 * self.noise), sharp=sharp):
            return False
        return not sharp or self.level()

    def rose(self, fall: float, *, sharp: bool = False) -> bool:
        """The frames (``sharp``: the finer ones) rose to their best: one before it lies
        ``fall`` (a share of the best) or more below it."""
        s = self.sharp if sharp else self.samples
        if not s:
            return False
        best_p, best_m = max(s, key=lambda p: p[1])
        return any(self.sgn * (p - best_p) < 0 and m < best_m * (1.0 - fall) for p, m in s)

    def top_gap(self, reach: float, *, sharp: bool = False) -> float:
        """The widest step, along the travel, between frames (``sharp``: the finer ones)
        next to each other where either lies within ``reach`` of the best: a top, or the
        flank next to it, that fell between two frames far apart (frames lost while a drive
        was sent) is not sampled well enough to fit.  0 with fewer than two frames."""
        s = sorted(self.sharp if sharp else self.samples)
        if len(s) < 2:
            return 0.0
        best_p = max(s, key=lambda p: p[1])[0]
        return max(
            (
                b[0] - a[0]
                for a, b in itertools.pairwise(s)
                if min(abs(a[0] - best_p), abs(b[0] - best_p)) <= reach
            ),
            default=0.0,
        )

    def level(self) -> bool:
        """The last coarse frame is at most ``level_rise`` above the one ``level_reach``
        steps behind it (or the climb's last sample): the coarse curve is near its top."""
        pts = self.before[-1:] + self.samples
        if len(pts) < 2:
            return False
        p1, m1 = pts[-1]
        back = [m for p, m in pts[:-1] if self.sgn * (p1 - p) >= self.level_reach]
        ref = back[-1] if back else pts[0][1]
        return m1 <= (1.0 + self.level_rise) * ref

    def _fallen_from(
        self,
        samples: Sequence[tuple[float, float]],
        before: Sequence[tuple[float, float]],
        *,
        behind: bool = True,
        confirm: int | None = None,
        depth: float = 1.0,
    ) -> float | None:
        """The best of ``samples`` if the last ``confirm`` lie beyond it significantly
        lower (``depth`` times the significance), and (``behind``) so does one before it (of
        ``before`` too); else None."""
        sgn = self.sgn
        n = self.confirm if confirm is None else confirm
        best_p, best_m = max(samples, key=lambda p: p[1])
        fall = max(self.significance, 4.0 * self.noise)
        last = samples[-n:]
        if not (
            len(last) == n
            and all(sgn * (p - best_p) > 0 and m < best_m * (1.0 - depth * fall) for p, m in last)
        ):
            return None
        lower = best_m * (1.0 - fall)
        if behind and not any(sgn * (p - best_p) < 0 and m < lower for p, m in [*before, *samples]):
            return None
        return best_p

    def _center(self, samples: Sequence[tuple[float, float]], best_p: float) -> float:
        near = sorted((p, m) for p, m in samples if abs(p - best_p) <= self.fit_reach)
        if len(near) >= 3:
            fit = fits.fit_peak(
                [p for p, _ in near], [m for _, m in near], models=("gaussian",), max_reject=1
            )
            if fit is not None and near[0][0] <= fit.center <= near[-1][0]:
                return fit.center
        return best_p
