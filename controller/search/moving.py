"""Planning the magnified scan that ``default`` takes with the motor moving.

The scan magnifies, then drives through the coarse centre in one level-3 command and
scores every frame on the way (the node places each by its timing: the header's
``travel``).  Where the motor starts, how far the centre lies ahead of it, decides what
goes before that drive:

- far enough ahead (``settle_lead`` or more, :func:`plan_on_the_way`): nothing.  The zoom
  settles while the drive runs; its first frames come ``settle_lead`` - ``before`` steps in.
  Up to ``adjust`` level-2 drives the scan's way go first, so that the scan ends
  ``past`` beyond the centre rather than up to a level-3 drive more;
- nearer (:func:`plan_after_zoom`): the drive waits until the magnified view shows, and
  the motor moves while it settles: level-2 drives either way to make the end come out
  right, and a level-3 drive back when the centre is too near for the scan to see its
  near flank.

Positions are the search's ledger (level-1 units), distances along the scan's way.
Nothing here sleeps or touches a socket.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

L2_S = 0.1  # a level-2 drive: the None toggle's 100 ms, more than its 80 ms of motion
L3_S = 0.25  # a level-3 drive's motion


@dataclass(frozen=True, slots=True)
class ScanPlan:
    """``pre``: signed level-2 drives (+: the scan's way) and level-3 drives back that go out
    with the zoom; ``k``: the scan's level-3 drives; ``wait``: the scan's drive waits for
    the magnified view; ``slack_before``: a level-2 drive the scan's way takes up the slack
    of a reversal before the scan (the ledger takes the prior off there);
    ``slack_in_scan``: the scan's own first steps take it up; ``end``: where it ends
    beyond the centre, by the ledger and the prior."""

    back3: int
    adjust: int
    k: int
    wait: bool
    slack_before: bool
    slack_in_scan: bool
    end: float


def plan_on_the_way(
    lead: float, reverses: bool, *, levels: Sequence[float], past: float, adjust: int, backlash: float
) -> ScanPlan:
    """The scan for a centre ``lead`` ahead, at least ``settle_lead``: see the module."""
    l2, l3 = levels[1], levels[2]
    total = lead + past + (backlash if reverses else 0.0)
    k = max(1, math.floor(total / l3))
    j = round((total - k * l3) / l2)
    if j > adjust:
        k, j = k + 1, 0
    slack = backlash if reverses else 0.0
    return ScanPlan(0, j, k, False, reverses and j > 0, reverses and j == 0, k * l3 + j * l2 - slack - lead)


def plan_after_zoom(
    lead: float,
    reverses: bool,
    *,
    levels: Sequence[float],
    past: float,
    before: float,
    cross: float,
    backlash: float,
    adjust: int = 5,
    tolerance: tuple[float, float] = (-6.4, 9.6),
) -> ScanPlan:
    """The scan for a centre ``lead`` ahead of a motor that last moved the other way if
    ``reverses``, its drive sent once the view shows: see the module.  Of the plans whose
    first frame comes ``before`` the centre or earlier (after the slack of a reversal, up
    to ``cross``), the quickest that ends within ``tolerance`` of ``past`` beyond it; if
    none does, the one that ends nearest."""
    l2, l3 = levels[1], levels[2]
    best: tuple[tuple[float, float], ScanPlan] | None = None
    for back3 in (0, 1, 2):
        for j in range(-adjust, adjust + 1):
            if back3 and j > 0:
                continue  # back, then forth again: no
            # The last move before the scan, and whether the scan reverses it.
            if j > 0:
                last_fwd = True
            elif j < 0 or back3:
                last_fwd = False
            else:
                last_fwd = not reverses
            slack_before = j > 0 and (reverses or back3 > 0)
            scan_reverses = not last_fwd
            lead_s = lead + back3 * l3 - j * l2 + (backlash if slack_before else 0.0)
            if lead_s - (cross if scan_reverses else 0.0) < before:
                continue
            for k in range(1, max(2, math.ceil((lead_s + past + tolerance[1]) / l3)) + 1):
                end = k * l3 - lead_s - (backlash if scan_reverses else 0.0)
                if end < 0:
                    continue
                miss = end - past
                ok = tolerance[0] <= miss <= tolerance[1]
                seconds = back3 * L3_S + abs(j) * L2_S + k * L3_S
                key = (0.0 if ok else 1.0, seconds if ok else abs(miss))
                plan = ScanPlan(back3, j, k, True, slack_before, scan_reverses, end)
                if best is None or key < best[0]:
                    best = (key, plan)
    if best is None:  # the centre lies far behind: back far enough, then the scan
        back3 = max(1, math.ceil((before + cross - lead) / l3))
        lead_s = lead + back3 * l3
        k = max(1, round((lead_s + past + backlash) / l3))
        return ScanPlan(back3, 0, k, True, False, True, k * l3 - lead_s - backlash)
    return best[1]
