"""Landing on a fitted peak: pure planning for the last drives of a search.

Positions are the search's ledger (nominal level-1 units relative to the start). A
landing by reading always ends with a far drive; a blind one, with ``cross``, ends the way
the samples were taken (far, unless the scan ran near).  Either way any reversal of the
landing is paired with another of the same commanded length, or the prior is told the
slack, so it does not shift the motor against the samples.  Two ways to land:

- *by reading* (:func:`approach_legs`, then :func:`flank_reading`): one drive to ``guard``
  short of the centre on the near flank; the frame there gives, through the fitted curve,
  the distance still to go;
- *blind* (:func:`blind_drives`): by the ledger onto the centre, when a reading would be
  noise (:func:`reading_error`).

Nothing here sleeps or touches a socket.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from controller.search._machine import plan_drives, span
from controller.search._types import Direction, Drive
from controller.search.fits import Fit


def reading_error(fit: Fit, guard: float, noise: float) -> float:
    """Steps of error in a reading ``guard`` short of the centre: the relative noise of one
    averaged sample over the slope of the fitted log-curve there (inf where it is flat)."""
    lo, hi = fit.predict(fit.center - guard - 1.0), fit.predict(fit.center - guard + 1.0)
    if lo <= 0 or hi <= 0:
        return math.inf
    slope = abs(math.log(hi) - math.log(lo)) / 2.0
    return noise / slope if slope > 0 else math.inf


def flank_reading(fit: Fit, samples: Sequence[tuple[float, float]], measure: float) -> float:
    """How far short of the fitted centre a frame of ``measure`` on the near flank is.

    The fitted curve gives a distance; where ``samples`` (position, measure) lie on the
    near flank around that point, the model's own misreading of them (the distance it
    gives for their measure minus their true distance) is interpolated and taken off, so
    the reading leans on the data rather than on the model's shape."""
    d = fit.offset_for(measure)
    errs = sorted(
        (fit.offset_for(m), fit.offset_for(m) - (fit.center - x))
        for x, m in samples
        if x < fit.center and m < fit.peak
    )
    if not errs:
        return d
    if d <= errs[0][0]:
        return d - errs[0][1]
    if d >= errs[-1][0]:
        return d - errs[-1][1]
    for (m0, e0), (m1, e1) in itertools.pairwise(errs):
        if m0 <= d <= m1:
            w = 0.0 if m1 == m0 else (d - m0) / (m1 - m0)
            return d - (e0 + w * (e1 - e0))
    return d


def crossing_drives(cross: float, levels: Sequence[float]) -> int:
    """Level-2 drives that surely cross a slack of up to ``cross`` (at least one)."""
    return max(1, math.ceil(cross / levels[1] - 1e-9))


@dataclass(frozen=True, slots=True)
class Approach:
    """The drive to the reading point: ``legs``, the ``guard`` (how far short of the centre
    they land, by the ledger), and whether the last drive after the reading reverses."""

    legs: list[Drive]
    guard: float
    final_reverses: bool


def approach_legs(
    scan_dir: Direction,
    pos: float,
    center: float,
    guard: float,
    levels: Sequence[float],
    backlash: float,
    cross: float = 0.0,
    overshoot: float = 0.5,
    far_level3: float = math.inf,
    one_level3: tuple[float, float] | None = None,
) -> Approach:
    """Plan the drive to ``guard`` short of ``center`` after a scan that ran ``scan_dir``.

    After a near scan (motor on the near flank, last moved near): one far drive, which
    takes up the slack, so the last drive continues far with none.  If the motor is
    so close to the centre that the shortest far drive would stop less than half a
    level-2 step short of it (at the top, where a reading cannot tell the flanks apart),
    it goes on near to the guard instead, and the last drive reverses.  After a far
    scan: one near drive past the peak, lengthened by the slack that reversal takes up.

    ``cross`` > 0: the slack may be anything up to ``cross``, not ``backlash``.  The motor
    then always reaches the guard point moving far, on a far drive of at least ``cross``
    (so the slack is behind it, and the last drive continues far with none): after a
    near scan, from a little farther near if it is too close for one; after a far scan,
    near past the guard point by ``cross`` and back far by the same commanded distance,
    so that the two reversals' slack cancels whatever it is.

    ``overshoot``: that near leg after a far scan takes one more level-3 drive where it
    goes past its length by at most this many level-2 steps (then level 2 for the rest).
    The reading point then lies that much farther down the flank; a level-3 drive's jitter
    (2.4 steps) only moves it, since the reading measures where the motor is.  One level-3
    drive covers 47 units in 0.28 s; seven level-2 drives, 45 units, take about 0.6 s.

    ``far_level3``: a far leg after a near scan longer than this goes mostly in level-3
    drives (a moving scan may end far past the peak; the reading measures where they
    land), the last ``cross`` or more in level 2.

    ``one_level3`` = (closer, farther): a far leg after a near scan that one level-3
    drive would end within ``closer`` nearer the top than ``guard`` or ``farther`` farther
    down the flank is that drive alone (it crosses the slack itself; the reading measures
    where it lands): 0.28 s where level-2 drives take 0.1 s for each 6.4 steps."""
    if cross > 0:
        step = levels[1]
        n_cross = crossing_drives(cross, levels)
        if scan_dir == "far":  # two reversals of one commanded length: the slack cancels
            need = pos - center + guard + n_cross * step
            out = plan_drives(-need, levels, 2, overshoot=overshoot)
            legs = [*out, Drive("far", 2, n_cross)]
            return Approach(legs, center - (pos + span(legs, levels)), False)
        # After a near scan the far leg is the one reversal: it lands short by the slack, by the
        # prior if that is right.  Too close for a leg of ``cross``: farther near first.
        n_far = max(n_cross, math.floor((center - guard - pos + backlash) / step + 0.5))
        pre = center - guard - pos + backlash - n_far * step  # < 0: that much farther near
        legs = plan_drives(pre, levels, 2) if pre < -step / 2 else []
        need = center - guard - pos + backlash  # far travel to the guard point
        if one_level3 is not None and need - one_level3[1] <= levels[2] <= need + one_level3[0]:
            legs = [Drive("far", 3, 1)]
            return Approach(legs, center - (pos + span(legs, levels) - backlash), False)
        if n_far * step > far_level3:
            bulk = plan_drives(n_far * step - n_cross * step, levels, 2, overshoot=0.0)
            if bulk and bulk[0].level == 3:
                legs.append(bulk[0])
                n_far = max(n_cross, round((n_far * step - span(bulk[:1], levels)) / step))
        legs.append(Drive("far", 2, n_far))
        return Approach(legs, center - (pos + span(legs, levels) - backlash), False)
    if scan_dir == "near":
        fwd = max(center - pos - guard, levels[1] / 2) + backlash
        legs = plan_drives(fwd, levels, 2) or [Drive("far", 2, 1)]
        reached = center - (pos + span(legs, levels) - backlash)
        if reached >= levels[1] / 2:
            return Approach(legs, reached, False)
        legs = plan_drives(center - guard - pos, levels, 2) or [Drive("near", 2, 1)]
        return Approach(legs, center - (pos + span(legs, levels)), True)
    back = pos - center + guard + backlash
    legs = plan_drives(-back, levels, 2)
    if center - (pos + span(legs, levels)) - backlash < guard - levels[1] / 2:  # rounded too short
        legs = plan_drives(-(back + levels[1]), levels, 2)
    return Approach(legs, center - (pos + span(legs, levels)) - backlash, True)


def blind_drives(
    last_dir: Direction,
    pos: float,
    center: float,
    levels: Sequence[float],
    backlash: float,
    cross: float = 0.0,
    coarsest: int = 3,
) -> list[Drive]:
    """Drives onto ``center`` by the ledger, the last one far, the prior ``backlash`` added on
    each reversal, for a motor that last moved ``last_dir``.  A centre ahead (far) is one far
    drive; one behind, near past it by a level-2 step, then far onto it.  (After a near
    scan that is one far drive; after a far scan, near past the centre and far.)

    ``cross`` > 0: the slack may be anything up to ``cross``, so no landing may lean on the
    prior.  The ledger's positions hold for a motor moving ``last_dir`` (the way the samples
    were taken), so the motor lands moving that way: straight on if the centre lies ahead;
    else past it the other way by at least ``cross`` and back by the same commanded
    distance less the way to go, so that the two reversals' slack cancels.  After a near
    scan that last drive is near: after near-moving samples no landing can end far without
    the prior.  (Every landing by a reading ends far.)

    ``coarsest``: the coarsest level used.  Nothing corrects a blind landing, so a level-3
    drive's jitter (5 % of 47 steps: 2.4 steps, near the tolerance) lands in full; level 2
    costs a few tenths of a second more and jitters by 0.3 steps a drive."""
    if cross > 0:
        sgn = 1.0 if last_dir == "far" else -1.0
        if sgn * (center - pos) >= 0:
            return plan_drives(center - pos, levels, 1, coarsest)
        # Half a level-2 step more, so the rounded first leg still leaves a second of ``cross``.
        past = (crossing_drives(cross, levels) + 0.5) * levels[1]
        back = plan_drives(center - pos - sgn * past, levels, 2, coarsest)
        return back + plan_drives(center - (pos + span(back, levels)), levels, 1, coarsest)
    if center >= pos:
        return plan_drives(center - pos + (backlash if last_dir == "near" else 0.0), levels, 1, coarsest)
    slack = backlash if last_dir == "far" else 0.0
    back = plan_drives(-(pos - center + levels[1] + slack), levels, 2, coarsest)
    landed = pos + span(back, levels) + slack
    return back + plan_drives(center - landed + backlash, levels, 1, coarsest)
