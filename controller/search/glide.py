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

It holds no commands and no clock (``default`` sends the drives), and never sleeps.
"""

from __future__ import annotations

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
    ) -> None:
        self.sgn = 1.0 if direction == "far" else -1.0
        self.noise = noise
        self.significance = significance
        self.before = list(before)
        self.limit = limit
        self.confirm = confirm
        self.fit_reach = fit_reach
        self.flat_reach = flat_reach
        self.samples: list[tuple[float, float]] = []  # the frames, in the order taken

    def add(self, pos: float, measure: float) -> GlideStep:
        self.samples.append((pos, measure))
        sgn = self.sgn
        pts = self.before + self.samples
        # The top is a frame of the glide: a settled sample before it, averaged and placed
        # by a ledger the slack of the glide's reversal may shift, is only a side of it.
        best_p, best_m = max(self.samples, key=lambda p: p[1])
        cut = best_m * (1.0 - max(self.significance, 4.0 * self.noise))
        last = self.samples[-self.confirm :]
        fallen = len(last) == self.confirm and all(sgn * (p - best_p) > 0 and m < cut for p, m in last)
        behind = any(sgn * (p - best_p) < 0 and m < cut for p, m in pts)
        if fallen and behind:
            return GlideStep("top", center=self._center(best_p))
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

    def _center(self, best_p: float) -> float:
        near = sorted((p, m) for p, m in self.samples if abs(p - best_p) <= self.fit_reach)
        if len(near) >= 3:
            fit = fits.fit_peak(
                [p for p, _ in near], [m for _, m in near], models=("gaussian",), max_reject=1
            )
            if fit is not None and near[0][0] <= fit.center <= near[-1][0]:
                return fit.center
        return best_p
