"""Golden tables for controller.search.landing: the last drives of a search, planned purely."""

from __future__ import annotations

import math

import pytest

from controller.search import Drive
from controller.search._machine import LEVEL_SIZES, span
from controller.search.fits import Fit
from controller.search.landing import approach_legs, blind_drives, flank_reading, reading_error

GAUSS = Fit("gaussian", center=0.0, peak=1.0, width=10.0)
BACKLASH = 4.0


def _physical(start: float, last_dir: str, drives: list[Drive], backlash: float) -> float:
    """Where a motor with ``backlash`` of slack ends, part by part, as the simulator moves
    it (camera_node.sim.motor): after a reversal the first ``backlash`` units move nothing,
    however many drives that takes."""
    pos, last, slack = start, last_dir, 0.0
    for d in drives:
        for _ in range(d.count):
            travel = LEVEL_SIZES[d.level - 1]
            if d.direction != last:
                slack = backlash - slack
            taken = min(travel, slack)
            slack -= taken
            pos += (travel - taken) if d.direction == "far" else -(travel - taken)
            last = d.direction
    return pos


@pytest.mark.parametrize(
    ("drives", "expected"),
    [
        ([], 0.0),
        ([Drive("far", 1, 3)], 3.0),
        ([Drive("near", 2, 2)], -12.8),
        ([Drive("far", 3, 1), Drive("near", 1, 2)], 45.0),
    ],
)
def test_span(drives: list[Drive], expected: float) -> None:
    assert span(drives) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("guard", "noise", "expected"),
    [
        (5.0, 0.01, 0.2),  # d ln y / dx = guard / width^2 = 0.05 for a Gaussian
        (5.0, 0.05, 1.0),
        (10.0, 0.01, 0.1),
        (0.0, 0.01, math.inf),  # at the top the curve is flat: a reading says nothing
    ],
)
def test_reading_error(guard: float, noise: float, expected: float) -> None:
    assert reading_error(GAUSS, guard, noise) == pytest.approx(expected, rel=1e-6)


def test_reading_error_beyond_a_parabola_is_infinite() -> None:
    para = Fit("parabola", center=0.0, peak=1.0, width=10.0)
    assert reading_error(para, 20.0, 0.01) == math.inf


def test_flank_reading_trusts_a_model_that_reads_the_samples_right() -> None:
    samples = [(-x, GAUSS.predict(-x)) for x in (4.0, 9.0, 16.0)]
    for dist in (3.0, 7.5, 12.0):
        assert flank_reading(GAUSS, samples, GAUSS.predict(-dist)) == pytest.approx(dist, abs=1e-6)


def test_flank_reading_takes_off_the_model_misreading_its_own_samples() -> None:
    # The sample 10 steps short measures what the model puts at 8: the model misreads by
    # -2 there, so a frame of that measure is read as 10, not 8.
    samples = [(-10.0, GAUSS.predict(-8.0))]
    assert flank_reading(GAUSS, samples, GAUSS.predict(-8.0)) == pytest.approx(10.0, abs=1e-6)


def test_flank_reading_ignores_samples_past_the_centre() -> None:
    samples = [(10.0, GAUSS.predict(-8.0))]  # on the far flank: not evidence for the near one
    assert flank_reading(GAUSS, samples, GAUSS.predict(-8.0)) == pytest.approx(8.0, abs=1e-6)


@pytest.mark.parametrize(
    ("scan_dir", "pos", "legs", "guard", "reverses"),
    [
        # near scan, 30 short: one far drive of 20 + the slack, rounded to level 2
        ("near", -30.0, [Drive("far", 2, 4)], 8.4, False),
        # near scan ending 2.4 short, inside the guard: the shortest far drive would stop at
        # the top, where a reading is blind to the side; on near to the guard, and the last
        # drive reverses (highlight, whole-frame region, from 467: landed 4.6 off before)
        ("near", -2.4, [Drive("near", 2, 1)], 8.8, True),
        # near scan 6 short: the shortest far drive still stops 3.6 short (over half a
        # level-2 step), where the curve has a slope to read
        ("near", -6.0, [Drive("far", 2, 1)], 3.6, False),
        # far scan, 20 past: near past the peak by the guard plus the slack
        ("far", 20.0, [Drive("near", 2, 5)], 8.0, True),
        # far scan far past: a level-3 part, then level 2
        ("far", 60.0, [Drive("near", 3, 1), Drive("near", 2, 4)], 8.6, True),
    ],
)
def test_approach_legs(scan_dir: str, pos: float, legs: list[Drive], guard: float, reverses: bool) -> None:
    plan = approach_legs(scan_dir, pos, 0.0, 10.0, LEVEL_SIZES, BACKLASH)  # type: ignore[arg-type]
    assert plan.legs == legs
    assert plan.guard == pytest.approx(guard)
    assert plan.final_reverses is reverses


@pytest.mark.parametrize("scan_dir", ["near", "far"])
@pytest.mark.parametrize("distance", [3.0, 17.0, 30.0, 75.0])
def test_blind_drives_land_on_the_centre_and_end_far(scan_dir: str, distance: float) -> None:
    # After a near scan the motor is near of the centre and last moved near; after a far
    # scan, far of it and last moved far.  A motor with exactly the prior slack lands on
    # the centre to within half a level-1 step, and the last drive is far.
    start = -distance if scan_dir == "near" else distance
    drives = blind_drives(scan_dir, start, 0.0, LEVEL_SIZES, BACKLASH)  # type: ignore[arg-type]
    assert drives and drives[-1].direction == "far"
    assert abs(_physical(start, scan_dir, drives, BACKLASH)) <= 0.5


@pytest.mark.parametrize("last_dir", ["near", "far"])
@pytest.mark.parametrize("offset", [-75.0, -17.0, -3.0, 3.0, 17.0, 75.0])
def test_blind_drives_from_either_side_whatever_the_last_move(last_dir: str, offset: float) -> None:
    # The depth stage ends wherever its scans left the motor: the centre may lie ahead of
    # a far-moving motor (no reversal: no slack to add) or behind a near-moving one.
    drives = blind_drives(last_dir, offset, 0.0, LEVEL_SIZES, BACKLASH)  # type: ignore[arg-type]
    assert drives and drives[-1].direction == "far"
    assert abs(_physical(offset, last_dir, drives, BACKLASH)) <= 0.5
    if last_dir == "far" and offset < 0:
        assert all(d.direction == "far" for d in drives)  # straight on


@pytest.mark.parametrize(
    ("scan_dir", "pos", "legs", "guard"),
    [
        # far scan, 20 past: near past the guard point by two level-2 drives (12.8, the
        # slack allowed for), and back far by the same two
        ("far", 20.0, [Drive("near", 2, 7), Drive("far", 2, 2)], 12.0),
        # near scan 30 short: far by four, which is over the 12.8 and lands 8.4 short
        ("near", -30.0, [Drive("far", 2, 4)], 8.4),
        # near scan 6 short: a far drive of 12.8 would pass the guard point: near first
        ("near", -6.0, [Drive("near", 2, 2), Drive("far", 2, 2)], 10.0),
    ],
)
def test_approach_legs_for_any_slack(scan_dir: str, pos: float, legs: list[Drive], guard: float) -> None:
    plan = approach_legs(scan_dir, pos, 0.0, 10.0, LEVEL_SIZES, BACKLASH, cross=12.8)  # type: ignore[arg-type]
    assert plan.legs == legs and plan.guard == pytest.approx(guard) and not plan.final_reverses


@pytest.mark.parametrize(
    ("pos", "legs", "guard"),
    [
        # far scan, 20 past: the near leg of 42.8 is one level-3 drive (47, 4.2 more, within
        # a level-2 step), so the reading point lies 4.2 farther down the flank
        (20.0, [Drive("near", 3, 1), Drive("far", 2, 2)], 14.2),
        # 60 past: 82.8 is one level-3 drive and six level-2 (35.8 rounded to 38.4); two
        # level-3 drives would go 11.2 past, more than a level-2 step
        (60.0, [Drive("near", 3, 1), Drive("near", 2, 6), Drive("far", 2, 2)], 12.6),
        # 2 past: 24.8 is level 2 only (a level-3 drive would be 22.2 more)
        (2.0, [Drive("near", 2, 4), Drive("far", 2, 2)], 10.8),
    ],
)
def test_the_near_leg_after_a_far_scan_may_go_past_by_level_3(
    pos: float, legs: list[Drive], guard: float
) -> None:
    plan = approach_legs("far", pos, 0.0, 10.0, LEVEL_SIZES, BACKLASH, cross=12.8, overshoot=1.0)
    assert plan.legs == legs and plan.guard == pytest.approx(guard) and not plan.final_reverses


@pytest.mark.parametrize("overshoot", [0.5, 1.0, 3.0])
@pytest.mark.parametrize("slack", [0.0, 2.0, 4.0, 8.0, 12.0])
@pytest.mark.parametrize("scan_dir", ["near", "far"])
@pytest.mark.parametrize("distance", [2.0, 6.0, 14.0, 25.0, 60.0])
def test_the_slack_is_behind_the_reading_whatever_it_is(
    scan_dir: str, distance: float, slack: float, overshoot: float
) -> None:
    """With ``cross``, the motor reaches the reading point on a far drive longer than any
    slack up to ``cross``, short of the centre, so the last drive (far, by the reading)
    takes up none.  After a far scan the two reversals cancel: it is exactly where the plan
    says; after a near scan, short by the slack's difference from the prior."""
    start = -distance if scan_dir == "near" else distance
    plan = approach_legs(
        scan_dir,  # type: ignore[arg-type]
        start,
        0.0,
        10.0,
        LEVEL_SIZES,
        BACKLASH,
        cross=12.8,
        overshoot=overshoot,
    )
    last = plan.legs[-1]
    assert last.direction == "far" and span([last]) >= 12.8 and not plan.final_reverses
    landed = _physical(start, scan_dir, plan.legs, slack)
    expected = -plan.guard if scan_dir == "far" else -plan.guard - (slack - BACKLASH)
    assert landed == pytest.approx(expected)
    assert landed < -LEVEL_SIZES[1] / 2  # on the near flank, where a reading has a slope
    # and the slack is all behind: one more far unit moves the motor one unit
    assert _physical(start, scan_dir, [*plan.legs, Drive("far", 1, 1)], slack) == pytest.approx(landed + 1)


@pytest.mark.parametrize(
    ("last_dir", "pos", "drives"),
    [
        # far scan, 20 past the centre: near past it by 2.5 level-2 steps (over the 12.8
        # allowed for, after rounding), and back far by what is left: 38.4 near, 18.4 far
        ("far", 20.0, [Drive("near", 2, 6), Drive("far", 2, 2), Drive("far", 1, 6)]),
        # near scan, 20 short (the centre behind a near-moving motor): far past it, back near
        ("near", -20.0, [Drive("far", 2, 6), Drive("near", 2, 2), Drive("near", 1, 6)]),
        # the centre ahead, the way the motor moves: straight on, no reversal
        ("far", -9.0, [Drive("far", 2, 1), Drive("far", 1, 3)]),
        ("near", 9.0, [Drive("near", 2, 1), Drive("near", 1, 3)]),
    ],
)
def test_blind_drives_for_any_slack(last_dir: str, pos: float, drives: list[Drive]) -> None:
    assert blind_drives(last_dir, pos, 0.0, LEVEL_SIZES, BACKLASH, cross=12.8) == drives  # type: ignore[arg-type]


@pytest.mark.parametrize("coarsest", [2, 3])
@pytest.mark.parametrize("slack", [0.0, 2.0, 4.0, 8.0, 12.8])
@pytest.mark.parametrize("last_dir", ["near", "far"])
@pytest.mark.parametrize("offset", [-75.0, -17.0, -3.0, 3.0, 17.0, 75.0])
def test_blind_drives_land_whatever_the_slack(
    last_dir: str, offset: float, slack: float, coarsest: int
) -> None:
    """With ``cross``, a blind landing ends moving the way the samples were taken
    (``last_dir``), and any reversal comes in a pair of one commanded length, so the motor
    lands on the centre, to half a level-1 step, whatever its slack up to ``cross``.
    ``coarsest`` = 2 (what ``default`` asks) does it without a level-3 drive, whose jitter
    nothing after a blind landing would correct."""
    drives = blind_drives(last_dir, offset, 0.0, LEVEL_SIZES, BACKLASH, cross=12.8, coarsest=coarsest)  # type: ignore[arg-type]
    assert drives[-1].direction == last_dir
    assert abs(_physical(offset, last_dir, drives, slack)) <= 0.5
    if coarsest == 2:
        assert all(d.level <= 2 for d in drives)
    elif abs(offset) > 60:
        assert any(d.level == 3 for d in drives)  # the table can tell the two apart


@pytest.mark.parametrize(
    ("pos", "one", "guard"),
    [
        # near scan 55 short: 49 far to the guard point (with the slack); one level-3 drive
        # (47) lands 12 short, within (2, 12) of it: that drive alone
        (-55.0, True, 12.0),
        # 65 short: it lands 22 short, 12 farther down the flank: still one drive
        (-65.0, True, 22.0),
        # 50 short: it would land 7 short, 3 nearer the top than the guard: level 2
        (-50.0, False, 0.0),
        # 66 short: 23 short, more than 12 farther down: level 2 (and level 3 beyond 59.8)
        (-66.0, False, 0.0),
    ],
)
def test_a_far_leg_within_reach_of_one_level_3_drive_is_that_drive(
    pos: float, one: bool, guard: float
) -> None:
    kw = {"cross": 12.8, "far_level3": 59.8}
    plan = approach_legs("near", pos, 0.0, 10.0, LEVEL_SIZES, BACKLASH, one_level3=(2.0, 12.0), **kw)  # type: ignore[arg-type]
    without = approach_legs("near", pos, 0.0, 10.0, LEVEL_SIZES, BACKLASH, **kw)  # type: ignore[arg-type]
    if one:
        assert plan.legs == [Drive("far", 3, 1)] and plan.guard == pytest.approx(guard), plan
        assert not plan.final_reverses and without.legs != plan.legs
    else:
        assert plan == without
